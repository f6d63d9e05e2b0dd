// Envelopes in Atlas's [A] shape (docs/envelopes.md): POST /api/envelope takes the PDF as a multipart `file`,
// as base64 in JSON `document`, or as a `document_url` Signet fetches through its outbound guard; the reads
// and actions live under /api/envelope/{id}, the list at /api/envelopes. And the credit pool that sends
// draw on (GET /api/credits, POST /api/credits/grants).
import multipart from '@fastify/multipart';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { MAX_GRANT } from '../../core/credits/ledger.ts';
import { documentTooLarge } from '../../core/envelopes/pdf.ts';
import type { DocumentSource } from '../../core/envelopes/service.ts';
import { ENVELOPE_STATUSES, MAX_PARTIES } from '../../core/envelopes/service.ts';
import { AppError, invalidField } from '../../core/errors.ts';
import { ctxOf } from '../ctx.ts';
import {
  DateTime,
  errorResponses,
  IdParams,
  ListQuery,
  Nullable,
  Page,
  Strict,
  Timestamp,
  Uuid,
} from './schemas.ts';

const Status = Type.Union(
  ENVELOPE_STATUSES.map((s) => Type.Literal(s)),
  { description: 'draft → sent → completed, or declined, voided, expired' },
);
const PartyRole = Type.Union([Type.Literal('signer'), Type.Literal('cc')], {
  description: 'signer signs in its order; cc receives the completed document',
});
const Actor = Type.Object({
  type: Type.String(),
  id: Nullable(Type.String()),
  label: Nullable(Type.String()),
});
const Metadata = Type.Object(
  { external_id: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })) },
  { additionalProperties: true, description: 'your own keys; external_id is filterable (?external_id=)' },
);

const Party = Type.Object({
  id: Uuid,
  email: Type.String(),
  name: Type.String(),
  role: PartyRole,
  order: Type.Integer(),
  status: Type.Union(
    ['pending', 'waiting', 'signed', 'declined'].map((s) => Type.Literal(s)),
    {
      description: 'pending: its turn; waiting: a later turn',
    },
  ),
  viewed_at: Nullable(Timestamp),
  signed_at: Nullable(Timestamp),
  declined_at: Nullable(Timestamp),
});

const summaryFields = {
  envelope_id: Uuid,
  id: Uuid,
  organization_id: Uuid,
  account_id: Uuid,
  status: Status,
  title: Type.String(),
  message: Type.String(),
  external_id: Nullable(Type.String()),
  metadata: Type.Object({}, { additionalProperties: true }),
  webhook_url: Nullable(Type.String()),
  fields_status: Type.Literal('ready', { description: 'Signet detects no fields: always ready' }),
  review_url: Type.String(),
  created_by: Actor,
  payer_organization_id: Nullable(Uuid),
  reminder_count: Type.Integer(),
  last_reminded_at: Nullable(Timestamp),
  void_reason: Nullable(Type.String()),
  decline_reason: Nullable(Type.String()),
  expires_at: Nullable(Timestamp),
  sent_at: Nullable(Timestamp),
  completed_at: Nullable(Timestamp),
  declined_at: Nullable(Timestamp),
  voided_at: Nullable(Timestamp),
  expired_at: Nullable(Timestamp),
  created_at: Timestamp,
  updated_at: Timestamp,
};

export const EnvelopeSummary = Type.Object(summaryFields, { $id: 'EnvelopeSummary' });

export const Envelope = Type.Object(
  {
    ...summaryFields,
    parties: Type.Array(Party),
    signed_count: Type.Integer(),
    total: Type.Integer({ description: 'signers (cc parties do not sign)' }),
    document: Type.Object({
      filename: Type.String(),
      size_bytes: Type.Integer(),
      page_count: Type.Integer(),
      sha256: Type.String(),
      signed_sha256: Nullable(Type.String({ description: 'the completed PDF’s SHA-256' })),
    }),
  },
  { $id: 'Envelope' },
);

const HistoryEvent = Type.Object({
  id: Uuid,
  seq: Type.Integer(),
  type: Type.String(),
  occurred_at: Type.String(),
  actor: Actor,
  party_id: Nullable(Uuid),
  payload: Type.Object({}, { additionalProperties: true }),
  ip: Nullable(Type.String()),
  user_agent: Nullable(Type.String()),
  prev_hash: Type.String(),
  hash: Type.String({ description: 'SHA-256 of prev_hash and the event’s canonical JSON' }),
});

const CreditEntry = Type.Object({
  id: Uuid,
  organization_id: Uuid,
  kind: Type.Union(['grant', 'signup', 'send', 'refund'].map((s) => Type.Literal(s))),
  amount: Type.Integer(),
  balance_after: Type.Integer(),
  envelope_id: Nullable(Uuid),
  envelope_organization_id: Nullable(Uuid),
  actor: Actor,
  reason: Type.String(),
  created_at: Timestamp,
});

const Reason = Type.Object({ reason: Type.Optional(Type.String({ maxLength: 500 })) }, Strict);

/** The body is optional: a bare POST voids or declines with no reason. */
async function emptyBodyIsNone(request: FastifyRequest): Promise<void> {
  if (request.body === undefined || request.body === null) request.body = {};
}

function createBody() {
  return Type.Object(
    {
      account_id: Type.Optional(Uuid),
      title: Type.Optional(Type.String({ maxLength: 200 })),
      message: Type.Optional(Type.String({ maxLength: 2000 })),
      document: Type.Optional(
        // No maxLength: the route's bodyLimit bounds it, and a decoded PDF over the limit is answered 413
        // document_too_large naming SIGNET_ENVELOPE_MAX_BYTES.
        Type.String({ description: 'the PDF, base64' }),
      ),
      document_url: Type.Optional(Type.String({ maxLength: 2048, description: 'https URL of the PDF' })),
      filename: Type.Optional(Type.String({ maxLength: 255 })),
      parties: Type.Array(
        Type.Object(
          {
            email: Type.String({ maxLength: 320 }),
            name: Type.String({ maxLength: 200 }),
            role: Type.Optional(PartyRole),
            order: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
          },
          Strict,
        ),
        { minItems: 1, maxItems: MAX_PARTIES },
      ),
      metadata: Type.Optional(Metadata),
      webhook_url: Type.Optional(Type.String({ maxLength: 2048 })),
      expires_at: Type.Optional(DateTime),
    },
    Strict,
  );
}
type CreateBody = Static<ReturnType<typeof createBody>>;

/** A multipart upload's `file`, kept for the handler (the body schema describes the other fields). */
const uploads = new WeakMap<FastifyRequest, { bytes: Buffer; filename: string | undefined }>();

/** Fields of a multipart create that carry JSON (the rest are plain text). */
const JSON_FIELDS = new Set(['parties', 'metadata']);

/**
 * Reads a multipart create into the JSON body the schema validates: the `file` part aside, `parties` and
 * `metadata` as JSON text, the other fields as they are.
 */
async function readMultipart(request: FastifyRequest, maxBytes: number): Promise<void> {
  const body: Record<string, unknown> = {};
  try {
    for await (const part of request.parts()) {
      if (part.type === 'file') {
        if (part.fieldname !== 'file')
          throw invalidField(part.fieldname, 'unknown file part; send the PDF as "file"');
        const bytes = await part.toBuffer();
        uploads.set(request, { bytes, filename: part.filename || undefined });
      } else if (JSON_FIELDS.has(part.fieldname)) {
        try {
          body[part.fieldname] = JSON.parse(String(part.value));
        } catch {
          throw invalidField(part.fieldname, 'is JSON text in a multipart body');
        }
      } else body[part.fieldname] = part.value;
    }
  } catch (err) {
    if ((err as { code?: string }).code === 'FST_REQ_FILE_TOO_LARGE')
      throw documentTooLarge(maxBytes + 1, maxBytes);
    if (err instanceof AppError) throw err;
    throw new AppError(
      'validation_failed',
      `the multipart/form-data body could not be read: ${(err as Error).message}`,
    );
  }
  request.body = body;
}

function sourceOf(request: FastifyRequest, body: CreateBody): DocumentSource {
  const upload = uploads.get(request);
  const given = [upload, body.document, body.document_url].filter((x) => x !== undefined).length;
  if (given !== 1) {
    throw new AppError(
      'validation_failed',
      'send the PDF exactly one way: a multipart part "file", base64 in "document", or "document_url"',
      [{ field: 'document', message: given === 0 ? 'missing' : 'more than one given' }],
    );
  }
  if (upload) return { kind: 'bytes', bytes: upload.bytes, filename: body.filename ?? upload.filename };
  if (body.document !== undefined) return { kind: 'base64', data: body.document, filename: body.filename };
  return { kind: 'url', url: body.document_url!, filename: body.filename };
}

export async function envelopeRoutes(app: FastifyInstance): Promise<void> {
  const fastify = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['envelopes'];
  const envelopes = fastify.services.envelopes;
  const maxBytes = fastify.config.envelopeMaxBytes;
  await fastify.register(multipart, {
    limits: { files: 1, fileSize: maxBytes, fieldSize: 64 * 1024, parts: 20 },
  });
  const Body = createBody();

  fastify.post(
    '/envelope',
    {
      config: { permission: 'envelopes:write', idempotency: { status: 201 } },
      // base64 is 4/3 of the PDF, and a multipart body carries its fields beside it.
      bodyLimit: Math.ceil((maxBytes * 4) / 3) + 1024 * 1024,
      preValidation: async (request) => {
        if (request.isMultipart()) await readMultipart(request, maxBytes);
      },
      schema: {
        tags,
        summary:
          'Create a draft envelope from a PDF (multipart file, base64 document, or document_url) and its parties',
        body: Body,
        response: { 201: Envelope, 413: errorResponses[400], ...errorResponses },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const created = await envelopes.create(ctxOf(request), {
        ...body,
        document: sourceOf(request, body),
      });
      return reply.code(201).send(created);
    },
  );

  fastify.get(
    '/envelopes',
    {
      config: { permission: 'envelopes:read' },
      schema: {
        tags,
        summary: "List envelopes, newest first (a member sees its account's)",
        querystring: Type.Object(
          {
            ...ListQuery,
            status: Type.Optional(Status),
            external_id: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
            updated_since: Type.Optional(DateTime),
            account_id: Type.Optional(Uuid),
          },
          Strict,
        ),
        response: { 200: Page(EnvelopeSummary), ...errorResponses },
      },
    },
    async (request) => envelopes.list(ctxOf(request), request.query),
  );

  fastify.get(
    '/envelope/:id',
    {
      config: { permission: 'envelopes:read' },
      schema: {
        tags,
        summary: 'Get an envelope',
        params: IdParams,
        response: { 200: Envelope, ...errorResponses },
      },
    },
    async (request) => envelopes.get(ctxOf(request), request.params.id),
  );

  fastify.get(
    '/envelope/:id/status',
    {
      config: { permission: 'envelopes:read' },
      schema: {
        tags,
        summary: "An envelope's progress: who signed, whose turn it is",
        params: IdParams,
        response: {
          200: Type.Object({
            envelope_id: Uuid,
            status: Status,
            signed_count: Type.Integer(),
            total: Type.Integer(),
            next_signer_email: Nullable(Type.String()),
            sign_url: Nullable(
              Type.String({ description: 'the signing link of the party whose turn it is' }),
            ),
          }),
          ...errorResponses,
        },
      },
    },
    async (request) => envelopes.status(ctxOf(request), request.params.id),
  );

  fastify.post(
    '/envelope/:id/send',
    {
      config: { permission: 'envelopes:write' },
      schema: {
        tags,
        summary: 'Send a draft: 1 credit from the paying pool (402 insufficient_credits when empty)',
        params: IdParams,
        response: { 200: Envelope, 402: errorResponses[400], ...errorResponses },
      },
    },
    async (request) => envelopes.send(ctxOf(request), request.params.id),
  );

  fastify.post(
    '/envelope/:id/void',
    {
      config: { permission: 'envelopes:write' },
      preValidation: emptyBodyIsNone,
      schema: {
        tags,
        summary: 'Void a draft or sent envelope; a sent one nobody signed gets its credit back',
        params: IdParams,
        body: Reason,
        response: {
          200: Type.Intersect([Envelope, Type.Object({ refunded: Type.Boolean() })]),
          ...errorResponses,
        },
      },
    },
    async (request) => envelopes.void(ctxOf(request), request.params.id, request.body.reason),
  );

  fastify.post(
    '/envelope/:id/decline',
    {
      config: { permission: 'envelopes:write' },
      preValidation: emptyBodyIsNone,
      schema: {
        tags,
        summary: 'Record that the party whose turn it is declined',
        params: IdParams,
        body: Reason,
        response: { 200: Envelope, ...errorResponses },
      },
    },
    async (request) => envelopes.decline(ctxOf(request), request.params.id, request.body.reason),
  );

  fastify.post(
    '/envelope/:id/remind',
    {
      config: { permission: 'envelopes:write' },
      schema: {
        tags,
        summary: 'Mail the party whose turn it is its signing link again, as a reminder (free)',
        params: IdParams,
        response: { 200: Envelope, ...errorResponses },
      },
    },
    async (request) => envelopes.remind(ctxOf(request), request.params.id),
  );

  fastify.get(
    '/envelope/:id/pdf',
    {
      config: { permission: 'envelopes:read' },
      schema: {
        tags,
        summary: 'The PDF: the signed one once completed, else the original',
        params: IdParams,
      },
    },
    async (request, reply) => {
      const pdf = await envelopes.pdf(ctxOf(request), request.params.id);
      return reply
        .header('content-type', 'application/pdf')
        .header('content-disposition', `attachment; filename="${pdf.filename}"`)
        .header('x-content-sha256', pdf.sha256)
        .send(pdf.data);
    },
  );

  fastify.get(
    '/envelope/:id/events',
    {
      config: { permission: 'envelopes:read' },
      schema: {
        tags,
        summary: "The envelope's history, oldest first, hash-chained",
        params: IdParams,
        querystring: Type.Object(ListQuery, Strict),
        response: { 200: Page(HistoryEvent), ...errorResponses },
      },
    },
    async (request) => envelopes.events(ctxOf(request), request.params.id, request.query),
  );

  fastify.get(
    '/credits',
    {
      config: { permission: 'credits:read' },
      schema: {
        tags: ['credits'],
        summary: "The organization's credit balance and its ledger, newest first",
        querystring: Type.Object(ListQuery, Strict),
        response: {
          200: Type.Object({
            organization_id: Uuid,
            balance: Type.Integer(),
            data: Type.Array(CreditEntry),
            next_cursor: Nullable(Type.String()),
          }),
          ...errorResponses,
        },
      },
    },
    async (request) => fastify.services.credits.list(ctxOf(request), request.query),
  );

  fastify.post(
    '/credits/grants',
    {
      config: { permission: 'credits:write', idempotency: { status: 201 } },
      schema: {
        tags: ['credits'],
        summary: "Grant credits to one of the platform's connected accounts (owners and admins)",
        description:
          'Adds `amount` credits to the connected account named in `organization_id` (its id or ' +
          'ext_<external_id>), with the reason in its ledger; audited in both organizations. Any organization ' +
          "that is not one of this platform's connected accounts answers 404. Operators of the server grant to " +
          'any organization with `signet credits grant`. See docs/platform.md#credits.',
        body: Type.Object(
          {
            organization_id: Type.String({
              minLength: 1,
              maxLength: 300,
              description: 'the connected account: its connected_org_id, or ext_<external_id>',
            }),
            amount: Type.Integer({ minimum: 1, maximum: MAX_GRANT }),
            reason: Type.String({ minLength: 1, maxLength: 500, description: 'why; kept in the ledger' }),
          },
          Strict,
        ),
        response: {
          201: Type.Intersect([
            CreditEntry,
            Type.Object({ balance: Type.Integer({ description: "the account's balance after the grant" }) }),
          ]),
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const grant = await fastify.services.platform.grantCredits(ctxOf(request), request.body);
      return reply.code(201).send(grant);
    },
  );
}
