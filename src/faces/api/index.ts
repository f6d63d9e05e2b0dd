// The native API under /api: snake_case JSON, Bearer API keys (or OAuth access tokens), errors as {"error": {code, message, details}}.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../core/errors.ts';
import { requireAnyPermission, requirePermission } from '../../core/principal.ts';
import { toAppError } from '../http-errors.ts';
import { installIdempotency } from '../idempotency.ts';
import { rateLimitByPrincipal, verifyBearerLimited } from '../rate-limit.ts';
import { authenticateSession, sessionCookie } from '../session-auth.ts';
import { accountRoutes } from './accounts.ts';
import { apiKeyRoutes } from './api-keys.ts';
import { auditRoutes } from './audit.ts';
import { brandRoutes } from './brands.ts';
import { envelopeRoutes } from './envelopes.ts';
import { exportRoutes } from './exports.ts';
import { groupRoutes } from './groups.ts';
import { importRoutes } from './imports.ts';
import { integrationRoutes } from './integrations.ts';
import { mappingRuleRoutes } from './mapping-rules.ts';
import { meRoutes } from './me.ts';
import { organizationRoutes } from './organizations.ts';
import { peopleApiRoutes } from './people.ts';
import { permissionProfileRoutes } from './permission-profiles.ts';
import { platformRoutes } from './platform.ts';
import { settingRoutes } from './settings.ts';
import { signInRoutes } from './sign-in.ts';
import { userRoutes } from './users.ts';
import { webhookRoutes } from './webhooks.ts';

export function renderNative(err: unknown, request: FastifyRequest, reply: FastifyReply) {
  const appErr = toAppError(err);
  if (appErr.status >= 500) request.log.error({ err }, 'request failed');
  return reply.code(appErr.status).send({
    error: { code: appErr.code, message: appErr.message, details: appErr.details },
  });
}

async function authenticate(request: FastifyRequest, reply: FastifyReply): Promise<void> {
  await authenticateCredential(request, reply);
  // A platform key acting for one of its connected accounts (docs/platform.md): every route below sees the
  // connected account's principal, so each gets the scoping without knowing of it. Any other credential
  // sending the header is refused (400 platform_key_required), never silently acting in its own organization.
  const account = request.headers['atlas-account'];
  if (account !== undefined) {
    request.principal = await request.server.services.platform.scope(
      request.principal!,
      Array.isArray(account) ? account.join(',') : account,
    );
  }
}

async function authenticateCredential(request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const header = request.headers.authorization;
  // No key: a dashboard session cookie (with its CSRF token on writes) stands in for one.
  if (!header && sessionCookie(request)) {
    const s = await authenticateSession(request);
    request.signInSession = {
      id: s.sessionId,
      mfaEnrollmentRequired: s.mfaEnrollmentRequired,
      passwordChangeRequired: s.passwordChangeRequired,
    };
    return;
  }
  if (!header) {
    throw new AppError('missing_credentials', 'send an API key as "Authorization: Bearer sk_…"');
  }
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match)
    throw new AppError('missing_credentials', 'the Authorization header must be "Bearer <API key>"');
  // A user's access token acts in the account Signet-Account names, as a session does.
  const account = request.headers['signet-account'];
  const hint =
    typeof account === 'string' && account.trim() !== '' ? { account: account.trim(), strict: true } : null;
  request.principal = await verifyBearerLimited(request, reply, match[1]!, hint);
}

export async function apiFace(fastify: FastifyInstance): Promise<void> {
  fastify.setErrorHandler(renderNative);
  fastify.setNotFoundHandler((request, reply) =>
    renderNative(
      new AppError('route_not_found', `no route ${request.method} ${request.url.split('?')[0]}`),
      request,
      reply,
    ),
  );
  // Default deny: a route that declares neither a permission nor `public` fails at startup, not in production.
  fastify.addHook('onRoute', (route) => {
    const config = (route.config ?? {}) as {
      permission?: string;
      anyPermission?: readonly string[];
      authenticated?: boolean;
      public?: boolean;
    };
    if (!config.permission && !config.anyPermission?.length && !config.authenticated && !config.public) {
      throw new Error(`route ${route.method} ${route.url} declares no permission`);
    }
  });
  // Authentication, then the principal's rate limit, in one hook (each hook is a turn of Fastify's hook
  // runner on every request); then Idempotency-Key handling (faces/idempotency.ts) on the write routes.
  fastify.addHook('onRequest', async (request, reply) => {
    const config = request.routeOptions.config;
    if (config.public) return;
    await authenticate(request, reply);
    const session = request.signInSession;
    // An expired password comes first: changing it is all the session may do (the MFA enrolment, if also
    // required, follows once the password is new).
    if (session?.passwordChangeRequired && !config.duringPasswordChange) {
      throw new AppError(
        'password_expired',
        "your password is older than your account's password policy allows (password_policy.max_age_days): choose a new one first (POST /api/me/password)",
      );
    }
    if (session?.mfaEnrollmentRequired && !config.duringMfaEnrollment) {
      throw new AppError(
        'mfa_enrollment_required',
        'an account of yours requires two-step verification: enrol first (POST /api/me/mfa/totp, then /api/me/mfa/totp/confirm)',
      );
    }
    if (config.person && !session) {
      throw new AppError(
        'permission_denied',
        'only a person signed in to the dashboard manages their own password, sessions and two-step verification: this route takes the session cookie, not an API key or access token',
      );
    }
    if (config.permission) requirePermission(request.principal!, config.permission);
    else if (config.anyPermission) requireAnyPermission(request.principal!, config.anyPermission);
    await rateLimitByPrincipal(request, reply);
  });
  installIdempotency(fastify, fastify.services.idempotency);

  await fastify.register(organizationRoutes);
  await fastify.register(accountRoutes);
  await fastify.register(userRoutes);
  await fastify.register(apiKeyRoutes);
  await fastify.register(meRoutes);
  await fastify.register(signInRoutes);
  await fastify.register(auditRoutes);
  await fastify.register(permissionProfileRoutes);
  await fastify.register(groupRoutes);
  await fastify.register(mappingRuleRoutes);
  await fastify.register(brandRoutes);
  await fastify.register(settingRoutes);
  await fastify.register(peopleApiRoutes);
  await fastify.register(importRoutes);
  await fastify.register(exportRoutes);
  await fastify.register(integrationRoutes);
  await fastify.register(webhookRoutes);
  await fastify.register(envelopeRoutes);
  await fastify.register(platformRoutes);
}
