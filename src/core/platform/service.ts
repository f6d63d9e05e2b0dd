// Platform mode (docs/platform.md): an organization whose owner turns it on provisions connected accounts,
// each an organization of its own linked to the platform (0023), and acts in them with a platform key and
// the `Atlas-Account` header. Atlas's connected-accounts pages are the model ([A] family: snake_case,
// `/api/platform/connected-accounts`, `ext_<external_id>`); where they are silent, Signet's conventions.
//
// Tenancy needs nothing new below this file: a connected account is an organization, so every row it owns is
// keyed by its own organization_id, and a principal scoped to it (scope() below) reaches what an owner's or
// admin's key of that organization would reach, and nothing of its platform or its siblings.
import type { Db } from '../../db/connection.ts';
import type { BillingMode, ConnectedStatus, Organization } from '../../db/schema.ts';
import { AuditBuffer, appendAudit } from '../audit/writer.ts';
import { type Ctx, mutate } from '../context.ts';
import { checkGrant, type GrantView, grantIn, grantView } from '../credits/ledger.ts';
import { AppError, invalidField, notFound } from '../errors.ts';
import { isUuid, newId } from '../ids.ts';
import { seedOrganization } from '../organizations/create.ts';
import { DEFAULT_LIMIT, decodeCursor, type Page, toPage } from '../pagination.ts';
import type { Principal } from '../principal.ts';
import { platformNotEnabled } from './errors.ts';

/** The header a platform key names a connected account with (Atlas's name, kept for drop-in clients). */
export const ACCOUNT_HEADER = 'Atlas-Account';
/** `ext_` + the platform's external id; otherwise the value is the connected account's id (a UUID). */
export const EXTERNAL_PREFIX = 'ext_';

/**
 * External ids travel in a header (`Atlas-Account: ext_<external_id>`), so they are limited to what a header
 * value carries verbatim: visible ASCII, no spaces. Atlas's examples (`acme-corp-42`, `hubspot-portal-12345`)
 * fit; Atlas documents no limit of its own.
 */
const EXTERNAL_ID = /^[\x21-\x7e]{1,255}$/;

/** The ledger's reason for a connected account's `initial_credits`. */
const INITIAL_CREDITS_REASON = 'initial_credits when the connected account was created';

export type ConnectedAccountView = {
  id: string;
  name: string;
  external_id: string;
  status: ConnectedStatus;
  billing_mode: BillingMode;
  platform_organization_id: string;
  /** The connected account's first account (where its brands, settings and users start). */
  account_id: string;
  created_at: Date;
  updated_at: Date;
};

export interface PlatformView {
  organization_id: string;
  enabled: boolean;
  /** Set when the organization is itself a connected account of a platform. */
  connected_account: {
    platform_organization_id: string;
    external_id: string;
    status: ConnectedStatus;
    billing_mode: BillingMode;
  } | null;
}

export interface CreateConnectedInput {
  external_id: string;
  name: string;
  billing_mode?: BillingMode;
  initial_credits?: number;
}

export interface ConnectedPatch {
  name?: string;
  status?: ConnectedStatus;
  billing_mode?: BillingMode;
}

export interface ConnectedListQuery {
  limit?: number;
  cursor?: string;
  status?: ConnectedStatus;
  external_id?: string;
  q?: string;
}

/** Every organization has its first account from creation on; the subquery is never NULL for one. */
type ConnectedRow = Organization & { account_id: string | null };

function viewOf(row: ConnectedRow): ConnectedAccountView {
  return {
    id: row.id,
    name: row.name,
    external_id: row.external_id!,
    status: row.connected_status!,
    billing_mode: row.billing_mode,
    platform_organization_id: row.platform_organization_id!,
    account_id: row.account_id!,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

/** The principal a connected account's own audit chain records for the platform acting on it. */
function actingFor(principal: Principal, organizationId: string): Principal {
  return {
    ...principal,
    organizationId,
    accountId: null,
    userId: null,
    label: `${principal.label} (platform ${principal.organizationId})`,
    platformOrganizationId: principal.organizationId,
  };
}

export class PlatformService {
  constructor(private readonly db: Db) {}

  async get(ctx: Ctx): Promise<PlatformView> {
    const org = await this.organization(this.db, ctx.principal.organizationId);
    return platformView(org);
  }

  /** Owners only turn platform mode on or off (Atlas: "Team/Platform tab → Enable platform mode"). */
  async setEnabled(ctx: Ctx, enabled: boolean): Promise<PlatformView> {
    const { principal } = ctx;
    if (principal.role !== 'owner') {
      throw new AppError(
        'permission_denied',
        `only an owner turns platform mode on or off; this ${principal.kind === 'api_key' ? 'API key' : 'principal'} acts as a ${principal.role}`,
        [{ message: 'needs the owner role', role: principal.role }],
      );
    }
    return mutate(this.db, ctx, async (trx, audit) => {
      const before = await this.organization(trx, principal.organizationId, true);
      if (before.platform_organization_id) {
        throw new AppError(
          'conflict',
          `organization ${before.id} is a connected account of platform ${before.platform_organization_id}; a connected account cannot itself be a platform`,
          [{ field: 'enabled', message: 'connected accounts cannot enable platform mode' }],
        );
      }
      if (before.platform_enabled === enabled) return platformView(before);
      const after = await trx
        .updateTable('organizations')
        .set({ platform_enabled: enabled, updated_at: new Date() })
        .where('id', '=', before.id)
        .returningAll()
        .executeTakeFirstOrThrow();
      audit.record({
        action: enabled ? 'platform.enabled' : 'platform.disabled',
        targetType: 'organization',
        targetId: before.id,
        before: { platform_enabled: before.platform_enabled },
        after: { platform_enabled: after.platform_enabled },
      });
      return platformView(after);
    });
  }

  /**
   * Provisions a connected account, idempotent on `external_id` (Atlas: "the same id again returns the
   * existing account"): concurrent creates with one external id meet on the unique index
   * (platform_organization_id, external_id) — the first inserts, the others wait for it to commit and then
   * read its row — so exactly one account exists however many arrive at once. A repeat changes nothing (its
   * name, billing mode and credits are ignored; PATCH changes an account).
   */
  async createConnected(
    ctx: Ctx,
    input: CreateConnectedInput,
  ): Promise<{ account: ConnectedAccountView; created: boolean }> {
    const platformId = this.requirePlatformCaller(ctx);
    const externalId = checkExternalId(input.external_id);
    const name = input.name.trim();
    if (name.length === 0) throw invalidField('name', 'required: the connected account’s name');
    const credits = input.initial_credits ?? 0;
    // 0 (or absent) grants nothing; anything else follows the rule every grant follows.
    const creditsReason = credits === 0 ? '' : checkGrant(credits, INITIAL_CREDITS_REASON, 'initial_credits');
    return mutate(this.db, ctx, async (trx, audit) => {
      await this.requireEnabled(trx, platformId);
      const inserted = await trx
        .insertInto('organizations')
        .values({
          id: newId(),
          name,
          platform_organization_id: platformId,
          external_id: externalId,
          billing_mode: input.billing_mode ?? 'platform_pays',
          connected_status: 'active',
        })
        .onConflict((oc) =>
          oc
            .columns(['platform_organization_id', 'external_id'])
            .where('platform_organization_id', 'is not', null)
            .doNothing(),
        )
        .returningAll()
        .executeTakeFirst();
      if (!inserted) {
        // Another create with this external id committed first (ON CONFLICT waited for it): answer its row.
        const existing = await this.connected(trx, platformId, { externalId });
        if (!existing) throw notFound('connected account', `${EXTERNAL_PREFIX}${externalId}`);
        return { account: viewOf(existing), created: false };
      }
      // The connected account's own chain records its making, as the platform's key acting for it.
      const own = new AuditBuffer();
      const { account } = await seedOrganization(trx, own, inserted, name);
      // Its initial credits, in this transaction: a repeat of the create (created: false above) grants none,
      // and a create that fails grants none either. The ledger row names the platform's key and the reason.
      if (credits > 0) {
        await grantIn(trx, own, actingFor(ctx.principal, inserted.id), {
          organizationId: inserted.id,
          amount: credits,
          reason: creditsReason,
        });
      }
      await appendAudit(trx, actingFor(ctx.principal, inserted.id), ctx.meta, own.drain());
      const view = viewOf({ ...inserted, account_id: account.id });
      audit.record({
        action: 'connected_account.created',
        targetType: 'organization',
        targetId: inserted.id,
        after: view,
        ...(credits > 0 ? { extra: { initial_credits: credits } } : {}),
      });
      return { account: view, created: true };
    });
  }

  async listConnected(ctx: Ctx, q: ConnectedListQuery): Promise<Page<ConnectedAccountView>> {
    const platformId = this.requirePlatformCaller(ctx);
    await this.requireEnabled(this.db, platformId);
    const limit = q.limit ?? DEFAULT_LIMIT;
    const after = decodeCursor(q.cursor);
    let query = this.connectedQuery(this.db, platformId)
      .orderBy('o.id')
      .limit(limit + 1);
    if (after) query = query.where('o.id', '>', after);
    if (q.status) query = query.where('o.connected_status', '=', q.status);
    if (q.external_id !== undefined) query = query.where('o.external_id', '=', q.external_id);
    if (q.q) {
      const like = `%${q.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      query = query.where((eb) => eb.or([eb('o.name', 'ilike', like), eb('o.external_id', 'ilike', like)]));
    }
    const page = toPage(await query.execute(), limit, (r) => r.id);
    return { data: page.data.map(viewOf), next_cursor: page.next_cursor };
  }

  /** A connected account by its id, or by `ext_<external_id>` as the header names it. */
  async getConnected(ctx: Ctx, ref: string): Promise<ConnectedAccountView> {
    const platformId = this.requirePlatformCaller(ctx);
    await this.requireEnabled(this.db, platformId);
    const row = await this.connected(this.db, platformId, parseRef(ref));
    if (!row) throw notFound('connected account', ref);
    return viewOf(row);
  }

  /**
   * Renames, suspends or reactivates a connected account, or changes who pays for its sends. Suspension
   * blocks what costs or sends (billing.ts assertConnectedActive); drafts and reads still work. The change is
   * recorded in the platform's audit chain and in the connected account's own.
   */
  async updateConnected(ctx: Ctx, ref: string, patch: ConnectedPatch): Promise<ConnectedAccountView> {
    const platformId = this.requirePlatformCaller(ctx);
    const name = patch.name?.trim();
    if (name !== undefined && name.length === 0) throw invalidField('name', 'must not be empty');
    return mutate(this.db, ctx, async (trx, audit) => {
      await this.requireEnabled(trx, platformId);
      // FOR UPDATE: a send holding a share lock on the row (billing.ts) finishes first, with the mode it read.
      const before = await this.connected(trx, platformId, parseRef(ref), true);
      if (!before) throw notFound('connected account', ref);
      const set = {
        ...(name !== undefined ? { name } : {}),
        ...(patch.status !== undefined ? { connected_status: patch.status } : {}),
        ...(patch.billing_mode !== undefined ? { billing_mode: patch.billing_mode } : {}),
      };
      if (Object.entries(set).every(([k, v]) => (before as unknown as Record<string, unknown>)[k] === v))
        return viewOf(before);
      const updated = await trx
        .updateTable('organizations')
        .set({ ...set, updated_at: new Date() })
        .where('id', '=', before.id)
        .returningAll()
        .executeTakeFirstOrThrow();
      const after = viewOf({ ...updated, account_id: before.account_id });
      const action =
        patch.status !== undefined && patch.status !== before.connected_status
          ? patch.status === 'suspended'
            ? 'connected_account.suspended'
            : 'connected_account.reactivated'
          : 'connected_account.updated';
      const event = {
        action,
        targetType: 'organization',
        targetId: before.id,
        before: viewOf(before),
        after,
      };
      audit.record(event);
      const own = new AuditBuffer();
      own.record(event);
      await appendAudit(trx, actingFor(ctx.principal, before.id), ctx.meta, own.drain());
      return after;
    });
  }

  /**
   * A platform grants credits to one of its connected accounts (`POST /api/credits/grants`): the account is
   * named by id or `ext_<external_id>`; any other organization (another platform's account, a sibling, the
   * platform itself, an unknown id) answers 404 alike. Granting is for the platform itself (credits:write:
   * owners and admins), never from inside a connected account. Recorded in the ledger of the account (who and
   * why), and audited in both chains like the account's other changes.
   */
  async grantCredits(
    ctx: Ctx,
    input: { organization_id: string; amount: number; reason: string },
  ): Promise<GrantView> {
    const platformId = this.requirePlatformCaller(ctx);
    const reason = checkGrant(input.amount, input.reason);
    const ref = parseRef(input.organization_id.trim(), 'organization_id');
    return mutate(this.db, ctx, async (trx, audit) => {
      await this.requireEnabled(trx, platformId);
      const target = await this.connected(trx, platformId, ref);
      if (!target) throw notFound('connected account', input.organization_id);
      // The connected account's chain first, then the platform's (at commit), the order updateConnected takes.
      const own = new AuditBuffer();
      const entry = await grantIn(trx, own, ctx.principal, {
        organizationId: target.id,
        amount: input.amount,
        reason,
      });
      await appendAudit(trx, actingFor(ctx.principal, target.id), ctx.meta, own.drain());
      audit.record({
        action: 'credits.granted',
        targetType: 'organization',
        targetId: target.id,
        extra: {
          amount: input.amount,
          reason,
          balance_after: entry.balance_after,
          entry_id: entry.id,
          external_id: target.external_id,
        },
      });
      return grantView(entry);
    });
  }

  /**
   * The principal a request acts as when it names a connected account in `Atlas-Account`: the platform key's
   * own powers (role, scopes), inside the connected account. Only a platform key of a platform organization
   * may; the account must be one of that platform's (another platform's, a sibling's id, or an unknown one
   * answers 404 alike).
   */
  async scope(principal: Principal, value: string): Promise<Principal> {
    if (
      principal.kind !== 'api_key' ||
      principal.keyKind !== 'platform' ||
      principal.platformOrganizationId
    ) {
      throw new AppError(
        'platform_key_required',
        `the ${ACCOUNT_HEADER} header acts on behalf of a connected account and needs a platform key; this ${principal.kind === 'api_key' ? `is a ${principal.keyKind ?? 'profile'} key` : 'credential is not an API key'}. ` +
          `Use a platform key of the platform organization (POST /api/api_keys {"kind": "platform"}, owners and admins), or drop ${ACCOUNT_HEADER} to act in this credential's own organization`,
        [
          {
            field: ACCOUNT_HEADER,
            message: 'only a platform key may send this header',
            key_kind: principal.keyKind ?? null,
          },
        ],
      );
    }
    const ref = parseRef(value.trim());
    const row = await this.db
      .selectFrom('organizations as p')
      .leftJoin('organizations as c', (join) => {
        const on = join.onRef('c.platform_organization_id', '=', 'p.id');
        return 'id' in ref ? on.on('c.id', '=', ref.id) : on.on('c.external_id', '=', ref.externalId);
      })
      .select((eb) => [
        'p.platform_enabled',
        'c.id',
        eb
          .selectFrom('accounts as a')
          .select('a.id')
          .whereRef('a.organization_id', '=', 'c.id')
          .orderBy('a.id')
          .limit(1)
          .as('account_id'),
      ])
      .where('p.id', '=', principal.organizationId)
      .executeTakeFirst();
    if (!row?.platform_enabled) throw platformNotEnabled(principal.organizationId);
    if (!row.id) throw notFound('connected account', value.trim());
    return { ...actingFor(principal, row.id), accountId: row.account_id };
  }

  /** A platform's own routes act for the platform itself: a scoped principal or a connected account is refused. */
  private requirePlatformCaller(ctx: Ctx): string {
    if (ctx.principal.platformOrganizationId) {
      throw new AppError(
        'invalid_request',
        `/api/platform routes act for the platform organization itself; drop the ${ACCOUNT_HEADER} header`,
        [{ field: ACCOUNT_HEADER, message: 'not accepted on platform routes' }],
      );
    }
    return ctx.principal.organizationId;
  }

  private async requireEnabled(db: Db, organizationId: string): Promise<void> {
    const org = await this.organization(db, organizationId);
    if (!org.platform_enabled) throw platformNotEnabled(organizationId);
  }

  private async organization(db: Db, id: string, lock = false): Promise<Organization> {
    let query = db.selectFrom('organizations').selectAll().where('id', '=', id);
    if (lock) query = query.forUpdate();
    const org = await query.executeTakeFirst();
    if (!org) throw notFound('organization', id);
    return org;
  }

  private connectedQuery(db: Db, platformId: string) {
    return db
      .selectFrom('organizations as o')
      .selectAll('o')
      .select((eb) =>
        eb
          .selectFrom('accounts as a')
          .select('a.id')
          .whereRef('a.organization_id', '=', 'o.id')
          .orderBy('a.id')
          .limit(1)
          .as('account_id'),
      )
      .where('o.platform_organization_id', '=', platformId);
  }

  private async connected(
    db: Db,
    platformId: string,
    ref: { id: string } | { externalId: string },
    lock = false,
  ): Promise<ConnectedRow | undefined> {
    let query = this.connectedQuery(db, platformId);
    query =
      'id' in ref ? query.where('o.id', '=', ref.id) : query.where('o.external_id', '=', ref.externalId);
    if (lock) query = query.forUpdate();
    const row = await query.executeTakeFirst();
    return row;
  }
}

function platformView(org: Organization): PlatformView {
  return {
    organization_id: org.id,
    enabled: org.platform_enabled,
    connected_account: org.platform_organization_id
      ? {
          platform_organization_id: org.platform_organization_id,
          external_id: org.external_id!,
          status: org.connected_status!,
          billing_mode: org.billing_mode,
        }
      : null,
  };
}

function checkExternalId(value: string): string {
  if (!EXTERNAL_ID.test(value)) {
    throw invalidField(
      'external_id',
      'must be 1 to 255 visible ASCII characters without spaces (it travels in the Atlas-Account header as ext_<external_id>)',
    );
  }
  return value;
}

/** `ext_<external_id>`, or a connected account's id (a UUID, without prefix), as Atlas's header takes them. */
export function parseRef(
  value: string,
  field: string = ACCOUNT_HEADER,
): { id: string } | { externalId: string } {
  if (value.startsWith(EXTERNAL_PREFIX))
    return { externalId: checkExternalId(value.slice(EXTERNAL_PREFIX.length)) };
  if (isUuid(value)) return { id: value.toLowerCase() };
  throw new AppError(
    'validation_failed',
    `${field}: "${value.slice(0, 80)}" names no connected account; send ext_<external_id> or the connected_org_id (a UUID)`,
    [{ field, message: 'expected ext_<external_id> or a UUID' }],
  );
}
