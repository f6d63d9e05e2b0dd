// Activation (docs/people-and-sessions.md, "Activation"): a user an admin made (through the API, an import or
// eSignature's sendActivationEmail) has no password; an activation mail carries a link, valid for
// SIGNET_ACTIVATION_TTL_DAYS, where they choose one. Following it sets the password (the policy applies),
// verifies the address (the mail reached it) and turns the user's pending memberships active, as DocuSign's
// activation_required memberships become active when their user activates.
import { sql } from 'kysely';
import type { Config } from '../../config.ts';
import type { Db } from '../../db/connection.ts';
import type { User } from '../../db/schema.ts';
import type { AuditBuffer } from '../audit/writer.ts';
import { requireReach } from '../authz/reach.ts';
import { type Ctx, mutate, type RequestMeta } from '../context.ts';
import { AppError, notFound } from '../errors.ts';
import { LINK_TOKEN, type Mailer, scrubMailSecrets } from '../mail/mailer.ts';
import { activationMail, sendingBrand, userBrand } from '../mail/templates.ts';
import { hashPassword } from '../passwords.ts';
import { requireMayManageRole } from '../roles.ts';
import { personActor } from './actor.ts';
import { policyOfUser, requirePolicy } from './password-policy.ts';
import { endUserTokens, findUserToken, issueUserToken, useUserToken } from './user-tokens.ts';

export const MAX_RESEND = 500;

export type SkipReason = 'already_activated' | 'deactivated';

const INVALID_LINK = (expired = false) =>
  new AppError(
    'invalid_token',
    expired
      ? 'this activation link has expired: ask an administrator to send a new one'
      : 'this activation link is not valid: it was used already, was replaced by a newer one, or is wrong',
    [{ field: 'token', message: expired ? 'expired' : 'not valid' }],
  );

export class Activation {
  /** The activation mails of a process, as its configuration says. */
  static of(db: Db, mailer: Mailer, config: Config): Activation {
    return new Activation(db, mailer, config.environment, config.publicUrl, config.activationTtlDays);
  }

  constructor(
    private readonly db: Db,
    private readonly mailer: Mailer,
    private readonly environment: 'test' | 'live',
    private readonly publicUrl: string,
    private readonly ttlDays: number,
  ) {}

  /**
   * Queues an activation mail to `user`, in the caller's transaction, ending their earlier links. Returns the
   * mail's id: hand it to dispatch() once the transaction has committed.
   */
  async queue(
    trx: Db,
    audit: Pick<AuditBuffer, 'record'>,
    user: Pick<User, 'id' | 'organization_id' | 'email' | 'first_name'>,
    accountId: string | null,
    extra: Record<string, unknown> = {},
  ): Promise<string> {
    const ended = await endUserTokens(trx, user.id, 'activation');
    if (ended.length > 0) await scrubMailSecrets(trx, ended);
    const t = await issueUserToken(trx, user, 'activation', this.ttlDays * 86_400_000);
    const org = await trx
      .selectFrom('organizations')
      .select('name')
      .where('id', '=', user.organization_id)
      .executeTakeFirstOrThrow();
    const brand = accountId ? await sendingBrand(trx, accountId) : await userBrand(trx, user.id);
    const id = await this.mailer.queue(
      trx,
      user.organization_id,
      user.email,
      activationMail({
        brand,
        name: user.first_name,
        organization: org.name,
        link: `${this.publicUrl}/activate#token=${LINK_TOKEN}`,
        days: this.ttlDays,
      }),
      t,
    );
    audit.record({
      action: 'user.activation_sent',
      targetType: 'user',
      targetId: user.id,
      ...(accountId ? { accountId } : {}),
      extra: { expires_at: t.expiresAt.toISOString(), ...extra },
    });
    return id;
  }

  dispatch(ids: readonly string[]): void {
    this.mailer.dispatch(ids);
  }

  /**
   * POST /api/users/activation_mails: mails each user without a password a new link. Every user must be the
   * caller's to manage (as a password reset: same organization, a member's own account, no one above the
   * caller, users:write in each of their accounts), or nothing is sent.
   */
  async resend(
    ctx: Ctx,
    userIds: readonly string[],
  ): Promise<{ sent: string[]; skipped: { user_id: string; reason: SkipReason }[] }> {
    const { principal } = ctx;
    const ids = [...new Set(userIds)];
    const users = await this.db
      .selectFrom('users')
      .selectAll()
      .where('id', 'in', ids)
      .where('organization_id', '=', principal.organizationId)
      .execute();
    const byId = new Map(users.map((u) => [u.id, u]));
    const missing = ids.find((id) => !byId.has(id));
    if (missing) throw notFound('user', missing);
    if (principal.role === 'member') {
      // A member manages the people of its own account only; others answer as if they did not exist.
      const inAccount = new Set(
        principal.accountId
          ? (
              await this.db
                .selectFrom('memberships')
                .select('user_id')
                .where('user_id', 'in', ids)
                .where('account_id', '=', principal.accountId)
                .execute()
            ).map((r) => r.user_id)
          : [],
      );
      const outside = ids.find((id) => !inAccount.has(id));
      if (outside) throw notFound('user', outside);
    }
    for (const id of ids) {
      const user = byId.get(id)!;
      requireMayManageRole(principal.role, user, 'send an activation mail to');
      await requireReach(this.db, principal, id, 'manage_users', 'an activation mail');
    }
    const sent: string[] = [];
    const skipped: { user_id: string; reason: SkipReason }[] = [];
    const mailIds: string[] = [];
    await mutate(this.db, ctx, async (trx, audit) => {
      for (const id of ids) {
        const user = byId.get(id)!;
        if (user.status !== 'active') skipped.push({ user_id: id, reason: 'deactivated' });
        else if (user.password_hash !== null) skipped.push({ user_id: id, reason: 'already_activated' });
        else {
          mailIds.push(await this.queue(trx, audit, user, principal.accountId, { resent: true }));
          sent.push(id);
        }
      }
    });
    this.dispatch(mailIds);
    return { sent, skipped };
  }

  /**
   * POST /activate: the user of the link chooses a password. Returns the user, for the session the face
   * starts (core/auth/service.ts startSession).
   */
  async activate(token: string, password: string, meta: RequestMeta): Promise<User> {
    const row = await findUserToken(this.db, token, 'activation');
    if (!row || row.used_at) throw INVALID_LINK();
    if (row.expires_at.getTime() <= Date.now()) throw INVALID_LINK(true);
    const user = await this.db
      .selectFrom('users')
      .selectAll()
      .where('id', '=', row.user_id)
      .executeTakeFirstOrThrow();
    if (user.status !== 'active' || user.password_hash !== null) throw INVALID_LINK();
    requirePolicy(await policyOfUser(this.db, user.id), password, user.email);
    const passwordHash = await hashPassword(password);
    const ctx: Ctx = { principal: personActor(user, this.environment), meta };
    const activated = await mutate(this.db, ctx, async (trx, audit) => {
      if (!(await useUserToken(trx, row.id))) throw INVALID_LINK();
      await scrubMailSecrets(trx, [row.token_hash]);
      const after = await trx
        .updateTable('users')
        .set({
          password_hash: passwordHash,
          email_verified_at: sql`coalesce(email_verified_at, now())`,
          updated_at: new Date(),
        })
        .where('id', '=', user.id)
        // A password set since the link was read (another activation, a reset) wins: this link is spent.
        .where('password_hash', 'is', null)
        .returningAll()
        .executeTakeFirst();
      if (!after) throw INVALID_LINK();
      audit.record({
        action: 'user.activated',
        targetType: 'user',
        targetId: user.id,
        before: { email_verified_at: user.email_verified_at },
        after: { email_verified_at: after.email_verified_at },
      });
      return after;
    });
    // Pending memberships become active, one by one: a full account (seat limit) leaves its membership
    // pending, and the activation stands.
    const pending = await this.db
      .selectFrom('memberships')
      .select(['id', 'account_id'])
      .where('user_id', '=', user.id)
      .where('status', '=', 'pending')
      .execute();
    for (const m of pending) {
      await mutate(this.db, ctx, async (trx, audit) => {
        const opened = await trx
          .updateTable('memberships')
          .set({ status: 'active', updated_at: new Date() })
          .where('id', '=', m.id)
          .where('status', '=', 'pending')
          .returning('id')
          .executeTakeFirst();
        if (opened) {
          audit.record({
            action: 'membership.activated',
            targetType: 'membership',
            targetId: m.id,
            accountId: m.account_id,
            after: { status: 'active' },
            extra: { reason: 'user_activated' },
          });
        }
      }).catch((err: unknown) => {
        if (!(err instanceof AppError)) throw err;
      });
    }
    return activated;
  }
}
