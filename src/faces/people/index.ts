// The people face, at the root: sign-up, login (with its second step, /login/mfa) and logout, the current
// session, email verification, confirming an email change, password resets, activation and invite acceptance. These routes are public (they are how one gets
// credentials); /logout and GET /session need the session cookie. Errors use the native dialect:
// {"error": {code, message, details}}.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { MAX_PASSWORD_LENGTH } from '../../core/auth/password-policy.ts';
import type { NewSession } from '../../core/auth/sessions.ts';
import { AppError } from '../../core/errors.ts';
import { Account } from '../api/accounts.ts';
import { renderNative } from '../api/index.ts';
import { Organization } from '../api/organizations.ts';
import { Email, ErrorBody, errorResponses, Nullable, Strict, Timestamp, Uuid } from '../api/schemas.ts';
import { User } from '../api/users.ts';
import { requestMeta } from '../ctx.ts';
import { toAppError } from '../http-errors.ts';
import { authenticateSession, clearSessionCookie, sessionCookie, setSessionCookie } from '../session-auth.ts';

/** At most 256 characters, so hashing cannot be used for a DoS; the password policy says the rest
 * (core/auth/password-policy.ts: 400 password_policy naming each unmet rule). */
const Password = Type.String({ minLength: 1, maxLength: MAX_PASSWORD_LENGTH });
const Token = Type.String({ minLength: 20, maxLength: 200 });

const SessionBody = {
  user: User,
  organization: Organization,
  account: Nullable(Account),
  csrf_token: Type.String(),
  expires_at: Timestamp,
  mfa_enrollment_required: Type.Boolean({
    description:
      'an account of yours requires two-step verification and you have not enrolled: until you do, only GET /session, POST /logout and /api/me/mfa… work',
  }),
  password_change_required: Type.Boolean({
    description:
      "your password is older than your accounts' password_policy.max_age_days allows: until you choose a new one (POST /api/me/password), only GET /session, POST /logout, GET /api/me/password_policy and POST /api/me/password work",
  }),
};
const Session = Type.Object(SessionBody);
const MfaChallenge = Type.Object({
  mfa_required: Type.Literal(true),
  mfa_token: Type.String({ description: 'send it to POST /login/mfa with a code; valid for 5 minutes' }),
  expires_at: Timestamp,
});
const SignupBody = Type.Object({
  ...SessionBody,
  joined_existing_organization: Type.Boolean(),
  membership_status: Type.Union([Type.Literal('active'), Type.Literal('pending')]),
});
const CheckMail = Type.Object({ status: Type.Literal('check_your_mail'), message: Type.String() });
const AcceptBody = Type.Object({ ...SessionBody, created_user: Type.Boolean() });
const Status = Type.Object({ status: Type.String() });

// The credential endpoints are rate limited, so they answer 429 as well as the API's usual errors.
const errors = { ...errorResponses, 429: ErrorBody };

/** Per-IP limits on the credential endpoints (faces/rate-limit.ts, SIGNET_AUTH_RATE_LIMIT_PER_MINUTE); the
 * per-email login throttle is core/auth/throttle.ts. */
const perIp = { rateLimit: { perIp: 'auth' } } as const;

export async function peopleFace(app: FastifyInstance): Promise<void> {
  const fastify = app.withTypeProvider<TypeBoxTypeProvider>();
  const { people, sessions, invites, emailChanges, activation } = fastify.services;
  const tags = ['people'];
  // Work done after an answer (reset mails, failed-login audit events, SMTP sends) reports to the log, and
  // is waited for on close.
  people.onError = (err) => fastify.log.error({ err }, 'background people work failed');
  fastify.services.mailer.onError = (err, id) =>
    fastify.log.error({ err, mail_id: id }, 'sending mail failed');
  fastify.addHook('onClose', async () => {
    await people.flush();
  });
  // Mailed link tokens leave the outbox once expired (core/mail/mailer.ts); reads hide them before that.
  const sweep = setInterval(() => {
    fastify.services.mailer
      .sweepExpiredSecrets()
      .catch((err: unknown) => fastify.log.warn({ err }, 'outbox: sweeping expired link tokens failed'));
  }, 60_000);
  sweep.unref();
  fastify.addHook('onClose', async () => clearInterval(sweep));

  fastify.setErrorHandler((err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const appErr = toAppError(err);
    const retry = appErr.details.find((d) => typeof d.retry_after_seconds === 'number');
    if (appErr.status === 429 && retry) reply.header('retry-after', String(retry.retry_after_seconds));
    return renderNative(appErr, request, reply);
  });

  /** Sets the cookie and answers with the session's user, organization, account and CSRF token. */
  async function startSession(request: FastifyRequest, reply: FastifyReply, session: NewSession) {
    setSessionCookie(request, reply, session.token, session.expiresAt);
    const resolved = await sessions.resolve(session.token, null, { requireAccount: false });
    return people.sessionInfo(resolved);
  }

  fastify.post(
    '/signup',
    {
      config: perIp,
      schema: {
        tags,
        summary:
          'Create an organization, its first account and you as its owner, and log in (201); or, when an organization has proven your email domain, 202 and a mail to the address (a verification link for a new person, a sign-in reminder for an existing one: the answers are alike)',
        body: Type.Object(
          {
            email: Email,
            password: Password,
            name: Type.String({ minLength: 1, maxLength: 200 }),
            organization_name: Type.String({ minLength: 1, maxLength: 200 }),
          },
          Strict,
        ),
        response: { 201: SignupBody, 202: CheckMail, ...errors },
      },
    },
    async (request, reply) => {
      const result = await people.signup(request.body, requestMeta(request));
      if (result.kind === 'check_mail') {
        // The same answer whether or not the address has a user in the organization (no enumeration).
        return reply.code(202).send({
          status: 'check_your_mail',
          message:
            'your email domain belongs to an organization: we sent a mail to this address; follow it to continue',
        });
      }
      const info = await startSession(request, reply, result.session);
      return reply.code(201).send({
        ...info,
        joined_existing_organization: false,
        membership_status: 'active',
      });
    },
  );

  fastify.post(
    '/login',
    {
      config: perIp,
      schema: {
        tags,
        summary:
          'Log in with email and password; sets the signet_session cookie. A user with two-step verification gets {mfa_required, mfa_token} and no cookie: then POST /login/mfa',
        body: Type.Object(
          {
            email: Type.String({ minLength: 3, maxLength: 320 }),
            password: Type.String({ minLength: 1, maxLength: 256 }),
            organization_id: Type.Optional(Uuid),
          },
          Strict,
        ),
        response: { 200: Type.Union([Session, MfaChallenge]), ...errors },
      },
    },
    async (request, reply) => {
      const result = await people.login(request.body, requestMeta(request));
      if (result.kind === 'mfa') {
        return reply.send({ mfa_required: true, mfa_token: result.mfaToken, expires_at: result.expiresAt });
      }
      return reply.send(await startSession(request, reply, result.session));
    },
  );

  fastify.post(
    '/login/mfa',
    {
      config: perIp,
      schema: {
        tags,
        summary:
          'The second step of a login: the mfa_token from POST /login and a TOTP code or a recovery code; sets the signet_session cookie',
        body: Type.Object(
          {
            mfa_token: Token,
            code: Type.String({ minLength: 1, maxLength: 40 }),
          },
          Strict,
        ),
        response: { 200: Session, ...errors },
      },
    },
    async (request, reply) => {
      const session = await people.loginMfa(request.body, requestMeta(request));
      return reply.send(await startSession(request, reply, session));
    },
  );

  fastify.post(
    '/activate',
    {
      config: perIp,
      schema: {
        tags,
        summary:
          'Activate your user with the token from the activation mail: choose a password (the policy applies); verifies your email and logs you in',
        body: Type.Object({ token: Token, password: Password }, Strict),
        response: { 200: Session, ...errors },
      },
    },
    async (request, reply) => {
      const meta = requestMeta(request);
      const user = await activation.activate(request.body.token, request.body.password, meta);
      const session = await people.startSession(user, meta, { via: 'activation' });
      return reply.send(await startSession(request, reply, session));
    },
  );

  fastify.post(
    '/logout',
    {
      schema: {
        tags,
        summary: 'End the current session (needs X-CSRF-Token)',
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (request, reply) => {
      const session = await authenticateSession(request, { requireAccount: false });
      await people.logout(session.principal, session.token, requestMeta(request));
      clearSessionCookie(request, reply);
      return reply.code(204).send(null);
    },
  );

  fastify.get(
    '/session',
    {
      schema: {
        tags,
        summary: 'The current user, organization, account and the CSRF token for writes',
        response: { 200: Session, ...errors },
      },
    },
    async (request) => {
      return people.sessionInfo(await authenticateSession(request, { requireAccount: false }));
    },
  );

  fastify.post(
    '/verify_email',
    {
      config: perIp,
      schema: {
        tags,
        summary: 'Confirm an email address with the token from the verification mail',
        body: Type.Object({ token: Token }, Strict),
        response: {
          200: Type.Object({
            status: Type.String(),
            email: Type.String(),
            activated_accounts: Type.Array(Uuid),
          }),
          ...errors,
        },
      },
    },
    async (request) => {
      const result = await people.verifyEmail(request.body.token, requestMeta(request));
      return { status: 'email_verified', ...result };
    },
  );

  fastify.post(
    '/confirm_email',
    {
      config: perIp,
      schema: {
        tags,
        summary:
          'Confirm a change of email address with the token from the mail sent to the new address; the new address becomes the sign-in address',
        body: Type.Object({ token: Token }, Strict),
        response: {
          200: Type.Object({ status: Type.Literal('email_changed'), user_id: Uuid, email: Type.String() }),
          ...errors,
        },
      },
    },
    async (request) => {
      const result = await emailChanges.confirm(request.body.token, requestMeta(request));
      return { status: 'email_changed' as const, ...result };
    },
  );

  fastify.post(
    '/password_reset',
    {
      config: perIp,
      schema: {
        tags,
        summary: 'Mail a password reset link, if a user has this email; always answers 202',
        body: Type.Object({ email: Type.String({ minLength: 3, maxLength: 320 }) }, Strict),
        response: { 202: Status, ...errors },
      },
    },
    async (request, reply) => {
      people.requestPasswordReset(request.body.email, requestMeta(request));
      return reply.code(202).send({ status: 'if a user has this email address, a reset link is on its way' });
    },
  );

  fastify.post(
    '/password_reset/complete',
    {
      config: perIp,
      schema: {
        tags,
        summary: 'Set a new password with the token from the reset mail; ends every session of the user',
        body: Type.Object({ token: Token, password: Password }, Strict),
        response: { 200: Status, ...errors },
      },
    },
    async (request) => {
      await people.completePasswordReset(request.body.token, request.body.password, requestMeta(request));
      return { status: 'password_changed' };
    },
  );

  fastify.post(
    '/invites/accept',
    {
      config: perIp,
      schema: {
        tags,
        summary:
          'Accept an invite: creates your user (password required) or adds the membership to your existing user',
        body: Type.Object(
          {
            token: Token,
            password: Type.Optional(Password),
            name: Type.Optional(Type.String({ maxLength: 200 })),
          },
          Strict,
        ),
        response: { 200: AcceptBody, 201: AcceptBody, ...errors },
      },
    },
    async (request, reply) => {
      let sessionUserId: string | null = null;
      if (sessionCookie(request)) {
        // A logged-in invitee proves who they are with the session (and its CSRF token, as for any write).
        const s = await authenticateSession(request, { requireAccount: false }).catch((err: unknown) => {
          if (err instanceof AppError && err.code === 'missing_credentials') return null;
          throw err;
        });
        sessionUserId = s?.principal.userId ?? null;
      }
      const result = await invites.accept(request.body, sessionUserId, requestMeta(request));
      const info = await startSession(request, reply, result.session);
      return reply.code(result.created_user ? 201 : 200).send({ ...info, created_user: result.created_user });
    },
  );
}
