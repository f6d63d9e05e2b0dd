// People signing themselves in: sign-up (a new organization, or joining one that claims the email's domain),
// login and logout, email verification, and password resets (self-service and admin-triggered).
// Answers never say whether an email exists: login failures are one 401 `invalid_credentials` whatever went
// wrong (a dummy argon2 verify keeps the timing alike), and a reset request is always 202.
import { sql } from 'kysely';
import type { Db } from '../../db/connection.ts';
import type { Account, Organization, User } from '../../db/schema.ts';
import type { AuditBuffer } from '../audit/writer.ts';
import { requireReach, userToManage } from '../authz/reach.ts';
import { type Ctx, mutate, type RequestMeta } from '../context.ts';
import { postCredit } from '../credits/ledger.ts';
import { AppError, notFound } from '../errors.ts';
import { newId } from '../ids.ts';
import { LINK_TOKEN, type Mailer, scrubMailSecrets } from '../mail/mailer.ts';
import {
  accountExistsMail,
  passwordResetMail,
  sendingBrand,
  userBrand,
  verifyEmailMail,
} from '../mail/templates.ts';
import { createOrganizationWithOwner } from '../organizations/create.ts';
import { hashPassword, verifyPassword } from '../passwords.ts';
import type { Principal } from '../principal.ts';
import { openMembership } from '../users/memberships.ts';
import type { UsersService, UserView } from '../users/service.ts';
import { personActor } from './actor.ts';
import type { MfaService } from './mfa.ts';
import { policyOfAccounts, policyOfUser, requirePolicy } from './password-policy.ts';
import type { NewSession, SessionsService } from './sessions.ts';
import type { LoginThrottle } from './throttle.ts';
import { newToken } from './tokens.ts';
import { endUserTokens, findUserToken, issueUserToken, useUserToken } from './user-tokens.ts';

export const VERIFY_TTL_MS = 24 * 3600_000;
export const RESET_TTL_MS = 30 * 60_000;

export interface SignupInput {
  email: string;
  password: string;
  name: string;
  organization_name: string;
}

export interface SessionInfo {
  user: UserView;
  organization: Organization;
  account: Account | null;
  csrf_token: string;
  expires_at: Date;
  /** The user must enrol two-step verification before the session reaches the API (mfa_required). */
  mfa_enrollment_required: boolean;
  /**
   * The password is older than password_policy.max_age_days allows: the session reaches only the password
   * change until the person chooses a new one.
   */
  password_change_required: boolean;
}

/**
 * A new organization answers with its owner's session. Joining an organization by a verified domain claim
 * answers "check your mail" whether or not the address had a user there (see signup()).
 */
export type SignupResult = { kind: 'session'; session: NewSession } | { kind: 'check_mail' };

/**
 * What a right password gets: a session, or, for a user with two-step verification, the token that
 * POST /login/mfa turns into one with a code.
 */
export type LoginResult =
  | { kind: 'session'; session: NewSession }
  | { kind: 'mfa'; mfaToken: string; expiresAt: Date };

export function splitName(name: string): { first_name: string; last_name: string } {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  return { first_name: (parts[0] ?? '').slice(0, 100), last_name: parts.slice(1).join(' ').slice(0, 100) };
}

export const emailDomain = (email: string): string => email.slice(email.lastIndexOf('@') + 1).toLowerCase();

const INVALID_CREDENTIALS = () => new AppError('invalid_credentials', 'the email or the password is wrong');
const INVALID_TOKEN = (what: string) =>
  new AppError(
    'invalid_token',
    `this ${what} link is not valid: it was used already, has expired, or is wrong`,
    [{ field: 'token', message: 'not valid' }],
  );

/** One `session.revoked` event per session a person ended (their own choice, or a password change). */
function recordRevoked(audit: Pick<AuditBuffer, 'record'>, ids: readonly string[], reason: string): void {
  for (const id of ids)
    audit.record({ action: 'session.revoked', targetType: 'session', targetId: id, extra: { reason } });
}

export class PeopleService {
  private dummyHash: Promise<string> | null = null;
  private readonly background = new Set<Promise<void>>();
  onError: (err: unknown) => void = () => {};

  constructor(
    private readonly db: Db,
    private readonly users: UsersService,
    private readonly sessions: SessionsService,
    private readonly throttle: LoginThrottle,
    private readonly mailer: Mailer,
    private readonly environment: 'test' | 'live',
    private readonly publicUrl: string,
    /** Credits a new self-service organization starts with (SIGNET_SIGNUP_CREDITS; Atlas: 5 on signup). */
    private readonly signupCredits = 0,
    private readonly mfa: MfaService,
  ) {}

  /** Waits for work done after a response (reset mails, failed-login audit events). Tests use it. */
  async flush(): Promise<void> {
    while (this.background.size > 0) await Promise.all([...this.background]);
    await this.mailer.flush();
  }

  // --- sign-up ---------------------------------------------------------------------------------------

  async signup(input: SignupInput, meta: RequestMeta): Promise<SignupResult> {
    const domain = await this.db
      .selectFrom('organization_domains')
      .selectAll()
      .where('domain', '=', emailDomain(input.email))
      .where('auto_join', '=', true)
      // Only a claim proven by DNS lets anyone in (src/core/organizations/domains.ts).
      .where('verified_at', 'is not', null)
      .executeTakeFirst();
    // The policy of the account joined, or the default one a new organization's first account starts with.
    requirePolicy(
      await policyOfAccounts(this.db, domain ? [domain.account_id] : []),
      input.password,
      input.email,
    );
    const passwordHash = await hashPassword(input.password);
    const { first_name, last_name } = splitName(input.name);
    const userId = newId();
    const token = newToken();
    const mailIds: string[] = [];

    if (domain) {
      // Joining an organization that proved this domain. The answer is the same whether or not the address
      // has a user there already (so sign-up cannot tell which addresses exist): 202, "check your mail". A
      // new person gets a user whose membership stays pending until the address is verified (otherwise
      // anyone could type a colleague's address and be let in), and signs in once verified; an existing
      // person gets a mail saying so, and nothing else changes. Both paths hash a password and write one
      // transaction with a mail, so they take about the same time.
      const actor = personActor(
        { id: userId, email: input.email, organization_id: domain.organization_id, role: 'member' },
        this.environment,
        domain.account_id,
      );
      const ctx: Ctx = { principal: actor, meta };
      const created = await mutate(
        this.db,
        ctx,
        async (trx, audit) => {
          const existing = await trx
            .selectFrom('users')
            .select('id')
            .where('organization_id', '=', domain.organization_id)
            .where(sql`lower(email)`, '=', input.email.toLowerCase())
            .executeTakeFirst();
          if (existing) return false;
          const user = await trx
            .insertInto('users')
            .values({
              id: userId,
              organization_id: domain.organization_id,
              email: input.email,
              first_name,
              last_name,
              role: 'member',
              password_hash: passwordHash,
            })
            .returningAll()
            .executeTakeFirstOrThrow();
          audit.record({
            action: 'signup',
            targetType: 'user',
            targetId: user.id,
            accountId: domain.account_id,
            after: user,
            extra: { via: 'domain_auto_join', domain: domain.domain },
          });
          await openMembership(trx, audit, {
            user,
            accountId: domain.account_id,
            status: 'pending',
            profileId: domain.permission_profile_id ?? undefined,
          });
          mailIds.push(await this.queueVerification(trx, user, token, domain.account_id));
          return true;
        },
        // Two sign-ups with one address at once: the loser is the "existing" case.
        { users_org_email_key: new AppError('email_taken', 'raced') },
      ).catch((err: unknown) => {
        if (err instanceof AppError && err.code === 'email_taken') return false;
        throw err;
      });
      if (!created) await this.mailAccountExists(ctx, domain.organization_id, domain.account_id, input.email);
      this.mailer.dispatch(mailIds);
      return { kind: 'check_mail' };
    }

    const orgId = newId();
    const actor = personActor(
      { id: userId, email: input.email, organization_id: orgId, role: 'owner' },
      this.environment,
    );
    const session = await mutate(this.db, { principal: actor, meta }, async (trx, audit) => {
      const { account, owner: user } = await createOrganizationWithOwner(trx, audit, {
        organizationId: orgId,
        organizationName: input.organization_name,
        accountName: input.organization_name,
        owner: { id: userId, email: input.email, first_name, last_name, password_hash: passwordHash },
        ownerAction: 'signup',
        ownerExtra: { via: 'new_organization' },
      });
      if (this.signupCredits > 0) {
        await postCredit(trx, {
          organizationId: orgId,
          kind: 'signup',
          amount: this.signupCredits,
          actor,
          reason: 'credits a new organization starts with (SIGNET_SIGNUP_CREDITS)',
        });
      }
      mailIds.push(await this.queueVerification(trx, user, token, account.id));
      return this.sessions.create(trx, user, meta);
    });
    this.mailer.dispatch(mailIds);
    return { kind: 'session', session };
  }

  /** Tells the person at `email` that they have an account in the organization already. */
  private async mailAccountExists(ctx: Ctx, orgId: string, accountId: string, email: string): Promise<void> {
    const mailIds: string[] = [];
    await mutate(this.db, ctx, async (trx, audit) => {
      // To the address as the user has it, not as typed.
      const user = await trx
        .selectFrom('users')
        .select(['id', 'email'])
        .where('organization_id', '=', orgId)
        .where(sql`lower(email)`, '=', email.toLowerCase())
        .executeTakeFirst();
      const org = await trx
        .selectFrom('organizations')
        .select('name')
        .where('id', '=', orgId)
        .executeTakeFirstOrThrow();
      const brand = await sendingBrand(trx, accountId);
      mailIds.push(
        await this.mailer.queue(
          trx,
          orgId,
          user?.email ?? email,
          accountExistsMail({ brand, organization: org.name, link: `${this.publicUrl}/login` }),
        ),
      );
      audit.record({
        action: 'signup.existing_email',
        targetType: user ? 'user' : 'organization',
        targetId: user?.id ?? orgId,
        accountId,
      });
    });
    this.mailer.dispatch(mailIds);
  }

  // --- login / logout --------------------------------------------------------------------------------

  async login(
    input: { email: string; password: string; organization_id?: string },
    meta: RequestMeta,
  ): Promise<LoginResult> {
    await this.throttle.attempt(input.email, meta.ip ?? null);
    let query = this.db
      .selectFrom('users')
      .selectAll()
      .where(sql`lower(email)`, '=', input.email.toLowerCase())
      .where('status', '=', 'active')
      .where('password_hash', 'is not', null)
      .orderBy('created_at')
      .limit(10);
    if (input.organization_id) query = query.where('organization_id', '=', input.organization_id);
    const candidates = await query.execute();
    let user: User | null = null;
    if (candidates.length === 0) {
      // Spend the same time as a real check, so an unknown email cannot be told apart by timing.
      await verifyPassword(await this.dummy(), input.password).catch(() => false);
    }
    for (const c of candidates) {
      if (await verifyPassword(c.password_hash!, input.password).catch(() => false)) {
        user = c;
        break;
      }
    }
    if (!user) {
      // The attempt was counted as a failure already (throttle.attempt); only success clears it.
      const known = candidates[0];
      if (known) {
        // Recorded after the answer, so a known email does not answer slower than an unknown one.
        this.later(
          mutate(this.db, { principal: personActor(known, this.environment), meta }, async (_trx, audit) => {
            audit.record({
              action: 'login_failed',
              targetType: 'user',
              targetId: known.id,
              extra: { reason: 'wrong_password' },
            });
          }),
        );
      }
      throw INVALID_CREDENTIALS();
    }
    const found = user;
    if (found.totp_enabled_at) {
      // The password was right; the code is still to come. The attempt stays counted until the code completes
      // the login, so a known password does not buy unlimited guesses at the code (each retry of the
      // password would otherwise clear the count).
      const challenge = await this.mfa.createChallenge(this.db, found);
      return { kind: 'mfa', mfaToken: challenge.token, expiresAt: challenge.expiresAt };
    }
    return { kind: 'session', session: await this.startSession(found, meta, { via: 'password' }) };
  }

  /** POST /login/mfa: the code (TOTP or recovery) of the user whose password gave `mfaToken`. */
  async loginMfa(input: { mfa_token: string; code: string }, meta: RequestMeta): Promise<NewSession> {
    const challenge = await this.mfa.challengeUser(input.mfa_token);
    if (!challenge) throw INVALID_TOKEN('sign-in');
    const user = await this.db
      .selectFrom('users')
      .selectAll()
      .where('id', '=', challenge.userId)
      .executeTakeFirstOrThrow();
    // Counted like a password (core/auth/throttle.ts): five wrong codes or passwords lock the email.
    await this.throttle.attempt(user.email, meta.ip ?? null);
    const ctx: Ctx = { principal: personActor(user, this.environment), meta };
    const used = await mutate(this.db, ctx, async (trx, audit) => {
      const locked = await trx
        .selectFrom('users')
        .selectAll()
        .where('id', '=', user.id)
        .forUpdate()
        .executeTakeFirstOrThrow();
      if (locked.status !== 'active' || !locked.totp_enabled_at) return 'gone' as const;
      const kind = await this.mfa.consumeCode(trx, locked, input.code);
      if (!kind) {
        audit.record({ action: 'login.mfa_failed', targetType: 'user', targetId: user.id });
        return false;
      }
      if (!(await this.mfa.consumeChallenge(trx, challenge.challengeId))) return 'gone' as const;
      if (kind === 'recovery')
        audit.record({ action: 'mfa.recovery_code_used', targetType: 'user', targetId: user.id });
      return kind;
    });
    if (used === 'gone') throw INVALID_TOKEN('sign-in');
    if (!used) {
      throw new AppError('invalid_mfa_code', 'the code is wrong, was used already, or has expired', [
        { field: 'code', message: 'not valid' },
      ]);
    }
    return this.startSession(user, meta, { via: used === 'totp' ? 'totp' : 'recovery_code' });
  }

  /** A session after every factor was checked: clears the failed-login count, audited as `login`. */
  async startSession(
    user: User,
    meta: RequestMeta,
    extra: Record<string, unknown> = {},
  ): Promise<NewSession> {
    return mutate(this.db, { principal: personActor(user, this.environment), meta }, async (trx, audit) => {
      await this.throttle.clear(trx, user.email);
      const session = await this.sessions.create(trx, user, meta);
      audit.record({
        action: 'login',
        targetType: 'session',
        targetId: session.id,
        extra: { user_id: user.id, ...extra },
      });
      return session;
    });
  }

  /**
   * POST /api/me/password: the signed-in person changes their password. The current one proves it is them
   * (a wrong one counts as a failed login); the new one meets the policy; every other session ends.
   */
  async changePassword(
    ctx: Ctx,
    sessionId: string,
    input: { current_password: string; password: string },
  ): Promise<void> {
    const userId = ctx.principal.userId!;
    const user = await this.db
      .selectFrom('users')
      .selectAll()
      .where('id', '=', userId)
      .executeTakeFirstOrThrow();
    await this.throttle.attempt(user.email, ctx.meta.ip ?? null);
    const right =
      user.password_hash !== null &&
      (await verifyPassword(user.password_hash, input.current_password).catch(() => false));
    if (!right) {
      throw new AppError('invalid_current_password', 'the current password is wrong', [
        { field: 'current_password', message: 'not your current password' },
      ]);
    }
    requirePolicy(await policyOfUser(this.db, userId), input.password, user.email);
    // Otherwise a password that expired (max_age_days) could be "changed" to itself.
    if (input.password === input.current_password) {
      throw new AppError('password_policy', 'the new password must differ from the current one', [
        { field: 'password', rule: 'not_current', message: 'not the current password' },
      ]);
    }
    const passwordHash = await hashPassword(input.password);
    await mutate(this.db, ctx, async (trx, audit) => {
      await trx
        .updateTable('users')
        .set({ password_hash: passwordHash, updated_at: new Date() })
        .where('id', '=', userId)
        .execute();
      const ended = await this.sessions.endOthers(trx, userId, sessionId);
      await this.throttle.clear(trx, user.email);
      audit.record({
        action: 'password.changed',
        targetType: 'user',
        targetId: userId,
        extra: { sessions_ended: ended.length },
      });
      recordRevoked(audit, ended, 'password_changed');
    });
  }

  /** DELETE /api/me/sessions/{id}. */
  async endSession(ctx: Ctx, sessionId: string): Promise<void> {
    await mutate(this.db, ctx, async (trx, audit) => {
      if (!(await this.sessions.endById(trx, ctx.principal.userId!, sessionId)))
        throw notFound('session', sessionId);
      recordRevoked(audit, [sessionId], 'by_user');
    });
  }

  /** POST /api/me/sessions/revoke_others: every session of the person but `keepId`. */
  async endOtherSessions(ctx: Ctx, keepId: string): Promise<number> {
    return mutate(this.db, ctx, async (trx, audit) => {
      const ended = await this.sessions.endOthers(trx, ctx.principal.userId!, keepId);
      recordRevoked(audit, ended, 'revoke_others');
      return ended.length;
    });
  }

  async logout(principal: Principal, token: string, meta: RequestMeta): Promise<void> {
    await mutate(this.db, { principal, meta }, async (_trx, audit) => {
      const ended = await this.sessions.end(token);
      if (ended) audit.record({ action: 'logout', targetType: 'session', targetId: ended.id });
    });
  }

  /** What GET /session, /login and /signup answer with. */
  async sessionInfo(session: {
    principal: Principal;
    csrfToken: string;
    expiresAt: Date;
    mfaEnrollmentRequired: boolean;
    passwordChangeRequired: boolean;
  }): Promise<SessionInfo> {
    const { principal, csrfToken, expiresAt } = session;
    const ctx: Ctx = { principal, meta: {} };
    const user = await this.users.get(ctx, principal.userId!);
    const organization = await this.db
      .selectFrom('organizations')
      .selectAll()
      .where('id', '=', principal.organizationId)
      .executeTakeFirstOrThrow();
    const account = principal.accountId
      ? ((await this.db
          .selectFrom('accounts')
          .selectAll()
          .where('id', '=', principal.accountId)
          .executeTakeFirst()) ?? null)
      : null;
    return {
      user,
      organization,
      account,
      csrf_token: csrfToken,
      expires_at: expiresAt,
      mfa_enrollment_required: session.mfaEnrollmentRequired,
      password_change_required: session.passwordChangeRequired,
    };
  }

  // --- email verification ----------------------------------------------------------------------------

  async verifyEmail(
    token: string,
    meta: RequestMeta,
  ): Promise<{ email: string; activated_accounts: string[] }> {
    const row = await findUserToken(this.db, token, 'email_verification');
    if (!row || row.used_at || row.expires_at.getTime() <= Date.now()) throw INVALID_TOKEN('verification');
    const user = await this.db
      .selectFrom('users')
      .selectAll()
      .where('id', '=', row.user_id)
      .executeTakeFirstOrThrow();
    const ctx: Ctx = { principal: personActor(user, this.environment), meta };
    await mutate(this.db, ctx, async (trx, audit) => {
      if (!(await useUserToken(trx, row.id))) throw INVALID_TOKEN('verification');
      await scrubMailSecrets(trx, [row.token_hash]);
      const after = await trx
        .updateTable('users')
        .set({ email_verified_at: sql`coalesce(email_verified_at, now())`, updated_at: new Date() })
        .where('id', '=', user.id)
        .returningAll()
        .executeTakeFirstOrThrow();
      audit.record({
        action: 'email_verified',
        targetType: 'user',
        targetId: user.id,
        before: { email_verified_at: user.email_verified_at },
        after: { email_verified_at: after.email_verified_at },
      });
    });
    // Pending memberships in accounts that auto-join this email's domain become active now. A full account
    // (seat limit) leaves the membership pending; the verification itself stands.
    const activated: string[] = [];
    const pending = await this.db
      .selectFrom('memberships as m')
      .innerJoin('organization_domains as d', (j) =>
        j
          .onRef('d.account_id', '=', 'm.account_id')
          .on('d.auto_join', '=', true)
          .on('d.verified_at', 'is not', null),
      )
      .select(['m.id', 'm.account_id'])
      .where('m.user_id', '=', user.id)
      .where('m.status', '=', 'pending')
      .where('d.domain', '=', emailDomain(user.email))
      .execute();
    for (const m of pending) {
      try {
        await mutate(this.db, ctx, async (trx, audit) => {
          const after = await trx
            .updateTable('memberships')
            .set({ status: 'active', updated_at: new Date() })
            .where('id', '=', m.id)
            .where('status', '=', 'pending')
            .returningAll()
            .executeTakeFirst();
          if (after) {
            audit.record({
              action: 'membership.activated',
              targetType: 'membership',
              targetId: m.id,
              accountId: m.account_id,
              after: { status: 'active' },
              extra: { reason: 'email_verified_domain_auto_join' },
            });
            activated.push(m.account_id);
          }
        });
      } catch (err) {
        if (!(err instanceof AppError)) throw err;
      }
    }
    return { email: user.email, activated_accounts: activated };
  }

  // --- password resets -------------------------------------------------------------------------------

  /** Always resolves the same way; mails every active user with that email, after the answer. */
  requestPasswordReset(email: string, meta: RequestMeta): void {
    this.later(
      (async () => {
        const users = await this.db
          .selectFrom('users')
          .selectAll()
          .where(sql`lower(email)`, '=', email.toLowerCase())
          .where('status', '=', 'active')
          .limit(10)
          .execute();
        for (const user of users) {
          const ctx: Ctx = { principal: personActor(user, this.environment), meta };
          await this.issueReset(ctx, user, false);
        }
      })(),
    );
  }

  /** Admin-triggered: mails the user a reset link. The target must be in the caller's organization. */
  async adminPasswordReset(ctx: Ctx, userId: string): Promise<void> {
    const { principal } = ctx;
    const user = await userToManage(this.db, principal, userId, 'reset the password of');
    if (user.status !== 'active')
      throw new AppError('conflict', `user ${user.id} is deactivated; reactivate the user first`);
    // A new password opens every account the user belongs to: the caller needs manage_users in each.
    await requireReach(this.db, principal, user.id, 'manage_users', 'a password reset');
    await this.issueReset(ctx, user, true);
  }

  async completePasswordReset(token: string, password: string, meta: RequestMeta): Promise<void> {
    const row = await findUserToken(this.db, token, 'password_reset');
    if (!row || row.used_at || row.expires_at.getTime() <= Date.now()) throw INVALID_TOKEN('password reset');
    const user = await this.db
      .selectFrom('users')
      .selectAll()
      .where('id', '=', row.user_id)
      .executeTakeFirstOrThrow();
    if (user.status !== 'active') throw INVALID_TOKEN('password reset');
    requirePolicy(await policyOfUser(this.db, user.id), password, user.email);
    const passwordHash = await hashPassword(password);
    await mutate(this.db, { principal: personActor(user, this.environment), meta }, async (trx, audit) => {
      if (!(await useUserToken(trx, row.id))) throw INVALID_TOKEN('password reset');
      // Every other outstanding reset link of this user dies too, and no mail keeps any of them.
      const others = await endUserTokens(trx, user.id, 'password_reset');
      await scrubMailSecrets(trx, [row.token_hash, ...others]);
      await trx
        .updateTable('users')
        .set({
          password_hash: passwordHash,
          // Following a mailed link proves the address.
          email_verified_at: sql`coalesce(email_verified_at, now())`,
          updated_at: new Date(),
        })
        .where('id', '=', user.id)
        .execute();
      const ended = await this.sessions.endAll(trx, user.id);
      await this.throttle.clear(trx, user.email);
      audit.record({
        action: 'password_reset.completed',
        targetType: 'user',
        targetId: user.id,
        extra: { sessions_ended: ended },
      });
    });
  }

  // --- internals -------------------------------------------------------------------------------------

  private async issueReset(ctx: Ctx, user: User, byAdmin: boolean): Promise<void> {
    const mailIds: string[] = [];
    await mutate(this.db, ctx, async (trx, audit) => {
      const t = await issueUserToken(trx, user, 'password_reset', RESET_TTL_MS);
      const brand = await userBrand(trx, user.id);
      // The token rides in the fragment: a browser never sends it to a server (or a log).
      const link = `${this.publicUrl}/reset_password#token=${LINK_TOKEN}`;
      mailIds.push(
        await this.mailer.queue(
          trx,
          user.organization_id,
          user.email,
          passwordResetMail({ brand, link, byAdmin }),
          t,
        ),
      );
      audit.record({
        action: 'password_reset.requested',
        targetType: 'user',
        targetId: user.id,
        extra: { by_admin: byAdmin, reset_id: t.id },
      });
    });
    this.mailer.dispatch(mailIds);
  }

  private async queueVerification(trx: Db, user: User, token: string, accountId: string): Promise<string> {
    const t = await issueUserToken(trx, user, 'email_verification', VERIFY_TTL_MS, { token });
    const brand = await sendingBrand(trx, accountId);
    const link = `${this.publicUrl}/verify_email#token=${LINK_TOKEN}`;
    return this.mailer.queue(
      trx,
      user.organization_id,
      user.email,
      verifyEmailMail({ brand, name: user.first_name, link }),
      t,
    );
  }

  private dummy(): Promise<string> {
    this.dummyHash ??= hashPassword(`signet-dummy-${newToken()}`);
    return this.dummyHash;
  }

  private later(p: Promise<unknown>): void {
    const tracked: Promise<void> = p
      .then(() => {})
      .catch((err) => this.onError(err))
      .finally(() => this.background.delete(tracked));
    this.background.add(tracked);
  }
}
