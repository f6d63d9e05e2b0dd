// Invites: an admin names an email, a role (never above their own), an account and optionally a permission
// profile and groups; the invitee gets a single-use link (token stored hashed, 7 days). Accepting creates the
// user (with a password) or, for an existing user of the organization, adds the membership once they prove
// who they are (a session as that user, or their password). Resend makes a new token (the old one dies);
// revoke ends the invite.
import { sql } from 'kysely';
import type { Db } from '../../db/connection.ts';
import type { Invite, OrgRole, User } from '../../db/schema.ts';
import { personActor } from '../auth/actor.ts';
import { policyOfAccounts, requirePolicy } from '../auth/password-policy.ts';
import { splitName } from '../auth/service.ts';
import type { NewSession, SessionsService } from '../auth/sessions.ts';
import { hashToken, newToken } from '../auth/tokens.ts';
import { type Ctx, mutate, type RequestMeta } from '../context.ts';
import { AppError, invalidField, notFound } from '../errors.ts';
import { newId } from '../ids.ts';
import { LINK_TOKEN, type Mailer, scrubMailSecrets } from '../mail/mailer.ts';
import { inviteMail, sendingBrand } from '../mail/templates.ts';
import { DEFAULT_LIMIT, decodeCursor, type Page, toPage } from '../pagination.ts';
import { hashPassword, verifyPassword } from '../passwords.ts';
import { requireAccountAccess, requireHolds, roleAtLeast } from '../principal.ts';
import { groupsInAccount, profileInAccount } from '../refs.ts';
import { requireMayGrantRole } from '../roles.ts';
import { openMembership } from '../users/memberships.ts';

export const INVITE_TTL_MS = 7 * 24 * 3600_000;
export type InviteStatus = 'pending' | 'accepted' | 'revoked' | 'expired';

export type InviteView = Omit<Invite, 'token_hash'> & { status: InviteStatus };

export interface CreateInviteInput {
  email: string;
  role: OrgRole;
  account_id: string;
  permission_profile_id?: number | null;
  group_ids?: number[];
}

export interface AcceptInput {
  token: string;
  password?: string;
  name?: string;
}

export interface AcceptResult {
  session: NewSession;
  user_id: string;
  organization_id: string;
  account_id: string;
  created_user: boolean;
}

export function inviteStatus(i: Pick<Invite, 'revoked_at' | 'accepted_at' | 'expires_at'>): InviteStatus {
  if (i.revoked_at) return 'revoked';
  if (i.accepted_at) return 'accepted';
  if (i.expires_at.getTime() <= Date.now()) return 'expired';
  return 'pending';
}

function view(row: Invite): InviteView {
  const { token_hash: _omit, ...rest } = row;
  return { ...rest, status: inviteStatus(row) };
}

const INVALID_INVITE = () =>
  new AppError('invalid_token', 'this invitation is not valid: it was used, revoked or has expired', [
    { field: 'token', message: 'not valid' },
  ]);

export class InvitesService {
  constructor(
    private readonly db: Db,
    private readonly sessions: SessionsService,
    private readonly mailer: Mailer,
    private readonly environment: 'test' | 'live',
    private readonly publicUrl: string,
  ) {}

  async create(ctx: Ctx, input: CreateInviteInput): Promise<InviteView> {
    const { principal } = ctx;
    this.assertMayGrant(ctx, input.role);
    const email = input.email.trim();
    const token = newToken();
    const mailIds: string[] = [];
    const row = await mutate(this.db, ctx, async (trx, audit) => {
      const account = await trx
        .selectFrom('accounts')
        .selectAll()
        .where('id', '=', input.account_id)
        .where('organization_id', '=', principal.organizationId)
        .executeTakeFirst();
      if (!account)
        throw invalidField(
          'account_id',
          `no account ${input.account_id} in this organization`,
          'invalid_reference',
        );
      requireAccountAccess(principal, account.id);
      const profile =
        input.permission_profile_id == null
          ? null
          : await profileInAccount(trx, account.id, input.permission_profile_id);
      // An invite assigns its profile when accepted: never one granting more than the inviter holds.
      if (profile)
        requireHolds(
          principal,
          profile.permissions,
          `permission profile "${profile.name}"`,
          'permission_profile_id',
        );
      const profileId = profile?.id ?? null;
      const groupIds = await groupsInAccount(trx, account.id, input.group_ids ?? []);
      const member = await trx
        .selectFrom('memberships as m')
        .innerJoin('users as u', 'u.id', 'm.user_id')
        .select('m.id')
        .where('m.account_id', '=', account.id)
        .where('m.status', '=', 'active')
        .where(sql`lower(u.email)`, '=', email.toLowerCase())
        .executeTakeFirst();
      if (member)
        throw new AppError(
          'already_member',
          `${email} is already an active member of account ${account.id}`,
          [{ field: 'email', message: 'already a member', membership_id: member.id }],
        );
      const open = await trx
        .selectFrom('invites')
        .select('id')
        .where('account_id', '=', account.id)
        .where(sql`lower(email)`, '=', email.toLowerCase())
        .where('accepted_at', 'is', null)
        .where('revoked_at', 'is', null)
        .where('expires_at', '>', new Date())
        .executeTakeFirst();
      if (open)
        throw new AppError(
          'conflict',
          `a pending invite ${open.id} for ${email} exists; resend or revoke it`,
          [{ field: 'email', message: 'already invited', invite_id: open.id }],
        );
      const invite = await trx
        .insertInto('invites')
        .values({
          id: newId(),
          organization_id: principal.organizationId,
          account_id: account.id,
          email,
          role: input.role,
          permission_profile_id: profileId,
          group_ids: groupIds,
          invited_by: principal.userId,
          token_hash: hashToken(token),
          expires_at: new Date(Date.now() + INVITE_TTL_MS),
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      audit.record({
        action: 'invite.created',
        targetType: 'invite',
        targetId: invite.id,
        accountId: account.id,
        after: view(invite),
      });
      mailIds.push(await this.queueMail(ctx, trx, invite, token));
      return invite;
    });
    this.mailer.dispatch(mailIds);
    return view(row);
  }

  async list(
    ctx: Ctx,
    q: { limit?: number; cursor?: string; status?: InviteStatus; account_id?: string },
  ): Promise<Page<InviteView>> {
    const { principal } = ctx;
    const limit = q.limit ?? DEFAULT_LIMIT;
    const after = decodeCursor(q.cursor);
    let query = this.db
      .selectFrom('invites')
      .selectAll()
      .where('organization_id', '=', principal.organizationId)
      .orderBy('id')
      .limit(limit + 1);
    if (after) query = query.where('id', '>', after);
    if (principal.role === 'member') {
      if (q.account_id && q.account_id !== principal.accountId) return { data: [], next_cursor: null };
      query = query.where('account_id', '=', principal.accountId ?? '00000000-0000-0000-0000-000000000000');
    } else if (q.account_id) query = query.where('account_id', '=', q.account_id);
    const now = new Date();
    switch (q.status) {
      case 'revoked':
        query = query.where('revoked_at', 'is not', null);
        break;
      case 'accepted':
        query = query.where('revoked_at', 'is', null).where('accepted_at', 'is not', null);
        break;
      case 'expired':
        query = query
          .where('revoked_at', 'is', null)
          .where('accepted_at', 'is', null)
          .where('expires_at', '<=', now);
        break;
      case 'pending':
        query = query
          .where('revoked_at', 'is', null)
          .where('accepted_at', 'is', null)
          .where('expires_at', '>', now);
        break;
    }
    const page = toPage(await query.execute(), limit, (i) => i.id);
    return { data: page.data.map(view), next_cursor: page.next_cursor };
  }

  async get(ctx: Ctx, id: string): Promise<InviteView> {
    return view(await this.load(ctx, this.db, id));
  }

  /** A new token and a new expiry; the old link stops working. */
  async resend(ctx: Ctx, id: string): Promise<InviteView> {
    const token = newToken();
    const mailIds: string[] = [];
    const row = await mutate(this.db, ctx, async (trx, audit) => {
      const before = await this.load(ctx, trx, id, true);
      this.assertMayGrant(ctx, before.role);
      const status = inviteStatus(before);
      if (status === 'accepted' || status === 'revoked')
        throw new AppError('conflict', `invite ${id} is ${status}; create a new one`);
      const after = await trx
        .updateTable('invites')
        .set({
          token_hash: hashToken(token),
          expires_at: new Date(Date.now() + INVITE_TTL_MS),
          updated_at: new Date(),
        })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirstOrThrow();
      await scrubMailSecrets(trx, [before.token_hash]);
      audit.record({
        action: 'invite.resent',
        targetType: 'invite',
        targetId: id,
        accountId: before.account_id,
        before: view(before),
        after: view(after),
      });
      mailIds.push(await this.queueMail(ctx, trx, after, token));
      return after;
    });
    this.mailer.dispatch(mailIds);
    return view(row);
  }

  async revoke(ctx: Ctx, id: string): Promise<InviteView> {
    const row = await mutate(this.db, ctx, async (trx, audit) => {
      const before = await this.load(ctx, trx, id, true);
      this.assertMayGrant(ctx, before.role);
      if (before.accepted_at) throw new AppError('conflict', `invite ${id} was accepted already`);
      if (before.revoked_at) return before;
      const after = await trx
        .updateTable('invites')
        .set({ revoked_at: new Date(), updated_at: new Date() })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirstOrThrow();
      await scrubMailSecrets(trx, [before.token_hash]);
      audit.record({
        action: 'invite.revoked',
        targetType: 'invite',
        targetId: id,
        accountId: before.account_id,
        before: view(before),
        after: view(after),
      });
      return after;
    });
    return view(row);
  }

  /**
   * Accepts an invite. `sessionUserId` is the user of the caller's session cookie, if any. A new user needs
   * a password; an existing user of the organization must be that session's user or give their password.
   */
  async accept(input: AcceptInput, sessionUserId: string | null, meta: RequestMeta): Promise<AcceptResult> {
    const invite = await this.db
      .selectFrom('invites')
      .selectAll()
      .where('token_hash', '=', hashToken(input.token))
      .executeTakeFirst();
    if (!invite || inviteStatus(invite) !== 'pending') throw INVALID_INVITE();
    const existing = await this.db
      .selectFrom('users')
      .selectAll()
      .where('organization_id', '=', invite.organization_id)
      .where(sql`lower(email)`, '=', invite.email.toLowerCase())
      .executeTakeFirst();
    let passwordHash: string | null = null;
    if (existing) {
      const bySession = sessionUserId === existing.id;
      const byPassword =
        !bySession &&
        input.password !== undefined &&
        existing.password_hash !== null &&
        (await verifyPassword(existing.password_hash, input.password).catch(() => false));
      if (!bySession && !byPassword) {
        throw new AppError(
          'invalid_credentials',
          `${invite.email} already has a user in this organization: log in as that user, or give its password`,
        );
      }
      // A password alone is one factor: a user with two-step verification proves it by logging in first.
      if (!bySession && existing.totp_enabled_at) {
        throw new AppError(
          'invalid_credentials',
          `${invite.email} signs in with two-step verification: log in as that user first, then accept the invite`,
        );
      }
      if (existing.status !== 'active')
        throw new AppError('conflict', 'your user is deactivated in this organization; ask an admin');
    } else {
      if (!input.password)
        throw invalidField('password', 'required to create your user (see the password policy)');
      requirePolicy(await policyOfAccounts(this.db, [invite.account_id]), input.password, invite.email);
      passwordHash = await hashPassword(input.password);
    }
    const userId = existing?.id ?? newId();
    const actor = personActor(
      { id: userId, email: invite.email, organization_id: invite.organization_id, role: invite.role },
      this.environment,
      invite.account_id,
    );
    return mutate(this.db, { principal: actor, meta }, async (trx, audit) => {
      // Claim the invite first: of two concurrent accepts, one wins.
      const claimed = await trx
        .updateTable('invites')
        .set({ accepted_at: new Date(), updated_at: new Date() })
        .where('id', '=', invite.id)
        .where('accepted_at', 'is', null)
        .where('revoked_at', 'is', null)
        .where('expires_at', '>', new Date())
        .where('token_hash', '=', hashToken(input.token))
        .returningAll()
        .executeTakeFirst();
      if (!claimed) throw INVALID_INVITE();
      await scrubMailSecrets(trx, [claimed.token_hash]);
      let user: User;
      if (existing) {
        user = existing;
        if (roleAtLeast(invite.role, existing.role) && invite.role !== existing.role) {
          user = await trx
            .updateTable('users')
            .set({ role: invite.role, updated_at: new Date() })
            .where('id', '=', existing.id)
            .returningAll()
            .executeTakeFirstOrThrow();
          audit.record({
            action: 'user.updated',
            targetType: 'user',
            targetId: user.id,
            before: existing,
            after: user,
          });
        }
      } else {
        const { first_name, last_name } = splitName(input.name ?? '');
        user = await trx
          .insertInto('users')
          .values({
            id: userId,
            organization_id: invite.organization_id,
            email: invite.email,
            first_name,
            last_name,
            role: invite.role,
            password_hash: passwordHash,
            // The invite link came to this mailbox.
            email_verified_at: new Date(),
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        audit.record({
          action: 'user.created',
          targetType: 'user',
          targetId: user.id,
          accountId: invite.account_id,
          after: user,
        });
      }
      await trx
        .updateTable('invites')
        .set({ accepted_user_id: user.id })
        .where('id', '=', invite.id)
        .execute();
      // The invite is the confirmation a pending membership waits for: it is activated, not refused.
      await openMembership(trx, audit, {
        user,
        accountId: invite.account_id,
        profileId: invite.permission_profile_id ?? undefined,
        activatePending: true,
        alreadyMember: `you are already a member of account ${invite.account_id}`,
      });
      // Groups deleted since the invite are skipped.
      const groups = invite.group_ids.length
        ? await trx
            .selectFrom('groups')
            .select('id')
            .where('account_id', '=', invite.account_id)
            .where('id', 'in', invite.group_ids.map(Number))
            .execute()
        : [];
      if (groups.length > 0) {
        await trx
          .insertInto('group_members')
          .values(groups.map((g) => ({ group_id: g.id, user_id: user.id })))
          .onConflict((oc) => oc.doNothing())
          .execute();
      }
      audit.record({
        action: 'invite.accepted',
        targetType: 'invite',
        targetId: invite.id,
        accountId: invite.account_id,
        after: { status: 'accepted', accepted_user_id: user.id },
        extra: { created_user: !existing },
      });
      const session = await this.sessions.create(trx, user, meta);
      return {
        session,
        user_id: user.id,
        organization_id: invite.organization_id,
        account_id: invite.account_id,
        created_user: !existing,
      };
    });
  }

  // --- internals -------------------------------------------------------------------------------------

  private async load(ctx: Ctx, db: Db, id: string, lock = false): Promise<Invite> {
    let query = db
      .selectFrom('invites')
      .selectAll()
      .where('id', '=', id)
      .where('organization_id', '=', ctx.principal.organizationId);
    if (lock) query = query.forUpdate();
    const row = await query.executeTakeFirst();
    if (!row) throw notFound('invite', id);
    if (ctx.principal.role === 'member' && ctx.principal.accountId !== row.account_id)
      throw notFound('invite', id);
    return row;
  }

  /** Nobody invites (or manages an invite) above their own organization role. */
  private assertMayGrant(ctx: Ctx, role: OrgRole): void {
    requireMayGrantRole(ctx.principal.role, role, 'invite with');
  }

  private async queueMail(ctx: Ctx, trx: Db, invite: Invite, token: string): Promise<string> {
    const org = await trx
      .selectFrom('organizations')
      .select('name')
      .where('id', '=', invite.organization_id)
      .executeTakeFirstOrThrow();
    const account = await trx
      .selectFrom('accounts')
      .select('name')
      .where('id', '=', invite.account_id)
      .executeTakeFirstOrThrow();
    const inviter = ctx.principal.userId
      ? await trx
          .selectFrom('users')
          .select(['first_name', 'last_name', 'email'])
          .where('id', '=', ctx.principal.userId)
          .executeTakeFirst()
      : undefined;
    const inviterName = inviter
      ? `${inviter.first_name} ${inviter.last_name}`.trim() || inviter.email
      : ctx.principal.label;
    const brand = await sendingBrand(trx, invite.account_id);
    // The token rides in the fragment: a browser never sends it to a server (or a log).
    const link = `${this.publicUrl}/invites/accept#token=${LINK_TOKEN}`;
    return this.mailer.queue(
      trx,
      invite.organization_id,
      invite.email,
      inviteMail({
        brand,
        inviter: inviterName,
        organization: org.name,
        account: account.name,
        role: invite.role,
        link,
      }),
      { token, expiresAt: invite.expires_at },
    );
  }
}
