import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ctxOf } from '../ctx.ts';
import { errorResponses, IdParams, ListQuery, Nullable, Page, Strict, Timestamp, Uuid } from './schemas.ts';

export const Account = Type.Object(
  {
    id: Uuid,
    organization_id: Uuid,
    external_account_id: Type.Unsafe<number | string>({
      type: 'integer',
      description: "DocuSign's integer account number",
    }),
    name: Type.String(),
    seat_limit: Nullable(Type.Integer({ description: 'active memberships allowed; null = no limit' })),
    seats_used: Type.Integer({ description: 'active memberships now' }),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { $id: 'Account' },
);

const SeatLimit = Nullable(Type.Integer({ minimum: 0, maximum: 10_000_000 }));

export async function accountRoutes(app: FastifyInstance): Promise<void> {
  const fastify = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['accounts'];

  fastify.post(
    '/accounts',
    {
      config: { permission: 'accounts:write' },
      schema: {
        tags,
        summary: 'Create an account (with the default permission profiles)',
        body: Type.Object(
          { name: Type.String({ minLength: 1, maxLength: 200 }), seat_limit: Type.Optional(SeatLimit) },
          Strict,
        ),
        response: { 201: Account, ...errorResponses },
      },
    },
    async (request, reply) =>
      reply.code(201).send(await fastify.services.accounts.create(ctxOf(request), request.body)),
  );

  fastify.get(
    '/accounts',
    {
      config: { permission: 'accounts:read' },
      schema: {
        tags,
        summary: 'List accounts',
        querystring: Type.Object(ListQuery, Strict),
        response: { 200: Page(Account), ...errorResponses },
      },
    },
    async (request) => fastify.services.accounts.list(ctxOf(request), request.query),
  );

  fastify.get(
    '/accounts/:id',
    {
      config: { permission: 'accounts:read' },
      schema: {
        tags,
        summary: 'Get an account',
        params: IdParams,
        response: { 200: Account, ...errorResponses },
      },
    },
    async (request) => fastify.services.accounts.get(ctxOf(request), request.params.id),
  );

  fastify.patch(
    '/accounts/:id',
    {
      config: { permission: 'accounts:write' },
      schema: {
        tags,
        summary: 'Update an account',
        params: IdParams,
        body: Type.Object(
          {
            name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
            seat_limit: Type.Optional(SeatLimit),
          },
          Strict,
        ),
        response: { 200: Account, ...errorResponses },
      },
    },
    async (request) => fastify.services.accounts.update(ctxOf(request), request.params.id, request.body),
  );
}
