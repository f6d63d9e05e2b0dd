// Admin API v2.1 "MultiProductUserManagement" (shared/reference/docusign-admin-api.md §3): DS groups
// (DSGroupsApi), product permission profiles (ProductPermissionProfilesApi) and UsersApi.addOrUpdateUser.
//
// Translation only; the rules are the core services'. Each write is one core transaction (the user flows are
// ProvisioningService's, src/core/users/provisioning.ts), so a step that fails leaves nothing of the others.
// How Signet's objects appear here:
//  * A DS group is a Signet group, named by its GUID (groups.ds_group_id); the same group is an /api group and
//    a v2 Admin API group under its integer id, which DSGroupResponse.group_id carries as a string.
//  * Signet has one product, eSignature (products.ts). A user's eSignature permission profile in an account is
//    their membership's profile; access to the product is an open membership, so revoking the product closes
//    the membership and granting it opens (or reopens) one.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Ctx } from '../../core/context.ts';
import { EMAIL_MAX_LENGTH } from '../../core/email.ts';
import { invalidField } from '../../core/errors.ts';
import type { GroupView, MembersAdded, MembersRemoved } from '../../core/groups/service.ts';
import type { Account } from '../../core/types.ts';
import type { AccountAccess } from '../../core/users/provisioning.ts';
import {
  activationMailUnlessAutoActivated,
  type MembershipLabels,
  type UserView,
} from '../../core/users/service.ts';
import { ctxOf } from '../ctx.ts';
import { type Trx, translatingCtx } from '../docusign/ctx.ts';
import { requireOwnOrganization } from '../docusign/face.ts';
import { ESIGN_PRODUCT_ID, ESIGN_PRODUCT_NAME, isEsignProduct } from './products.ts';
import { fullName, membershipStatus, namesOf, userDrilldown, withFieldNames } from './users-mapping.ts';

const Guid = Type.String({ format: 'uuid' });
/** A product id as a client sends it: any string, so an unknown or malformed one gets our own 422. */
const ProductId = Type.String({ minLength: 1, maxLength: 100 });
const Email = Type.String({ format: 'email', minLength: 3, maxLength: EMAIL_MAX_LENGTH });

const AccountPath = Type.Object({ organizationId: Type.String(), accountId: Guid });
const GroupPath = Type.Object({ organizationId: Type.String(), accountId: Guid, dsGroupId: Guid });
const UserPath = Type.Object({ organizationId: Type.String(), accountId: Guid, userId: Guid });
const PageQuery = Type.Object({
  page: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1 })),
  page_size: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 20 })),
});

const ProductProfileRequest = Type.Object({
  product_id: ProductId,
  permission_profile_id: Type.String({ minLength: 1, maxLength: 30 }),
});
const ProductProfiles = Type.Array(ProductProfileRequest, { maxItems: 20 });

type ProductProfileList = Static<typeof ProductProfiles>;

// --- wire shapes ------------------------------------------------------------------------------------------

export function dsGroupResponse(group: GroupView, account: Account) {
  return {
    ds_group_id: group.ds_group_id,
    account_id: group.account_id,
    source_product_name: ESIGN_PRODUCT_NAME,
    group_id: String(group.id),
    group_name: group.name,
    ...(group.description ? { description: group.description } : {}),
    is_admin: group.group_type === 'admin',
    last_modified_on: group.updated_at.toISOString(),
    user_count: group.member_count,
    external_account_id: account.external_account_id,
    account_name: account.name,
    is_managed_by_scim: false,
  };
}

function dsGroupUser(user: UserView, accountId: string) {
  const membership = user.memberships.find((m) => m.account_id === accountId);
  return {
    user_id: user.id,
    account_id: accountId,
    user_name: fullName(user),
    first_name: user.first_name,
    last_name: user.last_name,
    ...(membership ? { status: membershipStatus(membership.status) } : {}),
  };
}

function productEntry(profiles: { id: number; name: string }[]) {
  return {
    product_id: ESIGN_PRODUCT_ID,
    product_name: ESIGN_PRODUCT_NAME,
    permission_profiles: profiles.map((p) => ({
      permission_profile_id: String(p.id),
      permission_profile_name: p.name,
    })),
  };
}

/** A user's product permission profiles in an account: eSignature with its profile, or none without access. */
function productProfiles(access: AccountAccess) {
  if (!access.membership) return [];
  return [productEntry(access.profile ? [access.profile] : [])];
}

/** UserProductPermissionProfilesResponse. */
function userProductProfiles(access: AccountAccess) {
  return {
    user_id: access.user.id,
    account_id: access.account.id,
    product_permission_profiles: productProfiles(access),
  };
}

/** AddUserResponse of addOrUpdateUser: the user and their access to the one account. */
function addUserResponse(access: AccountAccess) {
  const { user, account } = access;
  return {
    id: user.id,
    user_name: fullName(user),
    first_name: user.first_name,
    last_name: user.last_name,
    email: user.email,
    ...(user.language ? { language_culture: user.language } : {}),
    accounts: [
      {
        id: account.id,
        product_permission_profiles: productProfiles(access),
        ds_groups: access.groups.map((g) => dsGroupResponse(g, account)),
        ...(user.company ? { company_name: user.company } : {}),
        ...(user.job_title ? { job_title: user.job_title } : {}),
      },
    ],
  };
}

// --- helpers -------------------------------------------------------------------------------------------------

/**
 * The eSignature permission profile id a request names: unknown products are refused (422 naming them),
 * and so is a profile id that is not an integer. Undefined when the list does not name eSignature.
 */
function esignProfileId(list: ProductProfileList, field: string): number | undefined {
  let chosen: number | undefined;
  list.forEach((entry, i) => {
    if (!isEsignProduct(entry.product_id)) {
      throw invalidField(
        `${field}[${i}].product_id`,
        `unknown product ${entry.product_id}; Signet has one product, eSignature (${ESIGN_PRODUCT_ID})`,
        'invalid_reference',
      );
    }
    if (!/^\d{1,15}$/.test(entry.permission_profile_id)) {
      throw invalidField(
        `${field}[${i}].permission_profile_id`,
        `must be a permission profile id (an integer), not ${JSON.stringify(entry.permission_profile_id)}`,
      );
    }
    const id = Number(entry.permission_profile_id);
    if (chosen !== undefined && chosen !== id) {
      throw invalidField(field, 'names eSignature twice with different permission profiles');
    }
    chosen = id;
  });
  return chosen;
}

export async function managementMultiProductRoutes(instance: FastifyInstance): Promise<void> {
  const fastify = instance.withTypeProvider<TypeBoxTypeProvider>();
  const { services } = fastify;

  const { provisioning } = services;

  /**
   * The Ctx for reads, after refusing another organization's id (404, like a missing one). Every write here is
   * one core transaction, and its Ctx stores the DocuSign-shaped response with it (translatingCtx).
   */
  function enter(request: FastifyRequest, organizationId: string): Ctx {
    requireOwnOrganization(request, organizationId);
    return ctxOf(request);
  }

  // --- DS groups -------------------------------------------------------------------------------------------

  const dsGroups = '/v2.1/organizations/:organizationId/accounts/:accountId/dsgroups';

  fastify.get(
    dsGroups,
    { schema: { params: AccountPath, querystring: PageQuery }, config: { docusignScope: 'user_read' } },
    async (request) => {
      const { organizationId, accountId } = request.params;
      const ctx = enter(request, organizationId);
      const page = request.query.page ?? 1;
      const pageSize = request.query.page_size ?? 20;
      const account = await services.accounts.get(ctx, accountId);
      const result = await services.groups.listAt(ctx, accountId, {
        offset: (page - 1) * pageSize,
        limit: pageSize,
      });
      return {
        page,
        page_size: pageSize,
        total_count: result.total,
        account_id: accountId,
        ds_groups: result.data.map((g) => dsGroupResponse(g, account)),
      };
    },
  );

  fastify.post(
    dsGroups,
    {
      schema: {
        params: AccountPath,
        body: Type.Object({
          group_name: Type.String({ minLength: 1, maxLength: 100 }),
          description: Type.Optional(Type.String({ maxLength: 1000 })),
        }),
      },
      config: { docusignScope: 'user_write', permission: 'groups:write' },
    },
    async (request) => {
      const { organizationId, accountId } = request.params;
      const account = await services.accounts.get(enter(request, organizationId), accountId);
      const render = (group: GroupView) => dsGroupResponse(group, account);
      const group = await services.groups.create(translatingCtx(request, render), accountId, {
        name: request.body.group_name,
        description: request.body.description ?? null,
      });
      return render(group);
    },
  );

  fastify.get(
    `${dsGroups}/:dsGroupId`,
    { schema: { params: GroupPath }, config: { docusignScope: 'user_read' } },
    async (request) => {
      const { organizationId, accountId, dsGroupId } = request.params;
      const ctx = enter(request, organizationId);
      const account = await services.accounts.get(ctx, accountId);
      return dsGroupResponse(await services.groups.getByDsGroupId(ctx, accountId, dsGroupId), account);
    },
  );

  fastify.delete(
    `${dsGroups}/:dsGroupId`,
    { schema: { params: GroupPath }, config: { docusignScope: 'user_write', permission: 'groups:write' } },
    async (request, reply) => {
      const { organizationId, accountId, dsGroupId } = request.params;
      const group = await services.groups.getByDsGroupId(
        enter(request, organizationId),
        accountId,
        dsGroupId,
      );
      // The status first: the empty 204 is the response stored with the deletion.
      reply.code(204);
      await services.groups.delete(
        translatingCtx(request, () => undefined),
        accountId,
        group.id,
      );
      return reply.send();
    },
  );

  fastify.get(
    `${dsGroups}/:dsGroupId/users`,
    { schema: { params: GroupPath, querystring: PageQuery }, config: { docusignScope: 'user_read' } },
    async (request) => {
      const { organizationId, accountId, dsGroupId } = request.params;
      const ctx = enter(request, organizationId);
      const page = request.query.page ?? 1;
      const pageSize = request.query.page_size ?? 20;
      const account = await services.accounts.get(ctx, accountId);
      const group = await services.groups.getByDsGroupId(ctx, accountId, dsGroupId);
      const members = await services.groups.membersAt(ctx, accountId, group.id, {
        offset: (page - 1) * pageSize,
        limit: pageSize,
      });
      return {
        group: dsGroupResponse(group, account),
        group_users: {
          page,
          page_size: pageSize,
          total_count: members.total,
          users: members.data.map((m) => ({
            user_id: m.user_id,
            account_id: accountId,
            user_name: fullName(m),
            first_name: m.first_name,
            last_name: m.last_name,
            status: membershipStatus(m.membership_status),
          })),
        },
      };
    },
  );

  fastify.post(
    `${dsGroups}/:dsGroupId/users`,
    {
      schema: {
        params: GroupPath,
        body: Type.Object({ user_ids: Type.Array(Guid, { minItems: 1, maxItems: 500 }) }),
      },
      config: { docusignScope: 'user_write', permission: 'groups:write' },
    },
    async (request) => {
      const { organizationId, accountId, dsGroupId } = request.params;
      const ctx = enter(request, organizationId);
      const account = await services.accounts.get(ctx, accountId);
      const group = await services.groups.getByDsGroupId(ctx, accountId, dsGroupId);
      /** The group and its users as they are after the change (read in its transaction when given). */
      const render = async (result: MembersAdded, trx?: Trx) => {
        const users: ReturnType<typeof dsGroupUser>[] = [];
        for (const id of [...result.added, ...result.already_members]) {
          users.push(dsGroupUser(await services.users.get(ctx, id, trx), accountId));
        }
        return {
          group: dsGroupResponse(await services.groups.get(ctx, accountId, group.id, trx), account),
          group_users: { is_success: true, TotalCount: users.length, users },
        };
      };
      // All or nothing (the core's rule): a user without a membership in the account refuses the request.
      const result = await services.groups.addMembers(
        translatingCtx(request, render),
        accountId,
        group.id,
        request.body.user_ids,
      );
      return render(result);
    },
  );

  fastify.delete(
    `${dsGroups}/:dsGroupId/users`,
    {
      schema: {
        params: GroupPath,
        body: Type.Object({
          user_ids: Type.Optional(Type.Array(Guid, { maxItems: 500 })),
          user_emails: Type.Optional(Type.Array(Email, { maxItems: 500 })),
        }),
      },
      config: { docusignScope: 'user_write', permission: 'groups:write' },
    },
    async (request) => {
      const { organizationId, accountId, dsGroupId } = request.params;
      const ctx = enter(request, organizationId);
      const { user_ids = [], user_emails = [] } = request.body;
      if (user_ids.length === 0 && user_emails.length === 0) {
        throw invalidField('user_ids', 'name at least one user in user_ids or user_emails');
      }
      const group = await services.groups.getByDsGroupId(ctx, accountId, dsGroupId);
      const failed: { user_id?: string; account_id: string; error_details: object }[] = [];
      const ids = [...user_ids];
      for (const email of user_emails) {
        const user = await services.users.getByEmail(ctx, email);
        if (user) ids.push(user.id);
        else {
          failed.push({
            account_id: accountId,
            error_details: { error: 'not_found', error_description: `no user with email ${email}` },
          });
        }
      }
      const render = (result: MembersRemoved) => {
        const all = [
          ...failed,
          ...result.not_members.map((id) => ({
            user_id: id,
            account_id: accountId,
            error_details: {
              error: 'not_a_member',
              error_description: `user ${id} is not a member of group ${dsGroupId}`,
            },
          })),
        ];
        return { is_success: all.length === 0, failed_users: all };
      };
      if (ids.length === 0) return render({ removed: [], not_members: [] });
      return render(
        await services.groups.removeMembers(translatingCtx(request, render), accountId, group.id, ids),
      );
    },
  );

  // --- product permission profiles ---------------------------------------------------------------------------

  const products = '/v2.1/organizations/:organizationId/accounts/:accountId/products';

  fastify.get(
    `${products}/permission_profiles`,
    { schema: { params: AccountPath }, config: { docusignScope: 'user_read' } },
    async (request) => {
      const { organizationId, accountId } = request.params;
      const ctx = enter(request, organizationId);
      const profiles: { id: number; name: string }[] = [];
      let cursor: string | undefined;
      do {
        const page = await services.permissionProfiles.list(ctx, accountId, { limit: 500, cursor });
        profiles.push(...page.data);
        cursor = page.next_cursor ?? undefined;
      } while (cursor);
      return { product_permission_profiles: [productEntry(profiles)] };
    },
  );

  fastify.get(
    `${products}/users/:userId/permission_profiles`,
    { schema: { params: UserPath }, config: { docusignScope: 'user_read' } },
    async (request) => {
      const { organizationId, accountId, userId } = request.params;
      const access = await provisioning.access(enter(request, organizationId), accountId, { id: userId });
      return { product_permission_profiles: productProfiles(access) };
    },
  );

  fastify.post(
    `${products}/users/:userId/permission_profiles`,
    {
      schema: { params: UserPath, body: Type.Object({ product_permission_profiles: ProductProfiles }) },
      config: { docusignScope: 'user_write' },
    },
    async (request) => {
      const { organizationId, accountId, userId } = request.params;
      requireOwnOrganization(request, organizationId);
      const profileId = esignProfileId(
        request.body.product_permission_profiles,
        'product_permission_profiles',
      );
      const ctx = translatingCtx(request, userProductProfiles);
      return userProductProfiles(await provisioning.grantAccess(ctx, accountId, { id: userId }, profileId));
    },
  );

  fastify.get(
    `${products}/permission_profiles/users`,
    {
      schema: { params: AccountPath, querystring: Type.Object({ email: Email }) },
      // The spec declares user_write for this read.
      config: { docusignScope: 'user_write' },
    },
    async (request) => {
      const { organizationId, accountId } = request.params;
      const ref = { email: request.query.email };
      return userProductProfiles(await provisioning.access(enter(request, organizationId), accountId, ref));
    },
  );

  fastify.post(
    `${products}/permission_profiles/users`,
    {
      schema: {
        params: AccountPath,
        body: Type.Object({ email: Email, product_permission_profiles: ProductProfiles }),
      },
      config: { docusignScope: 'user_write' },
    },
    async (request) => {
      const { organizationId, accountId } = request.params;
      requireOwnOrganization(request, organizationId);
      const profileId = esignProfileId(
        request.body.product_permission_profiles,
        'product_permission_profiles',
      );
      const ctx = translatingCtx(request, userProductProfiles);
      const ref = { email: request.body.email };
      return userProductProfiles(await provisioning.grantAccess(ctx, accountId, ref, profileId));
    },
  );

  fastify.delete(
    `${products}/users`,
    {
      schema: {
        params: AccountPath,
        body: Type.Object({
          user_email: Type.Optional(Email),
          user_id: Type.Optional(Guid),
          product_ids: Type.Array(ProductId, { minItems: 1, maxItems: 20 }),
        }),
      },
      config: { docusignScope: 'user_write' },
    },
    async (request) => {
      const { organizationId, accountId } = request.params;
      requireOwnOrganization(request, organizationId);
      const { user_email, user_id, product_ids } = request.body;
      product_ids.forEach((id, i) => {
        if (!isEsignProduct(id)) {
          throw invalidField(
            `product_ids[${i}]`,
            `unknown product ${id}; Signet has one product, eSignature (${ESIGN_PRODUCT_ID})`,
            'invalid_reference',
          );
        }
      });
      if (!user_id && !user_email) throw invalidField('user_id', 'name the user by user_id or user_email');
      const render = ({ user, closed }: { user: UserView; closed: boolean }) => {
        const outcome = closed
          ? 'deleted'
          : `user ${user.id} has no access to eSignature in account ${accountId}`;
        return {
          is_success: closed,
          user_email: user.email,
          user_id: user.id,
          user_product_results: Object.fromEntries(product_ids.map((id) => [id, outcome])),
        };
      };
      // eSignature access is the open membership: revoking it closes the membership.
      const revoked = await withFieldNames(
        provisioning.revokeAccess(translatingCtx(request, render), accountId, {
          id: user_id,
          email: user_email,
        }),
        { email: 'user_email' },
      );
      return render(revoked);
    },
  );

  // --- UsersApi.addOrUpdateUser ----------------------------------------------------------------------------

  fastify.post(
    '/v2.1/organizations/:organizationId/accounts/:accountId/users',
    {
      schema: {
        params: AccountPath,
        body: Type.Object({
          email: Email,
          product_permission_profiles: ProductProfiles,
          ds_groups: Type.Optional(Type.Array(Type.Object({ ds_group_id: Guid }), { maxItems: 100 })),
          user_name: Type.Optional(Type.String({ maxLength: 200 })),
          first_name: Type.Optional(Type.String({ maxLength: 100 })),
          last_name: Type.Optional(Type.String({ maxLength: 100 })),
          language_culture: Type.Optional(Type.String({ minLength: 2, maxLength: 10 })),
          auto_activate_memberships: Type.Optional(Type.Boolean()),
          // Accepted for compatibility and not used: Signet has one account per membership request, no
          // federation settings, activation codes or license types.
          default_account_id: Type.Optional(Guid),
          access_code: Type.Optional(Type.String()),
          federated_status: Type.Optional(Type.String()),
          license_type: Type.Optional(Type.String()),
        }),
      },
      config: { docusignScope: 'user_write' },
    },
    async (request) => {
      const { organizationId, accountId } = request.params;
      requireOwnOrganization(request, organizationId);
      const body = request.body;
      // One core transaction: the user, the membership's profile and its groups change together or not at all.
      const access = await provisioning.addOrUpdate(translatingCtx(request, addUserResponse), {
        account_id: accountId,
        email: body.email,
        ...namesOf(body),
        ...(body.language_culture !== undefined ? { language: body.language_culture } : {}),
        permission_profile_id: esignProfileId(
          body.product_permission_profiles,
          'product_permission_profiles',
        ),
        ds_group_ids: (body.ds_groups ?? []).map((g) => g.ds_group_id),
        ...(body.auto_activate_memberships !== undefined
          ? { membership_status: body.auto_activate_memberships ? 'active' : 'pending' }
          : {}),
        send_activation: activationMailUnlessAutoActivated(body.auto_activate_memberships),
      });
      return addUserResponse(access);
    },
  );

  // --- UsersApi.getUserDSProfilesByEmail / getUserDSProfile (UsersDrilldownResponse) ---------------------------

  const ProfileQuery = {
    // true: the memberships in ascending order of account name (the spec's only meaning for it).
    sort: Type.Optional(Type.Boolean()),
    include_license: Type.Optional(Type.Boolean()),
  };
  /** A user's drilldown, its memberships sorted by account name when `sort` asks. */
  const drilldown = (user: UserView, labels: MembershipLabels, sort: boolean | undefined) => {
    const out = userDrilldown(user, labels);
    if (sort) {
      const name = (m: object) => String((m as { account_name?: string }).account_name ?? '');
      out.memberships.sort((a, b) => name(a).localeCompare(name(b)));
    }
    return out;
  };

  fastify.get(
    '/v2.1/organizations/:organizationId/users/dsprofile',
    {
      schema: {
        params: Type.Object({ organizationId: Type.String() }),
        querystring: Type.Object({ email: Email, ...ProfileQuery }),
      },
      config: { docusignScope: 'user_read' },
    },
    async (request) => {
      const ctx = enter(request, request.params.organizationId);
      // A filter, not an id: an address no user of the organization has finds nobody.
      const user = await services.users.getByEmail(ctx, request.query.email);
      if (!user) return { users: [] };
      return {
        users: [drilldown(user, await services.users.labels(ctx, user.memberships), request.query.sort)],
      };
    },
  );

  fastify.get(
    '/v2.1/organizations/:organizationId/users/:userId/dsprofile',
    {
      schema: {
        params: Type.Object({ organizationId: Type.String(), userId: Guid }),
        querystring: Type.Object(ProfileQuery),
      },
      config: { docusignScope: 'user_read' },
    },
    async (request) => {
      const ctx = enter(request, request.params.organizationId);
      const user = await services.users.get(ctx, request.params.userId);
      return {
        users: [drilldown(user, await services.users.labels(ctx, user.memberships), request.query.sort)],
      };
    },
  );
}
