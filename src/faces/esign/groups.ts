// eSignature groups of an account: GroupsApi.listGroups, createGroups, updateGroups, deleteGroups (bodies
// {groups: […]}: one transaction for the batch, a savepoint per group, a group that fails undone and reported
// in its errorDetails), and the group users: listGroupUsers, updateGroupUsers (PUT adds), deleteGroupUsers.
// groupId is Signet's integer group id as a string, permissionProfileId its profile's (set on create, changed
// only when an update names it). The rules are the groups service's (/api), the built-in groups' included:
// Administrators is groupType adminGroup, Everyone everyoneGroup, the account's own groups customGroup.
import type { FastifyInstance } from 'fastify';
import { type Outcome, outcomeOf } from '../../core/batch.ts';
import { invalidField, notFound } from '../../core/errors.ts';
import type { GroupView } from '../../core/groups/service.ts';
import type { GroupType } from '../../core/types.ts';
import type { UserView } from '../../core/users/service.ts';
import { translatingCtx } from '../docusign/ctx.ts';
import { errorDetails } from './errors.ts';
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
  textOf,
  USER_STATUS,
  windowOf,
} from './shared.ts';

const READ = { docusignScope: 'signature', permission: 'groups:read' } as const;
const WRITE = { docusignScope: 'signature', permission: 'groups:write' } as const;
/** createGroups answers 201: the status stored with the effect under an Idempotency-Key. */
const CREATE = { ...WRITE, idempotency: { status: 201 } } as const;

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
  const { groups, accountBatches: batches } = fastify.services;

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

  fastify.post('/v2.1/accounts/:accountId/groups', { config: CREATE }, async (request, reply) => {
    const { accountId } = await accountOf(request);
    const items = listOf(bodyOf(request), 'groups');
    if (items.length === 0) throw invalidField('groups', 'name at least one group to create');
    const render = (outcomes: Outcome<GroupView>[]) => ({
      groups: outcomes.map((o, i) =>
        o.ok
          ? group(o.value)
          : compact({ groupName: textOf(items[i]!.groupName), errorDetails: errorDetails(o.error) }),
      ),
    });
    const outcomes = await batches.createGroups(
      translatingCtx(request, render),
      accountId,
      items.map((item) =>
        outcomeOf(() => ({ name: groupName(item), permission_profile_id: profileRef(item) })),
      ),
    );
    return reply.code(201).send(render(outcomes));
  });

  /** A batch's answer for the groups it changed or deleted: each as `done` renders it, or its errorDetails. */
  const groupsAnswer =
    <T>(items: Json[], done: (value: T) => Json) =>
    (outcomes: Outcome<T>[]) => ({
      groups: outcomes.map((o, i) =>
        o.ok
          ? done(o.value)
          : compact({ groupId: textOf(items[i]!.groupId), errorDetails: errorDetails(o.error) }),
      ),
    });

  fastify.put('/v2.1/accounts/:accountId/groups', { config: WRITE }, async (request) => {
    const { accountId } = await accountOf(request);
    const items = listOf(bodyOf(request), 'groups');
    if (items.length === 0) throw invalidField('groups', 'name at least one group to update');
    const render = groupsAnswer(items, group);
    const outcomes = await batches.updateGroups(
      translatingCtx(request, render),
      accountId,
      items.map((item) =>
        outcomeOf(() => ({
          id: groupIdOf(item.groupId),
          patch: { name: optString(item, 'groupName', 100), permission_profile_id: profileRef(item) },
        })),
      ),
    );
    return render(outcomes);
  });

  fastify.delete('/v2.1/accounts/:accountId/groups', { config: WRITE }, async (request) => {
    const { accountId } = await accountOf(request);
    const items = listOf(bodyOf(request), 'groups');
    if (items.length === 0) throw invalidField('groups', 'name at least one group to delete');
    const render = groupsAnswer(items, (g: GroupView) => ({
      groupId: String(g.id),
      groupName: g.name,
      groupType: GROUP_TYPES[g.group_type],
    }));
    const outcomes = await batches.deleteGroups(
      translatingCtx(request, render),
      accountId,
      items.map((item) => outcomeOf(() => groupIdOf(item.groupId))),
    );
    return render(outcomes);
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
  const usersAnswer = (accountId: string) => (changed: UserView[]) => ({
    users: changed.map((u) => {
      const m = u.memberships.find((x) => x.account_id === accountId);
      return compact({
        userId: u.id,
        userName: `${u.first_name} ${u.last_name}`.trim(),
        email: u.email,
        userStatus: m ? USER_STATUS[m.status] : undefined,
        uri: `/v2.1/accounts/${accountId}/users/${u.id}`,
      });
    }),
  });

  fastify.put('/v2.1/accounts/:accountId/groups/:groupId/users', { config: WRITE }, async (request) => {
    const { accountId } = await accountOf(request);
    const id = groupIdOf((request.params as Json).groupId);
    const ids = userIdsOf(bodyOf(request));
    // All or nothing (the service refuses the whole request when one user is not in the account).
    const render = usersAnswer(accountId);
    return render(await batches.addGroupMembers(translatingCtx(request, render), accountId, id, ids));
  });

  fastify.delete('/v2.1/accounts/:accountId/groups/:groupId/users', { config: WRITE }, async (request) => {
    const { accountId } = await accountOf(request);
    const id = groupIdOf((request.params as Json).groupId);
    const ids = userIdsOf(bodyOf(request));
    const render = usersAnswer(accountId);
    return render(await batches.removeGroupMembers(translatingCtx(request, render), accountId, id, ids));
  });
}
