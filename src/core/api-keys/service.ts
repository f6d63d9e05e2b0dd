// API keys: created for an account, bound to an environment, stored only as a SHA-256 hash and shown once.
// A key is a `profile` key (acts as its creator inside one account) or a `platform` key (the flag platform
// mode uses; owners and admins only), and may be restricted to scopes (scopes.ts): its permissions are then
// its creator's intersected with what the scopes grant. Keys rotate with a dual-run window, and an owner can
// revoke every key of the organization at once (break-glass).
//
// Verification resolves a key to a Principal and is cached briefly, so the hot path costs no database round
// trip; the cache lifetime (≤ 5 s) bounds how long another process may honour a revoked key. Where a key was
// last used is kept in memory and written in batches (one UPDATE per flush), never by a write per request.
import { sql } from 'kysely';
import type { Db } from '../../db/connection.ts';
import type { ApiKeyKind, ApiKeyRow, OrgRole } from '../../db/schema.ts';
import { type Ctx, mutate } from '../context.ts';
import { AppError, invalidField, notFound } from '../errors.ts';
import { newId } from '../ids.ts';
import { DEFAULT_LIMIT, decodeCursor, type Page, toPage } from '../pagination.ts';
import { platformNotEnabled } from '../platform/errors.ts';
import {
  lowerRole,
  type Permission,
  type Principal,
  permissionsFor,
  requireAccountAccess,
  roleAtLeast,
} from '../principal.ts';
import { type Environment, generateKey, hashKey, hashKeyBase64, parseKey } from './format.ts';
import { isScope, SCOPE_NAMES, scopeGrants } from './scopes.ts';

export type ApiKeyView = Omit<ApiKeyRow, 'secret_hash'> & { prefix: string };
export type NewApiKeyView = ApiKeyView & { key: string };

export interface CreateKeyInput {
  name: string;
  account_id?: string;
  role?: OrgRole;
  kind?: ApiKeyKind;
  /** null or absent: unrestricted. Otherwise Signet scope names (scopes.ts). */
  scopes?: string[] | null;
  expires_at?: string | null;
  /** Set by operator commands, which have no user principal: whose key this is. */
  created_by?: string;
}

export interface RotateKeyInput {
  /** How long the old key keeps working beside the new one; 0 stops it now. */
  expires_in_seconds?: number;
  /** An expiry for the new key (none by default). */
  new_key_expires_at?: string | null;
}

export const ROTATE_DEFAULT_SECONDS = 86_400;
export const ROTATE_MAX_SECONDS = 30 * 86_400;

const CACHE_MAX = 10_000;
/** At most this many keys per UPDATE when flushing last-used times. */
const FLUSH_BATCH = 1_000;

export interface ApiKeysOptions {
  /** How often recorded key use is written to the database. */
  usageFlushMs?: number;
}

interface CacheEntry {
  at: number;
  value: Principal | AppError;
  /** The key's expiry, checked on every hit so a dual-run window ends on time in this process. */
  expiresAt: number | null;
}

function view(row: ApiKeyRow): ApiKeyView {
  const { secret_hash: _omit, ...rest } = row;
  return { ...rest, prefix: `sk_${row.environment}_` };
}

function expiredError(id: string, at: Date): AppError {
  return new AppError('api_key_expired', `API key ${id} expired at ${at.toISOString()}`);
}

/** Unknown scope names are a 400 that names them; duplicates are dropped; catalogue order is kept. */
function normaliseScopes(scopes: string[] | null | undefined): string[] | null {
  if (scopes === null || scopes === undefined) return null;
  if (scopes.length === 0)
    throw invalidField('scopes', 'give at least one scope, or null for an unrestricted key');
  const unknown = scopes.filter((s) => !isScope(s));
  if (unknown.length > 0) {
    throw new AppError(
      'validation_failed',
      `scopes: unknown scope ${unknown.map((s) => `"${s}"`).join(', ')}; known scopes are ${SCOPE_NAMES.join(', ')}`,
      unknown.map((s) => ({ field: 'scopes', message: `unknown scope "${s}"`, scope: s })),
    );
  }
  return SCOPE_NAMES.filter((s) => scopes.includes(s));
}

/** The first requested scope that grants something `held` lacks, with what is missing. */
function scopeBeyond(
  scopes: readonly string[],
  held: Set<Permission>,
): { scope: string; missing: Permission[] } | null {
  for (const scope of scopes) {
    const missing = [...scopeGrants([scope])].filter((p) => !held.has(p));
    if (missing.length > 0) return { scope, missing };
  }
  return null;
}

/**
 * A key another key or person acts on (rotates, revokes) must be within the caller's own powers: its role
 * no higher than the caller's, and for a restricted caller, its scopes within the caller's permissions (an
 * unrestricted key is beyond every restricted caller).
 */
function requireKeyWithin(
  principal: Principal,
  key: Pick<ApiKeyRow, 'id' | 'role' | 'scopes'>,
  verb: 'rotate' | 'revoke',
): void {
  if (!roleAtLeast(principal.role, key.role)) {
    throw new AppError(
      'permission_denied',
      `a ${principal.role} cannot ${verb} a key with the role "${key.role}"`,
      [{ message: 'the key acts above your own role', role: key.role }],
    );
  }
  if (!principal.scopes) return;
  const beyond = key.scopes
    ? scopeBeyond(key.scopes, principal.permissions)
    : { scope: '(unrestricted)', missing: [] as Permission[] };
  if (beyond) {
    throw new AppError(
      'permission_denied',
      `this API key is restricted to scopes ${principal.scopes.join(', ')}; it cannot ${verb} key ${key.id}, whose ${key.scopes ? `scope "${beyond.scope}" needs ${beyond.missing.join(', ')}` : 'access is unrestricted'}`,
      [{ message: `the key to ${verb} is beyond this restricted key`, scope: beyond.scope }],
    );
  }
}

export class ApiKeysService {
  private readonly cache = new Map<string, CacheEntry>();
  /** Key id → when and from where it was last used, not yet written. */
  private readonly usage = new Map<string, { at: Date; ip: string | null }>();
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;
  private closed = false;
  private readonly usageFlushMs: number;

  constructor(
    private readonly db: Db,
    private readonly environment: Environment,
    private readonly cacheTtlMs: number,
    options: ApiKeysOptions = {},
  ) {
    this.usageFlushMs = options.usageFlushMs ?? 5_000;
  }

  async create(ctx: Ctx, input: CreateKeyInput): Promise<NewApiKeyView> {
    const { principal } = ctx;
    const accountId = input.account_id ?? principal.accountId;
    if (!accountId) throw invalidField('account_id', 'required: the account the key acts in');
    // A platform key acting for a connected account has no user there to own a key (docs/platform.md).
    if (principal.platformOrganizationId) {
      throw new AppError(
        'permission_denied',
        `a platform key acting for connected account ${principal.organizationId} cannot create API keys there: a key acts as a person of the account, and it has none. Invite a person (POST /api/invites with the Atlas-Account header), who then creates keys; or keep using the platform key with Atlas-Account`,
        [{ field: 'Atlas-Account', message: 'keys of a connected account are created by its own people' }],
      );
    }
    // Only operator commands (the system principal) make keys on someone's behalf.
    const creatorId = principal.kind === 'system' ? input.created_by : principal.userId;
    if (!creatorId) throw invalidField('created_by', 'required when no user is calling');
    const kind = input.kind ?? 'profile';
    const scopes = normaliseScopes(input.scopes);
    const role = input.role ?? principal.role;
    if (!roleAtLeast(principal.role, role)) {
      throw new AppError(
        'permission_denied',
        `a ${principal.role} cannot create a key with the role "${role}"`,
        [{ field: 'role', message: 'above your own role' }],
      );
    }
    if (kind === 'platform') {
      if (!roleAtLeast(principal.role, 'admin')) {
        throw new AppError(
          'permission_denied',
          `only an owner or admin can create a platform key; this ${principal.kind === 'api_key' ? 'API key' : 'principal'} acts as a ${principal.role}`,
          [{ field: 'kind', message: 'platform keys need the owner or admin role' }],
        );
      }
      if (!roleAtLeast(role, 'admin'))
        throw invalidField('role', 'a platform key acts with the owner or admin role, not member');
    }
    // A restricted caller makes only restricted keys, within its own scopes.
    if (principal.scopes) {
      if (!scopes) {
        throw new AppError(
          'permission_denied',
          `this API key is restricted to scopes ${principal.scopes.join(', ')}; it can create only restricted keys within them (send "scopes")`,
          [{ field: 'scopes', message: 'required: a restricted key cannot create an unrestricted key' }],
        );
      }
    }
    if (scopes) {
      const beyond = scopeBeyond(scopes, principal.permissions);
      if (beyond) {
        throw new AppError(
          'permission_denied',
          `cannot grant the scope "${beyond.scope}": ${principal.scopes ? `this API key is restricted to scopes ${principal.scopes.join(', ')} and ` : ''}lacks ${beyond.missing.join(', ')}`,
          [
            {
              field: 'scopes',
              message: 'beyond your own permissions',
              scope: beyond.scope,
              missing: beyond.missing,
            },
          ],
        );
      }
    }
    const expiresAt = input.expires_at ? new Date(input.expires_at) : null;
    if (expiresAt && expiresAt.getTime() <= Date.now())
      throw invalidField('expires_at', 'must be in the future');
    const key = generateKey(this.environment);
    return mutate(this.db, ctx, async (trx, audit) => {
      const account = await trx
        .selectFrom('accounts')
        .select('id')
        .where('id', '=', accountId)
        .where('organization_id', '=', principal.organizationId)
        .executeTakeFirst();
      if (!account)
        throw invalidField('account_id', `no account ${accountId} in this organization`, 'invalid_reference');
      requireAccountAccess(principal, accountId);
      const creator = await trx
        .selectFrom('users as u')
        .leftJoin('memberships as m', (join) =>
          join
            .onRef('m.user_id', '=', 'u.id')
            .on('m.account_id', '=', accountId)
            .on('m.status', '=', 'active'),
        )
        .leftJoin('permission_profiles as pp', 'pp.id', 'm.permission_profile_id')
        .select(['u.id', 'u.role', 'pp.permissions'])
        .where('u.id', '=', creatorId)
        .where('u.organization_id', '=', principal.organizationId)
        .executeTakeFirst();
      if (!creator)
        throw invalidField('created_by', `no user ${creatorId} in this organization`, 'invalid_reference');
      const keyRole = lowerRole(role, creator.role);
      if (kind === 'platform' && !roleAtLeast(keyRole, 'admin')) {
        throw new AppError(
          'permission_denied',
          `a platform key must be created by an owner or admin; user ${creator.id} is a ${creator.role}`,
          [{ field: 'kind', message: 'platform keys need the owner or admin role' }],
        );
      }
      // Platform keys exist only in a platform organization (Atlas: "Enable platform mode → Create key").
      if (kind === 'platform') {
        const org = await trx
          .selectFrom('organizations')
          .select('platform_enabled')
          .where('id', '=', principal.organizationId)
          .executeTakeFirstOrThrow();
        if (!org.platform_enabled) throw platformNotEnabled(principal.organizationId);
      }
      // A key never exceeds its creator: every requested scope must be within the creator's permissions.
      if (scopes) {
        const beyond = scopeBeyond(scopes, permissionsFor(keyRole, creator.permissions ?? []));
        if (beyond) {
          throw new AppError(
            'permission_denied',
            `cannot grant the scope "${beyond.scope}": the key's creator (a ${keyRole} in account ${accountId}) lacks ${beyond.missing.join(', ')}`,
            [
              {
                field: 'scopes',
                message: "beyond the creator's permissions",
                scope: beyond.scope,
                missing: beyond.missing,
              },
            ],
          );
        }
      }
      const row = await trx
        .insertInto('api_keys')
        .values({
          id: newId(),
          organization_id: principal.organizationId,
          account_id: accountId,
          created_by: creator.id,
          name: input.name,
          environment: this.environment,
          role: keyRole,
          kind,
          scopes,
          secret_hash: hashKey(key),
          last4: key.slice(-4),
          expires_at: expiresAt,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      audit.record({
        action: 'api_key.created',
        targetType: 'api_key',
        targetId: row.id,
        accountId,
        after: view(row),
      });
      return { ...view(row), key };
    });
  }

  async list(ctx: Ctx, q: { limit?: number; cursor?: string }): Promise<Page<ApiKeyView>> {
    const limit = q.limit ?? DEFAULT_LIMIT;
    const after = decodeCursor(q.cursor);
    let query = this.db
      .selectFrom('api_keys')
      .selectAll()
      .where('organization_id', '=', ctx.principal.organizationId)
      .orderBy('id')
      .limit(limit + 1);
    if (after) query = query.where('id', '>', after);
    if (ctx.principal.role === 'member' && ctx.principal.userId)
      query = query.where('created_by', '=', ctx.principal.userId);
    const page = toPage(await query.execute(), limit, (k) => k.id);
    return { data: page.data.map(view), next_cursor: page.next_cursor };
  }

  async revoke(ctx: Ctx, id: string): Promise<ApiKeyView> {
    const result = await mutate(this.db, ctx, async (trx, audit) => {
      let query = trx
        .selectFrom('api_keys')
        .selectAll()
        .where('id', '=', id)
        .where('organization_id', '=', ctx.principal.organizationId);
      if (ctx.principal.role === 'member' && ctx.principal.userId)
        query = query.where('created_by', '=', ctx.principal.userId);
      const before = await query.forUpdate().executeTakeFirst();
      if (!before) throw notFound('API key', id);
      // Revoking stops whoever uses the key: only a key within the caller's own powers (a restricted key
      // holding keys:write does not cut off an unrestricted one; an admin does not cut off an owner's).
      requireKeyWithin(ctx.principal, before, 'revoke');
      if (before.revoked_at) return before;
      const after = await trx
        .updateTable('api_keys')
        .set({ revoked_at: new Date() })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirstOrThrow();
      audit.record({
        action: 'api_key.revoked',
        targetType: 'api_key',
        targetId: id,
        accountId: before.account_id,
        before: view(before),
        after: view(after),
      });
      return after;
    });
    this.forget(result.secret_hash);
    return view(result);
  }

  /**
   * Rolls a key: a new key with the same name, kind, role, scopes, account and creator, while the old one
   * keeps working for `expires_in_seconds` more (the dual-run window; 0 stops it now). An earlier expiry of
   * the old key is never extended.
   */
  async rotate(
    ctx: Ctx,
    id: string,
    input: RotateKeyInput = {},
  ): Promise<{ new_key: NewApiKeyView; old_key: ApiKeyView }> {
    const { principal } = ctx;
    const seconds = input.expires_in_seconds ?? ROTATE_DEFAULT_SECONDS;
    if (!Number.isInteger(seconds) || seconds < 0 || seconds > ROTATE_MAX_SECONDS) {
      throw invalidField(
        'expires_in_seconds',
        `must be an integer from 0 to ${ROTATE_MAX_SECONDS} (30 days)`,
      );
    }
    const newExpiresAt = input.new_key_expires_at ? new Date(input.new_key_expires_at) : null;
    if (newExpiresAt && newExpiresAt.getTime() <= Date.now())
      throw invalidField('new_key_expires_at', 'must be in the future');
    const result = await mutate(this.db, ctx, async (trx, audit) => {
      let query = trx
        .selectFrom('api_keys')
        .selectAll()
        .where('id', '=', id)
        .where('organization_id', '=', principal.organizationId);
      if (principal.role === 'member' && principal.userId)
        query = query.where('created_by', '=', principal.userId);
      const before = await query.forUpdate().executeTakeFirst();
      if (!before) throw notFound('API key', id);
      const now = new Date();
      if (before.revoked_at) {
        throw new AppError(
          'conflict',
          `API key ${id} was revoked at ${before.revoked_at.toISOString()}; a revoked key cannot be rotated (create a new key)`,
        );
      }
      if (before.expires_at && before.expires_at.getTime() <= now.getTime()) {
        throw new AppError(
          'conflict',
          `API key ${id} expired at ${before.expires_at.toISOString()}; an expired key cannot be rotated (create a new key)`,
        );
      }
      // Rotating hands out a secret with the old key's powers: never more than the caller's own.
      requireKeyWithin(principal, before, 'rotate');
      const key = generateKey(before.environment);
      const created = await trx
        .insertInto('api_keys')
        .values({
          id: newId(),
          organization_id: before.organization_id,
          account_id: before.account_id,
          created_by: before.created_by,
          name: before.name,
          environment: before.environment,
          role: before.role,
          kind: before.kind,
          scopes: before.scopes,
          secret_hash: hashKey(key),
          last4: key.slice(-4),
          expires_at: newExpiresAt,
          rotated_from: before.id,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      const windowEnd = new Date(now.getTime() + seconds * 1000);
      const oldExpiresAt =
        before.expires_at && before.expires_at.getTime() < windowEnd.getTime()
          ? before.expires_at
          : windowEnd;
      const after = await trx
        .updateTable('api_keys')
        .set({ expires_at: oldExpiresAt })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirstOrThrow();
      audit.record({
        action: 'api_key.created',
        targetType: 'api_key',
        targetId: created.id,
        accountId: created.account_id,
        after: view(created),
        extra: { rotated_from: before.id },
      });
      audit.record({
        action: 'api_key.rotated',
        targetType: 'api_key',
        targetId: id,
        accountId: before.account_id,
        before: view(before),
        after: view(after),
        extra: {
          new_key_id: created.id,
          expires_in_seconds: seconds,
          old_key_expires_at: oldExpiresAt.toISOString(),
        },
      });
      return { created, key, after };
    });
    this.forget(result.after.secret_hash);
    return { new_key: { ...view(result.created), key: result.key }, old_key: view(result.after) };
  }

  /**
   * Break-glass: revokes every key of the organization that is not revoked yet, the caller's own included.
   * Owners only. Other processes stop honouring the keys within the cache lifetime (≤ 5 s).
   */
  async revokeAll(ctx: Ctx, reason: string): Promise<{ revoked_count: number }> {
    const { principal } = ctx;
    if (principal.role !== 'owner') {
      throw new AppError(
        'permission_denied',
        `only an owner can revoke every API key of the organization; this ${principal.kind === 'api_key' ? 'API key' : 'principal'} acts as a ${principal.role}`,
        [{ message: 'needs the owner role', role: principal.role }],
      );
    }
    const trimmed = reason.trim();
    if (trimmed.length === 0) throw invalidField('reason', 'required: say why every key is being revoked');
    // The transaction's result is the response itself: an Idempotency-Key stores it as it commits (a bare
    // count could not be serialised as the response and failed the request).
    const result = await mutate(this.db, ctx, async (trx, audit) => {
      const now = new Date();
      const rows = await trx
        .updateTable('api_keys')
        .set({ revoked_at: now })
        .where('organization_id', '=', principal.organizationId)
        .where('revoked_at', 'is', null)
        .returningAll()
        .execute();
      rows.sort((a, b) => (a.id < b.id ? -1 : 1));
      for (const row of rows) {
        audit.record({
          action: 'api_key.revoked',
          targetType: 'api_key',
          targetId: row.id,
          accountId: row.account_id,
          before: view({ ...row, revoked_at: null }),
          after: view(row),
          extra: { reason: trimmed, revoked_all: true },
        });
      }
      audit.record({
        action: 'api_key.revoked_all',
        targetType: 'organization',
        targetId: principal.organizationId,
        extra: { reason: trimmed, revoked_count: rows.length },
      });
      return { revoked_count: rows.length };
    });
    this.forgetOrganization(principal.organizationId);
    return result;
  }

  /** Resolves a bearer key to its principal, or throws a 401 that says what is wrong. */
  async verify(key: string, ip?: string | null): Promise<Principal> {
    const parsed = parseKey(key);
    if (!parsed.ok) throw new AppError('invalid_api_key', `invalid API key: ${parsed.reason}`);
    if (parsed.environment !== this.environment) {
      throw new AppError(
        'environment_mismatch',
        `this is a ${parsed.environment} key, but this server runs in the ${this.environment} environment; use a sk_${this.environment}_ key`,
      );
    }
    const cacheKey = hashKeyBase64(key);
    const now = Date.now();
    let entry = this.cache.get(cacheKey);
    if (!entry || now - entry.at >= this.cacheTtlMs) {
      const resolved = await this.resolve(Buffer.from(cacheKey, 'base64'));
      entry = { at: now, ...resolved };
      this.cache.delete(cacheKey);
      if (this.cache.size >= CACHE_MAX) this.cache.delete(this.cache.keys().next().value as string);
      this.cache.set(cacheKey, entry);
    }
    const { value } = entry;
    if (value instanceof AppError) throw value;
    if (entry.expiresAt !== null && entry.expiresAt <= Date.now())
      throw expiredError(value.id, new Date(entry.expiresAt));
    this.recordUse(value.id, ip ?? null);
    return value;
  }

  /** Writes the recorded key use (last_used_at, last_used_ip) in one statement per batch. */
  async flushUsage(): Promise<number> {
    while (this.flushing) await this.flushing.catch(() => {});
    if (this.usage.size === 0) return 0;
    const batch = [...this.usage];
    this.usage.clear();
    const run = this.writeUsage(batch);
    this.flushing = run;
    try {
      await run;
      return batch.length;
    } catch (err) {
      // Keep what failed for the next flush, unless a newer use has been recorded since.
      for (const [id, use] of batch) if (!this.usage.has(id)) this.usage.set(id, use);
      throw err;
    } finally {
      this.flushing = null;
    }
  }

  /** Stops the flush timer and writes what is pending. Call before the database closes. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.flushUsage();
  }

  private recordUse(id: string, ip: string | null): void {
    this.usage.set(id, { at: new Date(), ip });
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      // Best effort: a failed flush keeps its entries for the next one.
      this.flushUsage().catch(() => {});
    }, this.usageFlushMs);
    this.timer.unref();
  }

  private async writeUsage(batch: [string, { at: Date; ip: string | null }][]): Promise<void> {
    for (let i = 0; i < batch.length; i += FLUSH_BATCH) {
      const chunk = batch.slice(i, i + FLUSH_BATCH);
      const values = sql.join(
        chunk.map(([id, use]) => sql`(${id}::uuid, ${use.at.toISOString()}::timestamptz, ${use.ip}::text)`),
      );
      // Never move last_used_at backwards: another process may have written a later use.
      await sql`
        UPDATE api_keys AS k SET last_used_at = v.at, last_used_ip = v.ip
        FROM (VALUES ${values}) AS v (id, at, ip)
        WHERE k.id = v.id AND (k.last_used_at IS NULL OR k.last_used_at < v.at)`.execute(this.db);
    }
  }

  private forget(hash: Buffer): void {
    this.cache.delete(hash.toString('base64'));
  }

  private forgetOrganization(organizationId: string): void {
    for (const [k, entry] of this.cache) {
      if (!(entry.value instanceof AppError) && entry.value.organizationId === organizationId)
        this.cache.delete(k);
    }
  }

  private async resolve(hash: Buffer): Promise<{ value: Principal | AppError; expiresAt: number | null }> {
    const row = await this.db
      .selectFrom('api_keys as k')
      .innerJoin('users as u', 'u.id', 'k.created_by')
      .leftJoin('memberships as m', (join) =>
        join
          .onRef('m.user_id', '=', 'k.created_by')
          .onRef('m.account_id', '=', 'k.account_id')
          .on('m.status', '=', 'active'),
      )
      .leftJoin('permission_profiles as pp', 'pp.id', 'm.permission_profile_id')
      .select([
        'k.id',
        'k.name',
        'k.organization_id',
        'k.account_id',
        'k.created_by',
        'k.role',
        'k.kind',
        'k.scopes',
        'k.environment',
        'k.expires_at',
        'k.revoked_at',
        'u.role as user_role',
        'u.status as user_status',
        'm.id as membership_id',
        'pp.permissions',
      ])
      .where('k.secret_hash', '=', hash)
      .executeTakeFirst();
    const fail = (value: AppError) => ({ value, expiresAt: null });
    if (!row)
      return fail(new AppError('invalid_api_key', 'invalid API key: no such key (it may have been deleted)'));
    if (row.revoked_at) {
      return fail(
        new AppError('api_key_revoked', `API key ${row.id} was revoked at ${row.revoked_at.toISOString()}`),
      );
    }
    if (row.expires_at && row.expires_at.getTime() <= Date.now())
      return fail(expiredError(row.id, row.expires_at));
    if (row.user_status !== 'active') {
      return fail(new AppError('invalid_api_key', `API key ${row.id} belongs to a deactivated user`));
    }
    const role = lowerRole(row.role, row.user_role);
    if (role === 'member' && !row.membership_id) {
      return fail(
        new AppError(
          'invalid_api_key',
          `API key ${row.id}: its user has no active membership in account ${row.account_id}`,
        ),
      );
    }
    let permissions = permissionsFor(role, row.permissions ?? []);
    if (row.scopes) {
      const granted = scopeGrants(row.scopes);
      permissions = new Set([...permissions].filter((p) => granted.has(p)));
    }
    return {
      value: {
        kind: 'api_key',
        id: row.id,
        label: row.name,
        organizationId: row.organization_id,
        accountId: row.account_id,
        userId: row.created_by,
        role,
        environment: row.environment,
        permissions,
        scopes: row.scopes,
        keyKind: row.kind,
        profilePermissions: row.permissions ?? [],
      },
      expiresAt: row.expires_at ? row.expires_at.getTime() : null,
    };
  }
}
