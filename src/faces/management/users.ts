// Users and eSignature user management (docs/compatibility.md): UsersApi.getUsers, createUser, addUsers,
// getUserProfiles, updateUser, updateEmailAddress, closeMemberships, activateMembership, deleteIdentities.
// Each route translates to ONE core operation: the UsersService calls /api makes, or for a change of several
// steps (a batch of users, several memberships) ProvisioningService's, one transaction each. The rules
// (tenancy, seats, roles, references) are the services'.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../../core/errors.ts';
import type { ItemOutcome } from '../../core/users/provisioning.ts';
import {
  activationMailUnlessAutoActivated,
  type Enrolment,
  type MembershipLabels,
  type UserFilter,
  type UserView,
} from '../../core/users/service.ts';
import { ctxOf } from '../ctx.ts';
import { type Trx, translatingCtx } from '../docusign/ctx.ts';
import { requireOwnOrganization } from '../docusign/face.ts';
import {
  EmailAddress,
  GroupRefs,
  Guid,
  itemResults,
  MEMBERSHIP_STATUSES,
  membershipStatusFilter,
  NameFields,
  namesOf,
  newUserResponse,
  Open,
  Optional,
  OrgParams,
  organizationUser,
  PagingQuery,
  PermissionProfileRef,
  paging,
  Text,
  USER_STATUSES,
  userDrilldown,
  userStatusFilter,
  window,
  withFieldNames,
} from './users-mapping.ts';

const literals = <T extends string>(values: readonly T[]) => Type.Union(values.map((v) => Type.Literal(v)));

const NewUserAccount = Type.Object(
  {
    id: Guid,
    permission_profile: Optional(PermissionProfileRef),
    groups: Optional(GroupRefs),
    company_name: Optional(Text),
    job_title: Optional(Text),
  },
  Open,
);

const MembershipUpdate = Type.Object(
  {
    account_id: Guid,
    permission_profile: Optional(PermissionProfileRef),
    groups: Optional(GroupRefs),
    company_name: Optional(Text),
    job_title: Optional(Text),
  },
  Open,
);

const UserRef = { id: Guid, site_id: Optional(Type.Integer()) };
const UserParams = Type.Object({ organizationId: Guid, userId: Guid });
/** A request's list of ids ({id} objects: accounts to close, identities to delete). */
const IdList = Type.Array(Type.Object({ id: Guid }, Open), { minItems: 1, maxItems: 50 });

/** Without auto-activation a new membership awaits activation, as DocuSign's does (activation_required). */
const openStatus = (autoActivate: boolean | undefined) => (autoActivate ? 'active' : 'pending');

export async function userRoutes(app: FastifyInstance): Promise<void> {
  const fastify = app.withTypeProvider<TypeBoxTypeProvider>();
  const users = fastify.services.users;
  const provisioning = fastify.services.provisioning;
  const domains = fastify.services.domains;
  fastify.addHook('preHandler', async (request) => {
    requireOwnOrganization(request, (request.params as { organizationId: string }).organizationId);
  });

  const describe = async (request: Parameters<typeof ctxOf>[0], user: UserView) =>
    users.labels(ctxOf(request), user.memberships);
  /** The labels read inside the effect's transaction (for the response stored with it). */
  const labelsIn = (request: FastifyRequest, trx: Trx, user: UserView): Promise<MembershipLabels> =>
    users.labels(ctxOf(request), user.memberships, trx);

  // UsersApi.getUsers
  fastify.get(
    '/v2/organizations/:organizationId/users',
    {
      config: { docusignScope: 'user_read' },
      schema: {
        params: OrgParams,
        querystring: Type.Object(
          {
            ...PagingQuery,
            email: Optional(Type.String({ minLength: 1, maxLength: 320 })),
            email_user_name_like: Optional(Type.String({ minLength: 1, maxLength: 100 })),
            status: Optional(literals(USER_STATUSES)),
            membership_status: Optional(literals(MEMBERSHIP_STATUSES)),
            account_id: Optional(Guid),
            organization_reserved_domain_id: Optional(Guid),
            last_modified_since: Optional(Type.String({ minLength: 1, maxLength: 40 })),
            include_ds_groups: Optional(Type.Boolean()),
            include_license: Optional(Type.Boolean()),
          },
          Open,
        ),
      },
    },
    async (request) => {
      const q = request.query;
      const ctx = ctxOf(request);
      if (!q.email && !q.account_id && !q.organization_reserved_domain_id) {
        throw new AppError(
          'validation_failed',
          'query: at least one of email, account_id or organization_reserved_domain_id is required',
          [{ field: 'email', message: 'email, account_id or organization_reserved_domain_id is required' }],
        );
      }
      const { start, take } = window(q);
      const filter: UserFilter = { email: q.email, accountId: q.account_id, q: q.email_user_name_like };
      if (q.last_modified_since !== undefined) {
        if (!q.account_id && !q.organization_reserved_domain_id) {
          throw new AppError(
            'validation_failed',
            'last_modified_since: needs account_id or organization_reserved_domain_id as well',
            [
              {
                field: 'last_modified_since',
                message: 'needs account_id or organization_reserved_domain_id',
              },
            ],
          );
        }
        const since = new Date(q.last_modified_since);
        if (Number.isNaN(since.getTime())) {
          throw new AppError('validation_failed', 'last_modified_since: not an ISO-8601 date', [
            { field: 'last_modified_since', message: 'not a date' },
          ]);
        }
        filter.modifiedSince = since;
      }
      if (q.organization_reserved_domain_id) {
        const domain = (await domains.list(ctx, request.params.organizationId)).find(
          (d) => d.id === q.organization_reserved_domain_id,
        );
        if (!domain) {
          throw new AppError(
            'invalid_reference',
            `organization_reserved_domain_id: no reserved domain ${q.organization_reserved_domain_id} in this organization`,
            [{ field: 'organization_reserved_domain_id', message: 'no such reserved domain' }],
          );
        }
        filter.emailDomain = domain.domain;
      }
      if (q.status) {
        const status = userStatusFilter(q.status);
        if (!status) return { users: [], paging: paging(request, start, take, 0, 0) };
        filter.status = status;
      }
      if (q.membership_status) {
        const status = membershipStatusFilter(q.membership_status);
        if (!status) return { users: [], paging: paging(request, start, take, 0, 0) };
        filter.membershipStatus = status;
      }
      const page = await users.listAt(ctx, { ...filter, offset: start, limit: take });
      return {
        users: page.data.map((u) => organizationUser(u, q.account_id)),
        paging: paging(request, start, take, page.data.length, page.total),
      };
    },
  );

  // UsersApi.createUser
  fastify.post(
    '/v2/organizations/:organizationId/users',
    {
      config: { docusignScope: 'user_write' },
      schema: {
        params: OrgParams,
        body: Type.Object(
          {
            email: EmailAddress,
            ...NameFields,
            default_account_id: Optional(Guid),
            auto_activate_memberships: Optional(Type.Boolean()),
            accounts: Type.Array(NewUserAccount, { minItems: 1, maxItems: 50 }),
          },
          Open,
        ),
      },
    },
    async (request) => {
      const body = request.body;
      // The default account, when named, is the user's first membership.
      const accounts = [...body.accounts].sort(
        (a, b) => Number(b.id === body.default_account_id) - Number(a.id === body.default_account_id),
      );
      const [first, ...others] = accounts;
      const status = openStatus(body.auto_activate_memberships);
      const ctx = translatingCtx<UserView>(request, async (user, trx) =>
        newUserResponse(user, await labelsIn(request, trx, user)),
      );
      const user = await withFieldNames(
        users.create(ctx, {
          email: body.email,
          ...namesOf(body),
          language: body.language_culture,
          company: accounts.find((a) => a.company_name)?.company_name,
          job_title: accounts.find((a) => a.job_title)?.job_title,
          account_id: first!.id,
          permission_profile_id: first!.permission_profile?.id,
          group_ids: first!.groups?.map((g) => g.id),
          membership_status: status,
          send_activation: activationMailUnlessAutoActivated(body.auto_activate_memberships),
          other_memberships: others.map((a) => ({
            account_id: a.id,
            permission_profile_id: a.permission_profile?.id,
            group_ids: a.groups?.map((g) => g.id),
            status,
          })),
        }),
        {
          account_id: 'accounts.id',
          permission_profile_id: 'accounts.permission_profile.id',
          group_ids: 'accounts.groups.id',
        },
      );
      return newUserResponse(user, await describe(request, user));
    },
  );

  // UsersApi.addUsers: an existing user (by email) gets a membership; anyone else is created.
  fastify.post(
    '/v2/organizations/:organizationId/accounts/:accountId/users',
    {
      config: { docusignScope: 'user_write' },
      schema: {
        params: Type.Object({ organizationId: Guid, accountId: Guid }),
        body: Type.Object(
          {
            email: EmailAddress,
            ...NameFields,
            permission_profile: Optional(PermissionProfileRef),
            groups: Optional(GroupRefs),
            auto_activate_memberships: Optional(Type.Boolean()),
          },
          Open,
        ),
      },
    },
    async (request) => {
      const { body, params } = request;
      const ctx = translatingCtx<Enrolment>(request, async ({ user }, trx) =>
        newUserResponse(user, await labelsIn(request, trx, user), [params.accountId]),
      );
      // The account is the path's: one of another organization is a 404, like a missing one.
      await fastify.services.accounts.get(ctx, params.accountId);
      const { user } = await withFieldNames(
        users.enrol(ctx, {
          email: body.email,
          ...namesOf(body),
          language: body.language_culture,
          account_id: params.accountId,
          permission_profile_id: body.permission_profile?.id,
          group_ids: body.groups?.map((g) => g.id),
          membership_status: openStatus(body.auto_activate_memberships),
          send_activation: activationMailUnlessAutoActivated(body.auto_activate_memberships),
        }),
        { permission_profile_id: 'permission_profile.id', group_ids: 'groups.id' },
      );
      return newUserResponse(user, await describe(request, user), [params.accountId]);
    },
  );

  // UsersApi.getUserProfiles
  fastify.get(
    '/v2/organizations/:organizationId/users/profile',
    {
      config: { docusignScope: 'user_read' },
      schema: {
        params: OrgParams,
        querystring: Type.Object(
          { email: Type.String({ minLength: 1, maxLength: 320 }), include_license: Optional(Type.Boolean()) },
          Open,
        ),
      },
    },
    async (request) => {
      const user = await users.getByEmail(ctxOf(request), request.query.email);
      if (!user) return { users: [] };
      return { users: [userDrilldown(user, await describe(request, user))] };
    },
  );

  // UsersApi.updateUser: each user's change is whole or undone, one user's refusal is reported in its
  // error_details and the others go on; the batch is one transaction that commits with the response.
  fastify.post(
    '/v2/organizations/:organizationId/users/profiles',
    {
      config: { docusignScope: 'user_write' },
      schema: {
        params: OrgParams,
        // Signet has no licenses to override: accepted (validated) and ignored.
        querystring: Type.Object({ apply_license_override: Optional(Type.Boolean()) }, Open),
        body: Type.Object(
          {
            users: Type.Array(
              Type.Object(
                {
                  ...UserRef,
                  ...NameFields,
                  email: Optional(EmailAddress),
                  memberships: Optional(Type.Array(MembershipUpdate, { maxItems: 50 })),
                },
                Open,
              ),
              { minItems: 1, maxItems: 100 },
            ),
            auto_activate_memberships_on_reactivation: Optional(Type.Boolean()),
          },
          Open,
        ),
      },
    },
    async (request) => {
      const items = request.body.users.map((u) => {
        const memberships = u.memberships ?? [];
        const company = memberships.find((m) => m.company_name !== undefined)?.company_name;
        const jobTitle = memberships.find((m) => m.job_title !== undefined)?.job_title;
        const patch = {
          ...namesOf(u),
          ...(u.email !== undefined ? { email: u.email } : {}),
          ...(u.language_culture !== undefined ? { language: u.language_culture } : {}),
          ...(company !== undefined ? { company } : {}),
          ...(jobTitle !== undefined ? { job_title: jobTitle } : {}),
          memberships: memberships.map((m) => ({
            account_id: m.account_id,
            ...(m.permission_profile ? { permission_profile_id: m.permission_profile.id } : {}),
            ...(m.groups ? { group_ids: m.groups.map((g) => g.id) } : {}),
          })),
        };
        return { id: u.id, patch };
      });
      const render = (outcomes: ItemOutcome[]) => {
        const { success, results } = itemResults(
          items,
          outcomes,
          // A new email is accepted and waits for the link mailed to it (docs/compatibility.md): answered as
          // DocuSign answers an accepted change, with the address asked for.
          (user, item) => ({ id: user.id, email: item.patch.email ?? user.email }),
          (item) => ({ id: item.id }),
          {
            'memberships.account_id': 'memberships.account_id',
            permission_profile_id: 'memberships.permission_profile.id',
            group_ids: 'memberships.groups.id',
          },
        );
        return { success, users: results };
      };
      return render(await provisioning.updateEach(translatingCtx(request, render), items));
    },
  );

  // UsersApi.updateEmailAddress: per user, as updateUser.
  fastify.post(
    '/v2/organizations/:organizationId/users/email_addresses',
    {
      config: { docusignScope: 'user_write' },
      schema: {
        params: OrgParams,
        body: Type.Object(
          {
            users: Type.Array(Type.Object({ ...UserRef, email: EmailAddress }, Open), {
              minItems: 1,
              maxItems: 100,
            }),
          },
          Open,
        ),
      },
    },
    async (request) => {
      const items = request.body.users.map((u) => ({ id: u.id, email: u.email, patch: { email: u.email } }));
      const render = (outcomes: ItemOutcome[]) => {
        const { success, results } = itemResults(
          items,
          outcomes,
          // Accepted: the address waits for its confirmation link (as in updateUser above).
          (user, item) => ({ id: user.id, email: item.email }),
          (item) => ({ id: item.id, email: item.email }),
        );
        return { success, users: results };
      };
      return render(await provisioning.updateEach(translatingCtx(request, render), items));
    },
  );

  // UsersApi.closeMemberships: closes the user's membership in each account named, all or none (an account
  // without the user's membership refuses the request and nothing is closed).
  fastify.delete(
    '/v2/organizations/:organizationId/users/:userId/accounts',
    {
      config: { docusignScope: 'user_write' },
      schema: {
        params: UserParams,
        body: Type.Object({ accounts: IdList }, Open),
      },
    },
    async (request) => {
      const render = (closed: string[]) => ({ success: true, accounts: closed.map((id) => ({ id })) });
      const closed = await withFieldNames(
        provisioning.closeMemberships(
          translatingCtx(request, render),
          request.params.userId,
          request.body.accounts.map((a) => a.id),
        ),
        { account_id: 'accounts.id' },
      );
      return render(closed);
    },
  );

  // UsersApi.activateMembership: reopens a closed (or pending) membership.
  fastify.post(
    '/v2/organizations/:organizationId/users/:userId/memberships/:membershipId',
    {
      config: { docusignScope: 'user_write' },
      schema: {
        params: Type.Object({ organizationId: Guid, userId: Guid, membershipId: Guid }),
        body: Type.Optional(Type.Object({ site_id: Optional(Type.Integer()) }, Open)),
      },
    },
    async (request) => {
      const { userId, membershipId } = request.params;
      const ctx = translatingCtx<{ status: string }>(request, (m) => ({ status: m.status }));
      const membership = await users.updateMembership(ctx, userId, membershipId, { status: 'active' });
      return { status: membership.status };
    },
  );

  // UsersApi.deleteIdentities: Signet links no external identities to its users yet, so for a user of the
  // organization there is never one to delete: success, with the (empty) list of identities deleted.
  fastify.delete(
    '/v2/organizations/:organizationId/users/:userId/identities',
    {
      config: { docusignScope: 'user_write' },
      schema: {
        params: UserParams,
        body: Type.Object({ identities: IdList }, Open),
      },
    },
    async (request) => {
      await users.get(ctxOf(request), request.params.userId); // another organization's user: 404
      return { success: true, identities: [] };
    },
  );
}
