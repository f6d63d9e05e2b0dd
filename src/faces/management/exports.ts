// Bulk exports (DocuSign's BulkExportsApi: UserExport and AccountSettingsExport tags) on the exports core
// service that /api/exports uses (src/core/exports/service.ts): a durable job writes the CSV, and each
// OrganizationExportResponse names it in `results[0].url`, an absolute URL on this server that serves the
// CSV to the same bearer token (GET …/exports/{user_list|account_settings}/{exportId}/results/{id}.csv, a
// Signet route: DocuSign's spec leaves the download URL to the server).
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, invalidField, notFound } from '../../core/errors.ts';
import { DELETE_PERMISSION, type ExportView } from '../../core/exports/service.ts';
import { isUuid } from '../../core/ids.ts';
import { MAX_LIMIT } from '../../core/pagination.ts';
import type { ExportKind } from '../../core/types.ts';
import { sendExportFile } from '../api/exports.ts';
import { ctxOf } from '../ctx.ts';
import { translatingCtx } from '../docusign/ctx.ts';
import { compact, iso, originOf, pathIds, requestorOf } from './bulk-shared.ts';

const USER_LIST_TYPES = [
  'organization_memberships_export',
  'organization_domain_users_export',
  'organization_external_memberships_export',
] as const;
type UserListType = (typeof USER_LIST_TYPES)[number];
const SETTINGS_TYPE = 'organization_account_settings_export';

/** The kinds DocuSign's Admin API exports (Signet's envelopes and credit ledger are /api's only). */
type DsKind = Extract<ExportKind, 'users' | 'account_settings'>;

/** The path segment of each kind, and the DocuSign type a kind reads as when none was recorded. */
const SEGMENT: Record<DsKind, string> = { users: 'user_list', account_settings: 'account_settings' };
const DEFAULT_TYPE: Record<DsKind, string> = {
  users: 'organization_memberships_export',
  account_settings: SETTINGS_TYPE,
};

const Accounts = Type.Optional(
  Type.Array(Type.Object({ account_id: Type.String() }, { additionalProperties: true }), { maxItems: 1000 }),
);
const UserListBody = Type.Object(
  {
    type: Type.Optional(Type.String()),
    accounts: Accounts,
    domains: Type.Optional(Type.Array(Type.Object({ domain: Type.Optional(Type.String()) }))),
  },
  { additionalProperties: true },
);
const SettingsBody = Type.Object({ accounts: Accounts }, { additionalProperties: true });
const OrgParams = Type.Object({ organizationId: Type.String() });
const ExportParams = Type.Object({ organizationId: Type.String(), exportId: Type.String() });
const ResultParams = Type.Object({
  organizationId: Type.String(),
  exportId: Type.String(),
  resultFile: Type.String(),
});

/** An export as DocuSign's OrganizationExportResponse (arrays always arrays, absent values omitted). */
export function exportResponse(
  v: ExportView,
  type: string | undefined,
  origin: string,
  organizationId: string,
) {
  // Only users and settings exports reach this face: its routes name the kind and refuse any other.
  const kind = v.kind as DsKind;
  const ready = v.status === 'completed' && !v.expired;
  const url = `${origin}/management/v2/organizations/${organizationId}/exports/${SEGMENT[kind]}/${v.id}/results/${v.id}.csv`;
  const results: Record<string, unknown>[] = ready
    ? [{ id: v.id, url, number_rows: v.row_count, size_bytes: v.size_bytes }]
    : v.status === 'failed'
      ? [
          {
            id: v.id,
            error_details: {
              error: v.error?.code ?? 'unspecified_error',
              error_description: v.error?.message ?? 'the export failed',
            },
          },
        ]
      : [];
  return compact({
    id: v.id,
    type: type ?? DEFAULT_TYPE[kind],
    requestor: requestorOf(v.requestor),
    created: iso(v.created_at),
    last_modified: iso(v.updated_at),
    completed: iso(v.completed_at),
    expires: iso(v.expires_at),
    status: v.status,
    selected_accounts: (v.account_ids ?? []).map((account_id) => ({ account_id })),
    selected_domains: [],
    percent_completed: v.percent_completed,
    number_rows: v.row_count,
    size_bytes: v.size_bytes,
    results,
    success: v.status !== 'failed',
    // Signet extension: the result was deleted after expires (a download answers 410).
    expired: v.expired || undefined,
  } as Record<string, unknown>);
}

function accountIdsOf(accounts: { account_id: string }[] | undefined): string[] | null {
  if (!accounts || accounts.length === 0) return null;
  return accounts.map((a, i) => {
    const id = typeof a.account_id === 'string' ? a.account_id.trim() : '';
    if (!isUuid(id)) throw invalidField(`accounts[${i}].account_id`, `"${id}" is not an account GUID`);
    return id.toLowerCase();
  });
}

export async function managementExportRoutes(app: FastifyInstance): Promise<void> {
  const fastify = app.withTypeProvider<TypeBoxTypeProvider>();
  const exportsService = fastify.services.exports;

  /** Creates an export that records, in its transaction, the DocuSign type it was asked as. */
  const create = async (
    request: FastifyRequest,
    kind: ExportKind,
    type: string,
    accountIds: string[] | null,
  ) => {
    const origin = originOf(request);
    const org = request.principal!.organizationId;
    const view = await exportsService.create(
      translatingCtx<ExportView>(request, (v) => exportResponse(v, type, origin, org)),
      { kind, format: 'csv', accountIds, clientType: type },
    );
    return exportResponse(view, type, origin, org);
  };

  const get = async (request: FastifyRequest, kind: ExportKind, exportId: string) => {
    const view = await exportsService.get(ctxOf(request), exportId.toLowerCase());
    if (view.kind !== kind) throw notFound('export', exportId);
    const types = await exportsService.clientTypes([view]);
    return exportResponse(view, types.get(view.id), originOf(request), request.principal!.organizationId);
  };

  const list = async (request: FastifyRequest, kind: ExportKind, key: 'exports') => {
    const ctx = ctxOf(request);
    const views: ExportView[] = [];
    let cursor: string | undefined;
    // DocuSign's list has no paging: every export of this kind, newest first (bounded).
    do {
      const page = await exportsService.list(ctx, { kind, limit: MAX_LIMIT, cursor });
      views.push(...page.data);
      cursor = page.next_cursor ?? undefined;
    } while (cursor && views.length < 10 * MAX_LIMIT);
    const types = await exportsService.clientTypes(views);
    const origin = originOf(request);
    return {
      [key]: views.map((v) => exportResponse(v, types.get(v.id), origin, ctx.principal.organizationId)),
    };
  };

  const remove = async (request: FastifyRequest, kind: ExportKind, exportId: string) => {
    const id = exportId.toLowerCase();
    const view = await exportsService.get(ctxOf(request), id);
    if (view.kind !== kind) throw notFound('export', exportId);
    await exportsService.delete(
      translatingCtx(request, () => ({})),
      id,
    );
    return {};
  };

  const download = async (
    request: FastifyRequest,
    reply: FastifyReply,
    kind: ExportKind,
    params: Static<typeof ResultParams>,
  ) => {
    const m = /^([0-9a-fA-F-]{36})(\.csv)?$/.exec(params.resultFile);
    pathIds(request, params.organizationId, { export: params.exportId, result: m?.[1] ?? params.resultFile });
    const id = params.exportId.toLowerCase();
    if (m![1]!.toLowerCase() !== id) throw notFound('export result', params.resultFile);
    const file = await exportsService.open(ctxOf(request), id);
    if (file.export.kind !== kind) throw notFound('export', params.exportId);
    return sendExportFile(reply, file);
  };

  // --- user list exports (scope user_read, as the spec declares for all four) ---------------------------

  fastify.post(
    '/v2/organizations/:organizationId/exports/user_list',
    { config: { docusignScope: 'user_read' }, schema: { params: OrgParams, body: UserListBody } },
    async (request) => {
      pathIds(request, request.params.organizationId);
      const body = request.body ?? {};
      const type = (body.type ?? 'organization_memberships_export') as UserListType;
      if (type === (SETTINGS_TYPE as string)) {
        throw invalidField('type', 'account settings are exported with POST …/exports/account_settings');
      }
      if (!USER_LIST_TYPES.includes(type)) {
        throw invalidField('type', `must be one of ${USER_LIST_TYPES.join(', ')}`);
      }
      if (type === 'organization_external_memberships_export') {
        throw new AppError(
          'not_supported',
          'organization_external_memberships_export lists memberships that the organization’s domain users ' +
            'hold in accounts of other organizations; in Signet every membership is in one of the ' +
            'organization’s own accounts, so there are none. Use organization_memberships_export',
        );
      }
      if ((body.domains ?? []).length > 0) {
        throw invalidField(
          'domains',
          'Signet exports every user of the organization (all are domain users); omit domains',
        );
      }
      // organization_domain_users_export: every user of the organization, whichever accounts are named.
      const accountIds = type === 'organization_domain_users_export' ? null : accountIdsOf(body.accounts);
      return create(request, 'users', type, accountIds);
    },
  );

  fastify.get(
    '/v2/organizations/:organizationId/exports/user_list',
    { config: { docusignScope: 'user_read' }, schema: { params: OrgParams } },
    async (request) => {
      pathIds(request, request.params.organizationId);
      return list(request, 'users', 'exports');
    },
  );

  fastify.get(
    '/v2/organizations/:organizationId/exports/user_list/:exportId',
    { config: { docusignScope: 'user_read' }, schema: { params: ExportParams } },
    async (request) => {
      pathIds(request, request.params.organizationId, { export: request.params.exportId });
      return get(request, 'users', request.params.exportId);
    },
  );

  // The spec declares user_read, but deleting destroys a result: Signet asks the write permission (the
  // core's rule, DELETE_PERMISSION in src/core/exports/service.ts).
  fastify.delete(
    '/v2/organizations/:organizationId/exports/user_list/:exportId',
    {
      config: { docusignScope: 'user_read', permission: DELETE_PERMISSION.users },
      schema: { params: ExportParams },
    },
    async (request) => {
      pathIds(request, request.params.organizationId, { export: request.params.exportId });
      return remove(request, 'users', request.params.exportId);
    },
  );

  fastify.get(
    '/v2/organizations/:organizationId/exports/user_list/:exportId/results/:resultFile',
    { config: { docusignScope: 'user_read' }, schema: { params: ResultParams } },
    async (request, reply) => download(request, reply, 'users', request.params),
  );

  // --- account settings exports (scope account_read; Signet permission settings:read) -------------------

  const settingsRead = { docusignScope: 'account_read' as const, permission: 'settings:read' as const };

  fastify.post(
    '/v2/organizations/:organizationId/exports/account_settings',
    { config: settingsRead, schema: { params: OrgParams, body: SettingsBody } },
    async (request) => {
      pathIds(request, request.params.organizationId);
      return create(request, 'account_settings', SETTINGS_TYPE, accountIdsOf(request.body?.accounts));
    },
  );

  fastify.get(
    '/v2/organizations/:organizationId/exports/account_settings',
    { config: settingsRead, schema: { params: OrgParams } },
    async (request) => {
      pathIds(request, request.params.organizationId);
      return list(request, 'account_settings', 'exports');
    },
  );

  fastify.get(
    '/v2/organizations/:organizationId/exports/account_settings/:exportId',
    { config: settingsRead, schema: { params: ExportParams } },
    async (request) => {
      pathIds(request, request.params.organizationId, { export: request.params.exportId });
      return get(request, 'account_settings', request.params.exportId);
    },
  );

  fastify.delete(
    '/v2/organizations/:organizationId/exports/account_settings/:exportId',
    {
      config: { docusignScope: 'account_read', permission: DELETE_PERMISSION.account_settings },
      schema: { params: ExportParams },
    },
    async (request) => {
      pathIds(request, request.params.organizationId, { export: request.params.exportId });
      return remove(request, 'account_settings', request.params.exportId);
    },
  );

  fastify.get(
    '/v2/organizations/:organizationId/exports/account_settings/:exportId/results/:resultFile',
    { config: settingsRead, schema: { params: ResultParams } },
    async (request, reply) => download(request, reply, 'account_settings', request.params),
  );
}
