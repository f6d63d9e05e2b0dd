// Admin API account creation and cloning (ProvisionAssetGroupApi): createAssetGroupAccount and its processes
// (getSubAccountCreateProcessesByOrgId, getSubAccountCreateProcessByAssetGroupWorkId), cloneAssetGroupAccount
// and its processes (getAssetGroupAccountClonesByOrgId, getAssetGroupAccountClone), the organization's plan
// (getOrganizationPlanItems) and the accounts of its asset group (getAssetGroupAccounts).
//
// How DocuSign's provisioning words map onto Signet (docs/compatibility.md):
//  * The organization is Signet's one "asset group" and one subscription: assetGroupId, asset_group_id and
//    subscription_id are the organization's id. Every account of the organization belongs to it.
//  * Every account is on the one self-hosted plan (products.ts: SIGNET_PLAN_ID) whose one item (module) is the
//    eSignature product. A request may name that plan and module, and nothing else.
//  * Creating or cloning an account is immediate (core: accounts/creations.ts): the process is recorded as
//    completed in the account's own transaction, attempts 1. The request's admin becomes a member with
//    "DS Admin". A clone copies the source's settings, permission profiles, groups (without members) and
//    brands with their logos; not its people.
// The models of these operations are camelCase (PascalCase for AssetGroupWorkResult), as the spec has them.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AccountCreationInput, AccountCreationView } from '../../core/accounts/creations.ts';
import type { Ctx } from '../../core/context.ts';
import { EMAIL_MAX_LENGTH } from '../../core/email.ts';
import { invalidField, notFound } from '../../core/errors.ts';
import { readCtx, translatingCtx } from '../docusign/ctx.ts';
import { requireOwnOrganization } from '../docusign/face.ts';
import type { DocuSignScope } from '../docusign/scopes.ts';
import {
  ESIGN_PLAN_ITEM,
  ESIGN_PRODUCT_ID,
  ESIGN_PRODUCT_NAME,
  isEsignProduct,
  SIGNET_PLAN_ID,
  SIGNET_PLAN_NAME,
} from './products.ts';

/** What DocuSign calls the work that creates an account, and the work that clones one. */
const CREATE_WORK_TYPE = 'AccountCreate';
const CLONE_WORK_TYPE = 'AccountClone';

const Open = { additionalProperties: true } as const;
const Address = Type.Object({}, Open);
const Admin = Type.Object(
  {
    email: Type.String({ format: 'email', minLength: 3, maxLength: EMAIL_MAX_LENGTH }),
    firstName: Type.Optional(Type.String({ maxLength: 100 })),
    lastName: Type.Optional(Type.String({ maxLength: 100 })),
    locale: Type.Optional(Type.String({ maxLength: 20 })),
    address: Type.Optional(Address),
  },
  Open,
);
const CreateBody = Type.Object(
  {
    subscriptionDetails: Type.Optional(
      Type.Object(
        {
          id: Type.Optional(Type.String({ maxLength: 100 })),
          planId: Type.Optional(Type.String({ maxLength: 100 })),
          modules: Type.Optional(Type.Array(Type.String({ maxLength: 100 }), { maxItems: 20 })),
        },
        Open,
      ),
    ),
    targetAccount: Type.Object(
      {
        // DocuSign lets the caller pass an id; Signet assigns its own and ignores this one.
        id: Type.Optional(Type.String({ maxLength: 100 })),
        name: Type.String({ minLength: 1, maxLength: 200 }),
        address: Type.Optional(Address),
        admin: Type.Optional(Admin),
        countryCode: Type.Optional(Type.String({ maxLength: 10 })),
        region: Type.Optional(Type.String({ maxLength: 50 })),
        site: Type.Optional(Type.String({ maxLength: 50 })),
      },
      Open,
    ),
  },
  Open,
);

const CloneBody = Type.Object(
  {
    sourceAccount: Type.Object({ id: Type.String({ format: 'uuid' }) }, Open),
    targetAccount: Type.Optional(
      Type.Object(
        {
          // DocuSign lets the caller pass an id; Signet assigns its own and ignores this one.
          id: Type.Optional(Type.String({ maxLength: 100 })),
          name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
          admin: Type.Optional(Admin),
          countryCode: Type.Optional(Type.String({ maxLength: 10 })),
          region: Type.Optional(Type.String({ maxLength: 50 })),
          site: Type.Optional(Type.String({ maxLength: 50 })),
        },
        Open,
      ),
    ),
  },
  Open,
);

interface StoredRequest {
  target_account?: { countryCode?: string; region?: string; site?: string; locale?: string };
  subscription?: { id?: string };
}

function put(target: Record<string, unknown>, key: string, value: unknown): void {
  if (value !== null && value !== undefined && value !== '') target[key] = value;
}

/** The request's admin (DocuSign's camelCase) as the core's AccountCreationInput.admin; none, nothing. */
function adminOf(admin: Static<typeof Admin> | undefined): Pick<AccountCreationInput, 'admin'> {
  if (!admin) return {};
  return {
    admin: {
      email: admin.email,
      first_name: admin.firstName,
      last_name: admin.lastName,
      language: admin.locale ?? null,
    },
  };
}

/** The target account of a recorded creation or clone (SubAccountCreateTargetAccount and its clone twin). */
function targetAccount(c: AccountCreationView) {
  const req = c.request as StoredRequest;
  const target: Record<string, unknown> = { id: c.account_id, name: c.account_name };
  put(target, 'region', req.target_account?.region);
  put(target, 'countryCode', req.target_account?.countryCode);
  put(target, 'site', req.target_account?.site);
  if (c.admin_email) {
    const admin: Record<string, unknown> = {
      email: c.admin_email,
      firstName: c.admin_first_name ?? '',
      lastName: c.admin_last_name ?? '',
    };
    put(admin, 'locale', req.target_account?.locale);
    target.admin = admin;
  }
  return target;
}

/** The fields a creation and a clone process share. */
function work(c: AccountCreationView, type: string, message: string) {
  const requestor = c.requestor as { name?: string; email?: string };
  const out: Record<string, unknown> = {
    targetAccount: targetAccount(c),
    assetGroupWorkId: c.id,
    assetGroupId: c.organization_id,
    assetGroupWorkType: type,
    status: c.status,
    attempts: 1,
    createdDate: c.created_at.toISOString(),
    message,
  };
  put(out, 'createdByName', requestor.name);
  put(out, 'createdByEmail', requestor.email);
  return out;
}

/** AssetGroupAccountClone: one recorded clone. */
function cloneWork(c: AccountCreationView) {
  const source: Record<string, unknown> = { id: c.source_account_id };
  put(source, 'name', c.source_account_name);
  put(source, 'externalAccountId', c.source_external_account_id);
  return {
    sourceAccount: source,
    ...work(c, CLONE_WORK_TYPE, `account ${c.account_id} cloned from account ${c.source_account_id}`),
  };
}

/** SubAccountCreateWorker: one recorded creation. */
function worker(c: AccountCreationView) {
  return {
    ...work(c, CREATE_WORK_TYPE, `account ${c.account_id} created`),
    subscriptionDetails: {
      id: c.organization_id,
      planId: SIGNET_PLAN_ID,
      planName: SIGNET_PLAN_NAME,
      modules: [{ moduleId: ESIGN_PRODUCT_ID, moduleName: ESIGN_PRODUCT_NAME }],
    },
  };
}

/** AssetGroupWorkResult (PascalCase, as the spec's Subscription.Provision.Model). */
function workResult(c: AccountCreationView) {
  const req = c.request as StoredRequest;
  const details: Record<string, unknown> = {
    SubscriptionDetails: {
      SubscriptionId: c.organization_id,
      PlanId: SIGNET_PLAN_ID,
      Modules: [ESIGN_PRODUCT_ID],
    },
    Name: c.account_name,
  };
  put(details, 'CountryCode', req.target_account?.countryCode);
  put(details, 'Region', req.target_account?.region);
  put(details, 'Site', req.target_account?.site);
  if (c.admin_email) {
    const admin: Record<string, unknown> = {
      EmailAddress: c.admin_email,
      FirstName: c.admin_first_name ?? '',
      LastName: c.admin_last_name ?? '',
    };
    put(admin, 'Locale', req.target_account?.locale);
    details.AdminUser = admin;
  }
  const requestor = c.requestor as { name?: string; email?: string; id?: string };
  const work: Record<string, unknown> = {
    AssetGroupWorkId: c.id,
    AssetGroupId: c.organization_id,
    AssetGroupWorkType: CREATE_WORK_TYPE,
    Status: c.status,
    TargetAccountId: c.account_id,
    CreateSubAccountDetails: details,
    Attempts: 1,
    Message: `account ${c.account_id} created`,
    CreatedDate: c.created_at.toISOString(),
    UpdatedDate: c.updated_at.toISOString(),
    UpdateHistory: [],
  };
  put(work, 'CreatedByName', requestor.name);
  put(work, 'CreatedByEmail', requestor.email);
  put(work, 'CreatedBy', requestor.id);
  return { AssetGroupWork: work, Message: `account ${c.account_id} created`, Success: true };
}

export async function accountCreationRoutes(instance: FastifyInstance): Promise<void> {
  const fastify = instance.withTypeProvider<TypeBoxTypeProvider>();
  const { services } = fastify;
  const creations = services.accountCreations;

  /**
   * The Ctx for reads, after refusing another organization's id (404, like a missing one). Creating and
   * cloning are one core transaction each: their Ctx stores the DocuSign-shaped result with it (translatingCtx).
   */
  function enter(request: FastifyRequest, organizationId: string): Ctx {
    requireOwnOrganization(request, organizationId);
    return readCtx(request);
  }

  /** The organization's one asset group is the organization itself: any other id is not found. */
  function requireAssetGroup(organizationId: string, assetGroupId: string): void {
    if (assetGroupId.toLowerCase() !== organizationId.toLowerCase()) {
      throw notFound('asset group', assetGroupId);
    }
  }

  /** The caller's organization: Signet's one asset group and subscription. */
  function organizationOf(ctx: Ctx) {
    return services.organizations.get(ctx, ctx.principal.organizationId);
  }

  async function allAccounts(ctx: Ctx) {
    const out = [];
    let cursor: string | undefined;
    do {
      const page = await services.accounts.list(ctx, { limit: 500, cursor });
      out.push(...page.data);
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
    return out;
  }

  const OrgPath = Type.Object({ organizationId: Type.String() });

  fastify.post(
    '/v2/organizations/:organizationId/assetGroups/accountCreate',
    {
      schema: { params: OrgPath, body: CreateBody },
      config: { docusignScope: 'organization_sub_account_write' },
    },
    async (request) => {
      enter(request, request.params.organizationId);
      const { subscriptionDetails: sub, targetAccount: target } = request.body;
      if (sub?.planId !== undefined && sub.planId.toLowerCase() !== SIGNET_PLAN_ID) {
        throw invalidField(
          'subscriptionDetails.planId',
          `unknown plan ${sub.planId}; Signet's one plan is ${SIGNET_PLAN_ID} (${SIGNET_PLAN_NAME})`,
          'invalid_reference',
        );
      }
      (sub?.modules ?? []).forEach((module, i) => {
        if (!isEsignProduct(module)) {
          throw invalidField(
            `subscriptionDetails.modules[${i}]`,
            `unknown module ${module}; the plan's one module is eSignature (${ESIGN_PRODUCT_ID})`,
            'invalid_reference',
          );
        }
      });
      if (
        sub?.id !== undefined &&
        sub.id !== '' &&
        sub.id.toLowerCase() !== request.params.organizationId.toLowerCase()
      ) {
        throw invalidField(
          'subscriptionDetails.id',
          `unknown subscription ${sub.id}; the organization's one subscription is ${request.params.organizationId}`,
          'invalid_reference',
        );
      }
      const admin = target.admin;
      const ctx = translatingCtx<{ creation: AccountCreationView }>(request, (r) => workResult(r.creation));
      const { creation } = await creations.create(ctx, {
        name: target.name,
        ...adminOf(admin),
        request: {
          target_account: {
            name: target.name,
            countryCode: target.countryCode,
            region: target.region,
            site: target.site,
            locale: admin?.locale,
            address: target.address,
          },
          subscription: { id: sub?.id, planId: sub?.planId, modules: sub?.modules },
        },
      });
      return workResult(creation);
    },
  );

  fastify.post(
    '/v2/organizations/:organizationId/assetGroups/accountClone',
    {
      schema: { params: OrgPath, body: CloneBody },
      config: { docusignScope: 'asset_group_account_clone_write' },
    },
    async (request) => {
      const ctx = enter(request, request.params.organizationId);
      const { sourceAccount, targetAccount: target = {} } = request.body;
      const source = await services.accounts.get(ctx, sourceAccount.id.toLowerCase());
      const admin = target.admin;
      const name = target.name ?? `Copy of ${source.name}`.slice(0, 200);
      const { creation } = await creations.clone(
        translatingCtx<{ creation: AccountCreationView }>(request, (r) => cloneWork(r.creation)),
        source.id,
        {
          name,
          ...adminOf(admin),
          request: {
            target_account: {
              name,
              countryCode: target.countryCode,
              region: target.region,
              site: target.site,
              locale: admin?.locale,
            },
          },
        },
      );
      return cloneWork(creation);
    },
  );

  // The recorded processes, listed and read one by one: clones (AssetGroupAccountClone) and creations
  // (SubAccountCreateWorker), each under the scope and path the spec gives it.
  const processes: {
    kind: 'clone' | 'create';
    scope: DocuSignScope;
    list: string;
    one: string;
    view: (c: AccountCreationView) => Record<string, unknown>;
  }[] = [
    {
      kind: 'clone',
      scope: 'asset_group_account_clone_read',
      list: '/v2/organizations/:organizationId/assetGroups/accountClones',
      one: '/v2/organizations/:organizationId/assetGroups/:assetGroupId/accountClones/:assetGroupWorkId',
      view: cloneWork,
    },
    {
      kind: 'create',
      scope: 'organization_sub_account_read',
      list: '/v2/organizations/:organizationId/subAccountsCreated',
      one: '/v2/organizations/:organizationId/assetGroup/:assetGroupId/subAccountCreated/:assetGroupWorkId',
      view: worker,
    },
  ];
  for (const { kind, scope, list, one, view } of processes) {
    fastify.get(
      list,
      {
        schema: {
          params: OrgPath,
          querystring: Type.Object({
            since_updated_date: Type.Optional(Type.String({ format: 'date-time' })),
            include_details: Type.Optional(Type.Boolean()),
          }),
        },
        config: { docusignScope: scope },
      },
      async (request) => {
        const ctx = enter(request, request.params.organizationId);
        const since = request.query.since_updated_date;
        const rows = await creations.list(ctx, kind, since ? { since: new Date(since) } : {});
        return { assetGroupWorks: rows.map(view) };
      },
    );

    fastify.get(
      one,
      {
        schema: {
          params: Type.Object({
            organizationId: Type.String(),
            assetGroupId: Type.String(),
            assetGroupWorkId: Type.String({ format: 'uuid' }),
          }),
          querystring: Type.Object({ include_details: Type.Optional(Type.Boolean()) }),
        },
        config: { docusignScope: scope },
      },
      async (request) => {
        const { organizationId, assetGroupId, assetGroupWorkId } = request.params;
        const ctx = enter(request, organizationId);
        requireAssetGroup(organizationId, assetGroupId);
        return view(await creations.get(ctx, assetGroupWorkId.toLowerCase(), kind));
      },
    );
  }

  fastify.get(
    '/v2/organizations/:organizationId/planItems',
    { schema: { params: OrgPath }, config: { docusignScope: 'organization_sub_account_read' } },
    async (request) => {
      const ctx = enter(request, request.params.organizationId);
      const org = await organizationOf(ctx);
      const accounts = await allAccounts(ctx);
      return [
        {
          plan_id: SIGNET_PLAN_ID,
          plan_name: SIGNET_PLAN_NAME,
          associated_accounts_count: accounts.length,
          asset_group_id: org.id,
          asset_group_name: org.name,
          subscription_id: org.id,
          subscription_name: `${org.name} (${SIGNET_PLAN_NAME})`,
          modules: [ESIGN_PLAN_ITEM],
        },
      ];
    },
  );

  fastify.get(
    '/v2/organizations/:organizationId/assetGroups/accounts',
    {
      schema: {
        params: OrgPath,
        querystring: Type.Object({ compliant: Type.Optional(Type.Boolean()) }),
      },
      config: { docusignScope: 'asset_group_account_read' },
    },
    async (request) => {
      const ctx = enter(request, request.params.organizationId);
      const org = await organizationOf(ctx);
      // Every account is on the organization's one plan, so every account is compliant with it.
      if (request.query.compliant === false) return { assetGroupAccounts: [] };
      const accounts = await allAccounts(ctx);
      return {
        assetGroupAccounts: accounts.map((a) => ({
          assetGroupId: org.id,
          assetGroupName: org.name,
          accountId: a.id,
          accountName: a.name,
          externalAccountId: a.external_account_id,
          compliant: true,
        })),
      };
    },
  );
}
