// SQL for users and memberships. Every query is confined to one organization by its first predicate.
import { type Expression, type SqlBool, sql } from 'kysely';
import { compiledOnce } from '../../db/compiled.ts';
import type { Db } from '../../db/connection.ts';
import type { Membership, MembershipStatus, User, UserStatus } from '../../db/schema.ts';

export interface MembershipView extends Membership {
  group_ids: number[];
}

export interface UserFilter {
  accountId?: string;
  email?: string;
  /** A case-insensitive part of the email address. */
  emailSubstring?: string;
  status?: UserStatus;
  /** One membership status, or any of several. */
  membershipStatus?: MembershipStatus | MembershipStatus[];
  groupId?: number;
  permissionProfileId?: number;
  q?: string;
  /** Users whose email address is at this domain (e.g. an organization's claimed domain). */
  emailDomain?: string;
  /** Users changed at or after this instant. */
  modifiedSince?: Date;
}

/** A membership's groups (those of its account), in id order; `m` is the memberships row in scope. */
const membershipGroupIds = sql<number[]>`array(
  SELECT gm.group_id FROM group_members gm JOIN groups g ON g.id = gm.group_id
  WHERE gm.user_id = m.user_id AND g.account_id = m.account_id ORDER BY gm.group_id)`;

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

export const userWithMemberships = compiledOnce({ orgId: '\u0000org', id: '\u0000id' }, (db, p) =>
  db
    .selectFrom('users as u')
    .leftJoin('memberships as m', 'm.user_id', 'u.id')
    .selectAll('u')
    .select([
      'm.id as m_id',
      'm.organization_id as m_organization_id',
      'm.account_id as m_account_id',
      'm.status as m_status',
      'm.permission_profile_id as m_permission_profile_id',
      'm.created_at as m_created_at',
      'm.updated_at as m_updated_at',
      'm.closed_at as m_closed_at',
      'm.closed_by_deactivation as m_closed_by_deactivation',
      membershipGroupIds.as('m_group_ids'),
    ])
    .where('u.organization_id', '=', p.orgId)
    .where('u.id', '=', p.id)
    .orderBy('m.created_at'),
);

/**
 * A user and all their memberships (each with its group ids) in one statement, for GET /users/{id}, the
 * hottest read: one round trip instead of two (measured +15% requests/s, docs/benchmarks.md). The memberships'
 * columns come prefixed `m_` from a LEFT JOIN, one row per membership, in creation order as membershipsOf gives.
 */
export async function findUserWithMemberships(
  db: Db,
  orgId: string,
  id: string,
): Promise<{ user: User; memberships: MembershipView[] } | undefined> {
  const { rows } = await db.executeQuery(userWithMemberships(db, { orgId, id }));
  const first = rows[0];
  if (!first) return undefined;
  const {
    m_id: _id,
    m_organization_id: _org,
    m_account_id: _account,
    m_status: _status,
    m_permission_profile_id: _profile,
    m_created_at: _created,
    m_updated_at: _updated,
    m_closed_at: _closed,
    m_closed_by_deactivation: _byDeactivation,
    m_group_ids: _groups,
    ...user
  } = first;
  const memberships: MembershipView[] = [];
  for (const r of rows) {
    if (r.m_id === null) continue; // the LEFT JOIN's row for a user without memberships
    memberships.push({
      id: r.m_id,
      organization_id: r.m_organization_id!,
      account_id: r.m_account_id!,
      user_id: user.id,
      status: r.m_status!,
      permission_profile_id: r.m_permission_profile_id,
      created_at: r.m_created_at!,
      updated_at: r.m_updated_at!,
      closed_at: r.m_closed_at,
      closed_by_deactivation: r.m_closed_by_deactivation!,
      group_ids: r.m_group_ids,
    });
  }
  return { user, memberships };
}

/** The account of the user's oldest active membership (where their session starts, whose brand mails them). */
export async function firstActiveAccount(db: Db, userId: string): Promise<string | null> {
  const m = await db
    .selectFrom('memberships')
    .select('account_id')
    .where('user_id', '=', userId)
    .where('status', '=', 'active')
    .orderBy('created_at')
    .orderBy('id')
    .executeTakeFirst();
  return m?.account_id ?? null;
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
  // The common shapes (no filter but the account) run compiled once; any other filter is built per call.
  if (OTHER_FILTERS.every((k) => !filter[k])) {
    const page = userPages[(filter.accountId ? 2 : 0) + (after ? 1 : 0)]!;
    const params = { orgId, accountId: filter.accountId ?? '', after: after ?? '', take: limit + 1 };
    return (await db.executeQuery(page(db, params))).rows;
  }
  return filtered(db, orgId, filter, after)
    .selectAll('u')
    .orderBy('u.id')
    .limit(limit + 1)
    .execute();
}

/** The filters listUsers builds per call (filtered() reads each by truthiness, as here). */
const OTHER_FILTERS = [
  'email',
  'emailSubstring',
  'status',
  'emailDomain',
  'modifiedSince',
  'q',
  'membershipStatus',
  'groupId',
  'permissionProfileId',
] as const satisfies readonly (keyof UserFilter)[];

/** listUsers's query without and with the account, each without and with a cursor: the same SQL as filtered(). */
export const userPages = [false, true].flatMap((withAccount) =>
  [false, true].map((withAfter) =>
    compiledOnce(
      { orgId: '\u0000org', accountId: '\u0000account', after: '\u0000after', take: -1_000_001 },
      (db, p) =>
        filtered(db, p.orgId, withAccount ? { accountId: p.accountId } : {}, withAfter ? p.after : undefined)
          .selectAll('u')
          .orderBy('u.id')
          .limit(p.take),
    ),
  ),
);

/** A page by position (for faces whose clients page with start/take), in the same order as listUsers. */
export async function listUsersAt(
  db: Db,
  orgId: string,
  filter: UserFilter,
  offset: number,
  limit: number,
): Promise<User[]> {
  return filtered(db, orgId, filter, undefined)
    .selectAll('u')
    .orderBy('u.id')
    .offset(offset)
    .limit(limit)
    .execute();
}

export async function countUsers(db: Db, orgId: string, filter: UserFilter): Promise<number> {
  const row = await filtered(db, orgId, filter, undefined)
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** The users of an organization that match `filter` (and come after `after`, in id order). */
function filtered(db: Db, orgId: string, filter: UserFilter, after: string | undefined) {
  let query = db.selectFrom('users as u').where('u.organization_id', '=', orgId);
  if (after) query = query.where('u.id', '>', after);
  if (filter.email) query = query.where(sql`lower(u.email)`, '=', filter.email.toLowerCase());
  if (filter.emailSubstring) {
    query = query.where(sql`lower(u.email)`, 'like', likePattern(filter.emailSubstring));
  }
  if (filter.status) query = query.where('u.status', '=', filter.status);
  if (filter.emailDomain) {
    const domain = filter.emailDomain.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`);
    query = query.where(sql`lower(u.email)`, 'like', `%@${domain}`);
  }
  if (filter.modifiedSince) query = query.where('u.updated_at', '>=', filter.modifiedSince);
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
            if (Array.isArray(filter.membershipStatus)) {
              conds.push(eb('m.status', 'in', filter.membershipStatus));
            } else if (filter.membershipStatus) {
              conds.push(eb('m.status', '=', filter.membershipStatus));
            }
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
  return query;
}

// Statements are prepared (db/dialect.ts), so keep their number bounded: = $1 for one user (PostgreSQL soon
// switches it to a cached generic plan), one array parameter for many, never IN ($1, …, $n).
const membershipsOfOne = compiledOnce({ id: '\u0000id' }, (db, p) =>
  db
    .selectFrom('memberships as m')
    .selectAll('m')
    .select(membershipGroupIds.as('group_ids'))
    .where('m.user_id', '=', p.id)
    .orderBy('m.created_at'),
);
const MANY_IDS: string[] = []; // a placeholder compared by identity
export const membershipsOfMany = compiledOnce({ ids: MANY_IDS }, (db, p) =>
  db
    .selectFrom('memberships as m')
    .selectAll('m')
    .select(membershipGroupIds.as('group_ids'))
    .where((eb) => eb('m.user_id', '=', eb.fn.any(eb.val(p.ids))))
    .orderBy('m.created_at'),
);

/** Memberships of the given users, each with the ids of the groups it holds in its account. */
export async function membershipsOf(db: Db, userIds: string[]): Promise<Map<string, MembershipView[]>> {
  const out = new Map<string, MembershipView[]>();
  if (userIds.length === 0) return out;
  const { rows } = await db.executeQuery(
    userIds.length === 1
      ? membershipsOfOne(db, { id: userIds[0]! })
      : membershipsOfMany(db, { ids: userIds }),
  );
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

/** Names of what memberships point at: their accounts, permission profiles and groups (for faces that show them). */
export interface MembershipLabels {
  accounts: Map<string, { name: string; external_account_id: number }>;
  profiles: Map<number, string>;
  groups: Map<number, string>;
  /** The built-in groups among them (Administrators: admin, Everyone: everyone); absent: the account's own. */
  builtinGroups: Map<number, 'admin' | 'everyone'>;
}

export async function membershipLabels(
  db: Db,
  orgId: string,
  memberships: readonly MembershipView[],
): Promise<MembershipLabels> {
  const accountIds = [...new Set(memberships.map((m) => m.account_id))];
  const profileIds = [
    ...new Set(
      memberships.flatMap((m) => (m.permission_profile_id == null ? [] : [m.permission_profile_id])),
    ),
  ];
  const groupIds = [...new Set(memberships.flatMap((m) => m.group_ids))];
  const [accounts, profiles, groups] = await Promise.all([
    accountIds.length === 0
      ? []
      : db
          .selectFrom('accounts')
          .select(['id', 'name', 'external_account_id'])
          .where('organization_id', '=', orgId)
          .where((eb) => eb('id', '=', eb.fn.any(eb.val(accountIds))))
          .execute(),
    profileIds.length === 0
      ? []
      : db
          .selectFrom('permission_profiles')
          .select(['id', 'name'])
          .where('organization_id', '=', orgId)
          .where((eb) => eb('id', '=', eb.fn.any(eb.val(profileIds))))
          .execute(),
    groupIds.length === 0
      ? []
      : db
          .selectFrom('groups')
          .select(['id', 'name', 'group_type'])
          .where('organization_id', '=', orgId)
          .where((eb) => eb('id', '=', eb.fn.any(eb.val(groupIds))))
          .execute(),
  ]);
  return {
    accounts: new Map(
      accounts.map((a) => [a.id, { name: a.name, external_account_id: Number(a.external_account_id) }]),
    ),
    profiles: new Map(profiles.map((p) => [Number(p.id), p.name])),
    groups: new Map(groups.map((g) => [Number(g.id), g.name])),
    builtinGroups: new Map(
      groups.flatMap((g) => (g.group_type === 'custom' ? [] : [[Number(g.id), g.group_type] as const])),
    ),
  };
}
