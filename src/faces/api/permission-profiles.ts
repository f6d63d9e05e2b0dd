import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { PROFILE_PERMISSIONS } from '../../core/principal.ts';
import { ctxOf } from '../ctx.ts';
import {
  AccountParams,
  errorResponses,
  IntId,
  ListQuery,
  Nullable,
  OutInt,
  Page,
  Strict,
  Timestamp,
  Uuid,
} from './schemas.ts';

/** A permission a profile can grant; anything else is a 400 naming the field. */
const ProfilePermissionName = Type.Union(
  PROFILE_PERMISSIONS.map((p) => Type.Literal(p)),
  { description: `one of ${PROFILE_PERMISSIONS.join(', ')}` },
);

export const PermissionProfile = Type.Object(
  {
    id: OutInt,
    account_id: Uuid,
    name: Type.String(),
    description: Nullable(Type.String()),
    permissions: Type.Array(Type.String(), {
      description: `a set, in this order: ${PROFILE_PERMISSIONS.join(', ')}`,
    }),
    user_count: Type.Integer({ description: 'active and pending memberships that use the profile' }),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { $id: 'PermissionProfile' },
);

const Name = Type.String({ minLength: 1, maxLength: 100 });
// Null first: with type coercion on, a String branch tried first would turn null into "".
const Description = Type.Union([Type.Null(), Type.String({ maxLength: 1000 })]);
const Permissions = Type.Array(ProfilePermissionName, {
  maxItems: 100,
  description: 'duplicates are ignored',
});

const ProfileParams = Type.Object({ account_id: Uuid, id: IntId }, Strict);

export async function permissionProfileRoutes(app: FastifyInstance): Promise<void> {
  const fastify = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['permission profiles'];
  const profiles = fastify.services.permissionProfiles;

  fastify.post(
    '/accounts/:account_id/permission_profiles',
    {
      config: { permission: 'profiles:write' },
      schema: {
        tags,
        summary: 'Create a permission profile in an account',
        params: AccountParams,
        body: Type.Object(
          { name: Name, description: Type.Optional(Description), permissions: Type.Optional(Permissions) },
          Strict,
        ),
        response: { 201: PermissionProfile, ...errorResponses },
      },
    },
    async (request, reply) =>
      reply.code(201).send(await profiles.create(ctxOf(request), request.params.account_id, request.body)),
  );

  fastify.get(
    '/accounts/:account_id/permission_profiles',
    {
      config: { permission: 'profiles:read' },
      schema: {
        tags,
        summary: "An account's permission profiles",
        params: AccountParams,
        querystring: Type.Object(ListQuery, Strict),
        response: { 200: Page(PermissionProfile), ...errorResponses },
      },
    },
    async (request) => profiles.list(ctxOf(request), request.params.account_id, request.query),
  );

  fastify.get(
    '/accounts/:account_id/permission_profiles/:id',
    {
      config: { permission: 'profiles:read' },
      schema: {
        tags,
        summary: 'Get a permission profile',
        params: ProfileParams,
        response: { 200: PermissionProfile, ...errorResponses },
      },
    },
    async (request) => profiles.get(ctxOf(request), request.params.account_id, request.params.id),
  );

  fastify.patch(
    '/accounts/:account_id/permission_profiles/:id',
    {
      config: { permission: 'profiles:write' },
      schema: {
        tags,
        summary: 'Update a permission profile (permissions, when given, replace the whole set)',
        params: ProfileParams,
        body: Type.Object(
          {
            name: Type.Optional(Name),
            description: Type.Optional(Description),
            permissions: Type.Optional(Permissions),
          },
          Strict,
        ),
        response: { 200: PermissionProfile, ...errorResponses },
      },
    },
    async (request) =>
      profiles.update(ctxOf(request), request.params.account_id, request.params.id, request.body),
  );

  fastify.delete(
    '/accounts/:account_id/permission_profiles/:id',
    {
      config: { permission: 'profiles:write' },
      schema: {
        tags,
        summary:
          'Delete a permission profile; one in use needs move_users_to, the profile its memberships move to',
        params: ProfileParams,
        querystring: Type.Object(
          {
            move_users_to: Type.Optional(
              Type.Integer({
                minimum: 1,
                maximum: Number.MAX_SAFE_INTEGER,
                description: 'another profile of the account; memberships using this one move to it',
              }),
            ),
          },
          Strict,
        ),
        response: { 204: Type.Null({ description: 'done; no body' }), ...errorResponses },
      },
    },
    async (request, reply) => {
      await profiles.delete(
        ctxOf(request),
        request.params.account_id,
        request.params.id,
        request.query.move_users_to,
      );
      return reply.code(204).send(null);
    },
  );
}
