// The Connect operations of the DocuSign Admin API (OrgConnectApi; docs/webhooks.md, "Connect"): an
// organization-level Connect configuration is a webhook endpoint of format `connect` that belongs to the
// organization (account_id NULL, its accounts in account_ids), so it is delivered, retried and logged like any
// endpoint; its HMAC secrets are the organization's Connect secrets and its OAuth configuration the
// organization's. Owners and admins only: a configuration hears every account it names, and the OAuth
// configuration holds a client secret. Shapes follow shared/specs/admin.rest.swagger-v2.1.json (camelCase,
// booleans as the strings "true"/"false").
import { randomBytes } from 'node:crypto';
import type { Db } from '../../db/connection.ts';
import type { ConnectOAuthConfigsTable } from '../../db/schema.ts';
import { type Ctx, mutate } from '../context.ts';
import { AppError, invalidField, notFound } from '../errors.ts';
import { newId } from '../ids.ts';
import { checkUrlShape, type OutboundPolicy } from '../net/outbound.ts';
import { contextOf, type SecretBox } from '../secret-box.ts';
import { lockAuditHead, removeEndpoint } from './endpoints.ts';
import { EVENT_TYPES, forgetSubscribers } from './events.ts';

/** The organization's Connect configurations at most (each event is matched against every endpoint). */
export const MAX_CONNECT_CONFIGS = 20;
/** DocuSign sends one X-DocuSign-Signature-N per active key; a third-party note says up to 100. */
export const MAX_HMAC_SECRETS = 100;

/** The request's flags, read as DocuSign writes them ("true"/"false"); a JSON boolean is taken too. */
type Flag = string | boolean;

export interface ConnectConfigRequest {
  connectId?: string;
  configurationType?: string;
  allowEnvelopePublish?: Flag;
  urlToPublishTo?: string;
  deliveryMode?: string;
  events?: string[];
  associatedFilterSelection?: string;
  groupIds?: string[];
  accountIds?: string[];
  userIds?: string[];
  name?: string;
  signMessageWithX509Certificate?: Flag;
  includeOAuth?: Flag;
  includeHMAC?: Flag;
  pausePublish?: Flag;
  eventData?: { version?: string; includeData?: string[] };
}

export interface ConnectOAuthRequest {
  authorizationServerUrl?: string;
  clientId?: string;
  clientSecret?: string;
  scope?: string;
  customParameter?: Record<string, string>;
}

const FLAGS = [
  'allowEnvelopePublish',
  'signMessageWithX509Certificate',
  'includeOAuth',
  'includeHMAC',
  'pausePublish',
] as const;

function flag(v: Flag | undefined, field: string): string | undefined {
  if (v === undefined) return undefined;
  const s = String(v).toLowerCase();
  if (s !== 'true' && s !== 'false') throw invalidField(field, 'must be "true" or "false"');
  return s;
}

/**
 * Connect's event names (`envelope-sent`, `recipient-completed`) and Signet's (`user.created`) both name
 * Signet event types: the first hyphen of a Connect name is Signet's dot. An empty list is every event.
 */
function eventTypesOf(events: string[] | undefined): string[] {
  if (!events || events.length === 0) return ['*'];
  const out = new Set<string>();
  for (const raw of events) {
    const e = raw.trim();
    const type = e === '*' || EVENT_TYPES.includes(e) ? e : e.replace('-', '.');
    if (type !== '*' && !EVENT_TYPES.includes(type)) {
      throw invalidField(
        'events',
        `unknown event "${e}"; Signet's events are ${EVENT_TYPES.join(', ')} (a Connect name like "user-created" also works), or an empty list for all`,
      );
    }
    out.add(type);
  }
  return [...out].sort();
}

function connectId(): string {
  return newId();
}

/** A Connect HMAC key as DocuSign shows it at creation: random, base64 (the receiver's HMAC key). */
function newHmacSecret(): string {
  return randomBytes(32).toString('base64');
}

export class ConnectService {
  constructor(
    private readonly db: Db,
    private readonly policy: OutboundPolicy,
    /** Seals the HMAC secrets and the OAuth client secret (src/core/secret-box.ts). */
    private readonly box: SecretBox,
  ) {}

  // --- configurations ------------------------------------------------------------------------------------

  async list(ctx: Ctx, filter: { accountId?: string } = {}) {
    let q = this.db
      .selectFrom('webhook_endpoints')
      .select(['id', 'connect', 'account_ids', 'enabled'])
      .where('organization_id', '=', ctx.principal.organizationId)
      .where('connect', 'is not', null)
      .orderBy('id');
    if (filter.accountId) {
      const only = filter.accountId;
      q = q.where((eb) =>
        eb.or([eb('account_ids', 'is', null), eb(eb.val(only), '=', eb.fn.any('account_ids'))]),
      );
    }
    const rows = await q.execute();
    const names = await this.accountNames(
      ctx,
      rows.flatMap((r) => r.account_ids ?? []),
    );
    const configurations = rows.map((r) => {
      const c = r.connect ?? {};
      const first = r.account_ids?.[0];
      return {
        connectId: r.id,
        configurationType: String(c.configurationType ?? 'custom'),
        name: String(c.name ?? ''),
        ...(first ? { accountId: first, accountName: names.get(first) ?? '' } : {}),
        allowEnvelopePublish: String(c.allowEnvelopePublish ?? 'true'),
        pausePublish: String(c.pausePublish ?? 'false'),
        allowSalesforcePublish: 'false',
        requiresAcknowledgement: 'true',
        ...(r.enabled ? {} : { disabledBy: 'signet' }),
      };
    });
    return { configurations, totalSetSize: configurations.length };
  }

  async get(ctx: Ctx, id: string) {
    return this.detailsOf(await this.load(ctx, this.db, id));
  }

  async create(ctx: Ctx, req: ConnectConfigRequest) {
    if (!req.urlToPublishTo)
      throw invalidField('urlToPublishTo', 'is required: the URL events are posted to');
    const fields = await this.fieldsOf(ctx, req, {});
    const id = connectId();
    const result = await mutate(this.db, ctx, async (trx, audit) => {
      const { count } = await trx
        .selectFrom('webhook_endpoints')
        .select((eb) => eb.fn.countAll<string>().as('count'))
        .where('organization_id', '=', ctx.principal.organizationId)
        .where('connect', 'is not', null)
        .executeTakeFirstOrThrow();
      if (Number(count) >= MAX_CONNECT_CONFIGS) {
        throw new AppError(
          'conflict',
          `the organization already has ${count} Connect configurations, the most it can have; delete one first`,
        );
      }
      await trx
        .insertInto('webhook_endpoints')
        .values({
          id,
          organization_id: ctx.principal.organizationId,
          account_id: null,
          account_ids: fields.account_ids,
          url: fields.url!,
          description: fields.description,
          format: 'connect',
          events: fields.events,
          organization_events: true,
          enabled: fields.enabled,
          connect: fields.connect,
          created_by: ctx.principal.userId,
        })
        .execute();
      const after = await this.load(ctx, trx, id);
      audit.record({
        action: 'webhook_endpoint.created',
        targetType: 'webhook_endpoint',
        targetId: id,
        after: { ...after, via: 'connect' },
      });
      return after;
    });
    forgetSubscribers(ctx.principal.organizationId);
    return this.detailsOf(result);
  }

  /** PUT: the fields sent replace the configuration's; those not sent keep their values. */
  async update(ctx: Ctx, id: string, req: ConnectConfigRequest) {
    const result = await mutate(this.db, ctx, async (trx, audit) => {
      const before = await this.load(ctx, trx, id, true);
      const fields = await this.fieldsOf(ctx, req, before.connect ?? {});
      await trx
        .updateTable('webhook_endpoints')
        .set({
          ...(fields.url ? { url: fields.url } : {}),
          ...(req.accountIds !== undefined ? { account_ids: fields.account_ids } : {}),
          ...(req.events !== undefined ? { events: fields.events } : {}),
          description: fields.description,
          enabled: fields.enabled,
          // Enabled again through Connect: whatever had disabled it is over.
          ...(fields.enabled ? { disabled_reason: null } : {}),
          connect: fields.connect,
          updated_at: new Date(),
        })
        .where('id', '=', id)
        .execute();
      const after = await this.load(ctx, trx, id);
      audit.record({
        action: 'webhook_endpoint.updated',
        targetType: 'webhook_endpoint',
        targetId: id,
        before: { ...before },
        after: { ...after },
      });
      return after;
    });
    forgetSubscribers(ctx.principal.organizationId);
    return this.detailsOf(result);
  }

  async delete(ctx: Ctx, id: string): Promise<void> {
    await mutate(this.db, ctx, async (trx, audit) => {
      await lockAuditHead(trx, ctx.principal.organizationId);
      await removeEndpoint(trx, audit, await this.load(ctx, trx, id, true));
    });
    forgetSubscribers(ctx.principal.organizationId);
  }

  // --- HMAC secrets --------------------------------------------------------------------------------------

  /** The organization's keys, oldest first, by id: a secret is shown only when it is made. */
  async secrets(ctx: Ctx, db: Db = this.db): Promise<{ secrets: string[] }> {
    const rows = await db
      .selectFrom('connect_hmac_secrets')
      .select('id')
      .where('organization_id', '=', ctx.principal.organizationId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return { secrets: rows.map((r) => r.id) };
  }

  /** A new key; the answer holds the secret itself, this once. */
  async addSecret(ctx: Ctx): Promise<{ secrets: string[] }> {
    const secret = newHmacSecret();
    const id = newId();
    // Sealed before the transaction: the box's first use reads its key on a connection of its own.
    const sealed = await this.box.seal(secret, contextOf('connect_hmac_secrets', id));
    await mutate(this.db, ctx, async (trx, audit) => {
      const { count } = await trx
        .selectFrom('connect_hmac_secrets')
        .select((eb) => eb.fn.countAll<string>().as('count'))
        .where('organization_id', '=', ctx.principal.organizationId)
        .executeTakeFirstOrThrow();
      if (Number(count) >= MAX_HMAC_SECRETS) {
        throw new AppError(
          'conflict',
          `the organization already has ${count} Connect HMAC secrets, the most it can have; delete one first`,
        );
      }
      await trx
        .insertInto('connect_hmac_secrets')
        .values({ id, organization_id: ctx.principal.organizationId, secret: sealed })
        .execute();
      audit.record({
        action: 'connect_hmac_secret.created',
        targetType: 'connect_hmac_secret',
        targetId: id,
      });
    });
    return { secrets: [secret] };
  }

  /** Deletes a key (deliveries stop carrying its signature at once); answers the keys left. */
  async deleteSecret(ctx: Ctx, keyId: string): Promise<{ secrets: string[] }> {
    return mutate(this.db, ctx, async (trx, audit) => {
      const row = await trx
        .deleteFrom('connect_hmac_secrets')
        .where('organization_id', '=', ctx.principal.organizationId)
        .where('id', '=', keyId)
        .returning('id')
        .executeTakeFirst();
      if (!row) throw notFound('Connect HMAC secret', keyId);
      audit.record({
        action: 'connect_hmac_secret.deleted',
        targetType: 'connect_hmac_secret',
        targetId: keyId,
      });
      return this.secrets(ctx, trx);
    });
  }

  // --- OAuth configuration -------------------------------------------------------------------------------

  /** The configuration without its client secret (it is write-only); `{}` when there is none. */
  async oauth(ctx: Ctx) {
    const row = await this.db
      .selectFrom('connect_oauth_configs')
      .selectAll()
      .where('organization_id', '=', ctx.principal.organizationId)
      .executeTakeFirst();
    return row ? oauthView(row) : {};
  }

  /**
   * Sets the configuration, made or not. POST (`replace`) takes a whole configuration; PUT changes the fields
   * it sends and keeps the others.
   */
  async setOAuth(ctx: Ctx, req: ConnectOAuthRequest, mode: 'replace' | 'merge') {
    const sealedSecret = req.clientSecret
      ? await this.box.seal(
          req.clientSecret,
          contextOf('connect_oauth_configs', ctx.principal.organizationId),
        )
      : undefined;
    return mutate(this.db, ctx, async (trx, audit) => {
      const before = await trx
        .selectFrom('connect_oauth_configs')
        .selectAll()
        .where('organization_id', '=', ctx.principal.organizationId)
        .forUpdate()
        .executeTakeFirst();
      const prior = mode === 'merge' ? before : undefined;
      const url = req.authorizationServerUrl ?? prior?.authorization_server_url;
      const clientId = req.clientId ?? prior?.client_id;
      // The prior one is sealed already, for this same row.
      const clientSecret = sealedSecret ?? prior?.client_secret;
      if (!url) throw invalidField('authorizationServerUrl', 'is required: the token endpoint to call');
      if (!clientId) throw invalidField('clientId', 'is required');
      if (!clientSecret) throw invalidField('clientSecret', 'is required');
      const values = {
        authorization_server_url: checkUrlShape(url, this.policy, 'authorizationServerUrl'),
        client_id: clientId,
        client_secret: clientSecret,
        scope: req.scope ?? prior?.scope ?? '',
        custom_parameters: req.customParameter ?? prior?.custom_parameters ?? {},
        updated_at: new Date(),
      };
      const row = await trx
        .insertInto('connect_oauth_configs')
        .values({ organization_id: ctx.principal.organizationId, ...values })
        .onConflict((oc) => oc.column('organization_id').doUpdateSet(values))
        .returningAll()
        .executeTakeFirstOrThrow();
      audit.record({
        action: before ? 'connect_oauth.updated' : 'connect_oauth.created',
        targetType: 'connect_oauth',
        targetId: ctx.principal.organizationId,
        ...(before ? { before: oauthView(before) } : {}),
        after: oauthView(row),
      });
      return oauthView(row);
    });
  }

  /** Deletes the configuration; none afterwards either way (deliveries with includeOAuth then fail). */
  async deleteOAuth(ctx: Ctx): Promise<void> {
    await mutate(this.db, ctx, async (trx, audit) => {
      const row = await trx
        .deleteFrom('connect_oauth_configs')
        .where('organization_id', '=', ctx.principal.organizationId)
        .returningAll()
        .executeTakeFirst();
      if (!row) return;
      audit.record({
        action: 'connect_oauth.deleted',
        targetType: 'connect_oauth',
        targetId: ctx.principal.organizationId,
        before: oauthView(row),
      });
    });
  }

  // --- helpers -------------------------------------------------------------------------------------------

  private async fieldsOf(ctx: Ctx, req: ConnectConfigRequest, prior: Record<string, unknown>) {
    const url = req.urlToPublishTo ? checkUrlShape(req.urlToPublishTo, this.policy, 'urlToPublishTo') : null;
    const events = eventTypesOf(req.events);
    let accountIds: string[] | null = null;
    if (req.accountIds && req.accountIds.length > 0) {
      accountIds = [...new Set(req.accountIds)];
      const found = await this.db
        .selectFrom('accounts')
        .select('id')
        .where('organization_id', '=', ctx.principal.organizationId)
        .where('id', 'in', accountIds)
        .execute();
      const missing = accountIds.filter((a) => !found.some((f) => f.id === a));
      if (missing.length > 0) {
        throw invalidField('accountIds', `no account ${missing.join(', ')} in this organization`);
      }
    }
    const connect: Record<string, unknown> = { ...prior };
    for (const key of [
      'configurationType',
      'deliveryMode',
      'associatedFilterSelection',
      'name',
      'groupIds',
      'userIds',
      'eventData',
    ] as const) {
      if (req[key] !== undefined) connect[key] = req[key];
    }
    if (req.events !== undefined) connect.events = req.events;
    for (const f of FLAGS) {
      const v = flag(req[f], f);
      if (v !== undefined) connect[f] = v;
    }
    connect.configurationType ??= 'custom';
    connect.allowEnvelopePublish ??= 'true';
    connect.includeHMAC ??= 'false';
    connect.includeOAuth ??= 'false';
    connect.pausePublish ??= 'false';
    const name = String(connect.name ?? '');
    if (name.length > 500) throw invalidField('name', 'at most 500 characters');
    return {
      url,
      events,
      account_ids: accountIds,
      description: name,
      // Connect's "allowEnvelopePublish" off or "pausePublish" on: nothing is sent (Signet's enabled).
      enabled: connect.allowEnvelopePublish === 'true' && connect.pausePublish !== 'true',
      connect,
    };
  }

  private async load(ctx: Ctx, db: Db, id: string, lock = false) {
    let q = db
      .selectFrom('webhook_endpoints')
      .select(['id', 'url', 'events', 'account_ids', 'enabled', 'disabled_reason', 'connect', 'updated_at'])
      .where('organization_id', '=', ctx.principal.organizationId)
      .where('id', '=', id)
      .where('connect', 'is not', null);
    if (lock) q = q.forUpdate();
    // A malformed id is not found, as another organization's.
    const row = /^[0-9a-f-]{36}$/i.test(id) ? await q.executeTakeFirst() : undefined;
    if (!row) throw notFound('Connect configuration', id);
    return row;
  }

  private detailsOf(row: Awaited<ReturnType<ConnectService['load']>>) {
    const c = row.connect ?? {};
    return {
      connectId: row.id,
      configurationType: String(c.configurationType ?? 'custom'),
      allowEnvelopePublish: String(c.allowEnvelopePublish ?? 'true'),
      urlToPublishTo: row.url,
      ...(c.deliveryMode !== undefined ? { deliveryMode: String(c.deliveryMode) } : {}),
      events: Array.isArray(c.events) ? (c.events as string[]) : row.events,
      ...(c.associatedFilterSelection !== undefined
        ? { associatedFilterSelection: String(c.associatedFilterSelection) }
        : {}),
      accountIds: row.account_ids ?? [],
      userIds: Array.isArray(c.userIds) ? (c.userIds as string[]) : [],
      groupIds: Array.isArray(c.groupIds) ? (c.groupIds as string[]) : [],
      name: String(c.name ?? ''),
      signMessageWithX509Certificate: String(c.signMessageWithX509Certificate ?? 'false'),
      includeOAuth: String(c.includeOAuth ?? 'false'),
      includeHMAC: String(c.includeHMAC ?? 'false'),
      // Signet disabling it (410, days of failures) shows as a paused configuration.
      pausePublish: row.enabled ? String(c.pausePublish ?? 'false') : 'true',
      ...(c.eventData ? { eventData: c.eventData } : {}),
    };
  }

  private async accountNames(ctx: Ctx, ids: string[]): Promise<Map<string, string>> {
    if (ids.length === 0) return new Map();
    const rows = await this.db
      .selectFrom('accounts')
      .select(['id', 'name'])
      .where('organization_id', '=', ctx.principal.organizationId)
      .where('id', 'in', [...new Set(ids)])
      .execute();
    return new Map(rows.map((r) => [r.id, r.name]));
  }
}

function oauthView(row: {
  authorization_server_url: string;
  client_id: string;
  scope: string;
  custom_parameters: ConnectOAuthConfigsTable['custom_parameters']['__select__'];
}) {
  return {
    authorizationServerUrl: row.authorization_server_url,
    clientId: row.client_id,
    ...(row.scope ? { scope: row.scope } : {}),
    customParameter: row.custom_parameters ?? {},
  };
}
