// Admin API v2.1 "MultiProductUserManagement" (shared/reference/docusign-admin-api.md §3): DS groups
// (DSGroupsApi), product permission profiles (ProductPermissionProfilesApi) and UsersApi.addOrUpdateUser.
//
// Translation only; the rules are the core services'. How Signet's objects appear here:
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
import { invalidField, notFound } from '../../core/errors.ts';
import type { GroupView } from '../../core/groups/service.ts';
import type { Account } from '../../core/types.ts';
import type { MembershipLabels, MembershipView, UserView } from '../../core/users/service.ts';
import { sentResponseCtx } from '../docusign/ctx.ts';
import { requireOwnOrganization } from '../docusign/face.ts';
import { ESIGN_PRODUCT_ID, ESIGN_PRODUCT_NAME, isEsignProduct } from './products.ts';
import { fullName, membershipStatus, namesOf, userDrilldown } from './users-mapping.ts';

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

function openMembership(memberships: MembershipView[], accountId: string): MembershipView | undefined {
  return memberships.find((m) => m.account_id === accountId && m.status !== 'closed');
}

export async function managementMultiProductRoutes(instance: FastifyInstance): Promise<void> {
  const fastify = instance.withTypeProvider<TypeBoxTypeProvider>();
  const { services } = fastify;

  /**
   * The Ctx for core calls, after refusing another organization's id (404, like a missing one). Several routes
   * here make more than one core call, or read back what they return after the write: the idempotency layer
   * stores the DocuSign-shaped response they send (sentResponseCtx).
   */
  function enter(request: FastifyRequest, organizationId: string): Ctx {
    requireOwnOrganization(request, organizationId);
    return sentResponseCtx(request);
  }

  async function userByEmail(ctx: Ctx, email: string): Promise<UserView> {
    const user = await services.users.getByEmail(ctx, email);
    if (!user) throw notFound(`user with email ${email}`, undefined, 'user');
    return user;
  }

  /** The user's eSignature profile in the account: none without an open membership. */
  async function productProfilesOf(ctx: Ctx, accountId: string, user: UserView) {
    const membership = openMembership(user.memberships, accountId);
    if (!membership) return [];
    if (membership.permission_profile_id === null) return [productEntry([])];
    const profile = await services.permissionProfiles.get(ctx, accountId, membership.permission_profile_id);
    return [productEntry([profile])];
  }

  /**
   * Grants eSignature with a profile: an open membership gets the profile; a closed one is reopened with it;
   * a user with none gets a new membership.
   */
  async function grantProduct(ctx: Ctx, accountId: string, user: UserView, profileId: number) {
    const membership = user.memberships.find((m) => m.account_id === accountId);
    if (!membership) {
      await services.users.createMembership(ctx, user.id, {
        account_id: accountId,
        permission_profile_id: profileId,
      });
    } else {
      await services.users.updateMembership(ctx, user.id, membership.id, {
        permission_profile_id: profileId,
        ...(membership.status === 'closed' ? { status: 'active' as const } : {}),
      });
    }
    return services.users.get(ctx, user.id);
  }

  async function setProductProfiles(ctx: Ctx, accountId: string, user: UserView, list: ProductProfileList) {
    await services.accounts.get(ctx, accountId);
    const profileId = esignProfileId(list, 'product_permission_profiles');
    const after = profileId === undefined ? user : await grantProduct(ctx, accountId, user, profileId);
    return {
      user_id: after.id,
      account_id: accountId,
      product_permission_profiles: await productProfilesOf(ctx, accountId, after),
    };
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
      const ctx = enter(request, organizationId);
      const account = await services.accounts.get(ctx, accountId);
      const group = await services.groups.create(ctx, accountId, {
        name: request.body.group_name,
        description: request.body.description ?? null,
      });
      return dsGroupResponse(group, account);
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
      const ctx = enter(request, organizationId);
      const group = await services.groups.getByDsGroupId(ctx, accountId, dsGroupId);
      await services.groups.delete(ctx, accountId, group.id);
      return reply.code(204).send();
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
      // All or nothing (the core's rule): a user without a membership in the account refuses the request.
      const result = await services.groups.addMembers(ctx, accountId, group.id, request.body.user_ids);
      const users: ReturnType<typeof dsGroupUser>[] = [];
      for (const id of [...result.added, ...result.already_members]) {
        users.push(dsGroupUser(await services.users.get(ctx, id), accountId));
      }
      return {
        group: dsGroupResponse(await services.groups.get(ctx, accountId, group.id), account),
        group_users: { is_success: true, TotalCount: users.length, users },
      };
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
      if (ids.length > 0) {
        const result = await services.groups.removeMembers(ctx, accountId, group.id, ids);
        for (const id of result.not_members) {
          failed.push({
            user_id: id,
            account_id: accountId,
            error_details: {
              error: 'not_a_member',
              error_description: `user ${id} is not a member of group ${dsGroupId}`,
            },
          });
        }
      }
      return { is_success: failed.length === 0, failed_users: failed };
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
      const ctx = enter(request, organizationId);
      await services.accounts.get(ctx, accountId);
      const user = await services.users.get(ctx, userId);
      return { product_permission_profiles: await productProfilesOf(ctx, accountId, user) };
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
      const ctx = enter(request, organizationId);
      const user = await services.users.get(ctx, userId);
      return setProductProfiles(ctx, accountId, user, request.body.product_permission_profiles);
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
      const ctx = enter(request, organizationId);
      await services.accounts.get(ctx, accountId);
      const user = await userByEmail(ctx, request.query.email);
      return {
        user_id: user.id,
        account_id: accountId,
        product_permission_profiles: await productProfilesOf(ctx, accountId, user),
      };
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
      const ctx = enter(request, organizationId);
      const user = await userByEmail(ctx, request.body.email);
      return setProductProfiles(ctx, accountId, user, request.body.product_permission_profiles);
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
      const ctx = enter(request, organizationId);
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
      await services.accounts.get(ctx, accountId);
      let user: UserView;
      if (user_id) {
        user = await services.users.get(ctx, user_id);
        if (user_email && user.email.toLowerCase() !== user_email.toLowerCase()) {
          throw invalidField('user_email', `is not the email of user ${user_id}`);
        }
      } else if (user_email) {
        user = await userByEmail(ctx, user_email);
      } else {
        throw invalidField('user_id', 'name the user by user_id or user_email');
      }
      // eSignature access is the open membership: revoking it closes the membership.
      const membership = openMembership(user.memberships, accountId);
      let outcome = 'deleted';
      if (membership) {
        await services.users.updateMembership(ctx, user.id, membership.id, { status: 'closed' });
      } else {
        outcome = `user ${user.id} has no access to eSignature in account ${accountId}`;
      }
      return {
        is_success: outcome === 'deleted',
        user_email: user.email,
        user_id: user.id,
        user_product_results: Object.fromEntries(product_ids.map((id) => [id, outcome])),
      };
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
      const ctx = enter(request, organizationId);
      const body = request.body;
      const account = await services.accounts.get(ctx, accountId);
      const profileId = esignProfileId(body.product_permission_profiles, 'product_permission_profiles');
      const groupIds = await services.groups.idsOfDsGroups(
        ctx,
        accountId,
        (body.ds_groups ?? []).map((g) => g.ds_group_id),
      );
      const names = {
        ...namesOf(body),
        ...(body.language_culture !== undefined ? { language: body.language_culture } : {}),
      };
      const existing = await services.users.getByEmail(ctx, body.email);
      const open = existing && openMembership(existing.memberships, accountId);
      let user: UserView;
      if (existing && open) {
        // Update: the user's names, the membership's profile, and the groups added to those it has.
        if (Object.keys(names).length > 0) await services.users.update(ctx, existing.id, names);
        if (profileId !== undefined && profileId !== open.permission_profile_id) {
          await services.users.updateMembership(ctx, existing.id, open.id, {
            permission_profile_id: profileId,
          });
        }
        for (const groupId of groupIds.filter((g) => !open.group_ids.includes(g))) {
          await services.groups.addMembers(ctx, accountId, groupId, [existing.id]);
        }
        user = await services.users.get(ctx, existing.id);
      } else {
        // Create the user, or give an existing one a membership (a closed one is reopened).
        const status =
          body.auto_activate_memberships === undefined
            ? undefined
            : body.auto_activate_memberships
              ? ('active' as const)
              : ('pending' as const);
        const enrolled = await services.users.enrol(ctx, {
          email: body.email,
          ...names,
          account_id: accountId,
          ...(profileId !== undefined ? { permission_profile_id: profileId } : {}),
          group_ids: groupIds,
          ...(status ? { membership_status: status } : {}),
        });
        user = enrolled.user;
        if (!enrolled.created && Object.keys(names).length > 0) {
          user = await services.users.update(ctx, user.id, names);
        }
      }
      const membership = user.memberships.find((m) => m.account_id === accountId)!;
      const groups: ReturnType<typeof dsGroupResponse>[] = [];
      for (const id of membership.group_ids) {
        groups.push(dsGroupResponse(await services.groups.get(ctx, accountId, id), account));
      }
      return {
        id: user.id,
        user_name: fullName(user),
        first_name: user.first_name,
        last_name: user.last_name,
        email: user.email,
        ...(user.language ? { language_culture: user.language } : {}),
        accounts: [
          {
            id: accountId,
            product_permission_profiles: await productProfilesOf(ctx, accountId, user),
            ds_groups: groups,
            ...(user.company ? { company_name: user.company } : {}),
            ...(user.job_title ? { job_title: user.job_title } : {}),
          },
        ],
      };
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
