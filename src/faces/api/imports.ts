// Bulk CSV imports under /api/imports (docs/imports.md). The CSV arrives as the raw body (text/csv,
// application/octet-stream: what DocuSign's SDK and curl examples send) or as a multipart part (a file, or
// the field "file.csv" the SDK sends for a string); either way it is streamed to storage, never buffered.
import multipart from '@fastify/multipart';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../../core/errors.ts';
import type { StagedUpload } from '../../core/imports/service.ts';
import { ctxOf, requestMeta } from '../ctx.ts';
import { withCsvUpload } from '../management/csv-body.ts';
import { errorResponses, IdParams, ListQuery, Nullable, Page, Strict, Timestamp, Uuid } from './schemas.ts';

const Operation = Type.Union([Type.Literal('add'), Type.Literal('update'), Type.Literal('close')]);
const Status = Type.Union(
  ['queued', 'in_process', 'completed', 'failed', 'canceled'].map((s) => Type.Literal(s)),
);

export const Import = Type.Object(
  {
    id: Uuid,
    status: Status,
    operation: Operation,
    dry_run: Type.Boolean(),
    account_id: Nullable(Uuid),
    file_name: Nullable(Type.String()),
    size_bytes: Type.Integer(),
    user_count: Type.Integer(),
    processed_user_count: Type.Integer(),
    added_user_count: Type.Integer(),
    updated_user_count: Type.Integer(),
    closed_user_count: Type.Integer(),
    no_action_required_user_count: Type.Integer(),
    error_count: Type.Integer(),
    warning_count: Type.Integer(),
    percent_completed: Type.Integer({ minimum: 0, maximum: 100 }),
    error: Nullable(Type.Object({ code: Type.String(), message: Type.String() })),
    error_rollups: Type.Array(Type.Object({ error_type: Type.String(), count: Type.Integer() })),
    invalid_column_headers: Type.Array(Type.String()),
    requestor: Type.Object({ type: Type.String(), id: Type.String(), name: Type.String() }),
    created_at: Timestamp,
    updated_at: Timestamp,
    started_at: Nullable(Timestamp),
    completed_at: Nullable(Timestamp),
  },
  { $id: 'Import' },
);

const ImportRowResult = Type.Object({
  row_number: Type.Integer(),
  status: Type.Union([Type.Literal('ok'), Type.Literal('error')]),
  action: Type.String({ description: 'add | update | close | no_action (dry-run: what would be done)' }),
  result: Type.String(),
  error_type: Nullable(Type.String()),
  message: Nullable(Type.String()),
  email: Nullable(Type.String()),
  account_id: Nullable(Uuid),
  user_id: Nullable(Uuid),
  membership_id: Nullable(Uuid),
});

const RAW_TYPES = ['text/csv', 'application/csv', 'application/octet-stream', 'application/vnd.ms-excel'];

export async function importRoutes(app: FastifyInstance): Promise<void> {
  const fastify = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['imports'];
  const imports = fastify.services.imports;
  const max = fastify.config.importMaxBytes;

  // Encapsulated in this plugin: other routes keep their parsers and body limits.
  await fastify.register(multipart, {
    limits: { files: 1, fileSize: max + 1, fieldSize: Math.min(max + 1, 64 * 1024 * 1024), parts: 10 },
  });
  // Raw CSV bodies are handed over as the request stream; the service stores them chunk by chunk.
  fastify.addContentTypeParser(RAW_TYPES, (_request, payload, done) => done(null, payload));

  const uploads = new WeakMap<FastifyRequest, { upload: StagedUpload; queued: boolean }>();
  // The raw body, the first file part or the SDK's string variant (a field named file.csv), read as
  // /management reads it: a multipart body that cannot be parsed (no boundary) or has no CSV is a 400.
  const stageBody = (request: FastifyRequest): Promise<StagedUpload> =>
    withCsvUpload(request, (body, fileName) =>
      imports.stage(request.principal!, requestMeta(request), body, fileName),
    );

  fastify.post(
    '/imports',
    {
      config: { permission: 'users:write', idempotency: { retentionSeconds: 72 * 3600, status: 202 } },
      bodyLimit: max + 1024 * 1024,
      // The body is stored here, before validation and before the Idempotency-Key is claimed (its body
      // fingerprint needs every byte read); a request that does not end in a queued import discards it.
      preValidation: async (request) => {
        uploads.set(request, { upload: await stageBody(request), queued: false });
      },
      onResponse: async (request) => {
        const staged = uploads.get(request);
        if (staged && !staged.queued) await imports.discard(staged.upload.id);
      },
      schema: {
        tags,
        summary: 'Start a bulk user import from a CSV file (add, update or close; optionally a dry run)',
        description:
          'Send the CSV as the body (text/csv or application/octet-stream) or as a multipart/form-data file. ' +
          'Answers 202 with the queued import; poll GET /api/imports/{id}. See docs/imports.md.',
        querystring: Type.Object(
          {
            account_id: Type.Optional(Uuid),
            operation: Operation,
            dry_run: Type.Optional(Type.Boolean({ default: false })),
          },
          Strict,
        ),
        response: { 202: Import, ...errorResponses },
      },
    },
    async (request, reply) => {
      const staged = uploads.get(request);
      if (!staged) throw new AppError('validation_failed', 'no CSV received');
      const q = request.query;
      const view = await imports.create(ctxOf(request), {
        accountId: q.account_id,
        operation: q.operation,
        dryRun: q.dry_run ?? false,
        upload: staged.upload,
      });
      staged.queued = true;
      return reply.code(202).send(view);
    },
  );

  fastify.get(
    '/imports',
    {
      config: { permission: 'users:read' },
      schema: {
        tags,
        summary: 'List imports, newest first',
        querystring: Type.Object(ListQuery, Strict),
        response: { 200: Page(Import), ...errorResponses },
      },
    },
    async (request) => imports.list(ctxOf(request), request.query),
  );

  fastify.get(
    '/imports/:id',
    {
      config: { permission: 'users:read' },
      schema: {
        tags,
        summary: 'Get an import and its counters',
        params: IdParams,
        response: { 200: Import, ...errorResponses },
      },
    },
    async (request) => imports.get(ctxOf(request), request.params.id),
  );

  fastify.get(
    '/imports/:id/rows',
    {
      config: { permission: 'users:read' },
      schema: {
        tags,
        summary: "An import's per-row results",
        params: IdParams,
        querystring: Type.Object(
          {
            ...ListQuery,
            status: Type.Optional(
              Type.Union([Type.Literal('error'), Type.Literal('ok'), Type.Literal('all')], {
                default: 'all',
              }),
            ),
          },
          Strict,
        ),
        response: { 200: Page(ImportRowResult), ...errorResponses },
      },
    },
    async (request) => imports.rows(ctxOf(request), request.params.id, request.query),
  );

  fastify.get(
    '/imports/:id/results.csv',
    {
      config: { permission: 'users:read' },
      schema: {
        tags,
        summary: 'The original CSV plus a ProcessingResults column',
        params: IdParams,
        produces: ['text/csv'],
      },
    },
    async (request, reply) => {
      const stream = await imports.resultsCsv(ctxOf(request), request.params.id);
      return reply
        .header('content-type', 'text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="import-${request.params.id}-results.csv"`)
        .send(stream);
    },
  );

  fastify.post(
    '/imports/:id/cancel',
    {
      config: { permission: 'users:write' },
      schema: {
        tags,
        summary: 'Cancel a queued or running import (rows already applied stay applied)',
        params: IdParams,
        response: { 200: Import, ...errorResponses },
      },
    },
    async (request) => imports.cancel(ctxOf(request), request.params.id),
  );
}
