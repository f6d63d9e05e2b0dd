import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { SCOPE_NAMES } from '../../core/api-keys/scopes.ts';
import { ROTATE_DEFAULT_SECONDS, ROTATE_MAX_SECONDS } from '../../core/api-keys/service.ts';
import { ctxOf } from '../ctx.ts';
import {
  DateTime,
  errorResponses,
  IdParams,
  ListQuery,
  Nullable,
  Page,
  Role,
  Strict,
  Timestamp,
  Uuid,
} from './schemas.ts';

const Kind = Type.Union([Type.Literal('profile'), Type.Literal('platform')], {
  description:
    'profile: acts as its creator inside one account; platform: for platform mode (owners and admins only)',
});
const Scopes = Type.Array(Type.String({ minLength: 1, maxLength: 100 }), {
  minItems: 1,
  maxItems: 50,
  description: `Restrict the key to these scopes (${SCOPE_NAMES.join(', ')}); null or absent = unrestricted`,
});

export const ApiKey = Type.Object(
  {
    id: Uuid,
    name: Type.String(),
    prefix: Type.String({ description: 'sk_test_ or sk_live_' }),
    last4: Type.String(),
    environment: Type.Union([Type.Literal('test'), Type.Literal('live')]),
    role: Role,
    kind: Kind,
    scopes: Nullable(Type.Array(Type.String())),
    organization_id: Uuid,
    account_id: Uuid,
    created_by: Uuid,
    created_at: Timestamp,
    expires_at: Nullable(Timestamp),
    revoked_at: Nullable(Timestamp),
    last_used_at: Nullable(Timestamp),
    last_used_ip: Nullable(Type.String()),
    rotated_from: Nullable(Uuid),
  },
  { $id: 'ApiKey' },
);

const NewApiKey = Type.Composite([
  ApiKey,
  Type.Object({ key: Type.String({ description: 'shown once; store it now' }) }),
]);

export async function apiKeyRoutes(app: FastifyInstance): Promise<void> {
  const fastify = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['api keys'];
  const keys = fastify.services.apiKeys;

  fastify.post(
    '/api_keys',
    {
      // The response holds a secret shown once: it is not stored for replay, so Idempotency-Key is refused.
      config: { permission: 'keys:write', idempotency: false },
      schema: {
        tags,
        summary: 'Create an API key (the secret is in the response, once)',
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 100 }),
            account_id: Type.Optional(Uuid),
            role: Type.Optional(Role),
            kind: Type.Optional(Kind),
            scopes: Type.Optional(Nullable(Scopes)),
            expires_at: Type.Optional(Nullable(DateTime)),
          },
          Strict,
        ),
        response: { 201: NewApiKey, ...errorResponses },
      },
    },
    async (request, reply) => reply.code(201).send(await keys.create(ctxOf(request), request.body)),
  );

  fastify.get(
    '/api_keys',
    {
      config: { permission: 'keys:read' },
      schema: {
        tags,
        summary: 'List API keys',
        querystring: Type.Object(ListQuery, Strict),
        response: { 200: Page(ApiKey), ...errorResponses },
      },
    },
    async (request) => keys.list(ctxOf(request), request.query),
  );

  fastify.delete(
    '/api_keys/:id',
    {
      config: { permission: 'keys:write' },
      schema: {
        tags,
        summary: 'Revoke an API key at once',
        params: IdParams,
        response: { 200: ApiKey, ...errorResponses },
      },
    },
    async (request) => keys.revoke(ctxOf(request), request.params.id),
  );

  fastify.post(
    '/api_keys/:id/rotate',
    {
      // The response holds a secret shown once: it is not stored for replay, so Idempotency-Key is refused.
      config: { permission: 'keys:write', idempotency: false },
      // The body is optional: a bare POST rotates with the defaults.
      preValidation: async (request) => {
        if (request.body === undefined || request.body === null) request.body = {};
      },
      schema: {
        tags,
        summary: 'Rotate an API key: a new key now, the old one keeps working for a while (dual-run)',
        params: IdParams,
        body: Type.Object(
          {
            expires_in_seconds: Type.Optional(
              Type.Integer({
                minimum: 0,
                maximum: ROTATE_MAX_SECONDS,
                default: ROTATE_DEFAULT_SECONDS,
                description: 'how long the old key keeps working; 0 stops it now (an earlier expiry is kept)',
              }),
            ),
            new_key_expires_at: Type.Optional(Nullable(DateTime)),
          },
          Strict,
        ),
        response: {
          201: Type.Object({
            new_key: NewApiKey,
            old_key: ApiKey,
          }),
          ...errorResponses,
        },
      },
    },
    async (request, reply) =>
      reply.code(201).send(await keys.rotate(ctxOf(request), request.params.id, request.body)),
  );

  fastify.post(
    '/api_keys/revoke_all',
    {
      config: { permission: 'keys:write' },
      schema: {
        tags,
        summary: "Break-glass: revoke every API key of the organization, the caller's own included (owners)",
        body: Type.Object({ reason: Type.String({ minLength: 1, maxLength: 500 }) }, Strict),
        response: { 200: Type.Object({ revoked_count: Type.Integer() }), ...errorResponses },
      },
    },
    async (request) => keys.revokeAll(ctxOf(request), request.body.reason),
  );
}
