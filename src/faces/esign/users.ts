// eSignature users of an account: UsersApi.create (POST /users {newUsers}), list (GET /users), getInformation
// (GET /users/{userId}), updateUser (PUT /users/{userId}) and _delete (DELETE /users {users}: closes the
// users' memberships in this account). An eSignature "user of an account" is a Signet user with a membership
// in that account; its userStatus is that membership's status. The rules are the users service's (/api).
import type { FastifyInstance } from 'fastify';
import { type Outcome, outcomeOf } from '../../core/batch.ts';
import { EMAIL_MAX_LENGTH, isEmail } from '../../core/email.ts';
import { invalidField, notFound } from '../../core/errors.ts';
import type { MembershipStatus } from '../../core/types.ts';
import { type LabelledUser, userOfAccount } from '../../core/users/provisioning.ts';
import type {
  CreateUserInput,
  MembershipLabels,
  MembershipView,
  UserView,
} from '../../core/users/service.ts';
import { translatingCtx } from '../docusign/ctx.ts';
import { errorDetails } from './errors.ts';
import {
  accountOf,
  bodyOf,
  compact,
  GROUP_TYPES,
  guid,
  intId,
  iso,
  type Json,
  listOf,
  optString,
  pagingOf,
  USER_STATUS,
  windowOf,
} from './shared.ts';

/** The `status` filter's values (case-insensitive, comma-separated) as membership statuses. */
const STATUS_FILTER: Record<string, MembershipStatus> = {
  active: 'active',
  activationsent: 'pending',
  activationrequired: 'pending',
  closed: 'closed',
  disabled: 'closed',
};

const READ = { docusignScope: 'signature', permission: 'users:read' } as const;
const WRITE = { docusignScope: 'signature', permission: 'users:write' } as const;
/** create answers 201: the status stored with the effect under an Idempotency-Key. */
const CREATE = { ...WRITE, idempotency: { status: 201 } } as const;

const userUri = (accountId: string, userId: string) => `/v2.1/accounts/${accountId}/users/${userId}`;
const fullName = (u: UserView) => `${u.first_name} ${u.last_name}`.trim();

function membershipIn(user: UserView, accountId: string): MembershipView | undefined {
  return user.memberships.find((m) => m.account_id === accountId);
}

/** UserInformation for a user's membership in the account. */
function userInformation(
  user: UserView,
  accountId: string,
  labels: MembershipLabels,
  withGroups: boolean,
): Json {
  const m = membershipIn(user, accountId)!;
  const profileId = m.permission_profile_id;
  return compact({
    userId: user.id,
    userName: fullName(user),
    firstName: user.first_name,
    lastName: user.last_name,
    email: user.email,
    userType: 'CompanyUser',
    userStatus: USER_STATUS[m.status],
    uri: userUri(accountId, user.id),
    isAdmin: user.role === 'member' ? 'False' : 'True',
    jobTitle: user.job_title ?? undefined,
    company: user.company ?? undefined,
    permissionProfileId: profileId == null ? undefined : String(profileId),
    permissionProfileName: profileId == null ? undefined : labels.profiles.get(Number(profileId)),
    createdDateTime: iso(user.created_at),
    userAddedToAccountDateTime: iso(m.created_at),
    groupList: withGroups
      ? m.group_ids.map((id) => ({
          groupId: String(id),
          groupName: labels.groups.get(Number(id)) ?? '',
          groupType: GROUP_TYPES[labels.builtinGroups.get(Number(id)) ?? 'custom'],
        }))
      : undefined,
  });
}

/** firstName/lastName, or userName split at its last space (eSignature accepts either). */
function names(item: Json): { first_name?: string; last_name?: string } {
  const first = optString(item, 'firstName', 100);
  const last = optString(item, 'lastName', 100);
  const userName = optString(item, 'userName', 201)?.trim();
  if (first !== undefined || last !== undefined || !userName) {
    return compact({ first_name: first, last_name: last });
  }
  const cut = userName.lastIndexOf(' ');
  return cut < 0
    ? { first_name: userName, last_name: '' }
    : { first_name: userName.slice(0, cut), last_name: userName.slice(cut + 1) };
}

function profileIdOf(item: Json): number | undefined {
  const raw = item.permissionProfileId;
  if (raw === undefined || raw === null || raw === '') return undefined;
  return intId(raw, () => invalidField('permissionProfileId', `no permission profile ${String(raw)}`));
}

function groupIdsOf(item: Json): number[] {
  return listOf(item, 'groupList').map((g) =>
    intId(g.groupId, () =>
      invalidField('group_ids', `no group ${String(g.groupId)} in this account`, 'invalid_reference'),
    ),
  );
}

export async function userRoutes(fastify: FastifyInstance): Promise<void> {
  const users = fastify.services.users;

  fastify.post('/v2.1/accounts/:accountId/users', { config: CREATE }, async (request, reply) => {
    const { accountId } = await accountOf(request);
    const items = listOf(bodyOf(request), 'newUsers');
    if (items.length === 0) throw invalidField('newUsers', 'name at least one user to create');
    const emails = items.map((item) => (typeof item.email === 'string' ? item.email.trim() : undefined));
    const render = (outcomes: Outcome<LabelledUser>[]) => ({
      newUsers: outcomes.map((o, i) => {
        if (!o.ok) return compact({ email: emails[i], errorDetails: errorDetails(o.error) });
        const { user, labels } = o.value;
        const info = userInformation(user, accountId, labels, false);
        return compact({
          userId: user.id,
          uri: info.uri,
          email: user.email,
          userName: info.userName,
          userStatus: info.userStatus,
          createdDateTime: info.createdDateTime,
          membershipId: membershipIn(user, accountId)!.id,
          permissionProfileId: info.permissionProfileId,
          permissionProfileName: info.permissionProfileName,
        });
      }),
    });
    // One transaction, a savepoint per user: one that fails (say, already in the account) is reported and the
    // others are made.
    const outcomes = await fastify.services.accountBatches.enrolUsers(
      translatingCtx(request, render),
      accountId,
      items.map((item, i) =>
        outcomeOf((): CreateUserInput => {
          const email = emails[i];
          if (!email || !isEmail(email)) throw invalidField('email', 'a valid email address is required');
          return {
            email,
            ...names(item),
            job_title: optString(item, 'jobTitle', 200),
            company: optString(item, 'company', 200),
            permission_profile_id: profileIdOf(item),
            group_ids: groupIdsOf(item),
            // DocuSign's UserInformation.sendActivationEmail: a string, "true" or "false".
            send_activation: String(item.sendActivationEmail ?? '').toLowerCase() === 'true',
          };
        }),
      ),
    );
    return reply.code(201).send(render(outcomes));
  });

  fastify.get('/v2.1/accounts/:accountId/users', { config: READ }, async (request) => {
    const { ctx, accountId } = await accountOf(request);
    const q = request.query as Json;
    const w = windowOf(q);
    const text = (field: string): string | undefined => {
      const v = q[field];
      if (v === undefined || v === '') return undefined;
      if (typeof v !== 'string' || v.length > 320) throw invalidField(field, 'must be a string');
      return v;
    };
    let membershipStatus: MembershipStatus[] | undefined;
    const status = text('status');
    if (status !== undefined) {
      membershipStatus = status.split(',').map((s) => {
        const mapped = STATUS_FILTER[s.trim().toLowerCase()];
        if (!mapped) {
          throw invalidField('status', `unknown status "${s}"; use Active, ActivationSent, Closed`);
        }
        return mapped;
      });
    }
    const groupIdText = text('group_id');
    const groupId =
      groupIdText === undefined ? undefined : intId(groupIdText, () => notFound('group', groupIdText));
    if (groupId !== undefined) await fastify.services.groups.get(ctx, accountId, groupId);
    const page = await users.listAt(ctx, {
      accountId,
      email: text('email'),
      emailSubstring: text('email_substring'),
      membershipStatus,
      groupId,
      offset: w.offset,
      limit: w.limit,
    });
    const labels = await users.labels(
      ctx,
      page.data.flatMap((u) => u.memberships),
    );
    const withGroups = /^true$/i.test(text('additional_info') ?? '');
    return {
      users: page.data.map((u) => userInformation(u, accountId, labels, withGroups)),
      ...pagingOf(request, w, page.data.length, page.total),
    };
  });

  fastify.get('/v2.1/accounts/:accountId/users/:userId', { config: READ }, async (request) => {
    const { ctx, accountId } = await accountOf(request);
    const userId = guid((request.params as Json).userId as string, 'user');
    const user = await userOfAccount(ctx, users, accountId, userId);
    return userInformation(user, accountId, await users.labels(ctx, user.memberships), true);
  });

  fastify.put('/v2.1/accounts/:accountId/users/:userId', { config: WRITE }, async (request) => {
    const { accountId } = await accountOf(request);
    const userId = guid((request.params as Json).userId as string, 'user');
    const body = bodyOf(request);
    const email = optString(body, 'email', EMAIL_MAX_LENGTH)?.trim();
    if (email !== undefined && !isEmail(email)) {
      throw invalidField('email', 'must be an email address');
    }
    const profileId = profileIdOf(body);
    const render = ({ user, labels }: LabelledUser) => userInformation(user, accountId, labels, true);
    const updated = await fastify.services.provisioning.updateInAccount(
      translatingCtx(request, render),
      accountId,
      userId,
      {
        ...names(body),
        ...compact({
          email,
          job_title: optString(body, 'jobTitle', 200),
          company: optString(body, 'company', 200),
        }),
        ...(profileId === undefined
          ? {}
          : { memberships: [{ account_id: accountId, permission_profile_id: profileId }] }),
      },
    );
    return render(updated);
  });

  // Closing users: their memberships in this account close (the seats free up); the users stay.
  fastify.delete('/v2.1/accounts/:accountId/users', { config: WRITE }, async (request) => {
    const { accountId } = await accountOf(request);
    const items = listOf(bodyOf(request), 'users');
    if (items.length === 0) throw invalidField('users', 'name at least one user to close');
    const userIds = items.map((item) =>
      typeof item.userId === 'string' ? item.userId : String(item.userId ?? ''),
    );
    const render = (outcomes: Outcome<UserView>[]) => ({
      users: outcomes.map((o, i) => {
        if (!o.ok) return compact({ userId: userIds[i], errorDetails: errorDetails(o.error) });
        const user = o.value;
        const m = membershipIn(user, accountId)!;
        return {
          userId: user.id,
          userName: fullName(user),
          email: user.email,
          userStatus: USER_STATUS[m.status],
          membershipId: m.id,
          uri: userUri(accountId, user.id),
        };
      }),
    });
    const outcomes = await fastify.services.accountBatches.closeUsers(
      translatingCtx(request, render),
      accountId,
      userIds.map((id) => outcomeOf(() => guid(id, 'user'))),
    );
    return render(outcomes);
  });
}
