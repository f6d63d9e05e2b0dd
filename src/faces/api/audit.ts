import { Readable } from 'node:stream';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { AuditEventView } from '../../core/audit/service.ts';
import { csvStream } from '../../core/csv-safe.ts';
import { ctxOf } from '../ctx.ts';
import { DateTime, errorResponses, ListQuery, Nullable, Page, Strict, Timestamp, Uuid } from './schemas.ts';

export const AuditEvent = Type.Object(
  {
    id: Uuid,
    organization_id: Uuid,
    seq: Type.Integer(),
    occurred_at: Timestamp,
    actor_type: Type.String(),
    actor_id: Nullable(Type.String()),
    actor_label: Nullable(Type.String()),
    action: Type.String(),
    target_type: Type.String(),
    target_id: Nullable(Type.String()),
    account_id: Nullable(Uuid),
    changes: Type.Record(Type.String(), Type.Unknown()),
    ip: Nullable(Type.String()),
    user_agent: Nullable(Type.String()),
    request_id: Nullable(Type.String()),
    prev_hash: Type.String(),
    hash: Type.String(),
  },
  { $id: 'AuditEvent' },
);

const Filters = {
  actor_id: Type.Optional(Type.String({ maxLength: 100 })),
  action: Type.Optional(Type.String({ maxLength: 100, description: 'exact, or a prefix ending in ".*"' })),
  target_id: Type.Optional(Type.String({ maxLength: 100 })),
  target_type: Type.Optional(Type.String({ maxLength: 100 })),
  since: Type.Optional(DateTime),
  until: Type.Optional(DateTime),
};

const CSV_COLUMNS = [
  'seq',
  'occurred_at',
  'actor_type',
  'actor_id',
  'actor_label',
  'action',
  'target_type',
  'target_id',
  'account_id',
  'changes',
  'ip',
  'user_agent',
  'request_id',
  'id',
  'prev_hash',
  'hash',
] as const;

export async function auditRoutes(app: FastifyInstance): Promise<void> {
  const fastify = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['audit'];
  const audit = fastify.services.audit;

  fastify.get(
    '/audit_events',
    {
      config: { permission: 'audit:read' },
      schema: {
        tags,
        summary: "The organization's audit events, newest first (order=asc: oldest first)",
        querystring: Type.Object(
          {
            ...ListQuery,
            ...Filters,
            order: Type.Optional(
              Type.Union([Type.Literal('desc'), Type.Literal('asc')], {
                default: 'desc',
                description:
                  'desc (default): newest first; asc: oldest first, the order of the hash chain. Pass the same order with each next_cursor.',
              }),
            ),
          },
          Strict,
        ),
        response: { 200: Page(AuditEvent), ...errorResponses },
      },
    },
    async (request) => audit.list(ctxOf(request), request.query),
  );

  fastify.get(
    '/audit_events/export',
    {
      config: { permission: 'audit:read' },
      schema: {
        tags,
        summary: 'Stream the audit log as CSV or JSON Lines',
        querystring: Type.Object(
          {
            format: Type.Optional(
              Type.Union([Type.Literal('csv'), Type.Literal('jsonl')], { default: 'jsonl' }),
            ),
            ...Filters,
          },
          Strict,
        ),
      },
    },
    async (request, reply) => {
      const { format = 'jsonl', ...filter } = request.query;
      const events = audit.export(ctxOf(request), filter);
      const stamp = new Date().toISOString().replace(/[:.]/g, '-');
      reply.header('content-disposition', `attachment; filename="audit-${stamp}.${format}"`);
      if (format === 'jsonl') {
        reply.type('application/x-ndjson');
        return reply.send(
          Readable.from(
            (async function* () {
              for await (const e of events) yield `${JSON.stringify(e)}\n`;
            })(),
          ),
        );
      }
      reply.type('text/csv; charset=utf-8');
      return reply.send(
        csvStream(
          (async function* () {
            yield CSV_COLUMNS;
            for await (const e of events) yield CSV_COLUMNS.map((c) => (e as AuditEventView)[c]);
          })(),
        ),
      );
    },
  );
}
