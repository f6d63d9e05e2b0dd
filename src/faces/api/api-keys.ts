import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ctxOf } from './index.ts';
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

const Role = Type.Union([Type.Literal('owner'), Type.Literal('admin'), Type.Literal('member')]);

export const ApiKey = Type.Object(
  {
    id: Uuid,
    name: Type.String(),
    prefix: Type.String({ description: 'sk_test_ or sk_live_' }),
    last4: Type.String(),
    environment: Type.Union([Type.Literal('test'), Type.Literal('live')]),
    role: Role,
    organization_id: Uuid,
    account_id: Uuid,
    created_by: Uuid,
    created_at: Timestamp,
    expires_at: Nullable(Timestamp),
    revoked_at: Nullable(Timestamp),
    last_used_at: Nullable(Timestamp),
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
      config: { permission: 'keys:write' },
      schema: {
        tags,
        summary: 'Create an API key (the secret is in the response, once)',
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 100 }),
            account_id: Type.Optional(Uuid),
            role: Type.Optional(Role),
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
}
