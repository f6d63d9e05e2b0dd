// Webhook endpoints: where an account's events are sent, in which format, signed with which secrets
// (docs/webhooks.md). An endpoint belongs to one account; a member reaches only its own account's endpoints.
// Every change is audited; the audit actions (webhook_endpoint.*) make no webhook event themselves.
import type { Db } from '../../db/connection.ts';
import type { WebhookEndpointRow, WebhookFormat } from '../../db/schema.ts';
import { GENESIS_HASH } from '../audit/chain.ts';
import type { AuditBuffer } from '../audit/writer.ts';
import { type Ctx, mutate } from '../context.ts';
import { AppError, invalidField, notFound } from '../errors.ts';
import { isUuid, newId } from '../ids.ts';
import { checkUrlShape, type OutboundPolicy } from '../net/outbound.ts';
import { requireAccountAccess } from '../principal.ts';
import { accountInBody, accountInPath } from '../refs.ts';
import { contextOf, type SecretBox } from '../secret-box.ts';
import { type DeliveryView, deliveryLog } from './delivery.ts';
import { EVENT_TYPES, forgetSubscribers } from './events.ts';
import { newSigningSecret } from './signing.ts';

/** An account holds at most this many endpoints (each event is matched against all of them). */
export const MAX_ENDPOINTS_PER_ACCOUNT = 20;
/** The longest a rotated-out secret keeps signing (Standard Webhooks: sign with both during the overlap). */
export const MAX_ROTATION_SECONDS = 7 * 24 * 3600;
export const DEFAULT_ROTATION_SECONDS = 24 * 3600;

export const WEBHOOK_FORMATS: readonly WebhookFormat[] = ['standard', 'atlas', 'connect'];

export interface EndpointView {
  id: string;
  /** NULL for an organization-level Connect configuration (made through /management). */
  account_id: string | null;
  /** An organization-level endpoint's accounts (null: every account). */
  account_ids: string[] | null;
  url: string;
  description: string;
  format: WebhookFormat;
  events: string[];
  organization_events: boolean;
  enabled: boolean;
  disabled_reason: string | null;
  created_at: Date;
  updated_at: Date;
  /** When the secrets before the newest stop signing; null when only one secret signs. */
  previous_secrets_expire_at: Date | null;
}

export interface EndpointInput {
  account_id: string;
  url: string;
  events: string[];
  format?: WebhookFormat;
  description?: string;
  enabled?: boolean;
}

export interface AccountSecretView {
  account_id: string;
  /** When the current secret was made; null while the account has none. */
  created_at: Date | null;
}

export type EndpointPatch = Partial<Omit<EndpointInput, 'account_id' | 'format'>>;

function cleanEvents(events: string[]): string[] {
  const out = [...new Set(events.map((e) => e.trim()))];
  if (out.length === 0) throw invalidField('events', `needs at least one event type, or "*" for all`);
  for (const e of out) {
    if (e !== '*' && !EVENT_TYPES.includes(e)) {
      throw invalidField(
        'events',
        `unknown event type "${e}"; the types are ${EVENT_TYPES.join(', ')}, or "*"`,
      );
    }
  }
  return out.sort();
}

function cleanDescription(description: string | undefined): string | undefined {
  return description === undefined ? undefined : description.trim();
}

export class WebhookEndpointsService {
  constructor(
    private readonly db: Db,
    private readonly policy: OutboundPolicy,
    /** Seals the signing secrets (src/core/secret-box.ts). */
    private readonly box: SecretBox,
  ) {}

  /** Registers an endpoint; the response carries its signing secret, the only time it is shown. */
  async create(ctx: Ctx, input: EndpointInput): Promise<EndpointView & { secret: string }> {
    const url = checkUrlShape(input.url, this.policy, 'url');
    const events = cleanEvents(input.events);
    const format = input.format ?? 'standard';
    const secret = newSigningSecret();
    const secretId = newId();
    // Sealed before the transaction: the box's first use reads its key on a connection of its own.
    const sealed = await this.box.seal(secret, contextOf('webhook_secrets', secretId));
    const result = await mutate(this.db, ctx, async (trx, audit) => {
      await accountInBody(ctx, trx, input.account_id);
      const { count } = await trx
        .selectFrom('webhook_endpoints')
        .select((eb) => eb.fn.countAll<string>().as('count'))
        .where('account_id', '=', input.account_id)
        .where('envelope_id', 'is', null)
        .executeTakeFirstOrThrow();
      if (Number(count) >= MAX_ENDPOINTS_PER_ACCOUNT) {
        throw new AppError(
          'conflict',
          `account ${input.account_id} already has ${count} webhook endpoints, the most it can have; delete one first`,
        );
      }
      const id = newId();
      await trx
        .insertInto('webhook_endpoints')
        .values({
          id,
          organization_id: ctx.principal.organizationId,
          account_id: input.account_id,
          url,
          description: cleanDescription(input.description) ?? '',
          format,
          events,
          // Organization-level events (a person's identity, the organization) are not a member's to hear.
          organization_events: ctx.principal.role !== 'member',
          enabled: input.enabled ?? true,
          created_by: ctx.principal.userId,
        })
        .execute();
      await trx
        .insertInto('webhook_secrets')
        .values({ id: secretId, endpoint_id: id, secret: sealed })
        .execute();
      const after = await this.load(ctx, trx, id);
      audit.record({
        action: 'webhook_endpoint.created',
        targetType: 'webhook_endpoint',
        targetId: id,
        accountId: input.account_id,
        after: { ...after },
      });
      return after;
    });
    forgetSubscribers(ctx.principal.organizationId);
    return { ...result, secret };
  }

  /** The endpoints the principal may see: an account's, or (owners, admins) the organization's. */
  async list(ctx: Ctx, accountId?: string): Promise<{ data: EndpointView[] }> {
    const member = ctx.principal.role === 'member';
    if (accountId !== undefined) requireAccountAccess(ctx.principal, accountId);
    const only = accountId ?? (member ? ctx.principal.accountId : null);
    let q = this.views(this.db, ctx);
    if (only) q = q.where('e.account_id', '=', only);
    else if (member) return { data: [] };
    return { data: (await q.orderBy('e.id').execute()).map(toView) };
  }

  async get(ctx: Ctx, id: string): Promise<EndpointView> {
    return this.load(ctx, this.db, id);
  }

  async update(ctx: Ctx, id: string, patch: EndpointPatch): Promise<EndpointView> {
    const set: Partial<
      Pick<WebhookEndpointRow, 'url' | 'events' | 'description' | 'enabled' | 'disabled_reason'>
    > = {};
    if (patch.url !== undefined) set.url = checkUrlShape(patch.url, this.policy, 'url');
    if (patch.events !== undefined) set.events = cleanEvents(patch.events);
    if (patch.description !== undefined) set.description = cleanDescription(patch.description)!;
    if (patch.enabled !== undefined) {
      set.enabled = patch.enabled;
      // Enabled again by a person: whatever had disabled it is over.
      if (patch.enabled) set.disabled_reason = null;
    }
    const result = await mutate(this.db, ctx, async (trx, audit) => {
      const before = await this.load(ctx, trx, id, true);
      if (Object.keys(set).length === 0) return before;
      await trx
        .updateTable('webhook_endpoints')
        .set({ ...set, updated_at: new Date() })
        .where('id', '=', id)
        .execute();
      const after = await this.load(ctx, trx, id);
      audit.record({
        action: 'webhook_endpoint.updated',
        targetType: 'webhook_endpoint',
        targetId: id,
        accountId: before.account_id,
        before: { ...before },
        after: { ...after },
      });
      return after;
    });
    forgetSubscribers(ctx.principal.organizationId);
    return result;
  }

  /** Deletes the endpoint, its secrets and its delivery log; pending deliveries are not sent. */
  async delete(ctx: Ctx, id: string): Promise<void> {
    await mutate(this.db, ctx, async (trx, audit) => {
      await lockAuditHead(trx, ctx.principal.organizationId);
      await removeEndpoint(trx, audit, await this.load(ctx, trx, id, true));
    });
    forgetSubscribers(ctx.principal.organizationId);
  }

  /**
   * A new signing secret, shown once. The secrets before it keep signing for `expiresInSeconds` (0: stop at
   * once), so a receiver can switch without missing a delivery: Standard Webhooks lists one signature per
   * secret, Connect sends one X-DocuSign-Signature-N header per secret.
   */
  async rotateSecret(
    ctx: Ctx,
    id: string,
    expiresInSeconds = DEFAULT_ROTATION_SECONDS,
  ): Promise<EndpointView & { secret: string }> {
    if (
      !Number.isInteger(expiresInSeconds) ||
      expiresInSeconds < 0 ||
      expiresInSeconds > MAX_ROTATION_SECONDS
    ) {
      throw invalidField('expires_in_seconds', `must be an integer from 0 to ${MAX_ROTATION_SECONDS}`);
    }
    const secret = newSigningSecret();
    const secretId = newId();
    const sealed = await this.box.seal(secret, contextOf('webhook_secrets', secretId));
    const view = await mutate(this.db, ctx, async (trx, audit) => {
      const before = await this.load(ctx, trx, id, true);
      if (before.account_id === null) {
        throw new AppError(
          'conflict',
          `webhook endpoint ${id} is an organization-level Connect configuration: it is signed with the organization's Connect HMAC secrets (POST /management/v2/organizations/{organizationId}/connect/secret)`,
        );
      }
      const now = new Date();
      const until = new Date(now.getTime() + expiresInSeconds * 1000);
      // Secrets still signing stop at `until` (one already ending sooner keeps its earlier end).
      await trx
        .updateTable('webhook_secrets')
        .set({ expires_at: until })
        .where('endpoint_id', '=', id)
        .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', until)]))
        .execute();
      await trx
        .insertInto('webhook_secrets')
        .values({ id: secretId, endpoint_id: id, secret: sealed, created_at: now })
        .execute();
      await trx.updateTable('webhook_endpoints').set({ updated_at: now }).where('id', '=', id).execute();
      const after = await this.load(ctx, trx, id);
      audit.record({
        action: 'webhook_endpoint.secret_rotated',
        targetType: 'webhook_endpoint',
        targetId: id,
        accountId: before.account_id,
        extra: { previous_secrets_expire_at: until.toISOString() },
      });
      return after;
    });
    return { ...view, secret };
  }

  /**
   * Queues a `webhook.test` event for this endpoint alone (enabled or not: testing a disabled endpoint is how
   * one checks it before enabling it). It goes through the outbox and the delivery log like any event.
   */
  async test(ctx: Ctx, id: string): Promise<{ event_id: string; delivery_id: string }> {
    return mutate(this.db, ctx, async (trx, audit) => {
      const endpoint = await this.load(ctx, trx, id);
      const eventId = newId();
      const deliveryId = newId();
      await trx
        .insertInto('webhook_events')
        .values({
          id: eventId,
          organization_id: ctx.principal.organizationId,
          account_id: endpoint.account_id,
          type: 'webhook.test',
          occurred_at: new Date().toISOString(),
          payload: { object: 'webhook_endpoint', id, account_id: endpoint.account_id },
        })
        .execute();
      await trx
        .insertInto('webhook_deliveries')
        .values({ id: deliveryId, endpoint_id: id, event_id: eventId, next_attempt_at: new Date() })
        .execute();
      audit.record({
        action: 'webhook_endpoint.tested',
        targetType: 'webhook_endpoint',
        targetId: id,
        accountId: endpoint.account_id,
        extra: { event_id: eventId },
      });
      return { event_id: eventId, delivery_id: deliveryId };
    });
  }

  /** The endpoint's delivery log, newest first: each delivery with its attempts. */
  async deliveries(ctx: Ctx, id: string, limit: number): Promise<{ data: DeliveryView[] }> {
    await this.load(ctx, this.db, id);
    return { data: await deliveryLog(this.db, id, limit) };
  }

  /**
   * Sends one delivery again now, whatever became of it (a receiver that lost it, a bug fixed since). Its
   * attempts go on counting; should this one fail too, the ladder goes on where it was, or, past its end,
   * the delivery stays failed.
   */
  async redeliver(ctx: Ctx, id: string, deliveryId: string): Promise<{ delivery_id: string }> {
    return mutate(this.db, ctx, async (trx, audit) => {
      const endpoint = await this.load(ctx, trx, id);
      const row = await trx
        .updateTable('webhook_deliveries')
        .set({ status: 'pending', next_attempt_at: new Date(), locked_until: null, updated_at: new Date() })
        .where('id', '=', deliveryId)
        .where('endpoint_id', '=', id)
        .returning('id')
        .executeTakeFirst();
      if (!row) throw notFound('webhook delivery', deliveryId);
      audit.record({
        action: 'webhook_endpoint.redelivered',
        targetType: 'webhook_endpoint',
        targetId: id,
        accountId: endpoint.account_id,
        extra: { delivery_id: deliveryId },
      });
      return { delivery_id: deliveryId };
    });
  }

  /**
   * Sends again every delivery of this endpoint made in [since, until) (only the failed ones with
   * `failedOnly`): after an outage of the receiver, or to rebuild its state. Returns how many were queued.
   */
  async replay(
    ctx: Ctx,
    id: string,
    range: { since: Date; until: Date; failedOnly: boolean },
  ): Promise<{ queued: number }> {
    if (!(range.since < range.until)) throw invalidField('until', 'must be after since');
    return mutate(this.db, ctx, async (trx, audit) => {
      const endpoint = await this.load(ctx, trx, id);
      let q = trx
        .updateTable('webhook_deliveries')
        .set({ status: 'pending', next_attempt_at: new Date(), locked_until: null, updated_at: new Date() })
        .where('endpoint_id', '=', id)
        .where('created_at', '>=', range.since)
        .where('created_at', '<', range.until);
      q = range.failedOnly ? q.where('status', '=', 'failed') : q.where('status', '!=', 'pending');
      const result = await q.executeTakeFirst();
      const queued = Number(result.numUpdatedRows);
      audit.record({
        action: 'webhook_endpoint.replayed',
        targetType: 'webhook_endpoint',
        targetId: id,
        accountId: endpoint.account_id,
        extra: {
          since: range.since.toISOString(),
          until: range.until.toISOString(),
          failed_only: range.failedOnly,
          queued,
        },
      });
      return { queued };
    });
  }

  /**
   * Whether the account has a default signing secret (what signs its envelopes' webhook_url), and since when;
   * never the secret.
   */
  async accountSecret(ctx: Ctx, accountId: string): Promise<AccountSecretView> {
    await accountInPath(ctx, this.db, accountId);
    const row = await this.db
      .selectFrom('webhook_account_secrets')
      .select('created_at')
      .where('account_id', '=', accountId)
      .executeTakeFirst();
    return { account_id: accountId, created_at: row?.created_at ?? null };
  }

  /**
   * A new default signing secret for the account, shown once; it replaces the one before at once (an
   * X-Atlas-Signature carries one signature). A delivery the receiver refuses meanwhile is retried, and each
   * attempt is signed afresh, so it arrives signed with the new secret.
   */
  async rotateAccountSecret(ctx: Ctx, accountId: string): Promise<AccountSecretView & { secret: string }> {
    const secret = newSigningSecret();
    const sealed = await this.box.seal(secret, contextOf('webhook_account_secrets', accountId));
    return mutate(this.db, ctx, async (trx, audit) => {
      await accountInPath(ctx, trx, accountId);
      const now = new Date();
      await trx
        .insertInto('webhook_account_secrets')
        .values({
          account_id: accountId,
          organization_id: ctx.principal.organizationId,
          secret: sealed,
          created_at: now,
        })
        .onConflict((oc) => oc.column('account_id').doUpdateSet({ secret: sealed, created_at: now }))
        .execute();
      audit.record({
        action: 'webhook_account_secret.rotated',
        targetType: 'account',
        targetId: accountId,
        accountId,
      });
      return { account_id: accountId, created_at: now, secret };
    });
  }

  /** The delivery log of an envelope's webhook_url, newest first (empty when it has none). */
  async envelopeDeliveries(ctx: Ctx, envelopeId: string, limit: number): Promise<{ data: DeliveryView[] }> {
    const envelope = isUuid(envelopeId)
      ? await this.db
          .selectFrom('envelopes')
          .select('account_id')
          .where('id', '=', envelopeId)
          .where('organization_id', '=', ctx.principal.organizationId)
          .executeTakeFirst()
      : undefined;
    // Another account's envelope, for a member, is as missing as another organization's (as the envelope's own routes).
    if (!envelope || (ctx.principal.role === 'member' && envelope.account_id !== ctx.principal.accountId)) {
      throw notFound('envelope', envelopeId);
    }
    const endpoint = await this.db
      .selectFrom('webhook_endpoints')
      .select('id')
      .where('envelope_id', '=', envelopeId)
      .executeTakeFirst();
    return { data: endpoint ? await deliveryLog(this.db, endpoint.id, limit) : [] };
  }

  private views(db: Db, ctx: Ctx) {
    return (
      db
        .selectFrom('webhook_endpoints as e')
        .select((eb) => [
          'e.id',
          'e.account_id',
          'e.account_ids',
          'e.url',
          'e.description',
          'e.format',
          'e.events',
          'e.organization_events',
          'e.enabled',
          'e.disabled_reason',
          'e.created_at',
          'e.updated_at',
          eb
            .selectFrom('webhook_secrets as s')
            .select((s) => s.fn.max('s.expires_at').as('x'))
            .whereRef('s.endpoint_id', '=', 'e.id')
            .where('s.expires_at', '>', new Date())
            .as('previous_secrets_expire_at'),
        ])
        .where('e.organization_id', '=', ctx.principal.organizationId)
        // An envelope's own endpoint (its webhook_url) is the envelope's: its log is GET /api/envelope/{id}/webhook_deliveries.
        .where('e.envelope_id', 'is', null)
    );
  }

  /** The endpoint, if the principal may reach it; another account's is not found, as another tenant's. */
  private async load(ctx: Ctx, db: Db, id: string, lock = false): Promise<EndpointView> {
    let q = this.views(db, ctx).where('e.id', '=', id);
    if (lock) q = q.forUpdate('e');
    const row = await q.executeTakeFirst();
    if (!row) throw notFound('webhook endpoint', id);
    if (ctx.principal.role === 'member' && ctx.principal.accountId !== row.account_id) {
      throw notFound('webhook endpoint', id);
    }
    return toView(row);
  }
}

function toView(
  row: Omit<EndpointView, 'previous_secrets_expire_at'> & { previous_secrets_expire_at: unknown },
): EndpointView {
  const x = row.previous_secrets_expire_at;
  return { ...row, previous_secrets_expire_at: x === null || x === undefined ? null : new Date(x as string) };
}

/** Deletes an endpoint (its secrets, deliveries and attempts go with it), audited; `before` is it, locked. */
export async function removeEndpoint(
  trx: Db,
  audit: AuditBuffer,
  before: { id: string; account_id?: string | null },
): Promise<void> {
  await trx.deleteFrom('webhook_endpoints').where('id', '=', before.id).execute();
  audit.record({
    action: 'webhook_endpoint.deleted',
    targetType: 'webhook_endpoint',
    targetId: before.id,
    accountId: before.account_id ?? null,
    before: { ...before },
  });
}

/**
 * Takes the organization's audit chain lock first. A change that records events locks the chain, then writes
 * deliveries that reference the endpoint (a key-share lock on its row); deleting the endpoint locks its row
 * and then the chain, at commit: the opposite order, a deadlock under concurrent imports. Taking the chain
 * first puts the delete in the same order.
 */
export async function lockAuditHead(trx: Db, organizationId: string): Promise<void> {
  await trx
    .insertInto('audit_heads')
    .values({ organization_id: organizationId, last_seq: 0, last_hash: GENESIS_HASH })
    .onConflict((oc) => oc.column('organization_id').doNothing())
    .execute();
  await trx
    .selectFrom('audit_heads')
    .select('last_seq')
    .where('organization_id', '=', organizationId)
    .forUpdate()
    .execute();
}
