// Cookie sessions for the faces: read the `signet_session` cookie, resolve it to a Principal, and check the
// CSRF token on writes. A cookie rides along on any request the browser makes, so every cookie-authenticated
// POST/PATCH/PUT/DELETE must also carry `X-CSRF-Token` (from /login, /signup or GET /session), which a
// cross-site page cannot read. Bearer-key requests need none: nothing sends a key implicitly.
// Cookies are read and written here with the `cookie` library, not through the @fastify/cookie plugin: its
// per-request parse hook and onSend hook ran on every request of every face (a measurable share of the
// API-key hot path), while only these functions ever touch a cookie.
import { parseCookie, stringifySetCookie } from 'cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { type ResolvedSession, SESSION_COOKIE } from '../core/auth/sessions.ts';
import { safeEqual } from '../core/auth/tokens.ts';
import { AppError } from '../core/errors.ts';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function sessionCookie(request: FastifyRequest): string | null {
  const header = request.headers.cookie;
  if (!header) return null;
  const value = parseCookie(header)[SESSION_COOKIE];
  return typeof value === 'string' && value !== '' ? value : null;
}

/** Resolves the session cookie (throws 401 when there is none or it has ended) and sets request.principal. */
export async function authenticateSession(
  request: FastifyRequest,
  opts: { requireAccount?: boolean; csrf?: boolean } = {},
): Promise<ResolvedSession & { token: string }> {
  const token = sessionCookie(request);
  if (!token)
    throw new AppError('missing_credentials', 'log in first (no session cookie), or send an API key');
  const header = request.headers['signet-account'];
  const resolved = await request.server.services.sessions.resolve(
    token,
    typeof header === 'string' ? header : null,
    { requireAccount: opts.requireAccount },
  );
  if (opts.csrf !== false) requireCsrf(request, resolved.csrfToken);
  request.principal = resolved.principal;
  return { ...resolved, token };
}

export function requireCsrf(request: FastifyRequest, expected: string): void {
  if (SAFE_METHODS.has(request.method)) return;
  const given = request.headers['x-csrf-token'];
  if (typeof given !== 'string' || !safeEqual(given, expected)) {
    throw new AppError(
      'csrf_failed',
      'a request authenticated by the session cookie must send the X-CSRF-Token header (see GET /session)',
      [{ field: 'X-CSRF-Token', message: given === undefined ? 'missing' : 'does not match the session' }],
    );
  }
}

export function setSessionCookie(
  request: FastifyRequest,
  reply: FastifyReply,
  token: string,
  expiresAt: Date,
): void {
  reply.header(
    'set-cookie',
    stringifySetCookie({
      name: SESSION_COOKIE,
      value: token,
      httpOnly: true,
      sameSite: 'lax',
      path: '/',
      secure: request.protocol === 'https',
      expires: expiresAt,
    }),
  );
}

/** Tells the browser to drop the cookie: the same attributes, an empty value, expired long ago. */
export function clearSessionCookie(request: FastifyRequest, reply: FastifyReply): void {
  reply.header(
    'set-cookie',
    stringifySetCookie({
      name: SESSION_COOKIE,
      value: '',
      httpOnly: true,
      sameSite: 'lax',
      path: '/',
      secure: request.protocol === 'https',
      expires: new Date(1),
    }),
  );
}
