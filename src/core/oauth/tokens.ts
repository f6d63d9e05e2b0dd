// OAuth access tokens as Signet principals: the same model an API key resolves to (src/core/principal.ts), so
// every rule below the faces treats both alike. A token held for a user acts as that user — their role, their
// membership and its permission profile in the account it acts in — cut down to what the token's scopes
// grant (DocuSign's scopes map onto Signet's permissions: src/core/api-keys/scopes.ts) and to what the
// user's consent still covers; never beyond the user. A client_credentials token acts as its integration, with
// the powers of the person who registered it (as an API key acts as its creator), cut down to its scopes.
//
// Verification is cached like API keys' (SIGNET_KEY_CACHE_TTL_MS, at most 5 s): the hot path costs no
// database round trip, and a revocation, a deactivated user or a withdrawn consent stops the token in every
// process within that bound (in this process at once, when the revocation happened here).
import { hash } from 'node:crypto';
import { sql } from 'kysely';
import type { Db } from '../../db/connection.ts';
import type { OrgRole } from '../../db/schema.ts';
import { scopeGrants } from '../api-keys/scopes.ts';
import { AppError } from '../errors.ts';
import { isUuid } from '../ids.ts';
import type { IntegrationLookup } from '../integrations/lookup.ts';
import { type Principal, permissionsFor } from '../principal.ts';
import { signetScopesOf, splitScope } from './scopes.ts';

const TOKEN = /^(sat|srt)_(test|live)_[A-Za-z0-9_-]{43}$/;
const CACHE_MAX = 10_000;

/** Whether a bearer credential is one of Signet's OAuth tokens (rather than an API key). */
export function isOAuthToken(value: string): boolean {
  return value.startsWith('sat_') || value.startsWith('srt_');
}

/**
 * Which account a user's token acts in: the user's first active membership, or `account` when the user is an
 * active member there. `strict` (the Signet-Account header): not being a member there is a 403, as for a
 * session; otherwise (the account a DocuSign path names) it only picks the account when it can.
 */
export interface AccountHint {
  account: string;
  strict: boolean;
}

interface CacheEntry {
  at: number;
  value: Principal | AppError;
  /** When the token expires (epoch ms), checked on every hit. */
  expiresAt: number | null;
  grantId: string | null;
  tokenKey: string;
}

interface TokenRow {
  model: string;
  payload: { exp?: number; scope?: string; accountId?: string; clientId?: string; grantId?: string };
  revoked_at: Date | null;
  grant_revoked_at: Date | null;
  grant_gone: boolean;
  integration_id: string | null;
  integration_name: string | null;
  organization_id: string | null;
  deleted_at: Date | null;
  user_id: string | null;
  email: string | null;
  role: OrgRole | null;
  status: string | null;
  account_id: string | null;
  permissions: string[] | null;
  matched: boolean | null;
}

const tokenKey = (token: string) => hash('sha256', token, 'base64');
const iso = (d: Date) => d.toISOString();

export class AccessTokens {
  private readonly cache = new Map<string, CacheEntry>();

  constructor(
    private readonly db: Db,
    private readonly lookup: IntegrationLookup,
    private readonly environment: 'test' | 'live',
    private readonly cacheTtlMs: number,
  ) {}

  /** Resolves an access token to its principal, or throws a 401 that says what is wrong. */
  async verify(token: string, hint: AccountHint | null = null): Promise<Principal> {
    const m = TOKEN.exec(token);
    if (!m) {
      throw new AppError(
        'invalid_access_token',
        'invalid access token: not a Signet access token (sat_test_… or sat_live_…, from POST /oauth/token)',
      );
    }
    if (m[1] === 'srt') {
      throw new AppError(
        'invalid_access_token',
        'this is a refresh token: exchange it for an access token at POST /oauth/token (grant_type=refresh_token)',
      );
    }
    if (m[2] !== this.environment) {
      throw new AppError(
        'environment_mismatch',
        `this is a ${m[2]} access token, but this server runs in the ${this.environment} environment; obtain a token from this server`,
      );
    }
    const key = tokenKey(token);
    const cacheKey = hint ? `${key}|${hint.strict ? '!' : '~'}${hint.account}` : key;
    const now = Date.now();
    let entry = this.cache.get(cacheKey);
    if (!entry || now - entry.at >= this.cacheTtlMs) {
      entry = { at: now, tokenKey: key, ...(await this.resolve(token, hint)) };
      this.cache.delete(cacheKey);
      if (this.cache.size >= CACHE_MAX) this.cache.delete(this.cache.keys().next().value as string);
      this.cache.set(cacheKey, entry);
    }
    const { value } = entry;
    if (value instanceof AppError) throw value;
    if (entry.expiresAt !== null && entry.expiresAt <= Date.now()) {
      throw new AppError(
        'access_token_expired',
        `the access token expired at ${iso(new Date(entry.expiresAt))}`,
      );
    }
    return value;
  }

  /** Drops what is cached for a grant's tokens (its family was revoked in this process). */
  forgetGrant(grantId: string): void {
    for (const [k, e] of this.cache) if (e.grantId === grantId) this.cache.delete(k);
  }

  /** Drops what is cached for one token (revoked in this process). */
  forgetToken(token: string): void {
    const key = tokenKey(token);
    for (const [k, e] of this.cache) if (e.tokenKey === key) this.cache.delete(k);
  }

  private async resolve(
    token: string,
    hint: AccountHint | null,
  ): Promise<{ value: Principal | AppError; expiresAt: number | null; grantId: string | null }> {
    const account = hint && isUuid(hint.account) ? hint.account : null;
    const { rows } = await sql<TokenRow>`
      SELECT p.model, p.payload, p.revoked_at, g.revoked_at AS grant_revoked_at,
             (p.grant_id IS NOT NULL AND g.id IS NULL) AS grant_gone,
             i.id AS integration_id, i.name AS integration_name, i.organization_id, i.deleted_at,
             u.id AS user_id, u.email, u.role, u.status,
             m.account_id, m.permissions, m.matched
      FROM oauth_payloads p
      LEFT JOIN oauth_grants g ON g.id = p.grant_id
      LEFT JOIN integrations i ON i.client_id = p.payload->>'clientId'
      LEFT JOIN users u ON u.organization_id = i.organization_id
        AND u.id = coalesce((p.payload->>'accountId')::uuid, i.created_by)
      LEFT JOIN LATERAL (
        SELECT mm.account_id, pp.permissions, coalesce(mm.account_id = ${account}::uuid, false) AS matched
        FROM memberships mm LEFT JOIN permission_profiles pp ON pp.id = mm.permission_profile_id
        WHERE mm.user_id = u.id AND mm.status = 'active'
        ORDER BY coalesce(mm.account_id = ${account}::uuid, false) DESC, mm.created_at, mm.id
        LIMIT 1
      ) m ON true
      WHERE p.model IN ('AccessToken', 'ClientCredentials')
        AND p.id = ${hash('sha256', token, 'buffer')}`.execute(this.db);
    const row = rows[0];
    const grantId = row?.payload.grantId ?? null;
    const fail = (value: AppError) => ({ value, expiresAt: null, grantId });
    if (!row) {
      return fail(
        new AppError(
          'invalid_access_token',
          'unknown access token: it was not issued by this server, or it expired more than an hour ago',
        ),
      );
    }
    if (row.revoked_at) {
      return fail(
        new AppError('access_token_revoked', `the access token was revoked at ${iso(row.revoked_at)}`),
      );
    }
    if (row.grant_revoked_at || row.grant_gone) {
      return fail(
        new AppError(
          'access_token_revoked',
          `the access token was revoked${row.grant_revoked_at ? ` at ${iso(row.grant_revoked_at)}` : ''} with its grant (its refresh token was revoked, or a refresh token or code was used twice): authorize again`,
        ),
      );
    }
    const expiresAt = typeof row.payload.exp === 'number' ? row.payload.exp * 1000 : null;
    if (expiresAt !== null && expiresAt <= Date.now()) {
      return fail(
        new AppError('access_token_expired', `the access token expired at ${iso(new Date(expiresAt))}`),
      );
    }
    if (!row.integration_id || row.deleted_at) {
      return fail(
        new AppError('invalid_access_token', 'the integration this access token was issued to was deleted'),
      );
    }
    const asUser = row.model === 'AccessToken';
    let oauthScopes = splitScope(row.payload.scope);
    let role: OrgRole = 'admin';
    if (asUser || row.user_id) {
      if (!row.user_id || row.status !== 'active') {
        return fail(
          new AppError(
            'invalid_access_token',
            asUser
              ? "the access token's user is deactivated or no longer exists"
              : 'the person who registered the integration is deactivated; its client_credentials tokens stop with them',
          ),
        );
      }
      role = row.role!;
    }
    if (asUser) {
      // What the user's consent no longer covers, the token no longer carries.
      const consented = await this.lookup.consentFor(row.integration_id, row.user_id!);
      oauthScopes = oauthScopes.filter((s) => consented.includes(s));
      if (oauthScopes.length === 0) {
        return fail(
          new AppError(
            'access_token_revoked',
            `the user's consent to integration ${row.integration_name} was revoked; the access token no longer works`,
          ),
        );
      }
    }
    if (hint?.strict && !row.matched) {
      return fail(
        new AppError(
          'permission_denied',
          `Signet-Account: the token's user has no active membership in account ${hint.account}`,
          [{ field: 'Signet-Account', message: 'not an account the user is an active member of' }],
        ),
      );
    }
    const scopes = signetScopesOf(oauthScopes);
    const granted = scopeGrants(scopes);
    const permissions = new Set(
      [...permissionsFor(role, row.permissions ?? [])].filter((p) => granted.has(p)),
    );
    const integration = {
      integrationId: row.integration_id,
      clientId: row.payload.clientId!,
      scopes: oauthScopes,
    };
    // A user's token acts as the user; a client_credentials token as its integration. The rest is the same.
    const principal: Principal = {
      ...(asUser
        ? { kind: 'user', id: row.user_id!, label: `${row.email} (via ${row.integration_name})` }
        : { kind: 'integration', id: row.integration_id, label: row.integration_name! }),
      organizationId: row.organization_id!,
      accountId: row.account_id,
      userId: row.user_id,
      role,
      environment: this.environment,
      permissions,
      scopes,
      profilePermissions: row.permissions ?? [],
      oauth: integration,
    };
    return { value: principal, expiresAt, grantId };
  }
}
