import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ctxOf } from '../ctx.ts';
import {
  Email,
  errorResponses,
  IdParams,
  IntId,
  ListQuery,
  Nullable,
  OutInt,
  Page,
  Role,
  Strict,
  Timestamp,
  Uuid,
} from './schemas.ts';

const MembershipStatus = Type.Union([
  Type.Literal('active'),
  Type.Literal('pending'),
  Type.Literal('closed'),
]);
const OpenStatus = Type.Union([Type.Literal('active'), Type.Literal('pending')]);
const Text = (max = 200) => Nullable(Type.String({ maxLength: max }));

export const Membership = Type.Object(
  {
    id: Uuid,
    account_id: Uuid,
    user_id: Uuid,
    status: MembershipStatus,
    permission_profile_id: Nullable(OutInt),
    group_ids: Type.Array(OutInt),
    created_at: Timestamp,
    updated_at: Timestamp,
    closed_at: Nullable(Timestamp),
  },
  { $id: 'Membership' },
);

export const User = Type.Object(
  {
    id: Uuid,
    organization_id: Uuid,
    email: Type.String(),
    first_name: Type.String(),
    last_name: Type.String(),
    job_title: Nullable(Type.String()),
    department: Nullable(Type.String()),
    company: Nullable(Type.String()),
    language: Nullable(Type.String()),
    role: Role,
    status: Type.Union([Type.Literal('active'), Type.Literal('deactivated')]),
    email_verified_at: Type.Optional(Nullable(Timestamp)),
    pending_email: Type.Optional(
      Nullable(
        Type.String({
          description:
            'An address the email is changing to, until the link mailed there is followed; `email` stays the sign-in address until then',
        }),
      ),
    ),
    mfa_enabled: Type.Optional(
      Type.Boolean({ description: 'whether the user signs in with two-step verification (TOTP)' }),
    ),
    created_at: Timestamp,
    updated_at: Timestamp,
    memberships: Type.Array(Membership),
  },
  { $id: 'User' },
);

const ProfileFields = {
  first_name: Type.Optional(Type.String({ maxLength: 100 })),
  last_name: Type.Optional(Type.String({ maxLength: 100 })),
  job_title: Type.Optional(Text()),
  department: Type.Optional(Text()),
  company: Type.Optional(Text()),
  language: Type.Optional(Text(20)),
};

const MembershipParams = Type.Object({ id: Uuid, membership_id: Uuid }, Strict);

export async function userRoutes(app: FastifyInstance): Promise<void> {
  const fastify = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['users'];
  const users = fastify.services.users;

  fastify.post(
    '/users',
    {
      config: { permission: 'users:write' },
      schema: {
        tags,
        summary: 'Create a user with a membership in an account (a seat, when active)',
        body: Type.Object(
          {
            email: Email,
            ...ProfileFields,
            role: Type.Optional(Role),
            account_id: Type.Optional(Uuid),
            permission_profile_id: Type.Optional(Nullable(IntId)),
            group_ids: Type.Optional(Type.Array(IntId, { maxItems: 100 })),
            membership_status: Type.Optional(OpenStatus),
            send_activation: Type.Optional(
              Type.Boolean({
                description:
                  'mail the new user a link to choose a password (valid SIGNET_ACTIVATION_TTL_DAYS days)',
              }),
            ),
          },
          Strict,
        ),
        response: { 201: User, ...errorResponses },
      },
    },
    async (request, reply) => reply.code(201).send(await users.create(ctxOf(request), request.body)),
  );

  fastify.get(
    '/users',
    {
      config: { permission: 'users:read' },
      schema: {
        tags,
        summary: 'List users',
        querystring: Type.Object(
          {
            ...ListQuery,
            account_id: Type.Optional(Uuid),
            email: Type.Optional(Type.String({ maxLength: 320 })),
            status: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('deactivated')])),
            membership_status: Type.Optional(MembershipStatus),
            group_id: Type.Optional(IntId),
            permission_profile_id: Type.Optional(IntId),
            q: Type.Optional(
              Type.String({ minLength: 1, maxLength: 100, description: 'matches name and email' }),
            ),
          },
          Strict,
        ),
        response: { 200: Page(User), ...errorResponses },
      },
    },
    async (request) => {
      const q = request.query;
      return users.list(ctxOf(request), {
        limit: q.limit,
        cursor: q.cursor,
        accountId: q.account_id,
        email: q.email,
        status: q.status,
        membershipStatus: q.membership_status,
        groupId: q.group_id,
        permissionProfileId: q.permission_profile_id,
        q: q.q,
      });
    },
  );

  fastify.get(
    '/users/:id',
    {
      config: { permission: 'users:read' },
      schema: { tags, summary: 'Get a user', params: IdParams, response: { 200: User, ...errorResponses } },
    },
    async (request) => users.get(ctxOf(request), request.params.id),
  );

  fastify.patch(
    '/users/:id',
    {
      config: { permission: 'users:write' },
      schema: {
        tags,
        summary:
          'Update a user. A new email is not set at once: it shows as pending_email, and becomes the email once the link mailed to it is followed (POST /confirm_email)',
        params: IdParams,
        body: Type.Object(
          { email: Type.Optional(Email), ...ProfileFields, role: Type.Optional(Role) },
          Strict,
        ),
        response: { 200: User, ...errorResponses },
      },
    },
    async (request) => users.update(ctxOf(request), request.params.id, request.body),
  );

  for (const [verb, status] of [
    ['deactivate', 'deactivated'],
    ['reactivate', 'active'],
  ] as const) {
    fastify.post(
      `/users/:id/${verb}`,
      {
        config: { permission: 'users:write' },
        schema: {
          tags,
          summary:
            verb === 'deactivate'
              ? 'Deactivate a user: closes their memberships, freeing the seats'
              : 'Reactivate a user: reopens the memberships deactivation closed',
          params: IdParams,
          response: { 200: User, ...errorResponses },
        },
      },
      async (request) => users.setStatus(ctxOf(request), request.params.id, status),
    );
  }

  fastify.get(
    '/users/:id/memberships',
    {
      config: { permission: 'users:read' },
      schema: {
        tags,
        summary: "A user's memberships",
        params: IdParams,
        response: { 200: Type.Object({ data: Type.Array(Membership) }), ...errorResponses },
      },
    },
    async (request) => ({ data: await users.memberships(ctxOf(request), request.params.id) }),
  );

  fastify.post(
    '/users/:id/memberships',
    {
      config: { permission: 'users:write' },
      schema: {
        tags,
        summary: 'Give a user a membership in another account (or reopen a closed one)',
        params: IdParams,
        body: Type.Object(
          {
            account_id: Uuid,
            permission_profile_id: Type.Optional(Nullable(IntId)),
            status: Type.Optional(OpenStatus),
          },
          Strict,
        ),
        response: { 201: Membership, ...errorResponses },
      },
    },
    async (request, reply) =>
      reply.code(201).send(await users.createMembership(ctxOf(request), request.params.id, request.body)),
  );

  fastify.patch(
    '/users/:id/memberships/:membership_id',
    {
      config: { permission: 'users:write' },
      schema: {
        tags,
        summary: "Change a membership's status or permission profile",
        params: MembershipParams,
        body: Type.Object(
          { status: Type.Optional(MembershipStatus), permission_profile_id: Type.Optional(Nullable(IntId)) },
          Strict,
        ),
        response: { 200: Membership, ...errorResponses },
      },
    },
    async (request) =>
      users.updateMembership(ctxOf(request), request.params.id, request.params.membership_id, request.body),
  );
}
