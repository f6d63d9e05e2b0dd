// Groups belong to an account: a name unique in it (case-insensitively), optionally a permission profile of the
// same account (eSignature's Group.permissionProfileId: a label Signet keeps, not a grant), and a set of
// members. A member is a user of the organization with a membership (of any status) in the group's account.
// Bulk changes are all-or-nothing: one id that does not qualify refuses the whole request.
//
// Every account also has DocuSign's two built-in groups (./builtin.ts), created with it: Administrators
// (`admin`) and Everyone (`everyone`). Neither can be deleted or renamed. Everyone holds every user with a
// membership in the account, kept by the database on every write path (0013), so its members are not added
// or removed by hand (adding one already there is a no-op, removing one is refused). Administrators' members
// are managed like any group's.
import { sql } from 'kysely';
import type { Db } from '../../db/connection.ts';
import type { Group, GroupType, MembershipStatus } from '../../db/schema.ts';
import { type Ctx, mutate } from '../context.ts';
import { AppError, invalidField, nameTaken, notFound } from '../errors.ts';
import { DEFAULT_LIMIT, decodeCursor, decodeIntCursor, type Page, toPage } from '../pagination.ts';
import { accountInPath, profileInAccount } from '../refs.ts';

export interface GroupView extends Group {
  /** group_type, under the name /api shows it. */
  type: GroupType;
  member_count: number;
}

export interface GroupInput {
  name: string;
  description?: string | null;
  /** A permission profile of the group's account, or null for none. */
  permission_profile_id?: number | null;
}

export type GroupPatch = Partial<GroupInput>;

export interface GroupMemberView {
  user_id: string;
  email: string;
  first_name: string;
  last_name: string;
  added_at: Date;
}

/** A page by position (for faces whose clients page with start/take or page/page_size), with the total. */
export interface OffsetPage<T> {
  data: T[];
  total: number;
}

export interface GroupMemberStatusView extends GroupMemberView {
  /** The member's membership status in the group's account. */
  membership_status: MembershipStatus;
}

export interface MembersAdded {
  added: string[];
  already_members: string[];
}

export interface MembersRemoved {
  removed: string[];
  not_members: string[];
}

function cleanName(name: string): string {
  const trimmed = name.trim();
  if (trimmed.length === 0) throw invalidField('name', 'must not be blank');
  return trimmed;
}

const BUILTIN_NAMES: Record<Exclude<GroupType, 'custom'>, string> = {
  admin: 'Administrators',
  everyone: 'Everyone',
};

/** A change a built-in group refuses (`operation` lets a face pick its own code, e.g. for a delete). */
function builtinRefused(group: Group, operation: 'delete' | 'rename' | 'remove_members', why: string) {
  const name = BUILTIN_NAMES[group.group_type as Exclude<GroupType, 'custom'>] ?? group.name;
  return new AppError(
    'builtin_group',
    `group ${group.id} is the built-in ${name} group: ${why}`,
    [{ field: 'group_type', message: `a built-in group (${group.group_type})`, operation }],
    'group',
  );
}

export class GroupsService {
  constructor(private readonly db: Db) {}

  async list(ctx: Ctx, accountId: string, q: { limit?: number; cursor?: string }): Promise<Page<GroupView>> {
    await accountInPath(ctx, this.db, accountId);
    const limit = q.limit ?? DEFAULT_LIMIT;
    const after = decodeIntCursor(q.cursor);
    let query = this.views(this.db, ctx, accountId)
      .orderBy('g.id')
      .limit(limit + 1);
    if (after !== undefined) query = query.where('g.id', '>', after);
    return toPage(await query.execute(), limit, (g) => String(g.id));
  }

  /** The account's groups by position, in id order (the same order as list), with the total count. */
  async listAt(
    ctx: Ctx,
    accountId: string,
    q: { offset: number; limit: number; search?: string; type?: GroupType },
  ): Promise<OffsetPage<GroupView>> {
    await accountInPath(ctx, this.db, accountId);
    // `search`: a case-insensitive part of the group's name.
    const pattern = q.search ? `%${q.search.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%` : undefined;
    const [data, count] = await Promise.all([
      this.views(this.db, ctx, accountId)
        .$if(pattern !== undefined, (qb) => qb.where(sql`lower(g.name)`, 'like', pattern!))
        .$if(q.type !== undefined, (qb) => qb.where('g.group_type', '=', q.type!))
        .orderBy('g.id')
        .offset(q.offset)
        .limit(q.limit)
        .execute(),
      this.db
        .selectFrom('groups')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .where('organization_id', '=', ctx.principal.organizationId)
        .where('account_id', '=', accountId)
        .$if(pattern !== undefined, (qb) => qb.where(sql`lower(name)`, 'like', pattern!))
        .$if(q.type !== undefined, (qb) => qb.where('group_type', '=', q.type!))
        .executeTakeFirstOrThrow(),
    ]);
    return { data, total: Number(count.n) };
  }

  /** The group with this GUID (its id on DocuSign's v2.1 faces, where groups are "DS groups"). */
  async getByDsGroupId(ctx: Ctx, accountId: string, dsGroupId: string): Promise<GroupView> {
    await accountInPath(ctx, this.db, accountId);
    const group = await this.views(this.db, ctx, accountId)
      .where('g.ds_group_id', '=', dsGroupId.toLowerCase())
      .executeTakeFirst();
    if (!group) throw notFound('group', dsGroupId);
    return group;
  }

  /**
   * The ids of the groups with these GUIDs, for a request body that names groups by GUID: one that is not a
   * group of the account refuses the request (422 naming `field`).
   */
  async idsOfDsGroups(
    ctx: Ctx,
    accountId: string,
    dsGroupIds: readonly string[],
    field = 'ds_groups',
  ): Promise<number[]> {
    const wanted = [...new Set(dsGroupIds.map((g) => g.toLowerCase()))];
    if (wanted.length === 0) return [];
    await accountInPath(ctx, this.db, accountId);
    const found = await this.db
      .selectFrom('groups')
      .select(['id', 'ds_group_id'])
      .where('organization_id', '=', ctx.principal.organizationId)
      .where('account_id', '=', accountId)
      .where('ds_group_id', 'in', wanted)
      .execute();
    const have = new Map(found.map((g) => [g.ds_group_id, g.id]));
    const missing = wanted.filter((g) => !have.has(g));
    if (missing.length > 0) {
      throw invalidField(
        field,
        `no group ${missing.join(', ')} in account ${accountId}`,
        'invalid_reference',
      );
    }
    return wanted.map((g) => have.get(g)!);
  }

  async get(ctx: Ctx, accountId: string, id: number, db: Db = this.db): Promise<GroupView> {
    await accountInPath(ctx, db, accountId);
    const group = await this.views(db, ctx, accountId).where('g.id', '=', id).executeTakeFirst();
    if (!group) throw notFound('group', id);
    return group;
  }

  async create(ctx: Ctx, accountId: string, input: GroupInput): Promise<GroupView> {
    const name = cleanName(input.name);
    return mutate(
      this.db,
      ctx,
      async (trx, audit) => {
        await accountInPath(ctx, trx, accountId);
        const profileId =
          input.permission_profile_id == null
            ? null
            : (await profileInAccount(trx, accountId, input.permission_profile_id)).id;
        const row = await trx
          .insertInto('groups')
          .values({
            organization_id: ctx.principal.organizationId,
            account_id: accountId,
            name,
            description: input.description ?? null,
            permission_profile_id: profileId,
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        audit.record({
          action: 'group.created',
          targetType: 'group',
          targetId: String(row.id),
          accountId,
          after: row,
        });
        return this.get(ctx, accountId, row.id, trx);
      },
      { groups_name_key: nameTaken('group', name) },
    );
  }

  async update(ctx: Ctx, accountId: string, id: number, patch: GroupPatch): Promise<GroupView> {
    const set: Partial<Pick<Group, 'name' | 'description' | 'permission_profile_id'>> = {};
    if (patch.name !== undefined) set.name = cleanName(patch.name);
    if (patch.description !== undefined) set.description = patch.description;
    return mutate(
      this.db,
      ctx,
      async (trx, audit) => {
        const before = await this.load(ctx, trx, accountId, id, 'no_key_update');
        // A built-in group keeps its name (sending the name it has is no change).
        if (set.name !== undefined && before.group_type !== 'custom') {
          if (set.name === before.name) delete set.name;
          else throw builtinRefused(before, 'rename', 'its name cannot change');
        }
        if (patch.permission_profile_id !== undefined) {
          set.permission_profile_id =
            patch.permission_profile_id === null
              ? null
              : (await profileInAccount(trx, accountId, patch.permission_profile_id)).id;
        }
        if (Object.keys(set).length === 0) return this.get(ctx, accountId, id, trx);
        const after = await trx
          .updateTable('groups')
          .set({ ...set, updated_at: new Date() })
          .where('id', '=', id)
          .returningAll()
          .executeTakeFirstOrThrow();
        audit.record({
          action: 'group.updated',
          targetType: 'group',
          targetId: String(id),
          accountId,
          before,
          after,
        });
        return this.get(ctx, accountId, id, trx);
      },
      { groups_name_key: nameTaken('group', set.name ?? '') },
    );
  }

  /** Deletes a group; its member list goes with it (the users and their memberships stay). */
  async delete(ctx: Ctx, accountId: string, id: number): Promise<void> {
    await mutate(this.db, ctx, async (trx, audit) => {
      const before = await this.load(ctx, trx, accountId, id, 'update');
      if (before.group_type !== 'custom') throw builtinRefused(before, 'delete', 'it cannot be deleted');
      const removed = await trx
        .deleteFrom('group_members')
        .where('group_id', '=', id)
        .returning('user_id')
        .execute();
      await trx.deleteFrom('groups').where('id', '=', id).execute();
      audit.record({
        action: 'group.deleted',
        targetType: 'group',
        targetId: String(id),
        accountId,
        before,
        after: null,
        extra: { members_removed: removed.length },
      });
    });
  }

  /** The group's members, keyset-paginated by user id. */
  async members(
    ctx: Ctx,
    accountId: string,
    id: number,
    q: { limit?: number; cursor?: string },
  ): Promise<Page<GroupMemberView>> {
    await this.load(ctx, this.db, accountId, id);
    const limit = q.limit ?? DEFAULT_LIMIT;
    const after = decodeCursor(q.cursor);
    let query = this.db
      .selectFrom('group_members as gm')
      .innerJoin('users as u', 'u.id', 'gm.user_id')
      .select(['u.id as user_id', 'u.email', 'u.first_name', 'u.last_name', 'gm.created_at as added_at'])
      .where('u.organization_id', '=', ctx.principal.organizationId)
      .where('gm.group_id', '=', id)
      .orderBy('gm.user_id')
      .limit(limit + 1);
    if (after) query = query.where('gm.user_id', '>', after);
    return toPage(await query.execute(), limit, (m) => m.user_id);
  }

  /** The group's members by position, in user id order (as members), with their membership status. */
  async membersAt(
    ctx: Ctx,
    accountId: string,
    id: number,
    q: { offset: number; limit: number },
  ): Promise<OffsetPage<GroupMemberStatusView>> {
    await this.load(ctx, this.db, accountId, id);
    const base = this.db
      .selectFrom('group_members as gm')
      .innerJoin('users as u', 'u.id', 'gm.user_id')
      .innerJoin('memberships as m', (join) =>
        join.onRef('m.user_id', '=', 'gm.user_id').on('m.account_id', '=', accountId),
      )
      .where('u.organization_id', '=', ctx.principal.organizationId)
      .where('gm.group_id', '=', id);
    const [data, count] = await Promise.all([
      base
        .select([
          'u.id as user_id',
          'u.email',
          'u.first_name',
          'u.last_name',
          'gm.created_at as added_at',
          'm.status as membership_status',
        ])
        .orderBy('gm.user_id')
        .offset(q.offset)
        .limit(q.limit)
        .execute(),
      base.select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow(),
    ]);
    return { data, total: Number(count.n) };
  }

  /**
   * Adds users to the group. Each must be a user of the organization with a membership in the group's account,
   * or nothing is added (422 naming the ids). Users already in the group are skipped and reported.
   */
  async addMembers(ctx: Ctx, accountId: string, id: number, userIds: string[]): Promise<MembersAdded> {
    const wanted = [...new Set(userIds.map((u) => u.toLowerCase()))];
    return mutate(this.db, ctx, async (trx, audit) => {
      // Locking the group serialises bulk changes to it and keeps it from being deleted meanwhile.
      await this.load(ctx, trx, accountId, id, 'no_key_update');
      const eligible = await trx
        .selectFrom('memberships as m')
        .innerJoin('users as u', 'u.id', 'm.user_id')
        .select('m.user_id')
        .where('u.organization_id', '=', ctx.principal.organizationId)
        .where('m.account_id', '=', accountId)
        .where('m.user_id', 'in', wanted)
        .execute();
      const ok = new Set(eligible.map((r) => r.user_id));
      const bad = wanted.filter((u) => !ok.has(u));
      if (bad.length > 0) {
        const shown = bad.slice(0, 10).join(', ') + (bad.length > 10 ? `, … (${bad.length} in all)` : '');
        throw new AppError(
          'user_not_in_account',
          `user_ids: ${bad.length} of the users are not users of this organization with a membership in ` +
            `account ${accountId}: ${shown}; nothing was added`,
          bad.map((user_id) => ({
            field: 'user_ids',
            message: 'not a user with a membership in this account',
            user_id,
          })),
        );
      }
      const inserted = await trx
        .insertInto('group_members')
        .values(wanted.map((user_id) => ({ group_id: id, user_id })))
        .onConflict((oc) => oc.columns(['group_id', 'user_id']).doNothing())
        .returning('user_id')
        .execute();
      const addedSet = new Set(inserted.map((r) => r.user_id));
      const added = wanted.filter((u) => addedSet.has(u));
      for (const user_id of added) {
        audit.record({
          action: 'group.member_added',
          targetType: 'group',
          targetId: String(id),
          accountId,
          after: { user_id },
        });
      }
      return { added, already_members: wanted.filter((u) => !addedSet.has(u)) };
    });
  }

  /** Removes users from the group; ids that are not members are reported, not refused. */
  async removeMembers(ctx: Ctx, accountId: string, id: number, userIds: string[]): Promise<MembersRemoved> {
    const wanted = [...new Set(userIds.map((u) => u.toLowerCase()))];
    return mutate(this.db, ctx, async (trx, audit) => {
      const group = await this.load(ctx, trx, accountId, id, 'no_key_update');
      if (group.group_type === 'everyone') {
        throw builtinRefused(
          group,
          'remove_members',
          'it holds every user with a membership in the account; close the membership instead',
        );
      }
      const deleted = await trx
        .deleteFrom('group_members')
        .where('group_id', '=', id)
        .where('user_id', 'in', wanted)
        .returning('user_id')
        .execute();
      const removedSet = new Set(deleted.map((r) => r.user_id));
      const removed = wanted.filter((u) => removedSet.has(u));
      for (const user_id of removed) {
        audit.record({
          action: 'group.member_removed',
          targetType: 'group',
          targetId: String(id),
          accountId,
          before: { user_id },
        });
      }
      return { removed, not_members: wanted.filter((u) => !removedSet.has(u)) };
    });
  }

  // --- internals -------------------------------------------------------------------------------------

  private views(db: Db, ctx: Ctx, accountId: string) {
    return db
      .selectFrom('groups as g')
      .selectAll('g')
      .select('g.group_type as type')
      .select(
        sql<number>`(SELECT count(*) FROM group_members gm WHERE gm.group_id = g.id)::integer`.as(
          'member_count',
        ),
      )
      .where('g.organization_id', '=', ctx.principal.organizationId)
      .where('g.account_id', '=', accountId);
  }

  /** `lock`: 'update' before deleting; 'no_key_update' to serialise changes without blocking references. */
  private async load(
    ctx: Ctx,
    db: Db,
    accountId: string,
    id: number,
    lock?: 'update' | 'no_key_update',
  ): Promise<Group> {
    await accountInPath(ctx, db, accountId);
    let query = db
      .selectFrom('groups')
      .selectAll()
      .where('organization_id', '=', ctx.principal.organizationId)
      .where('account_id', '=', accountId)
      .where('id', '=', id);
    if (lock === 'update') query = query.forUpdate();
    if (lock === 'no_key_update') query = query.forNoKeyUpdate();
    const group = await query.executeTakeFirst();
    if (!group) throw notFound('group', id);
    return group;
  }
}
