// eSignature groups of an account: GroupsApi.listGroups, createGroups, updateGroups, deleteGroups (bodies
// {groups: […]}, one transaction per group, failures reported in that group's errorDetails), and the group
// users: listGroupUsers, updateGroupUsers (PUT adds), deleteGroupUsers. groupId is Signet's integer group id
// as a string, permissionProfileId its profile's (set on create, changed only when an update names it). The
// rules are the groups service's (/api), the built-in groups' included: Administrators is groupType adminGroup,
// Everyone everyoneGroup, the account's own groups customGroup.
import type { FastifyInstance } from 'fastify';
import { invalidField, notFound } from '../../core/errors.ts';
import type { GroupView } from '../../core/groups/service.ts';
import type { GroupType } from '../../core/types.ts';
import { sentResponseCtx } from '../docusign/ctx.ts';
import { perItem } from './errors.ts';
import {
  accountOf,
  bodyOf,
  compact,
  GROUP_TYPES,
  intId,
  iso,
  type Json,
  listOf,
  optString,
  pagingOf,
  USER_STATUS,
  windowOf,
} from './shared.ts';

const READ = { docusignScope: 'signature', permission: 'groups:read' } as const;
const WRITE = { docusignScope: 'signature', permission: 'groups:write' } as const;

const TYPE_OF_GROUP_TYPE = new Map(
  Object.entries(GROUP_TYPES).map(([k, v]) => [v.toLowerCase(), k as GroupType]),
);

function group(g: GroupView): Json {
  return compact({
    groupId: String(g.id),
    groupName: g.name,
    groupType: GROUP_TYPES[g.group_type],
    permissionProfileId: g.permission_profile_id === null ? undefined : String(g.permission_profile_id),
    usersCount: String(g.member_count),
    lastModifiedOn: iso(g.updated_at),
  });
}

/** An item's permissionProfileId: absent is undefined (no change), null or "" is none. */
function profileRef(item: Json): number | null | undefined {
  const v = item.permissionProfileId;
  if (v === undefined) return undefined;
  if (v === null || v === '') return null;
  return intId(v, () =>
    invalidField('permission_profile_id', `no permission profile ${String(v)}`, 'invalid_reference'),
  );
}

const groupIdOf = (raw: unknown) => intId(raw, () => notFound('group', String(raw ?? '')));

function groupName(item: Json): string {
  const name = optString(item, 'groupName', 100);
  if (name === undefined) throw invalidField('groupName', 'is required');
  return name;
}

/** The userIds of a {users: [{userId}]} body. */
function userIdsOf(body: Json): string[] {
  const items = listOf(body, 'users', 500);
  if (items.length === 0) throw invalidField('users', 'name at least one user');
  return items.map((u) => {
    const id = typeof u.userId === 'string' ? u.userId.trim() : '';
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) {
      throw invalidField(
        'users.userId',
        `not a user id: ${JSON.stringify(u.userId ?? null)}`,
        'user_not_in_account',
      );
    }
    return id.toLowerCase();
  });
}

export async function groupRoutes(fastify: FastifyInstance): Promise<void> {
  const groups = fastify.services.groups;
  const users = fastify.services.users;

  fastify.get('/v2.1/accounts/:accountId/groups', { config: READ }, async (request) => {
    const { ctx, accountId } = await accountOf(request);
    const q = request.query as Json;
    const w = windowOf(q);
    const search = typeof q.search_text === 'string' && q.search_text !== '' ? q.search_text : undefined;
    if (search !== undefined && search.length > 100)
      throw invalidField('search_text', 'at most 100 characters');
    let type: GroupType | undefined;
    if (typeof q.group_type === 'string' && q.group_type !== '') {
      type = TYPE_OF_GROUP_TYPE.get(q.group_type.toLowerCase());
      if (!type) throw invalidField('group_type', `must be one of ${Object.values(GROUP_TYPES).join(', ')}`);
    }
    const page = await groups.listAt(ctx, accountId, { ...w, search, type });
    return { groups: page.data.map(group), ...pagingOf(request, w, page.data.length, page.total) };
  });

  fastify.post('/v2.1/accounts/:accountId/groups', { config: WRITE }, async (request, reply) => {
    const { accountId } = await accountOf(request);
    const items = listOf(bodyOf(request), 'groups');
    if (items.length === 0) throw invalidField('groups', 'name at least one group to create');
    const out: Json[] = [];
    for (const item of items) {
      const result = await perItem(() =>
        groups.create(sentResponseCtx(request), accountId, {
          name: groupName(item),
          permission_profile_id: profileRef(item),
        }),
      );
      out.push(
        result.ok
          ? group(result.value)
          : compact({ groupName: optString(item, 'groupName', 100), errorDetails: result.errorDetails }),
      );
    }
    return reply.code(201).send({ groups: out });
  });

  fastify.put('/v2.1/accounts/:accountId/groups', { config: WRITE }, async (request) => {
    const { accountId } = await accountOf(request);
    const items = listOf(bodyOf(request), 'groups');
    if (items.length === 0) throw invalidField('groups', 'name at least one group to update');
    const out: Json[] = [];
    for (const item of items) {
      const result = await perItem(() =>
        groups.update(sentResponseCtx(request), accountId, groupIdOf(item.groupId), {
          name: optString(item, 'groupName', 100),
          permission_profile_id: profileRef(item),
        }),
      );
      out.push(
        result.ok
          ? group(result.value)
          : compact({
              groupId: item.groupId == null ? undefined : String(item.groupId),
              errorDetails: result.errorDetails,
            }),
      );
    }
    return { groups: out };
  });

  fastify.delete('/v2.1/accounts/:accountId/groups', { config: WRITE }, async (request) => {
    const { ctx, accountId } = await accountOf(request);
    const items = listOf(bodyOf(request), 'groups');
    if (items.length === 0) throw invalidField('groups', 'name at least one group to delete');
    const out: Json[] = [];
    for (const item of items) {
      const result = await perItem(async () => {
        const id = groupIdOf(item.groupId);
        const before = await groups.get(ctx, accountId, id);
        await groups.delete(sentResponseCtx(request), accountId, id);
        return before;
      });
      out.push(
        result.ok
          ? {
              groupId: String(result.value.id),
              groupName: result.value.name,
              groupType: GROUP_TYPES[result.value.group_type],
            }
          : compact({
              groupId: item.groupId == null ? undefined : String(item.groupId),
              errorDetails: result.errorDetails,
            }),
      );
    }
    return { groups: out };
  });

  fastify.get('/v2.1/accounts/:accountId/groups/:groupId/users', { config: READ }, async (request) => {
    const { ctx, accountId } = await accountOf(request);
    const id = groupIdOf((request.params as Json).groupId);
    const w = windowOf(request.query as Json);
    const page = await groups.membersAt(ctx, accountId, id, w);
    return {
      users: page.data.map((m) => ({
        userId: m.user_id,
        userName: `${m.first_name} ${m.last_name}`.trim(),
        email: m.email,
        userStatus: USER_STATUS[m.membership_status],
        userType: 'CompanyUser',
        uri: `/v2.1/accounts/${accountId}/users/${m.user_id}`,
      })),
      ...pagingOf(request, w, page.data.length, page.total),
    };
  });

  /** UsersResponse for the users a group change named, in the order named. */
  const usersResponse = async (ctx: Parameters<typeof users.get>[0], accountId: string, ids: string[]) => {
    const out: Json[] = [];
    for (const id of ids) {
      const u = await users.get(ctx, id);
      const m = u.memberships.find((x) => x.account_id === accountId);
      out.push(
        compact({
          userId: u.id,
          userName: `${u.first_name} ${u.last_name}`.trim(),
          email: u.email,
          userStatus: m ? USER_STATUS[m.status] : undefined,
          uri: `/v2.1/accounts/${accountId}/users/${u.id}`,
        }),
      );
    }
    return { users: out };
  };

  fastify.put('/v2.1/accounts/:accountId/groups/:groupId/users', { config: WRITE }, async (request) => {
    const { ctx, accountId } = await accountOf(request);
    const id = groupIdOf((request.params as Json).groupId);
    const ids = userIdsOf(bodyOf(request));
    // All or nothing (the service refuses the whole request when one user is not in the account). The
    // response reads the users back after the write: the one sent is stored.
    await groups.addMembers(sentResponseCtx(request), accountId, id, ids);
    return usersResponse(ctx, accountId, [...new Set(ids)]);
  });

  fastify.delete('/v2.1/accounts/:accountId/groups/:groupId/users', { config: WRITE }, async (request) => {
    const { ctx, accountId } = await accountOf(request);
    const id = groupIdOf((request.params as Json).groupId);
    const ids = userIdsOf(bodyOf(request));
    const result = await groups.removeMembers(sentResponseCtx(request), accountId, id, ids);
    return usersResponse(ctx, accountId, result.removed);
  });
}
