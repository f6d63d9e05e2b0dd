// What the /management bulk operations (imports, exports, account-settings imports) share: the Ctx they
// hand core services, path-id checks, absolute URLs on this server, and the requestor in DocuSign's shape.
import type { FastifyRequest } from 'fastify';
import type { Ctx } from '../../core/context.ts';
import { notFound } from '../../core/errors.ts';
import { isUuid } from '../../core/ids.ts';
import { ctxOf } from '../api/index.ts';
import { requireOwnOrganization } from '../docusign/face.ts';

/**
 * The Ctx for a core call whose result this face translates: the idempotency layer stores the response in
 * the effect's transaction, so it must store the translated body the client gets, not the core's view.
 * `extra` runs in that same transaction first (e.g. to record a face-specific detail atomically).
 */
export function translatingCtx<R>(
  request: FastifyRequest,
  translate: (result: R) => unknown,
  extra?: (trx: Parameters<NonNullable<Ctx['beforeCommit']>>[0], result: R) => Promise<void>,
): Ctx {
  const ctx = ctxOf(request);
  const store = ctx.beforeCommit;
  if (!store && !extra) return ctx;
  return {
    ...ctx,
    beforeCommit: async (trx, result) => {
      if (extra) await extra(trx, result as R);
      if (store) await store(trx, translate(result as R));
    },
  };
}

/** The organization in the path must be the caller's; an id in the path must be a GUID (else: not found). */
export function pathIds(
  request: FastifyRequest,
  organizationId: string,
  ids: Record<string, string | undefined> = {},
): void {
  requireOwnOrganization(request, organizationId.toLowerCase());
  for (const [what, id] of Object.entries(ids)) {
    if (id !== undefined && !isUuid(id)) throw notFound(what, id);
  }
}

/** This server's origin as the client reached it (http://host:port), for absolute URLs in responses. */
export function originOf(request: FastifyRequest): string {
  return `${request.protocol}://${request.host}`;
}

/** A Signet requestor ({type: api_key|user|…, id, name}) as DocuSign's {name, id, type: user|client_app}. */
export function requestorOf(r: { type: string; id: string; name: string }): {
  name: string;
  id: string;
  type: 'user' | 'client_app';
} {
  return { name: r.name, id: r.id, type: r.type === 'user' || r.type === 'session' ? 'user' : 'client_app' };
}

export const iso = (d: Date | null | undefined): string | undefined => (d ? d.toISOString() : undefined);

/** Drops undefined and null fields: DocuSign's SDK turns a null string into "null" (reference §6.1). */
export function compact<T extends Record<string, unknown>>(o: T): T {
  for (const k of Object.keys(o)) if (o[k] === undefined || o[k] === null) delete o[k];
  return o;
}
