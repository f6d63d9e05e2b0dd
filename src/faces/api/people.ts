// People administration under /api: invites, claimed email domains, and admin-triggered password resets.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { MAX_RESEND } from '../../core/auth/activation.ts';
import { ctxOf } from '../ctx.ts';
import {
  Email,
  ErrorBody,
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

const InviteStatus = Type.Union([
  Type.Literal('pending'),
  Type.Literal('accepted'),
  Type.Literal('revoked'),
  Type.Literal('expired'),
]);

export const Invite = Type.Object(
  {
    id: Uuid,
    organization_id: Uuid,
    account_id: Uuid,
    email: Type.String(),
    role: Role,
    permission_profile_id: Nullable(OutInt),
    group_ids: Type.Array(OutInt),
    invited_by: Nullable(Uuid),
    status: InviteStatus,
    expires_at: Timestamp,
    accepted_at: Nullable(Timestamp),
    accepted_user_id: Nullable(Uuid),
    revoked_at: Nullable(Timestamp),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { $id: 'Invite' },
);

export const OrganizationDomain = Type.Object(
  {
    id: Uuid,
    organization_id: Uuid,
    domain: Type.String(),
    auto_join: Type.Boolean(),
    account_id: Uuid,
    permission_profile_id: Nullable(OutInt),
    verification_token: Type.String(),
    verified_at: Nullable(Timestamp),
    verification: Type.Object({
      type: Type.Literal('TXT'),
      name: Type.String({ description: 'where to publish the TXT record: _signet-challenge.<domain>' }),
      value: Type.String({ description: 'the record: signet-domain-verification=<verification_token>' }),
    }),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { $id: 'OrganizationDomain' },
);

const Accepted = Type.Object({ status: Type.String() });
const DomainParams = Type.Object({ id: Uuid, domain_id: Uuid }, Strict);

export async function peopleApiRoutes(app: FastifyInstance): Promise<void> {
  const fastify = app.withTypeProvider<TypeBoxTypeProvider>();
  const { invites, domains, people, mfa, activation } = fastify.services;

  // --- invites ---
  fastify.post(
    '/invites',
    {
      config: { permission: 'users:write' },
      schema: {
        tags: ['invites'],
        summary: 'Invite someone by email into an account, with a role no higher than yours',
        body: Type.Object(
          {
            email: Email,
            role: Role,
            account_id: Uuid,
            permission_profile_id: Type.Optional(Nullable(IntId)),
            group_ids: Type.Optional(Type.Array(IntId, { maxItems: 100 })),
          },
          Strict,
        ),
        response: { 201: Invite, ...errorResponses },
      },
    },
    async (request, reply) => reply.code(201).send(await invites.create(ctxOf(request), request.body)),
  );

  fastify.get(
    '/invites',
    {
      config: { permission: 'users:read' },
      schema: {
        tags: ['invites'],
        summary: 'List invites',
        querystring: Type.Object(
          { ...ListQuery, status: Type.Optional(InviteStatus), account_id: Type.Optional(Uuid) },
          Strict,
        ),
        response: { 200: Page(Invite), ...errorResponses },
      },
    },
    async (request) => invites.list(ctxOf(request), request.query),
  );

  fastify.get(
    '/invites/:id',
    {
      config: { permission: 'users:read' },
      schema: {
        tags: ['invites'],
        summary: 'Get an invite',
        params: IdParams,
        response: { 200: Invite, ...errorResponses },
      },
    },
    async (request) => invites.get(ctxOf(request), request.params.id),
  );

  fastify.post(
    '/invites/:id/resend',
    {
      config: { permission: 'users:write' },
      schema: {
        tags: ['invites'],
        summary: 'Mail a new link (new token, new 7-day expiry); the old link stops working',
        params: IdParams,
        response: { 200: Invite, ...errorResponses },
      },
    },
    async (request) => invites.resend(ctxOf(request), request.params.id),
  );

  fastify.delete(
    '/invites/:id',
    {
      config: { permission: 'users:write' },
      schema: {
        tags: ['invites'],
        summary: 'Revoke an invite',
        params: IdParams,
        response: { 200: Invite, ...errorResponses },
      },
    },
    async (request) => invites.revoke(ctxOf(request), request.params.id),
  );

  // --- claimed email domains ---
  fastify.get(
    '/organizations/:id/domains',
    {
      config: { permission: 'org:read' },
      schema: {
        tags: ['organizations'],
        summary: "The organization's claimed email domains",
        params: IdParams,
        response: { 200: Type.Object({ data: Type.Array(OrganizationDomain) }), ...errorResponses },
      },
    },
    async (request) => ({ data: await domains.list(ctxOf(request), request.params.id) }),
  );

  fastify.post(
    '/organizations/:id/domains',
    {
      config: { permission: 'org:write' },
      schema: {
        tags: ['organizations'],
        summary:
          'Claim an email domain (unverified until its DNS TXT record is found); verified and with auto_join, sign-ups at the domain join this organization',
        params: IdParams,
        body: Type.Object(
          {
            domain: Type.String({ minLength: 3, maxLength: 253 }),
            auto_join: Type.Boolean(),
            account_id: Uuid,
            permission_profile_id: Type.Optional(Nullable(IntId)),
          },
          Strict,
        ),
        response: { 201: OrganizationDomain, ...errorResponses },
      },
    },
    async (request, reply) =>
      reply.code(201).send(await domains.create(ctxOf(request), request.params.id, request.body)),
  );

  fastify.post(
    '/organizations/:id/domains/:domain_id/verify',
    {
      config: { permission: 'org:write' },
      schema: {
        tags: ['organizations'],
        summary:
          'Look up the TXT record `signet-domain-verification=<token>` at _signet-challenge.<domain> now; found, the claim is verified',
        params: DomainParams,
        response: { 200: OrganizationDomain, ...errorResponses, 502: ErrorBody },
      },
    },
    async (request) => domains.verify(ctxOf(request), request.params.id, request.params.domain_id),
  );

  fastify.delete(
    '/organizations/:id/domains/:domain_id',
    {
      config: { permission: 'org:write' },
      schema: {
        tags: ['organizations'],
        summary: 'Release a claimed domain',
        params: DomainParams,
        response: { 200: OrganizationDomain, ...errorResponses },
      },
    },
    async (request) => domains.remove(ctxOf(request), request.params.id, request.params.domain_id),
  );

  // --- admin-triggered password reset ---
  fastify.post(
    '/users/:id/password_reset',
    {
      config: { permission: 'users:write' },
      schema: {
        tags: ['users'],
        summary: 'Mail the user a link to set a new password (30 minutes, single use)',
        params: IdParams,
        response: { 202: Accepted, ...errorResponses },
      },
    },
    async (request, reply) => {
      await people.adminPasswordReset(ctxOf(request), request.params.id);
      return reply.code(202).send({ status: 'reset_link_sent' });
    },
  );

  // --- two-step verification reset, activation mails (docs/people-and-sessions.md) ---
  fastify.delete(
    '/users/:id/mfa',
    {
      config: { permission: 'users:write' },
      schema: {
        tags: ['users'],
        summary:
          "Turn off a user's two-step verification (a lost phone); they sign in with their password alone until they enrol again",
        params: IdParams,
        response: { 204: Type.Null(), ...errorResponses },
      },
    },
    async (request, reply) => {
      await mfa.adminReset(ctxOf(request), request.params.id);
      return reply.code(204).send(null);
    },
  );

  fastify.post(
    '/users/activation_mails',
    {
      config: { permission: 'users:write' },
      schema: {
        tags: ['users'],
        summary:
          'Mail each named user without a password a new activation link (earlier links stop working); users with a password or deactivated are skipped',
        body: Type.Object(
          { user_ids: Type.Array(Uuid, { minItems: 1, maxItems: MAX_RESEND, uniqueItems: true }) },
          Strict,
        ),
        response: {
          200: Type.Object({
            sent: Type.Array(Uuid),
            skipped: Type.Array(
              Type.Object({
                user_id: Uuid,
                reason: Type.Union([Type.Literal('already_activated'), Type.Literal('deactivated')]),
              }),
            ),
          }),
          ...errorResponses,
        },
      },
    },
    async (request) => activation.resend(ctxOf(request), request.body.user_ids),
  );
}
