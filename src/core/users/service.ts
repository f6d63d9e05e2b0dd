// Users are people (unique by email within an organization); memberships place them in accounts. An active
// membership is a seat: the seat count and limit are kept by the database (see the memberships trigger).
import { sql } from 'kysely';
import type { Db } from '../../db/connection.ts';
import type { Membership, MembershipStatus, OrgRole, User, UserStatus } from '../../db/schema.ts';
import type { AuditBuffer } from '../audit/writer.ts';
import type { Activation } from '../auth/activation.ts';
import { requireReach } from '../authz/reach.ts';
import { afterCommit, type Ctx, mutate } from '../context.ts';
import { AppError, invalidField, notFound } from '../errors.ts';
import { newId } from '../ids.ts';
import { resolveMapping } from '../mapping-rules/match.ts';
import { DEFAULT_LIMIT, decodeCursor, type Page, toPage } from '../pagination.ts';
import { type Principal, requireAccountAccess, requireHolds } from '../principal.ts';
import { accountInBody, defaultProfileId, groupsInAccount, profileInAccount } from '../refs.ts';
import { requireMayGrantRole, requireMayManageRole } from '../roles.ts';
import { EMAIL_TAKEN, type EmailChanges } from './email-changes.ts';
import { openMembership } from './memberships.ts';
import {
  countActiveOwners,
  countUsers,
  findUser,
  findUserByEmail,
  findUserWithMemberships,
  listUsers,
  listUsersAt,
  type MembershipLabels,
  type MembershipView,
  membershipLabels,
  membershipsOf,
  type UserFilter,
} from './repository.ts';

// The repository's views are part of this service's interface (faces import services, never repositories).
export type { MembershipLabels, MembershipView, UserFilter } from './repository.ts';

/** What a user's row keeps to itself: the password hash and the TOTP state (src/core/auth/mfa.ts). */
type Hidden =
  | 'password_hash'
  | 'password_changed_at'
  | 'totp_secret'
  | 'totp_pending_secret'
  | 'totp_enabled_at'
  | 'totp_last_step';

export interface UserView extends Omit<User, Hidden> {
  /** Whether the user signs in with two-step verification (TOTP). */
  mfa_enabled: boolean;
  memberships: MembershipView[];
}

export interface UserProfileFields {
  first_name?: string;
  last_name?: string;
  job_title?: string | null;
  department?: string | null;
  company?: string | null;
  language?: string | null;
}

export interface CreateUserInput extends UserProfileFields {
  email: string;
  role?: OrgRole;
  account_id?: string;
  permission_profile_id?: number | string | null;
  group_ids?: (number | string)[];
  membership_status?: 'active' | 'pending';
  /** Mail the new user an activation link (docs/people-and-sessions.md, "Activation"). */
  send_activation?: boolean;
  /** Memberships in further accounts, made in the same transaction (each with its own profile and groups). */
  other_memberships?: MembershipInput[];
}

/**
 * Whether a person an admin creates through DocuSign's Admin API (/management: createUser, addUsers,
 * addOrUpdateUser) is mailed an activation link: yes, unless their memberships are auto-activated. That is
 * DocuSign's rule ("auto-activating a user's account membership bypasses the activation email and password
 * setup process"), kept here once so every route that creates a person that way sends the same mail that
 * /api's `send_activation` and eSignature's `sendActivationEmail` ask for. Only a user the request creates
 * is mailed (one who exists already keeps their password).
 */
export function activationMailUnlessAutoActivated(autoActivate: boolean | undefined): boolean {
  return autoActivate !== true;
}

export interface UpdateUserInput extends UserProfileFields {
  email?: string;
  role?: OrgRole;
  /** Changes to the user's memberships, each named by its account, made in the same transaction. */
  memberships?: (MembershipPatch & { account_id: string })[];
}

export interface MembershipInput {
  account_id: string;
  permission_profile_id?: number | string | null;
  status?: 'active' | 'pending';
  /** Groups of the account to add the user to. */
  group_ids?: (number | string)[];
}

export interface MembershipPatch {
  status?: MembershipStatus;
  permission_profile_id?: number | string | null;
  /** The user's groups in the membership's account, replacing the present ones. */
  group_ids?: (number | string)[];
}

/** What `enrol` did: made a new user, or gave an existing one (found by email) a membership. */
export interface Enrolment {
  user: UserView;
  created: boolean;
  membership_id: string;
}

export type RedactionStatus = 'success' | 'already_redacted';

export interface Redaction {
  user_id: string;
  status: RedactionStatus;
  accounts: { account_id: string; status: RedactionStatus }[];
}

/** The address a redacted user's email is replaced with: `.invalid` can never be a real mailbox. */
export function redactedEmail(userId: string): string {
  return `redacted-${userId}@redacted.invalid`;
}

export const REDACTED_NAME = '[redacted]';

/**
 * A user as `principal` may see them: a member (key or session) sees the user's membership in the account it
 * acts in only, never where else the user belongs (reads are scoped like writes); owners and admins see all.
 */
function view(principal: Principal, user: User, memberships: MembershipView[]): UserView {
  const {
    password_hash: _hash,
    password_changed_at: _changed,
    totp_secret: _secret,
    totp_pending_secret: _pending,
    totp_enabled_at: enabledAt,
    totp_last_step: _step,
    ...rest
  } = user;
  return { ...rest, mfa_enabled: enabledAt != null, memberships: visibleTo(principal, memberships) };
}

function visibleTo(principal: Principal, memberships: MembershipView[]): MembershipView[] {
  if (principal.role !== 'member') return memberships;
  return memberships.filter((m) => m.account_id === principal.accountId);
}

export class UsersService {
  /**
   * `emailChanges` is how update() asks for a new email (src/core/users/email-changes.ts); `activation`
   * mails a new user their activation link when asked (src/core/auth/activation.ts). Required, not optional:
   * every service that creates people through this one (provisioning, account creation, eSignature batches)
   * then honours `send_activation` alike, instead of some of them failing or ignoring it.
   */
  constructor(
    private readonly db: Db,
    private readonly emailChanges: EmailChanges,
    private readonly activation: Activation,
  ) {}

  async get(ctx: Ctx, id: string, db: Db = this.db): Promise<UserView> {
    const found = await findUserWithMemberships(db, ctx.principal.organizationId, id);
    if (!found) throw notFound('user', id);
    // As load(): a member sees only the people of their own account.
    const { principal } = ctx;
    if (
      principal.role === 'member' &&
      principal.accountId &&
      !found.memberships.some((m) => m.account_id === principal.accountId)
    ) {
      throw notFound('user', id);
    }
    return view(principal, found.user, found.memberships);
  }

  async list(ctx: Ctx, q: UserFilter & { limit?: number; cursor?: string }): Promise<Page<UserView>> {
    const limit = q.limit ?? DEFAULT_LIMIT;
    const filter: UserFilter = { ...q };
    const { principal } = ctx;
    if (principal.role === 'member') {
      // Members see the people of their own account only.
      if (filter.accountId && filter.accountId !== principal.accountId)
        return { data: [], next_cursor: null };
      filter.accountId = principal.accountId ?? undefined;
    }
    const rows = await listUsers(this.db, principal.organizationId, filter, decodeCursor(q.cursor), limit);
    const page = toPage(rows, limit, (u) => u.id);
    const memberships = await membershipsOf(
      this.db,
      page.data.map((u) => u.id),
    );
    return {
      data: page.data.map((u) => view(principal, u, memberships.get(u.id) ?? [])),
      next_cursor: page.next_cursor,
    };
  }

  /** One page by position (`offset` rows skipped) and the number of users matching in all. */
  async listAt(
    ctx: Ctx,
    q: UserFilter & { offset: number; limit: number },
  ): Promise<{ data: UserView[]; total: number }> {
    const { offset, limit, ...filter } = q;
    const { principal } = ctx;
    if (principal.role === 'member') {
      // Members see the people of their own account only (as in list).
      if (filter.accountId && filter.accountId !== principal.accountId) return { data: [], total: 0 };
      filter.accountId = principal.accountId ?? undefined;
    }
    const [rows, total] = await Promise.all([
      listUsersAt(this.db, principal.organizationId, filter, offset, limit),
      countUsers(this.db, principal.organizationId, filter),
    ]);
    const memberships = await membershipsOf(
      this.db,
      rows.map((u) => u.id),
    );
    return { data: rows.map((u) => view(principal, u, memberships.get(u.id) ?? [])), total };
  }

  /** The user with this email address (case-insensitively), if the caller may see them. */
  async getByEmail(ctx: Ctx, email: string): Promise<UserView | null> {
    const user = await findUserByEmail(this.db, ctx.principal.organizationId, email);
    if (!user) return null;
    try {
      return await this.get(ctx, user.id);
    } catch (err) {
      if (err instanceof AppError && err.code === 'not_found') return null;
      throw err;
    }
  }

  /** Names of the accounts, permission profiles and groups the memberships point at. */
  async labels(
    ctx: Ctx,
    memberships: readonly MembershipView[],
    db: Db = this.db,
  ): Promise<MembershipLabels> {
    return membershipLabels(db, ctx.principal.organizationId, memberships);
  }

  async create(ctx: Ctx, input: CreateUserInput): Promise<UserView> {
    return mutate(this.db, ctx, (trx, audit) => this.createIn(ctx, trx, audit, input), {
      users_org_email_key: EMAIL_TAKEN(input.email),
    });
  }

  /**
   * Puts the person with `input.email` into `input.account_id`: a user of the organization with that address
   * gets a membership there (a closed one is reopened), anyone else is created as a new user.
   */
  async enrol(ctx: Ctx, input: CreateUserInput & { account_id: string }): Promise<Enrolment> {
    return mutate(
      this.db,
      ctx,
      async (trx, audit) => {
        const existing = await findUserByEmail(trx, ctx.principal.organizationId, input.email);
        if (!existing) {
          const user = await this.createIn(ctx, trx, audit, input);
          return { user, created: true, membership_id: user.memberships[0]!.id };
        }
        await accountInBody(ctx, trx, input.account_id);
        const membershipId = await this.membershipIn(ctx, trx, audit, existing.id, {
          account_id: input.account_id,
          permission_profile_id: input.permission_profile_id,
          status: input.membership_status,
          group_ids: input.group_ids,
        });
        return { user: await this.get(ctx, existing.id, trx), created: false, membership_id: membershipId };
      },
      { users_org_email_key: EMAIL_TAKEN(input.email) },
    );
  }

  private async createIn(ctx: Ctx, trx: Db, audit: AuditBuffer, input: CreateUserInput): Promise<UserView> {
    const { principal } = ctx;
    const accountId = input.account_id ?? principal.accountId;
    if (!accountId) throw invalidField('account_id', 'required: the account the user gets a membership in');
    const role = input.role ?? 'member';
    this.assertMayGrant(ctx, role);
    await accountInBody(ctx, trx, accountId);
    // Named neither a profile nor groups: the account's HR mapping rules may decide both (else the default).
    const mapped =
      input.permission_profile_id === undefined && (input.group_ids ?? []).length === 0
        ? await resolveMapping(trx, accountId, input)
        : null;
    const extra = mapped ? { mapping_rule_id: mapped.rule_id } : undefined;
    const why = extra ? { extra } : {};
    const user = await trx
      .insertInto('users')
      .values({
        id: newId(),
        organization_id: principal.organizationId,
        email: input.email,
        first_name: input.first_name ?? '',
        last_name: input.last_name ?? '',
        job_title: input.job_title ?? null,
        department: input.department ?? null,
        company: input.company ?? null,
        language: input.language ?? null,
        role,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    audit.record({
      action: 'user.created',
      targetType: 'user',
      targetId: user.id,
      accountId,
      after: user,
      ...why,
    });
    await this.addMembership(
      ctx,
      trx,
      audit,
      user,
      {
        account_id: accountId,
        permission_profile_id: mapped ? mapped.permission_profile_id : input.permission_profile_id,
        status: input.membership_status,
      },
      extra,
    );
    const groupIds = await groupsInAccount(trx, accountId, mapped?.group_ids ?? input.group_ids ?? []);
    await this.addToGroups(trx, audit, accountId, user.id, groupIds, extra);
    const seen = new Set([accountId]);
    for (const other of input.other_memberships ?? []) {
      if (seen.has(other.account_id)) {
        throw invalidField('account_id', `account ${other.account_id} is named twice`);
      }
      seen.add(other.account_id);
      await accountInBody(ctx, trx, other.account_id);
      await this.membershipIn(ctx, trx, audit, user.id, other);
    }
    if (input.send_activation) await this.sendActivation(trx, audit, user, accountId);
    return this.get(ctx, user.id, trx);
  }

  /** Queues an activation mail to a user with no password yet, sent once the transaction commits. */
  private async sendActivation(trx: Db, audit: AuditBuffer, user: User, accountId: string): Promise<void> {
    if (user.password_hash !== null || user.status !== 'active') return;
    const activation = this.activation;
    const id = await activation.queue(trx, audit, user, accountId);
    afterCommit(trx, () => activation.dispatch([id]));
  }

  /**
   * Changes the user's fields and memberships in one transaction. A new email is not set here: it waits in
   * `pending_email` until the link mailed to it is followed (src/core/users/email-changes.ts).
   */
  async update(ctx: Ctx, id: string, input: UpdateUserInput): Promise<UserView> {
    const { memberships: membershipPatches, email, ...patch } = input;
    return mutate(this.db, ctx, async (trx, audit) => {
      const before = await this.load(ctx, id, trx, true);
      await this.assertMayManage(ctx, trx, before);
      if (patch.role !== undefined && patch.role !== before.role) {
        this.assertMayGrant(ctx, patch.role);
        if (before.role === 'owner') await this.assertNotLastOwner(trx, before);
      }
      const fields = Object.keys(email === undefined ? patch : { ...patch, email });
      if (fields.length > 0) {
        // The user row is one person in every account they belong to: changing it reaches all of them.
        // Asking for an email change is checked like making it (the link goes where the caller says).
        await requireReach(trx, ctx.principal, id, 'manage_users', `changing ${fields.sort().join(', ')}`);
      }
      if (Object.keys(patch).length > 0 || (membershipPatches === undefined && email === undefined)) {
        const after = await trx
          .updateTable('users')
          .set({ ...patch, updated_at: new Date() })
          .where('id', '=', id)
          .returningAll()
          .executeTakeFirstOrThrow();
        audit.record({ action: 'user.updated', targetType: 'user', targetId: id, before, after });
      }
      if (email !== undefined) {
        const mailIds = await this.emailChanges.request(trx, audit, id, email);
        // Handed to SMTP once the request's transaction (this one, or the one it joined) has committed.
        afterCommit(trx, () => this.emailChanges.dispatch(mailIds));
      }
      for (const { account_id, ...change } of membershipPatches ?? []) {
        const membership = await trx
          .selectFrom('memberships')
          .selectAll()
          .where('user_id', '=', id)
          .where('account_id', '=', account_id)
          .forUpdate()
          .executeTakeFirst();
        if (!membership) {
          throw invalidField(
            'memberships.account_id',
            `user ${id} has no membership in account ${account_id}`,
            'invalid_reference',
          );
        }
        await this.patchMembership(ctx, trx, audit, before, membership, change);
      }
      return this.get(ctx, id, trx);
    });
  }

  /** Deactivation closes every open membership, freeing the seats; reactivation reopens exactly those. */
  async setStatus(ctx: Ctx, id: string, status: UserStatus): Promise<UserView> {
    return mutate(this.db, ctx, async (trx, audit) => {
      const before = await this.load(ctx, id, trx, true);
      await this.assertMayManage(ctx, trx, before);
      if (before.status === status) return this.get(ctx, id, trx);
      // Deactivation closes every membership, reactivation reopens them: both reach every such account.
      await requireReach(
        trx,
        ctx.principal,
        id,
        'manage_users',
        status === 'deactivated' ? 'deactivating' : 'reactivating',
      );
      if (status === 'deactivated' && before.role === 'owner') await this.assertNotLastOwner(trx, before);
      const after = await trx
        .updateTable('users')
        .set({ status, updated_at: new Date() })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirstOrThrow();
      audit.record({
        action: status === 'deactivated' ? 'user.deactivated' : 'user.reactivated',
        targetType: 'user',
        targetId: id,
        before,
        after,
      });
      const now = new Date();
      const changed =
        status === 'deactivated'
          ? await trx
              .updateTable('memberships')
              .set({ status: 'closed', closed_at: now, updated_at: now, closed_by_deactivation: true })
              .where('user_id', '=', id)
              .where('status', '!=', 'closed')
              .returning(['id', 'account_id'])
              .execute()
          : await trx
              .updateTable('memberships')
              .set({ status: 'active', closed_at: null, updated_at: now, closed_by_deactivation: false })
              .where('user_id', '=', id)
              .where('closed_by_deactivation', '=', true)
              .returning(['id', 'account_id'])
              .execute();
      for (const m of changed) {
        audit.record({
          action: status === 'deactivated' ? 'membership.closed' : 'membership.activated',
          targetType: 'membership',
          targetId: m.id,
          accountId: m.account_id,
          after: { user_id: id, status: status === 'deactivated' ? 'closed' : 'active' },
        });
      }
      return this.get(ctx, id, trx);
    });
  }

  async memberships(ctx: Ctx, userId: string): Promise<MembershipView[]> {
    await this.load(ctx, userId);
    return visibleTo(ctx.principal, (await membershipsOf(this.db, [userId])).get(userId) ?? []);
  }

  async createMembership(ctx: Ctx, userId: string, input: MembershipInput): Promise<MembershipView> {
    return mutate(this.db, ctx, async (trx, audit) => {
      await this.load(ctx, userId, trx, true);
      await accountInBody(ctx, trx, input.account_id);
      const id = await this.membershipIn(ctx, trx, audit, userId, input);
      return this.membershipView(trx, userId, id);
    });
  }

  async updateMembership(
    ctx: Ctx,
    userId: string,
    membershipId: string,
    patch: MembershipPatch,
  ): Promise<MembershipView> {
    return mutate(this.db, ctx, async (trx, audit) => {
      const user = await this.load(ctx, userId, trx, true);
      const before = await trx
        .selectFrom('memberships')
        .selectAll()
        .where('id', '=', membershipId)
        .where('user_id', '=', userId)
        .forUpdate()
        .executeTakeFirst();
      if (!before) throw notFound('membership', membershipId);
      await this.patchMembership(ctx, trx, audit, user, before, patch);
      return this.membershipView(trx, userId, membershipId);
    });
  }

  /**
   * Erases a user's personal data (names, email, job details, password; their sessions, tokens and mail) for
   * a data-deletion request. Signet keeps personal data on the user, not per membership, so the user must
   * have no open membership left: every membership closed (or the user deactivated). `accountIds` names the
   * memberships the request is about; each must be one of the user's. The audit event records which fields
   * were erased, never their values. A user already redacted is reported as such and left alone.
   */
  async redact(ctx: Ctx, userId: string, accountIds: readonly string[]): Promise<Redaction> {
    return mutate(this.db, ctx, async (trx, audit) => {
      const user = await this.load(ctx, userId, trx, true);
      await this.assertMayManage(ctx, trx, user);
      // The user row is one person in every account: erasing it reaches each account they belong to.
      await requireReach(trx, ctx.principal, userId, 'manage_users', 'erasing the personal data');
      const memberships = await trx
        .selectFrom('memberships')
        .selectAll()
        .where('user_id', '=', userId)
        .orderBy('created_at')
        .forUpdate()
        .execute();
      const byAccount = new Map(memberships.map((m) => [m.account_id, m]));
      for (const accountId of accountIds) {
        if (!byAccount.has(accountId)) {
          throw invalidField(
            'account_id',
            `user ${userId} has no membership in account ${accountId}`,
            'invalid_reference',
          );
        }
        requireAccountAccess(ctx.principal, accountId);
      }
      const already = user.email === redactedEmail(userId);
      const status: RedactionStatus = already ? 'already_redacted' : 'success';
      const result = {
        user_id: userId,
        status,
        accounts: accountIds.map((account_id) => ({ account_id, status })),
      };
      if (already) return result;
      const open = memberships.filter((m) => m.status !== 'closed');
      if (open.length > 0) {
        throw new AppError(
          'conflict',
          `user ${userId} still has ${open.length} open membership(s) (in account ${open
            .map((m) => m.account_id)
            .join(', ')}); close them or deactivate the user before deleting their data`,
          open.map((m) => ({
            field: 'account_id',
            message: 'membership not closed',
            account_id: m.account_id,
          })),
        );
      }
      if (user.status === 'active' && user.role === 'owner') await this.assertNotLastOwner(trx, user);
      const now = new Date();
      await trx
        .updateTable('users')
        .set({
          email: redactedEmail(userId),
          first_name: REDACTED_NAME,
          last_name: REDACTED_NAME,
          job_title: null,
          department: null,
          company: null,
          language: null,
          password_hash: null,
          email_verified_at: null,
          pending_email: null,
          status: 'deactivated',
          updated_at: now,
        })
        .where('id', '=', userId)
        .execute();
      await trx
        .updateTable('sessions')
        .set({ ended_at: now, ip: null, user_agent: null })
        .where('user_id', '=', userId)
        .execute();
      await trx.deleteFrom('user_tokens').where('user_id', '=', userId).execute();
      await trx
        .updateTable('invites')
        .set({ email: redactedEmail(userId), updated_at: now })
        .where('organization_id', '=', user.organization_id)
        .where((eb) =>
          eb.or([eb('accepted_user_id', '=', userId), eb(sql`lower(email)`, '=', user.email.toLowerCase())]),
        )
        .execute();
      const addresses = [user.email, user.pending_email]
        .filter((a) => a !== null)
        .map((a) => a.toLowerCase());
      await trx
        .deleteFrom('outbox_mail')
        .where('organization_id', '=', user.organization_id)
        .where(sql`lower("to")`, 'in', addresses)
        .execute();
      audit.record({
        action: 'user.redacted',
        targetType: 'user',
        targetId: userId,
        extra: {
          erased: [
            'email',
            'first_name',
            'last_name',
            'job_title',
            'department',
            'company',
            'language',
            'password',
          ],
          accounts: [...accountIds],
          status_before: user.status,
        },
      });
      return result;
    });
  }

  // --- internals -------------------------------------------------------------------------------------

  private async load(ctx: Ctx, id: string, db: Db = this.db, lock = false): Promise<User> {
    let query = db
      .selectFrom('users')
      .selectAll()
      .where('organization_id', '=', ctx.principal.organizationId)
      .where('id', '=', id);
    if (lock) query = query.forUpdate();
    const user = lock ? await query.executeTakeFirst() : await findUser(db, ctx.principal.organizationId, id);
    if (!user) throw notFound('user', id);
    if (ctx.principal.role === 'member' && ctx.principal.accountId) {
      const inAccount = await db
        .selectFrom('memberships')
        .select('id')
        .where('user_id', '=', id)
        .where('account_id', '=', ctx.principal.accountId)
        .executeTakeFirst();
      if (!inAccount) throw notFound('user', id);
    }
    return user;
  }

  /** Only an owner makes owners; nobody grants a role above their own. */
  private assertMayGrant(ctx: Ctx, role: OrgRole): void {
    requireMayGrantRole(ctx.principal.role, role);
  }

  /** Admins cannot change owners; members cannot change admins or owners. */
  private async assertMayManage(ctx: Ctx, _db: Db, target: User): Promise<void> {
    requireMayManageRole(ctx.principal.role, target);
  }

  /**
   * Nobody assigns a profile granting more than they hold (whether the request, a mapping rule or the
   * account's default chose it).
   */
  private async assertMayAssign(
    ctx: Ctx,
    trx: Db,
    accountId: string,
    profileId: number | null,
  ): Promise<void> {
    if (profileId === null || (ctx.principal.role !== 'member' && !ctx.principal.scopes)) return;
    const profile = await profileInAccount(trx, accountId, profileId);
    requireHolds(
      ctx.principal,
      profile.permissions,
      `permission profile "${profile.name}"`,
      'permission_profile_id',
    );
  }

  /** The membership's current profile is within what the caller holds (see patchMembership). */
  private async assertMayManageProfile(ctx: Ctx, trx: Db, membership: Membership): Promise<void> {
    if (membership.permission_profile_id === null) return;
    if (ctx.principal.role !== 'member' && !ctx.principal.scopes) return;
    const profile = await profileInAccount(trx, membership.account_id, membership.permission_profile_id);
    requireHolds(
      ctx.principal,
      profile.permissions,
      `the membership's current permission profile "${profile.name}"`,
      'permission_profile_id',
    );
  }

  private async assertNotLastOwner(db: Db, owner: User): Promise<void> {
    if (owner.status === 'active' && (await countActiveOwners(db, owner.organization_id)) <= 1) {
      throw new AppError(
        'last_owner',
        `user ${owner.id} is the organization's last active owner; make another owner first`,
      );
    }
  }

  private async addMembership(
    ctx: Ctx,
    trx: Db,
    audit: AuditBuffer,
    user: User,
    input: MembershipInput,
    extra?: Record<string, unknown>,
  ): Promise<string> {
    // undefined: the account's default profile; null: none. Resolved here: assigning it is checked.
    const profileId =
      input.permission_profile_id === undefined
        ? await defaultProfileId(trx, input.account_id)
        : input.permission_profile_id === null
          ? null
          : (await profileInAccount(trx, input.account_id, input.permission_profile_id)).id;
    await this.assertMayAssign(ctx, trx, input.account_id, profileId);
    const row = await openMembership(trx, audit, {
      user,
      accountId: input.account_id,
      status: input.status,
      profileId,
      extra,
    });
    return row.id;
  }

  /** A membership for an existing user in an account already checked, with the groups it names. */
  private async membershipIn(
    ctx: Ctx,
    trx: Db,
    audit: AuditBuffer,
    userId: string,
    input: MembershipInput,
  ): Promise<string> {
    const user = await trx.selectFrom('users').selectAll().where('id', '=', userId).executeTakeFirstOrThrow();
    const id = await this.addMembership(ctx, trx, audit, user, input);
    const groupIds = await groupsInAccount(trx, input.account_id, input.group_ids ?? []);
    await this.addToGroups(trx, audit, input.account_id, userId, groupIds);
    return id;
  }

  private async addToGroups(
    trx: Db,
    audit: AuditBuffer,
    accountId: string,
    userId: string,
    groupIds: readonly number[],
    extra?: Record<string, unknown>,
  ): Promise<void> {
    if (groupIds.length === 0) return;
    const added = await trx
      .insertInto('group_members')
      .values(groupIds.map((group_id) => ({ group_id, user_id: userId })))
      .onConflict((oc) => oc.columns(['group_id', 'user_id']).doNothing())
      .returning('group_id')
      .execute();
    for (const { group_id } of added) {
      audit.record({
        action: 'group.member_added',
        targetType: 'group',
        targetId: String(group_id),
        accountId,
        after: { user_id: userId },
        ...(extra ? { extra } : {}),
      });
    }
  }

  private async patchMembership(
    ctx: Ctx,
    trx: Db,
    audit: AuditBuffer,
    user: User,
    before: Membership,
    patch: MembershipPatch,
  ): Promise<void> {
    requireAccountAccess(ctx.principal, before.account_id);
    if (patch.status && patch.status !== 'closed' && user.status === 'deactivated') {
      throw new AppError('conflict', `user ${user.id} is deactivated; reactivate the user first`);
    }
    const set: Record<string, unknown> = { updated_at: new Date() };
    // Whoever changes a membership's profile or status must hold at least what its current profile grants:
    // nobody demotes or closes someone above themselves (docs/security.md, "Nobody grants more than they hold").
    const changesProfile =
      patch.permission_profile_id !== undefined &&
      patch.permission_profile_id !== before.permission_profile_id;
    if (changesProfile || (patch.status !== undefined && patch.status !== before.status)) {
      await this.assertMayManageProfile(ctx, trx, before);
    }
    if (patch.permission_profile_id !== undefined) {
      set.permission_profile_id =
        patch.permission_profile_id === null
          ? null
          : (await profileInAccount(trx, before.account_id, patch.permission_profile_id)).id;
      if (set.permission_profile_id !== before.permission_profile_id)
        await this.assertMayAssign(ctx, trx, before.account_id, set.permission_profile_id as number | null);
    }
    if (patch.status !== undefined && patch.status !== before.status) {
      set.status = patch.status;
      set.closed_at = patch.status === 'closed' ? new Date() : null;
      set.closed_by_deactivation = false;
    }
    if (Object.keys(set).length > 1 || patch.group_ids === undefined) {
      const after = await trx
        .updateTable('memberships')
        .set(set)
        .where('id', '=', before.id)
        .returningAll()
        .executeTakeFirstOrThrow();
      audit.record({
        action: 'membership.updated',
        targetType: 'membership',
        targetId: before.id,
        accountId: before.account_id,
        before,
        after,
      });
    }
    if (patch.group_ids !== undefined) {
      const wanted = await groupsInAccount(trx, before.account_id, patch.group_ids);
      const removed = await trx
        .deleteFrom('group_members')
        .where('user_id', '=', user.id)
        .where((eb) =>
          eb(
            'group_id',
            'in',
            // Everyone follows the membership itself (0013): replacing the groups never leaves it.
            eb
              .selectFrom('groups')
              .select('id')
              .where('account_id', '=', before.account_id)
              .where('group_type', '!=', 'everyone'),
          ),
        )
        .$if(wanted.length > 0, (q) => q.where('group_id', 'not in', wanted))
        .returning('group_id')
        .execute();
      for (const { group_id } of removed) {
        audit.record({
          action: 'group.member_removed',
          targetType: 'group',
          targetId: String(group_id),
          accountId: before.account_id,
          before: { user_id: user.id },
        });
      }
      await this.addToGroups(trx, audit, before.account_id, user.id, wanted);
    }
  }

  private async membershipView(db: Db, userId: string, membershipId: string): Promise<MembershipView> {
    const all = (await membershipsOf(db, [userId])).get(userId) ?? [];
    return all.find((m) => m.id === membershipId)!;
  }
}
