// Bulk user imports (DocuSign's BulkImportsApi, UserImport and SingleAccountUserImport tags). The same job
// as POST /api/imports (src/core/imports/service.ts): the CSV is streamed into storage before validation,
// queued with its job in one audited transaction, processed durably by the worker, with the same counters,
// row results, dry-run (`?dry_run=true`, a Signet extension) and results CSV. This module only translates:
// DocuSign's paths and the four wire encodings in (csv-body.ts), OrganizationImportResponse out.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../core/errors.ts';
import type { ImportView, StagedUpload } from '../../core/imports/service.ts';
import { MAX_LIMIT } from '../../core/pagination.ts';
import type { ImportOperation } from '../../core/types.ts';
import { ctxOf, requestMeta } from '../ctx.ts';
import { translatingCtx } from '../docusign/ctx.ts';
import { compact, iso, originOf, pathIds, requestorOf } from './bulk-shared.ts';
import { acceptCsvBodies, withCsvUpload } from './csv-body.ts';

const OrgParams = Type.Object({ organizationId: Type.String() });
const AccountParams = Type.Object({ organizationId: Type.String(), accountId: Type.String() });
const ImportParams = Type.Object({ organizationId: Type.String(), importId: Type.String() });
const CreateQuery = Type.Object({ dry_run: Type.Optional(Type.Boolean({ default: false })) });

/** DocuSign's import `type` for a Signet operation. */
const TYPE: Record<ImportOperation, string> = {
  add: 'add_users',
  update: 'update_users',
  close: 'close_users',
};

/**
 * An import as DocuSign's OrganizationImportResponse. Status uses the export vocabulary (queued, in_process,
 * completed, failed); an import canceled through /api reads as failed with the file-level error
 * `import_canceled`. Arrays are always arrays; absent values are omitted, never null.
 */
export function importResponse(
  v: ImportView,
  origin: string,
  organizationId: string,
): Record<string, unknown> {
  const canceled = v.status === 'canceled';
  const fileErrors = v.error
    ? [{ error_type: v.error.code, count: 1 }]
    : canceled
      ? [{ error_type: 'import_canceled', count: 1 }]
      : [];
  const out: Record<string, unknown> = {
    id: v.id,
    type: TYPE[v.operation],
    requestor: requestorOf(v.requestor),
    created: iso(v.created_at),
    last_modified: iso(v.updated_at),
    status: canceled ? 'failed' : v.status,
    user_count: v.user_count,
    processed_user_count: v.processed_user_count,
    added_user_count: v.added_user_count,
    updated_user_count: v.updated_user_count,
    closed_user_count: v.closed_user_count,
    no_action_required_user_count: v.no_action_required_user_count,
    error_count: v.error_count,
    warning_count: v.warning_count,
    // A string in DocuSign's model (the SDK converts it with String()): the unknown headers, comma-separated.
    invalid_column_headers:
      v.invalid_column_headers.length > 0 ? v.invalid_column_headers.join(',') : undefined,
    file_level_error_rollups: fileErrors,
    user_level_error_rollups: v.error_rollups.map((r) => ({ error_type: r.error_type, count: r.count })),
    user_level_warning_rollups: [],
    has_csv_results: v.error === null && v.status !== 'queued',
    results_uri: `${origin}/management/v2/organizations/${organizationId}/imports/bulk_users/${v.id}/results_csv`,
    // Signet extensions (the SDK's model ignores them).
    account_id: v.account_id ?? undefined,
    dry_run: v.dry_run,
    percent_completed: v.percent_completed,
  };
  if (v.error) out.error_description = v.error.message;
  return compact(out);
}

export async function managementImportRoutes(app: FastifyInstance): Promise<void> {
  const fastify = app.withTypeProvider<TypeBoxTypeProvider>();
  const imports = fastify.services.imports;
  const max = fastify.config.importMaxBytes;
  await acceptCsvBodies(fastify, max);

  // As in /api/imports: the body is stored before validation and before the Idempotency-Key is claimed (its
  // fingerprint needs every byte); a request that does not end in a queued import discards its upload.
  const uploads = new WeakMap<FastifyRequest, { upload: StagedUpload; queued: boolean }>();
  const stage = async (request: FastifyRequest, organizationId: string, accountId?: string) => {
    pathIds(request, organizationId, { account: accountId });
    if (accountId) await fastify.services.accounts.get(ctxOf(request), accountId.toLowerCase());
    const upload = await withCsvUpload(request, (body, fileName) =>
      imports.stage(request.principal!, requestMeta(request), body, fileName),
    );
    uploads.set(request, { upload, queued: false });
  };
  const create = async (
    request: FastifyRequest,
    reply: FastifyReply,
    organizationId: string,
    operation: ImportOperation,
    accountId?: string,
  ) => {
    const staged = uploads.get(request);
    if (!staged) throw new AppError('validation_failed', 'no CSV received');
    const origin = originOf(request);
    const org = organizationId.toLowerCase();
    const view = await imports.create(
      translatingCtx<ImportView>(request, (v) => importResponse(v, origin, org)),
      {
        accountId: accountId?.toLowerCase(),
        operation,
        dryRun: (request.query as { dry_run?: boolean }).dry_run ?? false,
        upload: staged.upload,
      },
    );
    staged.queued = true;
    return reply.send(importResponse(view, origin, org));
  };
  const createOptions = (schemaParams: typeof OrgParams | typeof AccountParams) => ({
    config: {
      docusignScope: 'user_write' as const,
      idempotency: { retentionSeconds: 72 * 3600, status: 200 },
    },
    bodyLimit: max + 1024 * 1024,
    onResponse: async (request: FastifyRequest) => {
      const staged = uploads.get(request);
      if (staged && !staged.queued) await imports.discard(staged.upload.id);
    },
    schema: { params: schemaParams, querystring: CreateQuery },
  });

  for (const operation of ['add', 'update', 'close'] as const) {
    fastify.post(
      `/v2/organizations/:organizationId/imports/bulk_users/${operation}`,
      {
        ...createOptions(OrgParams),
        preValidation: async (request) => {
          const { organizationId } = request.params as { organizationId: string };
          await stage(request, organizationId);
        },
      },
      async (request, reply) => create(request, reply, request.params.organizationId, operation),
    );
  }
  for (const operation of ['add', 'update'] as const) {
    fastify.post(
      `/v2/organizations/:organizationId/accounts/:accountId/imports/bulk_users/${operation}`,
      {
        ...createOptions(AccountParams),
        preValidation: async (request) => {
          const { organizationId, accountId } = request.params as {
            organizationId: string;
            accountId: string;
          };
          await stage(request, organizationId, accountId);
        },
      },
      async (request, reply) => {
        const { organizationId, accountId } = request.params as { organizationId: string; accountId: string };
        return create(request, reply, organizationId, operation, accountId);
      },
    );
  }

  fastify.post(
    '/v2/organizations/:organizationId/imports/bulk_users/close_external',
    {
      config: {
        docusignScope: 'user_write',
        notSupported:
          'close_external closes the memberships that users of the organization’s verified domains hold in ' +
          'accounts outside the organization. In Signet every user belongs to exactly one organization and ' +
          'every membership is in one of its accounts, so there are no external memberships to close; close ' +
          'memberships with POST …/imports/bulk_users/close instead',
      },
    },
    async () => {
      throw new AppError('not_supported', 'close_external is not supported');
    },
  );

  fastify.get(
    '/v2/organizations/:organizationId/imports/bulk_users',
    { config: { docusignScope: 'user_read' }, schema: { params: OrgParams } },
    async (request) => {
      pathIds(request, request.params.organizationId);
      const ctx = ctxOf(request);
      const origin = originOf(request);
      const list: Record<string, unknown>[] = [];
      let cursor: string | undefined;
      // DocuSign's list has no paging: every import of the organization, newest first (bounded).
      do {
        const page = await imports.list(ctx, { limit: MAX_LIMIT, cursor });
        for (const v of page.data) list.push(importResponse(v, origin, ctx.principal.organizationId));
        cursor = page.next_cursor ?? undefined;
      } while (cursor && list.length < 10 * MAX_LIMIT);
      return { imports: list };
    },
  );

  fastify.get(
    '/v2/organizations/:organizationId/imports/bulk_users/:importId',
    { config: { docusignScope: 'user_read' }, schema: { params: ImportParams } },
    async (request) => {
      const { organizationId, importId } = request.params;
      pathIds(request, organizationId, { import: importId });
      const view = await imports.get(ctxOf(request), importId.toLowerCase());
      return importResponse(view, originOf(request), organizationId.toLowerCase());
    },
  );

  fastify.delete(
    '/v2/organizations/:organizationId/imports/bulk_users/:importId',
    { config: { docusignScope: 'user_write' }, schema: { params: ImportParams } },
    async (request) => {
      const { organizationId, importId } = request.params;
      pathIds(request, organizationId, { import: importId });
      await imports.delete(
        translatingCtx(request, () => ({})),
        importId.toLowerCase(),
      );
      return {};
    },
  );

  fastify.get(
    '/v2/organizations/:organizationId/imports/bulk_users/:importId/results_csv',
    { config: { docusignScope: 'user_read' }, schema: { params: ImportParams } },
    async (request, reply) => {
      const { organizationId, importId } = request.params;
      pathIds(request, organizationId, { import: importId });
      const id = importId.toLowerCase();
      const stream = await imports.resultsCsv(ctxOf(request), id);
      return reply
        .header('content-type', 'text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="import-${id}-results.csv"`)
        .send(stream);
    },
  );
}
