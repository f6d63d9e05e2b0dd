// Dashboard sessions: a random 256-bit token in the `signet_session` cookie, stored as its SHA-256 with an
// idle timeout (the account's session_timeout_minutes when the session began) and an absolute end
// (SIGNET_SESSION_MAX_HOURS). A valid session resolves to a Principal of kind 'user', exactly as an API key
// resolves to one of kind 'api_key'; every rule below the faces then treats both alike.
import { sql } from 'kysely';
import type { Db } from '../../db/connection.ts';
import type { User } from '../../db/schema.ts';
import { AppError } from '../errors.ts';
import { isUuid, newId } from '../ids.ts';
import { type Principal, permissionsFor } from '../principal.ts';
import { CATALOGUE } from '../settings/catalogue.ts';
import { firstActiveAccount } from '../users/repository.ts';
import { csrfTokenFor, hashToken, newToken } from './tokens.ts';

export const SESSION_COOKIE = 'signet_session';
/** last_seen_at is written at most this often, so reads do not each cost a write. */
const TOUCH_EVERY_MS = 60_000;
const DEFAULT_IDLE_MINUTES = CATALOGUE.find((s) => s.key === 'session_timeout_minutes')!.default as number;

export interface NewSession {
  id: string;
  token: string;
  csrfToken: string;
  expiresAt: Date;
}

export interface ResolvedSession {
  sessionId: string;
  principal: Principal;
  csrfToken: string;
  expiresAt: Date;
  /**
   * An account the user is an active member of has `mfa_required` and the user has not enrolled: until they
   * do, the session reaches only GET /session, /logout and /api/me/mfa… (docs/people-and-sessions.md).
   */
  mfaEnrollmentRequired: boolean;
  /**
   * The user's password is older than password_policy.max_age_days allows: until they change it, the session
   * reaches only GET /session, /logout, GET /api/me/password_policy and POST /api/me/password.
   */
  passwordChangeRequired: boolean;
}

/** A live session of a user, as GET /api/me/sessions lists it. */
export interface SessionView {
  id: string;
  created_at: Date;
  last_seen_at: Date;
  expires_at: Date;
  ip: string | null;
  user_agent: string | null;
  current: boolean;
}

const NO_SESSION = () =>
  new AppError('missing_credentials', 'the session has ended or is not valid; log in again');

export class SessionsService {
  constructor(
    private readonly db: Db,
    private readonly environment: 'test' | 'live',
    private readonly maxHours: number,
  ) {}

  /** Starts a session for `user` (in the caller's transaction, when given). */
  async create(
    trx: Db,
    user: Pick<User, 'id' | 'organization_id'>,
    meta: { ip?: string | null; userAgent?: string | null },
  ): Promise<NewSession> {
    const token = newToken();
    const account = await firstActiveAccount(trx, user.id);
    const idle = account ? await this.idleMinutes(trx, account) : DEFAULT_IDLE_MINUTES;
    const expiresAt = new Date(Date.now() + this.maxHours * 3600_000);
    const id = newId();
    await trx
      .insertInto('sessions')
      .values({
        id,
        token_hash: hashToken(token),
        user_id: user.id,
        organization_id: user.organization_id,
        idle_timeout_minutes: idle,
        expires_at: expiresAt,
        ip: meta.ip ?? null,
        user_agent: meta.userAgent ?? null,
      })
      .execute();
    return { id, token, csrfToken: csrfTokenFor(token), expiresAt };
  }

  /**
   * The principal of a session token, acting in the user's first active membership's account, or in the
   * account named by `accountHeader` (Signet-Account) if the user has an active membership there.
   */
  async resolve(
    token: string,
    accountHeader?: string | null,
    opts: { requireAccount?: boolean } = {},
  ): Promise<ResolvedSession> {
    if (token.length < 20 || token.length > 200) throw NO_SESSION();
    const row = await this.db
      .selectFrom('sessions as s')
      .innerJoin('users as u', 'u.id', 's.user_id')
      .select([
        's.id',
        's.last_seen_at',
        's.idle_timeout_minutes',
        's.expires_at',
        's.ended_at',
        'u.id as user_id',
        'u.email',
        'u.organization_id',
        'u.role',
        'u.status',
        'u.totp_enabled_at',
        // Evaluated live, so turning mfa_required on applies to sessions already open.
        sql<boolean>`EXISTS (SELECT 1 FROM memberships m JOIN account_settings a ON a.account_id = m.account_id
          WHERE m.user_id = u.id AND m.status = 'active' AND a.values->'mfa_required' = 'true'::jsonb)`.as(
          'mfa_required',
        ),
        // Also live: the password is older than the smallest non-zero password_policy.max_age_days of the
        // user's active accounts (a session open when it expires is held to the change too).
        sql<boolean>`COALESCE(u.password_changed_at + make_interval(days => (
          SELECT min((a.values->'password_policy'->>'max_age_days')::int)
          FROM memberships m JOIN account_settings a ON a.account_id = m.account_id
          WHERE m.user_id = u.id AND m.status = 'active'
            AND jsonb_typeof(a.values->'password_policy'->'max_age_days') = 'number'
            AND (a.values->'password_policy'->>'max_age_days')::int > 0)) <= now(), false)`.as(
          'password_expired',
        ),
      ])
      .where('s.token_hash', '=', hashToken(token))
      .executeTakeFirst();
    const now = Date.now();
    if (
      !row ||
      row.ended_at ||
      row.status !== 'active' ||
      row.expires_at.getTime() <= now ||
      row.last_seen_at.getTime() + row.idle_timeout_minutes * 60_000 <= now
    ) {
      throw NO_SESSION();
    }
    let memberships = this.db
      .selectFrom('memberships as m')
      .leftJoin('permission_profiles as pp', 'pp.id', 'm.permission_profile_id')
      .select(['m.account_id', 'pp.permissions'])
      .where('m.user_id', '=', row.user_id)
      .where('m.status', '=', 'active')
      .orderBy('m.created_at')
      .orderBy('m.id')
      .limit(1);
    const named =
      typeof accountHeader === 'string' && accountHeader.trim() !== '' ? accountHeader.trim() : null;
    if (named) {
      // A malformed header is the caller's mistake (400), not a refusal (403); and it must not reach the
      // database as a uuid (a 500).
      if (!isUuid(named)) {
        throw new AppError('validation_failed', 'Signet-Account: must be an account id (a UUID)', [
          { field: 'Signet-Account', location: 'header', message: 'not an account id' },
        ]);
      }
      memberships = memberships.where('m.account_id', '=', named);
    }
    const membership = await memberships.executeTakeFirst();
    if (named && !membership) throw this.notYourAccount(named);
    if (!membership && row.role === 'member' && opts.requireAccount !== false) {
      throw new AppError(
        'permission_denied',
        'you have no active membership in any account yet (verify your email address, or ask an admin)',
      );
    }
    if (now - row.last_seen_at.getTime() > TOUCH_EVERY_MS) {
      await this.db
        .updateTable('sessions')
        .set({ last_seen_at: new Date() })
        .where('id', '=', row.id)
        .execute();
    }
    return {
      sessionId: row.id,
      csrfToken: csrfTokenFor(token),
      expiresAt: row.expires_at,
      mfaEnrollmentRequired: row.mfa_required && row.totp_enabled_at === null,
      passwordChangeRequired: row.password_expired,
      principal: {
        kind: 'user',
        id: row.user_id,
        label: row.email,
        organizationId: row.organization_id,
        accountId: membership?.account_id ?? null,
        userId: row.user_id,
        role: row.role,
        environment: this.environment,
        permissions: permissionsFor(row.role, membership?.permissions ?? []),
        profilePermissions: membership?.permissions ?? [],
      },
    };
  }

  /** Ends one session (logout). Returns the user it belonged to, if it was live. */
  async end(token: string): Promise<{ id: string; user_id: string } | null> {
    const row = await this.db
      .updateTable('sessions')
      .set({ ended_at: new Date() })
      .where('token_hash', '=', hashToken(token))
      .where('ended_at', 'is', null)
      .returning(['id', 'user_id'])
      .executeTakeFirst();
    return row ?? null;
  }

  /** Ends every session of a user (password reset); returns how many were live. */
  async endAll(trx: Db, userId: string): Promise<number> {
    const rows = await trx
      .updateTable('sessions')
      .set({ ended_at: new Date() })
      .where('user_id', '=', userId)
      .where('ended_at', 'is', null)
      .returning('id')
      .execute();
    return rows.length;
  }

  /** The user's live sessions, newest first; `currentId` is marked current. */
  async list(userId: string, currentId: string | null): Promise<SessionView[]> {
    const rows = await this.db
      .selectFrom('sessions')
      .select(['id', 'created_at', 'last_seen_at', 'expires_at', 'ip', 'user_agent', 'idle_timeout_minutes'])
      .where('user_id', '=', userId)
      .where('ended_at', 'is', null)
      .where('expires_at', '>', new Date())
      .orderBy('created_at', 'desc')
      .orderBy('id')
      .limit(500)
      .execute();
    const now = Date.now();
    return rows
      .filter((r) => r.last_seen_at.getTime() + r.idle_timeout_minutes * 60_000 > now)
      .map(({ idle_timeout_minutes: _idle, ...r }) => ({ ...r, current: r.id === currentId }));
  }

  /** Ends session `id` of the user; false when it is not theirs or has ended. */
  async endById(trx: Db, userId: string, id: string): Promise<boolean> {
    const row = await trx
      .updateTable('sessions')
      .set({ ended_at: new Date() })
      .where('id', '=', id)
      .where('user_id', '=', userId)
      .where('ended_at', 'is', null)
      .returning('id')
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Ends every live session of the user but `keepId`; returns the ids ended. */
  async endOthers(trx: Db, userId: string, keepId: string): Promise<string[]> {
    const rows = await trx
      .updateTable('sessions')
      .set({ ended_at: new Date() })
      .where('user_id', '=', userId)
      .where('ended_at', 'is', null)
      .where('id', '<>', keepId)
      .returning('id')
      .execute();
    return rows.map((r) => r.id);
  }

  private notYourAccount(account: string): AppError {
    return new AppError(
      'permission_denied',
      `Signet-Account: you have no active membership in account ${account}`,
      [{ field: 'Signet-Account', message: 'not an account you are an active member of' }],
    );
  }

  private async idleMinutes(db: Db, accountId: string): Promise<number> {
    const row = await db
      .selectFrom('account_settings')
      .select(sql<unknown>`values->'session_timeout_minutes'`.as('v'))
      .where('account_id', '=', accountId)
      .executeTakeFirst();
    const v = row?.v;
    return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : DEFAULT_IDLE_MINUTES;
  }
}
