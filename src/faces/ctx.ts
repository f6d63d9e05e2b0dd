// What every face derives from a request for the core services: the audit facts (requestMeta) and the Ctx of
// an authenticated request (ctxOf). Kept apart from the modules that register routes (src/app.ts, the faces'
// index.ts), so a route module imports these without importing the plugin that registers it (no cycle).
import type { FastifyRequest } from 'fastify';
import type { Ctx, RequestMeta } from '../core/context.ts';
import { AppError } from '../core/errors.ts';
import { idempotencyCommitHook } from './idempotency.ts';

/** The request facts an audit event records. */
export function requestMeta(request: {
  ip: string;
  id: string;
  headers: Record<string, unknown>;
}): RequestMeta {
  const ua = request.headers['user-agent'];
  return {
    ip: request.ip,
    // Control characters dropped: a NUL cannot be stored (the HTTP parser refuses one, a proxy may not).
    userAgent: typeof ua === 'string' ? ua.replace(/\p{Cc}/gu, '').slice(0, 500) : null,
    requestId: request.id,
  };
}

/** The Ctx of an authenticated request, with the idempotency hook that stores its response. */
export function ctxOf(request: FastifyRequest): Ctx {
  if (!request.principal) throw new AppError('missing_credentials', 'this endpoint needs an API key');
  return {
    principal: request.principal,
    meta: requestMeta(request),
    beforeCommit: idempotencyCommitHook(request),
  };
}
