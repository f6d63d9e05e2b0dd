// What the two DocuSign faces (/management: the Admin API; /restapi: the eSignature admin subset) share:
// Bearer-token authentication, the scope each operation declares, the rate-limit and idempotency hooks of
// every Signet face, deliberate 501s for operations Signet does not implement, and error rendering in the
// face's own dialect. The routes themselves only translate between DocuSign's wire shapes and the core
// services that /api uses (DESIGN.md: one core, many faces).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { scopeGrants } from '../../core/api-keys/scopes.ts';
import { AppError, notFound } from '../../core/errors.ts';
import { can, type Permission } from '../../core/principal.ts';
import { toAppError } from '../http-errors.ts';
import { installIdempotency } from '../idempotency.ts';
import { rateLimitByPrincipal, verifyBearerLimited } from '../rate-limit.ts';
import { type DocuSignScope, SCOPE_PERMISSION } from './scopes.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The OAuth scope DocuSign's spec declares for this operation (named in a 403). */
    docusignScope?: DocuSignScope;
    /** Set on an operation Signet answers with 501 `not_supported`; the text says why. */
    notSupported?: string;
  }
}

export type ErrorRenderer = (err: AppError, request: FastifyRequest, reply: FastifyReply) => FastifyReply;

/**
 * A Bearer token from the Authorization header: a Signet API key or an OAuth access token. A user's token acts
 * in the account the path names when the user is a member there (DocuSign's tokens are the user's, in any of
 * their accounts), or in the one Signet-Account names.
 */
async function authenticateBearer(request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const header = request.headers.authorization;
  if (!header) {
    throw new AppError('missing_credentials', 'send a token as "Authorization: Bearer <token>"');
  }
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) throw new AppError('missing_credentials', 'the Authorization header must be "Bearer <token>"');
  const named = request.headers['signet-account'];
  const inPath = (request.params as { accountId?: unknown } | undefined)?.accountId;
  const hint =
    typeof named === 'string' && named.trim() !== ''
      ? { account: named.trim(), strict: true }
      : typeof inPath === 'string'
        ? { account: inPath, strict: false }
        : null;
  request.principal = await verifyBearerLimited(request, reply, match[1]!, hint);
}

function requireScope(request: FastifyRequest): void {
  const config = request.routeOptions.config;
  const scope = config.docusignScope;
  // No scope: no route matched, and the not-found handler answers (after authentication, so an
  // unauthenticated caller cannot map the face's routes).
  if (!scope) return;
  const permission = config.permission as Permission;
  const principal = request.principal!;
  if (can(principal, permission)) return;
  const { oauth } = principal;
  throw new AppError(
    'permission_denied',
    oauth && !scopeGrants(principal.scopes ?? []).has(permission)
      ? `this operation needs the ${scope} scope; the access token's scopes (${oauth.scopes.join(' ')}) do not grant the Signet permission ${permission}`
      : `this operation needs the ${scope} scope; the token's key or its user lacks the Signet permission ${permission}`,
    [{ message: 'missing scope', scope, permission }],
  );
}

/**
 * Installs authentication, scope checks, rate limits and idempotency on a DocuSign face, with errors rendered
 * by `render`. Every route must declare `config.docusignScope`; its Signet permission defaults to the one
 * the scope stands for (scopes.ts) and may be narrowed with `config.permission`.
 */
export function installDocuSignFace(fastify: FastifyInstance, render: ErrorRenderer): void {
  fastify.setErrorHandler((err, request, reply) => {
    const appErr = toAppError(err);
    if (appErr.status >= 500 && appErr.code !== 'not_supported') request.log.error({ err }, 'request failed');
    return render(appErr, request, reply);
  });
  fastify.setNotFoundHandler((request, reply) =>
    render(
      new AppError('route_not_found', `no route ${request.method} ${request.url.split('?')[0]}`),
      request,
      reply,
    ),
  );
  fastify.addHook('onRoute', (route) => {
    const config = (route.config ?? {}) as { docusignScope?: DocuSignScope; permission?: Permission };
    if (!config.docusignScope) {
      throw new Error(`route ${route.method} ${route.url} declares no DocuSign scope`);
    }
    config.permission ??= SCOPE_PERMISSION[config.docusignScope];
    route.config = config as typeof route.config;
    // These operations are documented by DocuSign's own OpenAPI files (shared/specs), not Signet's.
    route.schema = { ...route.schema, hide: true };
  });
  // Authentication, scope, then the principal's rate limit: one hook, as on /api.
  fastify.addHook('onRequest', async (request, reply) => {
    await authenticateBearer(request, reply);
    const reason = request.routeOptions.config.notSupported;
    if (reason !== undefined) throw new AppError('not_supported', reason);
    requireScope(request);
    await rateLimitByPrincipal(request, reply);
  });
  installIdempotency(fastify, fastify.services.idempotency);
}

/** A path's organization id: another organization's id answers exactly like a missing one. */
export function requireOwnOrganization(request: FastifyRequest, organizationId: string): void {
  if (request.principal?.organizationId !== organizationId) {
    throw notFound('organization', organizationId);
  }
}
