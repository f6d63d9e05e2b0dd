// The signed-in person's own sign-in under /api/me (docs/people-and-sessions.md): their password, their
// sessions and their two-step verification (TOTP). These routes take a dashboard session only (config
// `person`): an API key or an access token acting for someone does not change that someone's password or
// second factor. The /api/me/mfa routes stay open to a session whose user must still enrol (mfa_required).
// Routes whose answer holds a secret (a TOTP secret, recovery codes) take no Idempotency-Key: a stored
// response would keep the secret in the database.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { MAX_PASSWORD_LENGTH } from '../../core/auth/password-policy.ts';
import { ctxOf } from '../ctx.ts';
import { ErrorBody, errorResponses, IdParams, Nullable, Strict, Timestamp, Uuid } from './schemas.ts';

const person = { authenticated: true, person: true } as const;
const enrolment = { ...person, duringMfaEnrollment: true } as const;
// The password change (and the policy it must meet) stays open to a session whose password expired, and to
// one that must also enrol MFA (the password comes first, then the enrolment).
const passwordChange = { ...person, duringPasswordChange: true, duringMfaEnrollment: true } as const;
const secretAnswer = { ...enrolment, idempotency: false } as const;

const Code = Type.String({
  minLength: 1,
  maxLength: 40,
  description: 'a 6-digit TOTP code from the app, or one of your recovery codes (xxxxx-xxxxx)',
});
const TotpCode = Type.String({ pattern: '^[0-9]{6}$', description: 'the 6-digit code the app shows' });
const RecoveryCodes = Type.Object({
  recovery_codes: Type.Array(Type.String(), {
    description: 'shown this once: each works once in place of a code',
  }),
});
const SessionView = Type.Object({
  id: Uuid,
  created_at: Timestamp,
  last_seen_at: Timestamp,
  expires_at: Timestamp,
  ip: Nullable(Type.String()),
  user_agent: Nullable(Type.String()),
  current: Type.Boolean({ description: 'the session making this request' }),
});
const errors = { ...errorResponses, 429: ErrorBody };

/** The session the request came with (config `person` made sure there is one). */
const sessionOf = (request: FastifyRequest) => request.signInSession!;

export async function signInRoutes(app: FastifyInstance): Promise<void> {
  const fastify = app.withTypeProvider<TypeBoxTypeProvider>();
  const { people, sessions, mfa, passwordPolicies } = fastify.services;
  const tags = ['sign-in'];

  fastify.get(
    '/me/password_policy',
    {
      config: passwordChange,
      schema: {
        tags,
        summary: 'The password policy your next password must meet (the strictest of your accounts)',
        response: {
          200: Type.Object({
            min_length: Type.Integer(),
            require_mixed_case: Type.Boolean(),
            require_digit: Type.Boolean(),
            require_symbol: Type.Boolean(),
          }),
          ...errorResponses,
        },
      },
    },
    async (request) => passwordPolicies.ofUser(request.principal!.userId!),
  );

  fastify.post(
    '/me/password',
    {
      config: passwordChange,
      schema: {
        tags,
        summary: 'Change your password (the policy applies); ends your other sessions',
        body: Type.Object(
          {
            current_password: Type.String({ minLength: 1, maxLength: MAX_PASSWORD_LENGTH }),
            password: Type.String({ minLength: 1, maxLength: MAX_PASSWORD_LENGTH }),
          },
          Strict,
        ),
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (request, reply) => {
      await people.changePassword(ctxOf(request), sessionOf(request).id, request.body);
      return reply.code(204).send(null);
    },
  );

  // --- sessions ---
  fastify.get(
    '/me/sessions',
    {
      config: person,
      schema: {
        tags,
        summary: 'Your live sessions, newest first',
        response: { 200: Type.Object({ data: Type.Array(SessionView) }), ...errorResponses },
      },
    },
    async (request) => ({
      data: await sessions.list(request.principal!.userId!, sessionOf(request).id),
    }),
  );

  fastify.delete(
    '/me/sessions/:id',
    {
      config: person,
      schema: {
        tags,
        summary: 'End one of your sessions (the current one: a logout)',
        params: IdParams,
        response: { 204: Type.Null(), ...errorResponses },
      },
    },
    async (request, reply) => {
      await people.endSession(ctxOf(request), request.params.id);
      return reply.code(204).send(null);
    },
  );

  fastify.post(
    '/me/sessions/revoke_others',
    {
      config: person,
      schema: {
        tags,
        summary: 'End every session of yours but this one',
        response: { 200: Type.Object({ ended: Type.Integer() }), ...errorResponses },
      },
    },
    async (request) => ({
      ended: await people.endOtherSessions(ctxOf(request), sessionOf(request).id),
    }),
  );

  // --- two-step verification ---
  fastify.get(
    '/me/mfa',
    {
      config: enrolment,
      schema: {
        tags,
        summary: 'Whether you sign in with two-step verification, and how many recovery codes are left',
        response: {
          200: Type.Object({
            enabled: Type.Boolean(),
            enrolled_at: Nullable(Timestamp),
            pending: Type.Boolean({ description: 'an enrolment was started and not confirmed' }),
            recovery_codes_remaining: Type.Integer(),
          }),
          ...errorResponses,
        },
      },
    },
    async (request) => mfa.status(request.principal!.userId!),
  );

  fastify.post(
    '/me/mfa/totp',
    {
      config: secretAnswer,
      schema: {
        tags,
        summary:
          'Start enrolling an authenticator app: the secret and its otpauth:// URI (for a QR code); confirm with a code',
        response: {
          200: Type.Object({ secret: Type.String(), otpauth_uri: Type.String() }),
          ...errorResponses,
        },
      },
    },
    async (request) => mfa.startEnrolment(ctxOf(request)),
  );

  fastify.post(
    '/me/mfa/totp/confirm',
    {
      config: secretAnswer,
      schema: {
        tags,
        summary: 'Confirm the enrolment with a code from the app; answers your 10 recovery codes, shown once',
        body: Type.Object({ code: TotpCode }, Strict),
        response: { 200: RecoveryCodes, ...errorResponses },
      },
    },
    async (request) => mfa.confirmEnrolment(ctxOf(request), request.body.code),
  );

  fastify.post(
    '/me/mfa/recovery_codes',
    {
      config: secretAnswer,
      schema: {
        tags,
        summary: 'New recovery codes (the old ones stop working); a code proves it is you',
        body: Type.Object({ code: Code }, Strict),
        response: { 200: RecoveryCodes, ...errorResponses },
      },
    },
    async (request) => mfa.regenerateRecoveryCodes(ctxOf(request), request.body.code),
  );

  fastify.delete(
    '/me/mfa',
    {
      config: enrolment,
      schema: {
        tags,
        summary: 'Turn two-step verification off; a code proves it is you',
        body: Type.Object({ code: Code }, Strict),
        response: { 204: Type.Null(), ...errorResponses },
      },
    },
    async (request, reply) => {
      await mfa.disable(ctxOf(request), request.body.code);
      return reply.code(204).send(null);
    },
  );
}
