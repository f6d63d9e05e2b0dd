// What the /management bulk operations (imports, exports, account-settings imports) share: path-id checks,
// absolute URLs on this server, and the requestor in DocuSign's shape. (The Ctx they hand core services:
// ../docusign/ctx.ts.)
import type { FastifyRequest } from 'fastify';
import { notFound } from '../../core/errors.ts';
import { isUuid } from '../../core/ids.ts';
import { requireOwnOrganization } from '../docusign/face.ts';

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
