// The Admin API compatibility table: every operation of DocuSign's Admin API OpenAPI document
// (test/fixtures/admin.rest.swagger-v2.1.json, 74 operations) against the routes Signet's /management face
// actually registers. Run `node --import tsx scripts/compatibility.ts` to print the Markdown table that
// docs/compatibility.md carries; test/management-coverage.test.ts asserts no operation is MISSING.
//
// The routes are collected from the real app plugin (src/app.ts) with an onRoute hook, so the table reflects
// the code, not a hand-kept list. No database is needed: the app is registered, never started.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Fastify from 'fastify';
import { app } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { connect } from '../src/db/connection.ts';
import { createServices } from '../src/services.ts';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const SPEC = path.join(ROOT, 'test/fixtures/admin.rest.swagger-v2.1.json');
const HTTP_METHODS = ['get', 'post', 'put', 'delete', 'patch'] as const;

/**
 * The docusign-admin SDK (3.1.0) method for each operation, matched by method and path
 * (shared/reference/docusign-admin-api.md §3). Four bulk-import names differ from the spec's x-ds-methodname.
 */
export const SDK_METHODS: Record<string, string> = {
  Organization_Organization_GetListV2: 'AccountsApi.getOrganizations',
  OrganizationUser_OrganizationUsers_GetV2: 'UsersApi.getUsers',
  User_Users_UpdateEmailAddressesV2: 'UsersApi.updateEmailAddress',
  Account_Accounts_GetGroupsV2: 'AccountsApi.getGroups',
  Account_Accounts_GetPermissionProfilesV2: 'AccountsApi.getPermissions',
  OrganizationUser_OrganizationUsers_PostAccountUsersV2: 'UsersApi.addUsers',
  OrganizationUser_Users_AddV2: 'UsersApi.createUser',
  OrganizationUser_OrganizationUsers_GetProfileV2: 'UsersApi.getUserProfiles',
  User_Users_UpdateV2: 'UsersApi.updateUser',
  User_Users_CloseMembershipsV2: 'UsersApi.closeMemberships',
  OrganizationUser_DeleteIdentitiesV2: 'UsersApi.deleteIdentities',
  OrganizationUser_Users_ActivateMembershipV2: 'UsersApi.activateMembership',
  DocuSignGroupsv21_GetDSGroups_V2_1: 'DSGroupsApi.getDSGroups',
  DocuSignGroupsv21_AddDSGroup_V2_1: 'DSGroupsApi.addDSGroup',
  DocuSignGroupsv21_GetDSGroup_V2_1: 'DSGroupsApi.getDSGroup',
  DocuSignGroupsv21_DeleteDSGroup_V2_1: 'DSGroupsApi.deleteDSGroup',
  DocuSignGroupsv21_GetDSGroupUsers_V2_1: 'DSGroupsApi.getDSGroupUsers',
  DocuSignGroupsv21_AddDSGroupUsers_V2_1: 'DSGroupsApi.addDSGroupUsers',
  DocuSignGroupsv21_RemoveDSGroupUsers_V2_1: 'DSGroupsApi.removeDSGroupUsers',
  OrganizationProductPermissionProfile_GetProductPermissionProfiles:
    'ProductPermissionProfilesApi.getProductPermissionProfiles',
  OrganizationProductPermissionProfile_GetUserProductPermissionProfilesByEmail:
    'ProductPermissionProfilesApi.getUserProductPermissionProfilesByEmail',
  OrganizationProductPermissionProfile_PostUserProductPermissionProfilesByEmail:
    'ProductPermissionProfilesApi.addUserProductPermissionProfilesByEmail',
  OrganizationProductPermissionProfile_RemoveUserProducts:
    'ProductPermissionProfilesApi.removeUserProductPermission',
  OrganizationProductPermissionProfile_GetUserProductPermissionProfiles:
    'ProductPermissionProfilesApi.getUserProductPermissionProfiles',
  OrganizationProductPermissionProfile_PostUserProductPermissionProfiles:
    'ProductPermissionProfilesApi.addUserProductPermissionProfiles',
  OrganizationUser_OrganizationUsers_PostAccountUsersV2_1: 'UsersApi.addOrUpdateUser',
  OrganizationUser_OrganizationUsers_GetDSProfiles: 'UsersApi.getUserDSProfilesByEmail',
  OrganizationUser_OrganizationUsers_GetDSProfileByUserId: 'UsersApi.getUserDSProfile',
  OrganizationImport_OrganizationImportUsers_Get: 'BulkImportsApi.getBulkUserImportRequests',
  OrganizationImport_OrganizationImportUsers_Insert: 'BulkImportsApi.createBulkImportAddUsersRequest',
  OrganizationImport_OrganizationImportUsers_Close: 'BulkImportsApi.createBulkImportCloseUsersRequest',
  OrganizationImport_OrganizationImportUsers_CloseExternal:
    'BulkImportsApi.createBulkImportExternalCloseUsersRequest',
  OrganizationImport_OrganizationImportUsers_Update: 'BulkImportsApi.createBulkImportUpdateUsersRequest',
  OrganizationImport_OrganizationImportUsers_GetById: 'BulkImportsApi.getBulkUserImportRequest',
  OrganizationImport_OrganizationImportUsers_DeleteById: 'BulkImportsApi.deleteBulkUserImport',
  OrganizationImport_OrganizationImportUsers_GetCSVResults: 'BulkImportsApi.getBulkUserImportCSV',
  OrganizationImport_OrganizationImportSingleAccountUsers_Insert:
    'BulkImportsApi.createBulkImportSingleAccountAddUsersRequest',
  OrganizationImport_OrganizationImportSingleAccountUsers_Update:
    'BulkImportsApi.createBulkImportSingleAccountUpdateUsersRequest',
  OrganizationExport_OrganizationExport_Get: 'BulkExportsApi.getUserListExports',
  OrganizationExport_OrganizationExport_Insert: 'BulkExportsApi.createUserListExport',
  OrganizationExport_OrganizationExport_GetByExportId: 'BulkExportsApi.getUserListExport',
  OrganizationExport_OrganizationExport_DeleteByExportId: 'BulkExportsApi.deleteUserListExport',
  OrganizationImport_OrganizationImportAccountSettings_Get: 'BulkImportsApi.getBulkAccountSettingsImports',
  OrganizationImport_OrganizationImportAccountSettings_Post: 'BulkImportsApi.addBulkAccountSettingsImport',
  OrganizationImport_OrganizationImportAccountSettings_GetById: 'BulkImportsApi.getBulkAccountSettingsImport',
  OrganizationImport_OrganizationImportAccountSettings_DeleteById:
    'BulkImportsApi.deleteBulkAccountSettingsImport',
  OrganizationExport_OrganizationExport_GetAccountCompare: 'BulkExportsApi.getAccountSettingsExports',
  OrganizationExport_OrganizationExport_AccountCompare: 'BulkExportsApi.createAccountSettingsExport',
  OrganizationExport_OrganizationExport_GetAccountSettingsExportByExportId:
    'BulkExportsApi.getAccountSettingsExport',
  OrganizationExport_OrganizationExport_DeleteByAccountSettingsExportId:
    'BulkExportsApi.deleteAccountSettingsExport',
  Organization_GetIdentityProviders: 'IdentityProvidersApi.getIdentityProviders',
  Organization_GetReservedDomains: 'ReservedDomainsApi.getReservedDomains',
  DataRedaction_RedactIndividualMembershipData: 'AccountsApi.redactIndividualMembershipData',
  DataRedaction_RedactIndividualUserData: 'OrganizationsApi.redactIndividualUserData',
  OrganizationProvisionAssetGroup_CloneAssetGroupAccount: 'ProvisionAssetGroupApi.cloneAssetGroupAccount',
  OrganizationProvisionAssetGroup_GetAssetGroupAccountClonesByOrgId:
    'ProvisionAssetGroupApi.getAssetGroupAccountClonesByOrgId',
  OrganizationProvisionAssetGroup_GetAssetGroupAccountsByOrg: 'ProvisionAssetGroupApi.getAssetGroupAccounts',
  OrganizationProvisionAssetGroup_GetAssetGroupAccountClone:
    'ProvisionAssetGroupApi.getAssetGroupAccountClone',
  OrganizationSubAccount_GetSubAccountCreateProcessByAssetGroupWorkId:
    'ProvisionAssetGroupApi.getSubAccountCreateProcessByAssetGroupWorkId',
  OrganizationSubAccount_CreateSubAccount: 'ProvisionAssetGroupApi.createAssetGroupAccount',
  OrganizationSubAccount_GetOrganizationPlanItems: 'ProvisionAssetGroupApi.getOrganizationPlanItems',
  OrganizationSubAccount_GetSubAccountCreateProcessesByOrgId:
    'ProvisionAssetGroupApi.getSubAccountCreateProcessesByOrgId',
  OrganizationConnect_GetOrganizationConnectConfigs: 'OrgConnectApi.getOrganizationConnectConfigs',
  OrganizationConnect_CreateOrganizationConnectConfig: 'OrgConnectApi.createOrganizationConnectConfig',
  OrganizationConnectOAuthConfiguration_GetOrganizationConnectOAuthConfiguration:
    'OrgConnectApi.getOrganizationConnectOAuthConfiguration',
  OrganizationConnectOAuthConfiguration_PostOrganizationConnectOAuthConfiguration:
    'OrgConnectApi.postOrganizationConnectOAuthConfiguration',
  OrganizationConnectOAuthConfiguration_PutOrganizationConnectOAuthConfiguration:
    'OrgConnectApi.putOrganizationConnectOAuthConfiguration',
  OrganizationConnectOAuthConfiguration_DeleteOrganizationConnectOAuthConfiguration:
    'OrgConnectApi.deleteOrganizationConnectOAuthConfiguration',
  OrganizationConnectHmac_GetConnectHmacSecrets: 'OrgConnectApi.getConnectHmacSecrets',
  OrganizationConnectHmac_PostConnectHmacSecret: 'OrgConnectApi.postConnectHmacSecret',
  OrganizationConnectHmac_DeleteConnectHmacSecret: 'OrgConnectApi.deleteConnectHmacSecret',
  OrganizationConnect_GetOrganizationConnectConfig: 'OrgConnectApi.getOrganizationConnectConfig',
  OrganizationConnect_UpdateOrganizationConnectConfig: 'OrgConnectApi.updateOrganizationConnectConfig',
  OrganizationConnect_DeleteOrganizationConnectConfig: 'OrgConnectApi.deleteOrganizationConnectConfig',
};

export interface SpecOperation {
  method: string;
  /** The path after the base path, in the spec's {param} form. */
  path: string;
  operationId: string;
  sdkMethod: string;
  scope: string;
  tag: string;
}

/** What a route's querystring schema says of one parameter (the JSON Schema keywords that matter here). */
export interface QuerySchema {
  type?: string;
  enum?: unknown[];
  const?: unknown;
  anyOf?: QuerySchema[];
}

export interface RouteInfo {
  method: string;
  /** The route's URL after /management, in Fastify's :param form. */
  url: string;
  docusignScope?: string;
  notSupported?: string;
  /** The query parameters its schema declares. */
  query?: Record<string, QuerySchema>;
}

export type OperationStatus = 'works' | 'not_supported' | 'missing';

export interface CompatibilityRow extends SpecOperation {
  status: OperationStatus;
  /** For a 501 operation, the reason it gives. */
  reason?: string;
  /** The scope the route declares, if it differs from the spec's (a bug the table makes visible). */
  routeScope?: string;
}

interface SpecDoc {
  paths: Record<
    string,
    Record<string, { operationId: string; tags?: string[]; security?: Record<string, string[]>[] }>
  >;
}

export function specOperations(file = SPEC): SpecOperation[] {
  const spec = JSON.parse(readFileSync(file, 'utf8')) as SpecDoc;
  const out: SpecOperation[] = [];
  for (const [p, ops] of Object.entries(spec.paths)) {
    for (const method of HTTP_METHODS) {
      const op = ops[method];
      if (!op) continue;
      out.push({
        method: method.toUpperCase(),
        path: p,
        operationId: op.operationId,
        sdkMethod: SDK_METHODS[op.operationId] ?? '(unknown)',
        scope: op.security?.flatMap((s) => Object.values(s).flat())[0] ?? '',
        tag: op.tags?.[0] ?? '',
      });
    }
  }
  return out;
}

/** A route of the app as its route table declares it (test/matrices.test.ts generates its matrices from these). */
export interface AppRoute {
  method: string;
  /** The whole URL, in Fastify's :param form (/api/users/:id, /management/v2/…). */
  url: string;
  /** The Signet permission the route declares (on the DocuSign faces, the one its scope stands for). */
  permission?: string;
  /** Instead of `permission`: any one of these (the route's object decides which applies). */
  anyPermission?: readonly string[];
  /** Any authenticated caller (GET /api/me). */
  authenticated?: boolean;
  /** Only a dashboard session (the signed-in person's own password, sessions, MFA). */
  person?: boolean;
  public?: boolean;
  docusignScope?: string;
  notSupported?: string;
  /** The query parameters its schema declares. */
  query?: Record<string, QuerySchema>;
}

/**
 * Every route the app registers (HEAD excluded), collected while the app plugin loads. The config objects are
 * read once the app is ready, so the permission a face's own onRoute hook fills in (the DocuSign faces derive
 * it from the scope) is there.
 */
export async function appRoutes(): Promise<AppRoute[]> {
  // Any database URL does: the pool connects lazily and nothing here queries.
  const url = process.env.DATABASE_URL || 'postgres://signet@127.0.0.1:1/compatibility';
  const config = loadConfig({ SIGNET_ENV: 'test', LOG_LEVEL: 'silent' }, { databaseUrl: url });
  const handle = connect(url, 1);
  const services = createServices(handle.db, config);
  const fastify = Fastify({ logger: false });
  const seen: {
    method: string;
    url: string;
    route: { config?: unknown; schema?: { querystring?: unknown } };
  }[] = [];
  fastify.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      if (method === 'HEAD') continue;
      seen.push({ method: String(method).toUpperCase(), url: route.url, route });
    }
  });
  try {
    await fastify.register(app, { config, services });
    await fastify.ready();
  } finally {
    await fastify.close().catch(() => {});
    await handle.close().catch(() => {});
  }
  return seen.map(({ method, url, route }) => {
    const c = (route.config ?? {}) as Omit<AppRoute, 'method' | 'url'>;
    const query = (route.schema?.querystring as { properties?: Record<string, QuerySchema> } | undefined)
      ?.properties;
    return {
      method,
      url,
      ...(c.permission ? { permission: c.permission } : {}),
      ...(c.anyPermission?.length ? { anyPermission: [...c.anyPermission] } : {}),
      ...(c.authenticated ? { authenticated: true } : {}),
      ...(c.person ? { person: true } : {}),
      ...(c.public ? { public: true } : {}),
      ...(c.docusignScope ? { docusignScope: c.docusignScope } : {}),
      ...(c.notSupported ? { notSupported: c.notSupported } : {}),
      ...(query ? { query } : {}),
    };
  });
}

/** The routes the app registers under /management (URLs after /management). */
export async function managementRoutes(): Promise<RouteInfo[]> {
  return (await appRoutes())
    .filter((r) => r.url.startsWith('/management/'))
    .map((r) => ({
      method: r.method,
      url: r.url.slice('/management'.length),
      ...(r.docusignScope ? { docusignScope: r.docusignScope } : {}),
      ...(r.notSupported ? { notSupported: r.notSupported } : {}),
      ...(r.query ? { query: r.query } : {}),
    }));
}

/** `{param}` and `:param` both become `{}`, so a spec path and a route URL compare by shape. */
function shape(p: string): string {
  return p.replace(/\{[^}]+\}/g, '{}').replace(/:[^/]+/g, '{}');
}

export async function compatibilityRows(): Promise<CompatibilityRow[]> {
  const routes = await managementRoutes();
  const byKey = new Map(routes.map((r) => [`${r.method} ${shape(r.url)}`, r]));
  return specOperations().map((op) => {
    const route = byKey.get(`${op.method} ${shape(op.path)}`);
    if (!route) return { ...op, status: 'missing' };
    const row: CompatibilityRow = { ...op, status: route.notSupported ? 'not_supported' : 'works' };
    if (route.notSupported) row.reason = route.notSupported;
    if (route.docusignScope !== op.scope) row.routeScope = route.docusignScope ?? '(none)';
    return row;
  });
}

/** A query parameter of the spec whose values form a closed set: what a client can get wrong. */
export interface TypedQueryParameter {
  operationId: string;
  sdkMethod: string;
  method: string;
  path: string;
  name: string;
  /** boolean and integer as the spec types them; enum: a string whose description lists its values. */
  kind: 'boolean' | 'integer' | 'enum';
  values?: string[];
}

interface SpecParameter {
  name: string;
  in: string;
  type?: string;
  description?: string;
}

/** The values a description enumerates as a Markdown list of code spans ("- `org_admin`: …"). */
function enumerated(description = ''): string[] {
  return [...description.matchAll(/^\s*-\s+`([^`]+)`/gm)].map((m) => m[1]!);
}

export function typedQueryParameters(file = SPEC): TypedQueryParameter[] {
  const spec = JSON.parse(readFileSync(file, 'utf8')) as {
    paths: Record<string, Record<string, { operationId: string; parameters?: SpecParameter[] }>>;
  };
  const out: TypedQueryParameter[] = [];
  for (const [p, ops] of Object.entries(spec.paths)) {
    for (const method of HTTP_METHODS) {
      const op = ops[method];
      for (const param of op?.parameters ?? []) {
        if (param.in !== 'query') continue;
        const values = param.type === 'string' ? enumerated(param.description) : [];
        const kind =
          param.type === 'boolean' || param.type === 'integer'
            ? param.type
            : values.length > 0
              ? 'enum'
              : undefined;
        if (!kind) continue;
        out.push({
          operationId: op!.operationId,
          sdkMethod: SDK_METHODS[op!.operationId] ?? '(unknown)',
          method: method.toUpperCase(),
          path: p,
          name: param.name,
          kind,
          ...(kind === 'enum' ? { values } : {}),
        });
      }
    }
  }
  return out;
}

/**
 * The typed query parameters of working operations that the route does not validate (its querystring schema
 * does not declare them with their type or values): each is a 400 a client would not get. Empty when all are.
 */
export async function unvalidatedQueryParameters(): Promise<string[]> {
  const routes = await managementRoutes();
  const byKey = new Map(routes.map((r) => [`${r.method} ${shape(r.url)}`, r]));
  const gaps: string[] = [];
  for (const q of typedQueryParameters()) {
    const route = byKey.get(`${q.method} ${shape(q.path)}`);
    if (!route || route.notSupported) continue;
    const declared = route.query?.[q.name];
    const ok =
      declared !== undefined &&
      (q.kind === 'enum'
        ? closedSet(declared)
        : declared.type === q.kind || (q.kind === 'integer' && declared.type === 'number'));
    if (!ok) gaps.push(`${q.sdkMethod} ${q.name} (${q.kind}${q.values ? `: ${q.values.join(', ')}` : ''})`);
  }
  return gaps;
}

/** A schema that admits a closed set of strings: an enum, a const, or a union of them. */
function closedSet(schema: QuerySchema): boolean {
  if (schema.enum || schema.const !== undefined) return true;
  return (schema.anyOf ?? []).length > 0 && schema.anyOf!.every(closedSet);
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function toMarkdown(rows: CompatibilityRow[]): string {
  const works = rows.filter((r) => r.status === 'works').length;
  const unsupported = rows.filter((r) => r.status === 'not_supported').length;
  const missing = rows.filter((r) => r.status === 'missing').length;
  const lines = [
    `${rows.length} operations: ${works} work, ${unsupported} answer 501 \`not_supported\`, ${missing} missing.`,
    '',
    '| Method | Path (after `/management`) | SDK method (`docusign-admin`) | Scope | Status |',
    '|---|---|---|---|---|',
  ];
  for (const r of rows) {
    let status = r.status === 'works' ? 'works' : r.status === 'missing' ? '**MISSING**' : `501: ${r.reason}`;
    if (r.routeScope) status += ` (route declares scope ${r.routeScope})`;
    lines.push(`| ${r.method} | \`${r.path}\` | ${r.sdkMethod} | ${r.scope} | ${cell(status)} |`);
  }
  return `${lines.join('\n')}\n`;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const rows = await compatibilityRows();
  process.stdout.write(toMarkdown(rows));
}
