// API keys: created for an account, bound to this server's environment, stored only as a SHA-256 hash and
// shown once. Verification resolves a key to a Principal and is cached briefly, so the hot path costs no
// database round trip; the cache lifetime (≤ 5 s) bounds how long another process may honour a revoked key.
import type { Db } from '../../db/connection.ts';
import type { ApiKeyRow, OrgRole } from '../../db/schema.ts';
import { type Ctx, mutate } from '../context.ts';
import { AppError, invalidField, notFound } from '../errors.ts';
import { newId } from '../ids.ts';
import { DEFAULT_LIMIT, decodeCursor, type Page, toPage } from '../pagination.ts';
import {
  lowerRole,
  type Principal,
  permissionsFor,
  requireAccountAccess,
  roleAtLeast,
} from '../principal.ts';
import { type Environment, generateKey, hashKey, parseKey } from './format.ts';

export type ApiKeyView = Omit<ApiKeyRow, 'secret_hash'> & { prefix: string };

export interface CreateKeyInput {
  name: string;
  account_id?: string;
  role?: OrgRole;
  expires_at?: string | null;
  /** Set by operator commands, which have no user principal: whose key this is. */
  created_by?: string;
}

const CACHE_MAX = 10_000;

function view(row: ApiKeyRow): ApiKeyView {
  const { secret_hash: _omit, ...rest } = row;
  return { ...rest, prefix: `sk_${row.environment}_` };
}

export class ApiKeysService {
  private readonly cache = new Map<string, { at: number; value: Principal | AppError }>();

  constructor(
    private readonly db: Db,
    private readonly environment: Environment,
    private readonly cacheTtlMs: number,
  ) {}

  async create(ctx: Ctx, input: CreateKeyInput): Promise<ApiKeyView & { key: string }> {
    const { principal } = ctx;
    const accountId = input.account_id ?? principal.accountId;
    if (!accountId) throw invalidField('account_id', 'required: the account the key acts in');
    // Only operator commands (the system principal) make keys on someone's behalf.
    const creatorId = principal.kind === 'system' ? input.created_by : principal.userId;
    if (!creatorId) throw invalidField('created_by', 'required when no user is calling');
    const role = input.role ?? principal.role;
    if (!roleAtLeast(principal.role, role)) {
      throw new AppError(
        'permission_denied',
        `a ${principal.role} cannot create a key with the role "${role}"`,
        [{ field: 'role', message: 'above your own role' }],
      );
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
        .selectFrom('users')
        .select(['id', 'role'])
        .where('id', '=', creatorId)
        .where('organization_id', '=', principal.organizationId)
        .executeTakeFirst();
      if (!creator)
        throw invalidField('created_by', `no user ${creatorId} in this organization`, 'invalid_reference');
      const row = await trx
        .insertInto('api_keys')
        .values({
          id: newId(),
          organization_id: principal.organizationId,
          account_id: accountId,
          created_by: creator.id,
          name: input.name,
          environment: this.environment,
          role: lowerRole(role, creator.role),
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

  /** Resolves a bearer key to its principal, or throws a 401 that says what is wrong. */
  async verify(key: string): Promise<Principal> {
    const parsed = parseKey(key);
    if (!parsed.ok) throw new AppError('invalid_api_key', `invalid API key: ${parsed.reason}`);
    if (parsed.environment !== this.environment) {
      throw new AppError(
        'environment_mismatch',
        `this is a ${parsed.environment} key, but this server runs in the ${this.environment} environment; use a sk_${this.environment}_ key`,
      );
    }
    const hash = hashKey(key);
    const cacheKey = hash.toString('base64');
    const now = Date.now();
    const hit = this.cache.get(cacheKey);
    let value: Principal | AppError;
    if (hit && now - hit.at < this.cacheTtlMs) {
      value = hit.value;
    } else {
      value = await this.resolve(hash);
      if (this.cache.size >= CACHE_MAX) this.cache.delete(this.cache.keys().next().value as string);
      this.cache.set(cacheKey, { at: now, value });
    }
    if (value instanceof AppError) throw value;
    return value;
  }

  private forget(hash: Buffer): void {
    this.cache.delete(hash.toString('base64'));
  }

  private async resolve(hash: Buffer): Promise<Principal | AppError> {
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
    if (!row)
      return new AppError('invalid_api_key', 'invalid API key: no such key (it may have been deleted)');
    if (row.revoked_at) {
      return new AppError(
        'api_key_revoked',
        `API key ${row.id} was revoked at ${row.revoked_at.toISOString()}`,
      );
    }
    if (row.expires_at && row.expires_at.getTime() <= Date.now()) {
      return new AppError('api_key_expired', `API key ${row.id} expired at ${row.expires_at.toISOString()}`);
    }
    if (row.user_status !== 'active') {
      return new AppError('invalid_api_key', `API key ${row.id} belongs to a deactivated user`);
    }
    const role = lowerRole(row.role, row.user_role);
    if (role === 'member' && !row.membership_id) {
      return new AppError(
        'invalid_api_key',
        `API key ${row.id}: its user has no active membership in account ${row.account_id}`,
      );
    }
    return {
      kind: 'api_key',
      id: row.id,
      label: row.name,
      organizationId: row.organization_id,
      accountId: row.account_id,
      userId: row.created_by,
      role,
      environment: row.environment,
      permissions: permissionsFor(role, row.permissions ?? []),
    };
  }
}
