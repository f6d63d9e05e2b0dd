// Two-step verification with TOTP (RFC 6238) and recovery codes (docs/people-and-sessions.md, "Two-step
// verification"). Codes are computed by `otpauth` (RFC 4226/6238: HMAC-SHA-1, 6 digits, 30-second steps);
// Signet adds what the RFC leaves to the verifier: a window of one step either way for clock drift
// (section 5.2 recommends "at most one time step"), and no code accepted twice (section 5.2: "the verifier
// MUST NOT accept the second attempt of the OTP after the successful validation has been issued for the first
// OTP"), by remembering the last accepted step per user and moving it forward atomically.
//
// The secret is kept as it is (a verifier needs it) and never shown after enrolment; recovery codes are kept
// as SHA-256 hashes, each single use.
import { randomInt } from 'node:crypto';
import { sql } from 'kysely';
import { Secret, TOTP } from 'otpauth';
import type { Db } from '../../db/connection.ts';
import type { User } from '../../db/schema.ts';
import { requireReach, userToManage } from '../authz/reach.ts';
import { type Ctx, mutate } from '../context.ts';
import { AppError, notFound } from '../errors.ts';
import { newId } from '../ids.ts';
import { hashToken, newToken } from './tokens.ts';

export const TOTP_PERIOD = 30;
export const TOTP_DIGITS = 6;
/** Steps of clock drift accepted either way (RFC 6238 section 5.2: at most one). */
export const TOTP_WINDOW = 1;
export const ISSUER = 'Signet';
export const RECOVERY_CODES = 10;
/** How long the second step of a login may take. */
export const CHALLENGE_TTL_MS = 5 * 60_000;

/** The RFC 6238 code of `secret` at `timestampMs` (SHA1/SHA256/SHA512, 6-8 digits): the tests' vectors. */
export function totpAt(
  secret: Uint8Array,
  timestampMs: number,
  opts: { algorithm?: 'SHA1' | 'SHA256' | 'SHA512'; digits?: number; period?: number } = {},
): string {
  return TOTP.generate({
    secret: new Secret({ buffer: Uint8Array.from(secret).buffer }),
    algorithm: opts.algorithm ?? 'SHA1',
    digits: opts.digits ?? TOTP_DIGITS,
    period: opts.period ?? TOTP_PERIOD,
    timestamp: timestampMs,
  });
}

/** The time step a valid `code` of `base32Secret` belongs to (within the drift window), or null. */
export function totpStep(base32Secret: string, code: string, timestampMs = Date.now()): number | null {
  if (!/^[0-9]{6}$/.test(code)) return null;
  const delta = TOTP.validate({
    token: code,
    secret: Secret.fromBase32(base32Secret),
    algorithm: 'SHA1',
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD,
    timestamp: timestampMs,
    window: TOTP_WINDOW,
  });
  if (delta === null) return null;
  return Math.floor(timestampMs / 1000 / TOTP_PERIOD) + delta;
}

export function otpauthUri(base32Secret: string, email: string): string {
  return new TOTP({
    issuer: ISSUER,
    label: email,
    secret: Secret.fromBase32(base32Secret),
    algorithm: 'SHA1',
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD,
  }).toString();
}

// Recovery codes: 10 characters from an alphabet without look-alikes (no 0/o, 1/l/i), as xxxxx-xxxxx.
const ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';

function recoveryCode(): string {
  let s = '';
  for (let i = 0; i < 10; i++) s += ALPHABET[randomInt(ALPHABET.length)];
  return `${s.slice(0, 5)}-${s.slice(5)}`;
}

/** A recovery code as typed (any case, spaces or dashes) in its stored form. */
function normaliseRecovery(code: string): string | null {
  const bare = code.toLowerCase().replace(/[\s-]/g, '');
  if (bare.length !== 10 || [...bare].some((c) => !ALPHABET.includes(c))) return null;
  return `${bare.slice(0, 5)}-${bare.slice(5)}`;
}

const WRONG_CODE = () =>
  new AppError('invalid_mfa_code', 'the code is wrong, was used already, or has expired; try the next one', [
    { field: 'code', message: 'not valid' },
  ]);
const NOT_ENABLED = (what: string) =>
  new AppError('mfa_not_enabled', `two-step verification is not on for this user: ${what}`);

export interface MfaStatus {
  enabled: boolean;
  enrolled_at: Date | null;
  pending: boolean;
  recovery_codes_remaining: number;
}

export class MfaService {
  constructor(private readonly db: Db) {}

  async status(userId: string): Promise<MfaStatus> {
    const user = await this.user(this.db, userId);
    const left = await this.db
      .selectFrom('mfa_recovery_codes')
      .select(sql<number>`count(*)::int`.as('n'))
      .where('user_id', '=', userId)
      .where('used_at', 'is', null)
      .executeTakeFirstOrThrow();
    return {
      enabled: user.totp_enabled_at !== null,
      enrolled_at: user.totp_enabled_at,
      pending: user.totp_pending_secret !== null,
      recovery_codes_remaining: user.totp_enabled_at ? left.n : 0,
    };
  }

  /** Starts (or restarts) an enrolment: a new secret, pending until confirmed with a code. */
  async startEnrolment(ctx: Ctx): Promise<{ secret: string; otpauth_uri: string }> {
    const userId = ctx.principal.userId!;
    return mutate(this.db, ctx, async (trx, audit) => {
      const user = await this.user(trx, userId, true);
      if (user.totp_enabled_at) {
        throw new AppError(
          'mfa_already_enabled',
          'two-step verification is on already; turn it off first (DELETE /api/me/mfa) to enrol another device',
        );
      }
      const secret = new Secret({ size: 20 }).base32; // 160 bits, RFC 4226 section 4's recommendation
      await trx.updateTable('users').set({ totp_pending_secret: secret }).where('id', '=', userId).execute();
      audit.record({ action: 'mfa.enrollment_started', targetType: 'user', targetId: userId });
      return { secret, otpauth_uri: otpauthUri(secret, user.email) };
    });
  }

  async confirmEnrolment(ctx: Ctx, code: string): Promise<{ recovery_codes: string[] }> {
    const userId = ctx.principal.userId!;
    const result = await mutate(this.db, ctx, async (trx, audit) => {
      const user = await this.user(trx, userId, true);
      if (user.totp_enabled_at)
        throw new AppError('mfa_already_enabled', 'two-step verification is on already');
      if (!user.totp_pending_secret) throw NOT_ENABLED('start an enrolment first (POST /api/me/mfa/totp)');
      const step = totpStep(user.totp_pending_secret, code);
      if (step === null) return null;
      await trx
        .updateTable('users')
        .set({
          totp_secret: user.totp_pending_secret,
          totp_pending_secret: null,
          totp_enabled_at: new Date(),
          totp_last_step: step,
          updated_at: new Date(),
        })
        .where('id', '=', userId)
        .execute();
      const codes = await this.newRecoveryCodes(trx, user);
      audit.record({
        action: 'mfa.enrolled',
        targetType: 'user',
        targetId: userId,
        after: { mfa_enabled: true },
      });
      return codes;
    });
    if (!result) throw WRONG_CODE();
    return { recovery_codes: result };
  }

  /** Turns two-step verification off; `code` (TOTP or recovery) proves the person holds the second factor. */
  async disable(ctx: Ctx, code: string): Promise<void> {
    const userId = ctx.principal.userId!;
    const ok = await mutate(this.db, ctx, async (trx, audit) => {
      const user = await this.user(trx, userId, true);
      if (!user.totp_enabled_at) throw NOT_ENABLED('nothing to turn off');
      if (!(await this.consumeCode(trx, user, code))) return false;
      await this.clear(trx, userId);
      audit.record({
        action: 'mfa.disabled',
        targetType: 'user',
        targetId: userId,
        before: { mfa_enabled: true },
        after: { mfa_enabled: false },
      });
      return true;
    });
    if (!ok) throw WRONG_CODE();
  }

  async regenerateRecoveryCodes(ctx: Ctx, code: string): Promise<{ recovery_codes: string[] }> {
    const userId = ctx.principal.userId!;
    const codes = await mutate(this.db, ctx, async (trx, audit) => {
      const user = await this.user(trx, userId, true);
      if (!user.totp_enabled_at) throw NOT_ENABLED('enrol first');
      if (!(await this.consumeCode(trx, user, code))) return null;
      const fresh = await this.newRecoveryCodes(trx, user);
      audit.record({ action: 'mfa.recovery_codes_regenerated', targetType: 'user', targetId: userId });
      return fresh;
    });
    if (!codes) throw WRONG_CODE();
    return { recovery_codes: codes };
  }

  /**
   * An admin turns off a user's two-step verification (a lost phone). As a password reset: the target in the
   * caller's organization (a member: in its account), no one above the caller, and users:write in every
   * account of the user (the reach rule, src/core/authz/reach.ts).
   */
  async adminReset(ctx: Ctx, userId: string): Promise<void> {
    const { principal } = ctx;
    const user = await userToManage(this.db, principal, userId, 'reset the two-step verification of');
    await requireReach(this.db, principal, user.id, 'manage_users', 'a two-step verification reset');
    await mutate(this.db, ctx, async (trx, audit) => {
      const before = await this.user(trx, userId, true);
      await this.clear(trx, userId);
      audit.record({
        action: 'mfa.reset',
        targetType: 'user',
        targetId: userId,
        before: { mfa_enabled: before.totp_enabled_at !== null },
        after: { mfa_enabled: false },
      });
    });
  }

  /**
   * Checks and consumes a code of `user`: a TOTP code of a step after the last one accepted, or an unused
   * recovery code. False when it is neither. Runs in the caller's transaction (the user's row is locked).
   */
  async consumeCode(trx: Db, user: User, code: string): Promise<false | 'totp' | 'recovery'> {
    const trimmed = code.trim();
    if (user.totp_secret && /^[0-9]{6}$/.test(trimmed)) {
      const step = totpStep(user.totp_secret, trimmed);
      if (step === null) return false;
      // Atomic: of two requests with the same code, one moves the step forward, the other finds it moved.
      const moved = await trx
        .updateTable('users')
        .set({ totp_last_step: step })
        .where('id', '=', user.id)
        .where((eb) => eb.or([eb('totp_last_step', 'is', null), eb('totp_last_step', '<', step)]))
        .returning('id')
        .executeTakeFirst();
      return moved ? 'totp' : false;
    }
    const normal = normaliseRecovery(trimmed);
    if (!normal) return false;
    const used = await trx
      .updateTable('mfa_recovery_codes')
      .set({ used_at: new Date() })
      .where('user_id', '=', user.id)
      .where('code_hash', '=', hashToken(normal))
      .where('used_at', 'is', null)
      .returning('id')
      .executeTakeFirst();
    return used ? 'recovery' : false;
  }

  /** The second step of a login: a short-lived token naming the user whose password was right. */
  async createChallenge(
    trx: Db,
    user: Pick<User, 'id' | 'organization_id'>,
  ): Promise<{ token: string; expiresAt: Date }> {
    const token = newToken();
    const expiresAt = new Date(Date.now() + CHALLENGE_TTL_MS);
    await trx
      .insertInto('mfa_challenges')
      .values({
        id: newId(),
        organization_id: user.organization_id,
        user_id: user.id,
        token_hash: hashToken(token),
        expires_at: expiresAt,
      })
      .execute();
    // Expired challenges are of no use to anyone: drop them on the way.
    await trx
      .deleteFrom('mfa_challenges')
      .where('expires_at', '<', sql<Date>`now() - interval '1 hour'`)
      .execute();
    return { token, expiresAt };
  }

  /** The user a live challenge token names, or null. */
  async challengeUser(token: string): Promise<{ challengeId: string; userId: string } | null> {
    if (token.length < 20 || token.length > 200) return null;
    const row = await this.db
      .selectFrom('mfa_challenges')
      .select(['id', 'user_id', 'expires_at', 'used_at'])
      .where('token_hash', '=', hashToken(token))
      .executeTakeFirst();
    if (!row || row.used_at || row.expires_at.getTime() <= Date.now()) return null;
    return { challengeId: row.id, userId: row.user_id };
  }

  /** Marks a challenge used; false when another request used it first. */
  async consumeChallenge(trx: Db, challengeId: string): Promise<boolean> {
    const row = await trx
      .updateTable('mfa_challenges')
      .set({ used_at: new Date() })
      .where('id', '=', challengeId)
      .where('used_at', 'is', null)
      .returning('id')
      .executeTakeFirst();
    return row !== undefined;
  }

  private async newRecoveryCodes(trx: Db, user: Pick<User, 'id' | 'organization_id'>): Promise<string[]> {
    await trx.deleteFrom('mfa_recovery_codes').where('user_id', '=', user.id).execute();
    const codes = Array.from({ length: RECOVERY_CODES }, recoveryCode);
    await trx
      .insertInto('mfa_recovery_codes')
      .values(
        codes.map((c) => ({
          id: newId(),
          organization_id: user.organization_id,
          user_id: user.id,
          code_hash: hashToken(c),
        })),
      )
      .execute();
    return codes;
  }

  private async clear(trx: Db, userId: string): Promise<void> {
    await trx
      .updateTable('users')
      .set({
        totp_secret: null,
        totp_pending_secret: null,
        totp_enabled_at: null,
        totp_last_step: null,
        updated_at: new Date(),
      })
      .where('id', '=', userId)
      .execute();
    await trx.deleteFrom('mfa_recovery_codes').where('user_id', '=', userId).execute();
  }

  private async user(db: Db, userId: string, lock = false): Promise<User> {
    let q = db.selectFrom('users').selectAll().where('id', '=', userId);
    if (lock) q = q.forUpdate();
    const user = await q.executeTakeFirst();
    if (!user) throw notFound('user', userId);
    return user;
  }
}
