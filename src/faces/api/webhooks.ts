// Webhook endpoints (docs/webhooks.md): register where an account's events go, in which format; the signing
// secret is in the answers of create and rotate_secret only.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import {
  DEFAULT_ROTATION_SECONDS,
  MAX_ENDPOINTS_PER_ACCOUNT,
  MAX_ROTATION_SECONDS,
} from '../../core/webhooks/endpoints.ts';
import { EVENT_TYPES } from '../../core/webhooks/events.ts';
import { ctxOf } from '../ctx.ts';
import {
  AccountParams,
  DateTime,
  errorResponses,
  IdParams,
  Nullable,
  Strict,
  Timestamp,
  Uuid,
} from './schemas.ts';

const Format = Type.Union([Type.Literal('standard'), Type.Literal('atlas'), Type.Literal('connect')], {
  description:
    'standard: Standard Webhooks 1.0 (webhook-id, webhook-timestamp, webhook-signature); atlas: X-Atlas-Signature; ' +
    'connect: DocuSign Connect JSON with X-DocuSign-Signature-N',
});
const Events = Type.Array(Type.String({ minLength: 1, maxLength: 100 }), {
  minItems: 1,
  maxItems: 100,
  description: `event types, or "*" for all: ${EVENT_TYPES.join(', ')}`,
});
const Url = Type.String({
  minLength: 1,
  maxLength: 2048,
  description: 'https:// URL the events are POSTed to',
});
const Description = Type.String({ maxLength: 500 });

export const WebhookEndpoint = Type.Object(
  {
    id: Uuid,
    account_id: Nullable(
      Type.String({
        format: 'uuid',
        description:
          'null for an organization-level Connect configuration (made through /management; it hears every account of account_ids)',
      }),
    ),
    account_ids: Nullable(
      Type.Array(Uuid, {
        description: 'an organization-level endpoint: the accounts it hears (null: every account)',
      }),
    ),
    url: Type.String(),
    description: Type.String(),
    format: Format,
    events: Type.Array(Type.String()),
    organization_events: Type.Boolean({
      description:
        'whether events with no account (people, the organization) reach it: set for endpoints an owner or admin registers',
    }),
    enabled: Type.Boolean(),
    disabled_reason: Nullable(Type.String({ description: 'why Signet disabled it (a 410 answer)' })),
    previous_secrets_expire_at: Nullable(Timestamp),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { $id: 'WebhookEndpoint' },
);

const WithSecret = Type.Intersect([
  WebhookEndpoint,
  Type.Object({
    secret: Type.String({ description: 'whsec_…: shown this once; keep it to verify signatures' }),
  }),
]);

export async function webhookRoutes(app: FastifyInstance): Promise<void> {
  const fastify = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['webhooks'];
  const endpoints = fastify.services.webhookEndpoints;

  fastify.post(
    '/webhook_endpoints',
    {
      config: { permission: 'webhooks:write' },
      schema: {
        tags,
        summary: `Register a webhook endpoint for an account (at most ${MAX_ENDPOINTS_PER_ACCOUNT} per account)`,
        body: Type.Object(
          {
            account_id: Uuid,
            url: Url,
            events: Events,
            format: Type.Optional(Format),
            description: Type.Optional(Description),
            enabled: Type.Optional(Type.Boolean()),
          },
          Strict,
        ),
        response: { 201: WithSecret, ...errorResponses },
      },
    },
    async (request, reply) => reply.code(201).send(await endpoints.create(ctxOf(request), request.body)),
  );

  fastify.get(
    '/webhook_endpoints',
    {
      config: { permission: 'webhooks:read' },
      schema: {
        tags,
        summary: "The webhook endpoints of an account, or of the organization (a member sees its account's)",
        querystring: Type.Object({ account_id: Type.Optional(Uuid) }, Strict),
        response: { 200: Type.Object({ data: Type.Array(WebhookEndpoint) }), ...errorResponses },
      },
    },
    async (request) => endpoints.list(ctxOf(request), request.query.account_id),
  );

  fastify.get(
    '/webhook_endpoints/:id',
    {
      config: { permission: 'webhooks:read' },
      schema: {
        tags,
        summary: 'Get a webhook endpoint (never its secret)',
        params: IdParams,
        response: { 200: WebhookEndpoint, ...errorResponses },
      },
    },
    async (request) => endpoints.get(ctxOf(request), request.params.id),
  );

  fastify.patch(
    '/webhook_endpoints/:id',
    {
      config: { permission: 'webhooks:write' },
      schema: {
        tags,
        summary: 'Change a webhook endpoint (enabling it again clears disabled_reason)',
        params: IdParams,
        body: Type.Object(
          {
            url: Type.Optional(Url),
            events: Type.Optional(Events),
            description: Type.Optional(Description),
            enabled: Type.Optional(Type.Boolean()),
          },
          Strict,
        ),
        response: { 200: WebhookEndpoint, ...errorResponses },
      },
    },
    async (request) => endpoints.update(ctxOf(request), request.params.id, request.body),
  );

  fastify.delete(
    '/webhook_endpoints/:id',
    {
      config: { permission: 'webhooks:write' },
      schema: {
        tags,
        summary: 'Delete a webhook endpoint, its secrets and its delivery log',
        params: IdParams,
        response: { 204: Type.Null({ description: 'done; no body' }), ...errorResponses },
      },
    },
    async (request, reply) => {
      await endpoints.delete(ctxOf(request), request.params.id);
      return reply.code(204).send(null);
    },
  );

  fastify.post(
    '/webhook_endpoints/:id/rotate_secret',
    {
      config: { permission: 'webhooks:write' },
      schema: {
        tags,
        summary: 'A new signing secret (shown once); the previous ones keep signing until expires_in_seconds',
        params: IdParams,
        body: Type.Optional(
          Type.Object(
            {
              expires_in_seconds: Type.Optional(
                Type.Integer({
                  minimum: 0,
                  maximum: MAX_ROTATION_SECONDS,
                  default: DEFAULT_ROTATION_SECONDS,
                  description:
                    'how long deliveries are also signed with the previous secrets (0: not at all)',
                }),
              ),
            },
            Strict,
          ),
        ),
        response: { 200: WithSecret, ...errorResponses },
      },
    },
    async (request) =>
      endpoints.rotateSecret(ctxOf(request), request.params.id, request.body?.expires_in_seconds),
  );

  const Attempt = Type.Object({
    attempt: Type.Integer(),
    started_at: Timestamp,
    status_code: Nullable(Type.Integer()),
    latency_ms: Type.Integer(),
    response_excerpt: Type.String({ description: 'the first kilobyte of the answer' }),
    error: Nullable(
      Type.String({ description: 'why there was no answer (timeout, refused by the outbound guard…)' }),
    ),
    next_retry_at: Nullable(Timestamp),
  });
  const Delivery = Type.Object({
    id: Uuid,
    event_id: Uuid,
    event_type: Type.String(),
    status: Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('failed')]),
    attempts: Type.Array(Attempt),
    next_attempt_at: Nullable(Timestamp),
    created_at: Timestamp,
  });
  const Limit = Type.Object(
    { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })) },
    Strict,
  );

  fastify.get(
    '/envelope/:id/webhook_deliveries',
    {
      config: { permission: 'envelopes:read' },
      schema: {
        tags,
        summary:
          "The delivery log of the envelope's webhook_url: the latest deliveries, newest first, each with its attempts",
        params: IdParams,
        querystring: Limit,
        response: { 200: Type.Object({ data: Type.Array(Delivery) }), ...errorResponses },
      },
    },
    async (request) =>
      endpoints.envelopeDeliveries(ctxOf(request), request.params.id, request.query.limit ?? 50),
  );

  const AccountSecret = Type.Object({
    account_id: Uuid,
    created_at: Nullable(Timestamp),
  });
  fastify.get(
    '/accounts/:account_id/webhook_secret',
    {
      config: { permission: 'webhooks:read' },
      schema: {
        tags,
        summary:
          "Whether the account has a default signing secret (it signs its envelopes' webhook_url deliveries); never the secret",
        params: AccountParams,
        response: { 200: AccountSecret, ...errorResponses },
      },
    },
    async (request) => endpoints.accountSecret(ctxOf(request), request.params.account_id),
  );
  fastify.post(
    '/accounts/:account_id/webhook_secret',
    {
      config: { permission: 'webhooks:write' },
      schema: {
        tags,
        summary:
          "A new default signing secret for the account (shown once), replacing the one before at once: it signs its envelopes' webhook_url deliveries",
        params: AccountParams,
        response: {
          200: Type.Intersect([
            AccountSecret,
            Type.Object({ secret: Type.String({ description: 'whsec_…: shown this once' }) }),
          ]),
          ...errorResponses,
        },
      },
    },
    async (request) => endpoints.rotateAccountSecret(ctxOf(request), request.params.account_id),
  );

  fastify.get(
    '/webhook_endpoints/:id/deliveries',
    {
      config: { permission: 'webhooks:read' },
      schema: {
        tags,
        summary: 'The delivery log: the latest deliveries, newest first, each with its attempts',
        params: IdParams,
        querystring: Limit,
        response: { 200: Type.Object({ data: Type.Array(Delivery) }), ...errorResponses },
      },
    },
    async (request) => endpoints.deliveries(ctxOf(request), request.params.id, request.query.limit ?? 50),
  );

  fastify.post(
    '/webhook_endpoints/:id/deliveries/:delivery_id/redeliver',
    {
      config: { permission: 'webhooks:write' },
      schema: {
        tags,
        summary: 'Send one delivery again now (same webhook-id)',
        params: Type.Object({ id: Uuid, delivery_id: Uuid }, Strict),
        response: { 202: Type.Object({ delivery_id: Uuid }), ...errorResponses },
      },
    },
    async (request, reply) =>
      reply
        .code(202)
        .send(await endpoints.redeliver(ctxOf(request), request.params.id, request.params.delivery_id)),
  );

  fastify.post(
    '/webhook_endpoints/:id/replay',
    {
      config: { permission: 'webhooks:write' },
      schema: {
        tags,
        summary:
          "Send again the endpoint's deliveries made in a time range (the failed ones only, by default)",
        params: IdParams,
        body: Type.Object(
          {
            since: DateTime,
            until: Type.Optional(DateTime),
            failed_only: Type.Optional(Type.Boolean({ default: true })),
          },
          Strict,
        ),
        response: { 202: Type.Object({ queued: Type.Integer() }), ...errorResponses },
      },
    },
    async (request, reply) =>
      reply.code(202).send(
        await endpoints.replay(ctxOf(request), request.params.id, {
          since: new Date(request.body.since),
          until: request.body.until ? new Date(request.body.until) : new Date(),
          failedOnly: request.body.failed_only ?? true,
        }),
      ),
  );

  fastify.post(
    '/webhook_endpoints/:id/test',
    {
      config: { permission: 'webhooks:write' },
      schema: {
        tags,
        summary: 'Queue a webhook.test event for this endpoint alone',
        params: IdParams,
        response: {
          202: Type.Object({ event_id: Uuid, delivery_id: Uuid }),
          ...errorResponses,
        },
      },
    },
    async (request, reply) => reply.code(202).send(await endpoints.test(ctxOf(request), request.params.id)),
  );
}
