// Users are people (unique by email within an organization); memberships place them in accounts. An active
// membership is a seat: the seat count and limit are kept by the database (see the memberships trigger).
import type { Db } from '../../db/connection.ts';
import type { MembershipStatus, OrgRole, User, UserStatus } from '../../db/schema.ts';
import type { AuditBuffer } from '../audit/writer.ts';
import { type Ctx, mutate } from '../context.ts';
import { AppError, invalidField, notFound } from '../errors.ts';
import { newId } from '../ids.ts';
import { resolveMapping } from '../mapping-rules/match.ts';
import { DEFAULT_LIMIT, decodeCursor, type Page, toPage } from '../pagination.ts';
import { requireAccountAccess, roleAtLeast } from '../principal.ts';
import { accountInBody, defaultProfileId, groupsInAccount, profileInAccount } from '../refs.ts';
import {
  countActiveOwners,
  findUser,
  listUsers,
  type MembershipView,
  membershipsOf,
  type UserFilter,
} from './repository.ts';

export interface UserView extends Omit<User, 'password_hash'> {
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
}

export interface UpdateUserInput extends UserProfileFields {
  email?: string;
  role?: OrgRole;
}

export interface MembershipInput {
  account_id: string;
  permission_profile_id?: number | string | null;
  status?: 'active' | 'pending';
}

export interface MembershipPatch {
  status?: MembershipStatus;
  permission_profile_id?: number | string | null;
}

const EMAIL_TAKEN = (email: string) =>
  new AppError('email_taken', `a user with email ${email} already exists in this organization`, [
    { field: 'email', message: 'already in use' },
  ]);

function view(user: User, memberships: MembershipView[]): UserView {
  const { password_hash: _omit, ...rest } = user;
  return { ...rest, memberships };
}

export class UsersService {
  constructor(private readonly db: Db) {}

  async get(ctx: Ctx, id: string, db: Db = this.db): Promise<UserView> {
    const user = await this.load(ctx, id, db);
    return view(user, (await membershipsOf(db, [id])).get(id) ?? []);
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
      data: page.data.map((u) => view(u, memberships.get(u.id) ?? [])),
      next_cursor: page.next_cursor,
    };
  }

  async create(ctx: Ctx, input: CreateUserInput): Promise<UserView> {
    const { principal } = ctx;
    const accountId = input.account_id ?? principal.accountId;
    if (!accountId) throw invalidField('account_id', 'required: the account the user gets a membership in');
    const role = input.role ?? 'member';
    this.assertMayGrant(ctx, role);
    return mutate(
      this.db,
      ctx,
      async (trx, audit) => {
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
        if (groupIds.length > 0) {
          await trx
            .insertInto('group_members')
            .values(groupIds.map((group_id) => ({ group_id, user_id: user.id })))
            .execute();
          for (const groupId of groupIds) {
            audit.record({
              action: 'group.member_added',
              targetType: 'group',
              targetId: String(groupId),
              accountId,
              after: { user_id: user.id },
              ...why,
            });
          }
        }
        return this.get(ctx, user.id, trx);
      },
      { users_org_email_key: EMAIL_TAKEN(input.email) },
    );
  }

  async update(ctx: Ctx, id: string, patch: UpdateUserInput): Promise<UserView> {
    return mutate(
      this.db,
      ctx,
      async (trx, audit) => {
        const before = await this.load(ctx, id, trx, true);
        await this.assertMayManage(ctx, trx, before);
        if (patch.role !== undefined && patch.role !== before.role) {
          this.assertMayGrant(ctx, patch.role);
          if (before.role === 'owner') await this.assertNotLastOwner(trx, before);
        }
        const after = await trx
          .updateTable('users')
          .set({ ...patch, updated_at: new Date() })
          .where('id', '=', id)
          .returningAll()
          .executeTakeFirstOrThrow();
        audit.record({ action: 'user.updated', targetType: 'user', targetId: id, before, after });
        return this.get(ctx, id, trx);
      },
      { users_org_email_key: EMAIL_TAKEN(patch.email ?? '') },
    );
  }

  /** Deactivation closes every open membership, freeing the seats; reactivation reopens exactly those. */
  async setStatus(ctx: Ctx, id: string, status: UserStatus): Promise<UserView> {
    return mutate(this.db, ctx, async (trx, audit) => {
      const before = await this.load(ctx, id, trx, true);
      await this.assertMayManage(ctx, trx, before);
      if (before.status === status) return this.get(ctx, id, trx);
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
    return (await membershipsOf(this.db, [userId])).get(userId) ?? [];
  }

  async createMembership(ctx: Ctx, userId: string, input: MembershipInput): Promise<MembershipView> {
    return mutate(this.db, ctx, async (trx, audit) => {
      const user = await this.load(ctx, userId, trx, true);
      await accountInBody(ctx, trx, input.account_id);
      const id = await this.addMembership(trx, audit, user, input);
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
      requireAccountAccess(ctx.principal, before.account_id);
      if (patch.status && patch.status !== 'closed' && user.status === 'deactivated') {
        throw new AppError('conflict', `user ${userId} is deactivated; reactivate the user first`);
      }
      const set: Record<string, unknown> = { updated_at: new Date() };
      if (patch.permission_profile_id !== undefined) {
        set.permission_profile_id =
          patch.permission_profile_id === null
            ? null
            : (await profileInAccount(trx, before.account_id, patch.permission_profile_id)).id;
      }
      if (patch.status !== undefined && patch.status !== before.status) {
        set.status = patch.status;
        set.closed_at = patch.status === 'closed' ? new Date() : null;
        set.closed_by_deactivation = false;
      }
      const after = await trx
        .updateTable('memberships')
        .set(set)
        .where('id', '=', membershipId)
        .returningAll()
        .executeTakeFirstOrThrow();
      audit.record({
        action: 'membership.updated',
        targetType: 'membership',
        targetId: membershipId,
        accountId: before.account_id,
        before,
        after,
      });
      return this.membershipView(trx, userId, membershipId);
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
    const mine = ctx.principal.role;
    if (!roleAtLeast(mine, role) || (role === 'owner' && mine !== 'owner')) {
      throw new AppError('permission_denied', `a ${mine} cannot grant the organization role "${role}"`, [
        { field: 'role', message: 'above your own role' },
      ]);
    }
  }

  /** Admins cannot change owners; members cannot change admins or owners. */
  private async assertMayManage(ctx: Ctx, _db: Db, target: User): Promise<void> {
    const mine = ctx.principal.role;
    if (target.role === 'owner' && mine !== 'owner') {
      throw new AppError('permission_denied', `only an owner can change the owner ${target.id}`);
    }
    if (target.role === 'admin' && mine === 'member') {
      throw new AppError('permission_denied', `a member cannot change the admin ${target.id}`);
    }
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
    trx: Db,
    audit: AuditBuffer,
    user: User,
    input: MembershipInput,
    extra?: Record<string, unknown>,
  ): Promise<string> {
    const profileId =
      input.permission_profile_id === undefined
        ? await defaultProfileId(trx, input.account_id)
        : input.permission_profile_id === null
          ? null
          : (await profileInAccount(trx, input.account_id, input.permission_profile_id)).id;
    const existing = await trx
      .selectFrom('memberships')
      .selectAll()
      .where('account_id', '=', input.account_id)
      .where('user_id', '=', user.id)
      .forUpdate()
      .executeTakeFirst();
    if (existing && existing.status !== 'closed') {
      throw new AppError(
        'already_member',
        `user ${user.id} already has a membership in account ${input.account_id}`,
        [{ field: 'account_id', message: 'already a member', membership_id: existing.id }],
      );
    }
    if (user.status === 'deactivated') {
      throw new AppError('conflict', `user ${user.id} is deactivated; reactivate the user first`);
    }
    const now = new Date();
    const values = {
      status: input.status ?? 'active',
      permission_profile_id: profileId,
      updated_at: now,
      closed_at: null,
      closed_by_deactivation: false,
    } as const;
    const row = existing
      ? await trx
          .updateTable('memberships')
          .set(values)
          .where('id', '=', existing.id)
          .returningAll()
          .executeTakeFirstOrThrow()
      : await trx
          .insertInto('memberships')
          .values({
            ...values,
            id: newId(),
            organization_id: user.organization_id,
            account_id: input.account_id,
            user_id: user.id,
          })
          .returningAll()
          .executeTakeFirstOrThrow();
    audit.record({
      action: existing ? 'membership.reopened' : 'membership.created',
      targetType: 'membership',
      targetId: row.id,
      accountId: input.account_id,
      before: existing ?? null,
      after: row,
      ...(extra ? { extra } : {}),
    });
    return row.id;
  }

  private async membershipView(db: Db, userId: string, membershipId: string): Promise<MembershipView> {
    const all = (await membershipsOf(db, [userId])).get(userId) ?? [];
    return all.find((m) => m.id === membershipId)!;
  }
}
