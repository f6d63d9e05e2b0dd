// Secrets must not reach a log line. Mailed links carry their tokens in the URL fragment, which browsers
// never send, except signing links, whose token Atlas puts in the query (`/sign/{envelope_id}?t=…`, A-seq);
// and a client may still put a token, key or password in a query string, and Fastify logs every request's
// URL. The request serializer below logs URLs with such parameters' values replaced.
import type { FastifyRequest } from 'fastify';

/**
 * Query parameter names whose values are secrets: *token*, *secret*, *password*, *key*, code, signature, and
 * `t` (the signing link's token).
 */
const SECRET_PARAM = /token|secret|passw|key|^code$|^t$|signature|assertion|credential/i;
export const REDACTED = '[redacted]';

/** The URL with the values of secret-looking query parameters replaced by [redacted]. */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const query = url
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const rawName = eq < 0 ? pair : pair.slice(0, eq);
      let name = rawName;
      try {
        name = decodeURIComponent(rawName.replace(/\+/g, ' '));
      } catch {
        // A name that does not decode is judged as written.
      }
      return eq >= 0 && SECRET_PARAM.test(name) ? `${rawName}=${REDACTED}` : pair;
    })
    .join('&');
  return `${url.slice(0, q)}?${query}`;
}

/** Fastify's request serializer, with the URL redacted. */
export function serializeRequest(request: FastifyRequest) {
  return {
    method: request.method,
    url: redactUrl(request.url),
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort,
  };
}
