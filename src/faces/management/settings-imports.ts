// Account-settings imports (DocuSign's BulkImportsApi, AccountSettingsImport tag): a CSV of settings per
// account (the header an account-settings export writes) applied through the settings core service by
// SettingsImportsService (src/core/settings/imports.ts), synchronously and recorded in one transaction; the
// response is the finished import. Any of the four CSV wire encodings (csv-body.ts).
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { SETTINGS_IMPORT_MAX_BYTES, type SettingsImportRecord } from '../../core/settings/imports.ts';
import { ctxOf } from '../ctx.ts';
import { translatingCtx } from '../docusign/ctx.ts';
import { compact, iso, pathIds, requestorOf } from './bulk-shared.ts';
import { acceptCsvBodies, readCsvUpload } from './csv-body.ts';

const OrgParams = Type.Object({ organizationId: Type.String() });
const ImportParams = Type.Object({ organizationId: Type.String(), importId: Type.String() });

/** A settings import as DocuSign's OrganizationAccountSettingsImportResponse. */
export function settingsImportResponse(r: SettingsImportRecord): Record<string, unknown> {
  const issues = r.issues.map((i) => compact({ ...i }));
  if (r.error) {
    issues.unshift({ account_id: '', error_key: r.error.code, error: r.error.message });
  }
  return compact({
    id: r.id,
    organization_id: r.organization_id,
    type: 'account_settings_import',
    status: r.status,
    requestor: requestorOf({ type: r.requestor.kind, id: r.requestor.id, name: r.requestor.label }),
    created: iso(r.created_at),
    last_modified: iso(r.completed_at),
    completed: iso(r.completed_at),
    percent_completed: 100,
    number_processed_accounts: r.processed_accounts,
    number_unprocessed_accounts: r.unprocessed_accounts,
    results: [
      compact({
        id: r.id,
        number_processed_accounts: r.processed_accounts,
        number_unprocessed_accounts: r.unprocessed_accounts,
        processing_issues_by_account: issues,
        error_details: r.error ? { error: r.error.code, error_description: r.error.message } : undefined,
      }),
    ],
    success: r.status === 'completed' && r.unprocessed_accounts === 0,
    skipped_settings_by_account: r.skipped_settings,
    // Signet extension.
    file_name: r.file_name,
  } as Record<string, unknown>);
}

export async function managementSettingsImportRoutes(app: FastifyInstance): Promise<void> {
  const fastify = app.withTypeProvider<TypeBoxTypeProvider>();
  const service = fastify.services.settingsImports;
  await acceptCsvBodies(fastify, SETTINGS_IMPORT_MAX_BYTES);

  fastify.post(
    '/v2/organizations/:organizationId/imports/account_settings',
    {
      // account_write → settings:write (scopes.ts).
      config: { docusignScope: 'account_write' },
      bodyLimit: SETTINGS_IMPORT_MAX_BYTES + 1024 * 1024,
      schema: { params: OrgParams },
    },
    async (request) => {
      pathIds(request, request.params.organizationId);
      const { text, fileName } = await readCsvUpload(request, SETTINGS_IMPORT_MAX_BYTES);
      const record = await service.create(translatingCtx(request, settingsImportResponse), {
        csv: text,
        fileName,
      });
      return settingsImportResponse(record);
    },
  );

  const read = { docusignScope: 'account_read' as const, permission: 'settings:read' as const };

  // A bare JSON array, as the spec has it.
  fastify.get(
    '/v2/organizations/:organizationId/imports/account_settings',
    { config: read, schema: { params: OrgParams } },
    async (request) => {
      pathIds(request, request.params.organizationId);
      return (await service.list(ctxOf(request))).map(settingsImportResponse);
    },
  );

  fastify.get(
    '/v2/organizations/:organizationId/imports/account_settings/:importId',
    { config: read, schema: { params: ImportParams } },
    async (request) => {
      pathIds(request, request.params.organizationId, { import: request.params.importId });
      return settingsImportResponse(await service.get(ctxOf(request), request.params.importId));
    },
  );

  fastify.delete(
    '/v2/organizations/:organizationId/imports/account_settings/:importId',
    { config: { docusignScope: 'account_write' }, schema: { params: ImportParams } },
    async (request) => {
      pathIds(request, request.params.organizationId, { import: request.params.importId });
      await service.delete(
        translatingCtx(request, () => ({})),
        request.params.importId.toLowerCase(),
      );
      return {};
    },
  );
}
