import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ctxOf } from '../ctx.ts';
import { errorResponses, IdParams, Strict, Timestamp, Uuid } from './schemas.ts';

export const Organization = Type.Object(
  { id: Uuid, name: Type.String(), created_at: Timestamp, updated_at: Timestamp },
  { $id: 'Organization' },
);

export async function organizationRoutes(app: FastifyInstance): Promise<void> {
  const fastify = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['organizations'];

  fastify.get(
    '/organization',
    {
      config: { permission: 'org:read' },
      schema: {
        tags,
        summary: "The caller's organization",
        response: { 200: Organization, ...errorResponses },
      },
    },
    async (request) => {
      const ctx = ctxOf(request);
      return fastify.services.organizations.get(ctx, ctx.principal.organizationId);
    },
  );

  fastify.get(
    '/organizations/:id',
    {
      config: { permission: 'org:read' },
      schema: {
        tags,
        summary: 'Get an organization',
        params: IdParams,
        response: { 200: Organization, ...errorResponses },
      },
    },
    async (request) => fastify.services.organizations.get(ctxOf(request), request.params.id),
  );

  fastify.patch(
    '/organizations/:id',
    {
      config: { permission: 'org:write' },
      schema: {
        tags,
        summary: 'Update an organization',
        params: IdParams,
        body: Type.Object({ name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })) }, Strict),
        response: { 200: Organization, ...errorResponses },
      },
    },
    async (request) => fastify.services.organizations.update(ctxOf(request), request.params.id, request.body),
  );
}
