// SQL for users and memberships. Every query is confined to one organization by its first predicate.
import { type Expression, type SqlBool, sql } from 'kysely';
import type { Db } from '../../db/connection.ts';
import type { Membership, MembershipStatus, User, UserStatus } from '../../db/schema.ts';

export interface MembershipView extends Membership {
  group_ids: number[];
}

export interface UserFilter {
  accountId?: string;
  email?: string;
  status?: UserStatus;
  membershipStatus?: MembershipStatus;
  groupId?: number;
  permissionProfileId?: number;
  q?: string;
}

function likePattern(q: string): string {
  return `%${q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

export async function findUser(db: Db, orgId: string, id: string): Promise<User | undefined> {
  return db
    .selectFrom('users')
    .selectAll()
    .where('organization_id', '=', orgId)
    .where('id', '=', id)
    .executeTakeFirst();
}

export async function findUserByEmail(db: Db, orgId: string, email: string): Promise<User | undefined> {
  return db
    .selectFrom('users')
    .selectAll()
    .where('organization_id', '=', orgId)
    .where(sql`lower(email)`, '=', email.toLowerCase())
    .executeTakeFirst();
}

export async function listUsers(
  db: Db,
  orgId: string,
  filter: UserFilter,
  after: string | undefined,
  limit: number,
): Promise<User[]> {
  let query = db
    .selectFrom('users as u')
    .selectAll('u')
    .where('u.organization_id', '=', orgId)
    .orderBy('u.id')
    .limit(limit + 1);
  if (after) query = query.where('u.id', '>', after);
  if (filter.email) query = query.where(sql`lower(u.email)`, '=', filter.email.toLowerCase());
  if (filter.status) query = query.where('u.status', '=', filter.status);
  if (filter.q) {
    query = query.where(
      sql`lower(u.email || ' ' || u.first_name || ' ' || u.last_name)`,
      'like',
      likePattern(filter.q),
    );
  }
  if (filter.accountId || filter.membershipStatus || filter.permissionProfileId) {
    query = query.where(({ exists, selectFrom }) =>
      exists(
        selectFrom('memberships as m')
          .select(sql`1`.as('one'))
          .whereRef('m.user_id', '=', 'u.id')
          .where((eb) => {
            const conds: Expression<SqlBool>[] = [];
            // Redundant with u.id > after, but PostgreSQL does not carry inequalities across a join: without
            // it a merge join scans the account's memberships from the start, so deep pages get slower.
            if (after) conds.push(eb('m.user_id', '>', after));
            if (filter.accountId) conds.push(eb('m.account_id', '=', filter.accountId));
            if (filter.membershipStatus) conds.push(eb('m.status', '=', filter.membershipStatus));
            if (filter.permissionProfileId)
              conds.push(eb('m.permission_profile_id', '=', filter.permissionProfileId));
            return eb.and(conds);
          }),
      ),
    );
  }
  if (filter.groupId) {
    const groupId = filter.groupId;
    query = query.where(({ exists, selectFrom }) =>
      exists(
        selectFrom('group_members as gm')
          .select(sql`1`.as('one'))
          .whereRef('gm.user_id', '=', 'u.id')
          .where('gm.group_id', '=', groupId)
          .$if(Boolean(after), (q) => q.where('gm.user_id', '>', after!)), // as for memberships above
      ),
    );
  }
  return query.execute();
}

/** Memberships of the given users, each with the ids of the groups it holds in its account. */
export async function membershipsOf(db: Db, userIds: string[]): Promise<Map<string, MembershipView[]>> {
  const out = new Map<string, MembershipView[]>();
  if (userIds.length === 0) return out;
  const rows = await db
    .selectFrom('memberships as m')
    .selectAll('m')
    .select(
      sql<number[]>`array(
        SELECT gm.group_id FROM group_members gm JOIN groups g ON g.id = gm.group_id
        WHERE gm.user_id = m.user_id AND g.account_id = m.account_id ORDER BY gm.group_id)`.as('group_ids'),
    )
    // Statements are prepared (db/dialect.ts), so keep their number bounded: = $1 for one user (PostgreSQL
    // soon switches it to a cached generic plan), one array parameter for many, never IN ($1, …, $n).
    .where((eb) =>
      userIds.length === 1
        ? eb('m.user_id', '=', userIds[0]!)
        : eb('m.user_id', '=', eb.fn.any(eb.val(userIds))),
    )
    .orderBy('m.created_at')
    .execute();
  for (const row of rows) {
    const list = out.get(row.user_id) ?? [];
    list.push(row);
    out.set(row.user_id, list);
  }
  return out;
}

export async function countActiveOwners(db: Db, orgId: string): Promise<number> {
  const row = await db
    .selectFrom('users')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('organization_id', '=', orgId)
    .where('role', '=', 'owner')
    .where('status', '=', 'active')
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
