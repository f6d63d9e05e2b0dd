import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
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

export const Group = Type.Object(
  {
    id: OutInt,
    account_id: Uuid,
    name: Type.String(),
    description: Nullable(Type.String()),
    type: Type.Union([Type.Literal('custom'), Type.Literal('admin'), Type.Literal('everyone')], {
      description:
        "custom: the account's own; admin (Administrators) and everyone (Everyone): DocuSign's built-in groups, " +
        'which every account has and which cannot be deleted or renamed; Everyone holds every user with a ' +
        'membership in the account',
    }),
    permission_profile_id: Type.Union([OutInt, Type.Null()], {
      description: "a permission profile of the account (DocuSign's group profile; grants nothing by itself)",
    }),
    member_count: Type.Integer(),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { $id: 'Group' },
);

/**
 * A group member in a compact shape: the user's id, email and name, and when they joined the group. The full
 * user (memberships included) is GET /api/users/{user_id}; GET /api/users?group_id= lists members as users.
 */
export const GroupMember = Type.Object(
  {
    user_id: Uuid,
    email: Type.String(),
    first_name: Type.String(),
    last_name: Type.String(),
    added_at: Timestamp,
  },
  { $id: 'GroupMember' },
);

const Name = Type.String({ minLength: 1, maxLength: 100 });
// Null first, as for Description: a null clears the group's profile.
const ProfileRef = Type.Union([Type.Null(), Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER })]);
// Null first: with type coercion on, a String branch tried first would turn null into "".
const Description = Type.Union([Type.Null(), Type.String({ maxLength: 1000 })]);
const GroupParams = Type.Object({ account_id: Uuid, id: IntId }, Strict);
const UserIds = Type.Object(
  {
    user_ids: Type.Array(Uuid, {
      minItems: 1,
      maxItems: 1000,
      description:
        'user ids; to be added, each must be a user of the organization with a membership (any status) in the account',
    }),
  },
  Strict,
);

export async function groupRoutes(app: FastifyInstance): Promise<void> {
  const fastify = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['groups'];
  const groups = fastify.services.groups;

  fastify.post(
    '/accounts/:account_id/groups',
    {
      config: { permission: 'groups:write' },
      schema: {
        tags,
        summary: 'Create a group in an account',
        params: AccountParams,
        body: Type.Object(
          {
            name: Name,
            description: Type.Optional(Description),
            permission_profile_id: Type.Optional(ProfileRef),
          },
          Strict,
        ),
        response: { 201: Group, ...errorResponses },
      },
    },
    async (request, reply) =>
      reply.code(201).send(await groups.create(ctxOf(request), request.params.account_id, request.body)),
  );

  fastify.get(
    '/accounts/:account_id/groups',
    {
      config: { permission: 'groups:read' },
      schema: {
        tags,
        summary: "An account's groups",
        params: AccountParams,
        querystring: Type.Object(ListQuery, Strict),
        response: { 200: Page(Group), ...errorResponses },
      },
    },
    async (request) => groups.list(ctxOf(request), request.params.account_id, request.query),
  );

  fastify.get(
    '/accounts/:account_id/groups/:id',
    {
      config: { permission: 'groups:read' },
      schema: {
        tags,
        summary: 'Get a group',
        params: GroupParams,
        response: { 200: Group, ...errorResponses },
      },
    },
    async (request) => groups.get(ctxOf(request), request.params.account_id, request.params.id),
  );

  fastify.patch(
    '/accounts/:account_id/groups/:id',
    {
      config: { permission: 'groups:write' },
      schema: {
        tags,
        summary: 'Update a group',
        params: GroupParams,
        body: Type.Object(
          {
            name: Type.Optional(Name),
            description: Type.Optional(Description),
            permission_profile_id: Type.Optional(ProfileRef),
          },
          Strict,
        ),
        response: { 200: Group, ...errorResponses },
      },
    },
    async (request) =>
      groups.update(ctxOf(request), request.params.account_id, request.params.id, request.body),
  );

  fastify.delete(
    '/accounts/:account_id/groups/:id',
    {
      config: { permission: 'groups:write' },
      schema: {
        tags,
        summary: 'Delete a group (its members stay users of the account)',
        params: GroupParams,
        response: { 204: Type.Null({ description: 'done; no body' }), ...errorResponses },
      },
    },
    async (request, reply) => {
      await groups.delete(ctxOf(request), request.params.account_id, request.params.id);
      return reply.code(204).send(null);
    },
  );

  fastify.get(
    '/accounts/:account_id/groups/:id/members',
    {
      config: { permission: 'groups:read' },
      schema: {
        tags,
        summary: "A group's members, by user id",
        params: GroupParams,
        querystring: Type.Object(ListQuery, Strict),
        response: { 200: Page(GroupMember), ...errorResponses },
      },
    },
    async (request) =>
      groups.members(ctxOf(request), request.params.account_id, request.params.id, request.query),
  );

  fastify.post(
    '/accounts/:account_id/groups/:id/members',
    {
      config: { permission: 'groups:write' },
      schema: {
        tags,
        summary: 'Add users to a group, all or nothing; users already in it are skipped and reported',
        params: GroupParams,
        body: UserIds,
        response: {
          200: Type.Object({ added: Type.Array(Uuid), already_members: Type.Array(Uuid) }),
          ...errorResponses,
        },
      },
    },
    async (request) =>
      groups.addMembers(ctxOf(request), request.params.account_id, request.params.id, request.body.user_ids),
  );

  fastify.delete(
    '/accounts/:account_id/groups/:id/members',
    {
      config: { permission: 'groups:write' },
      schema: {
        tags,
        summary: 'Remove users from a group; ids that are not members are reported',
        params: GroupParams,
        body: UserIds,
        response: {
          200: Type.Object({ removed: Type.Array(Uuid), not_members: Type.Array(Uuid) }),
          ...errorResponses,
        },
      },
    },
    async (request) =>
      groups.removeMembers(
        ctxOf(request),
        request.params.account_id,
        request.params.id,
        request.body.user_ids,
      ),
  );
}
