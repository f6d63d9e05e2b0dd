// The OAuth face, on DocuSign's account-server paths (docs/oauth.md): /oauth/auth, /oauth/token,
// /oauth/revoke, /oauth/introspect, /oauth/jwks and the metadata under /.well-known are answered by
// oidc-provider (src/core/oauth/provider.ts), which gets the raw request; /oauth/userinfo (DocuSign's shape)
// and the sign-in and consent pages (/oauth/interaction/{uid}) are Signet's routes.
//
// What this face translates on the way in, and only this:
//   - a JWT-bearer token request without client authentication (what DocuSign's SDKs send) names its client
//     only inside the assertion (`iss`): the face adds that as client_id, so oidc-provider can find the
//     integration; the grant then checks the assertion's signature against the integration's keys;
//   - a refresh token of the other environment is refused by name, as API keys and access tokens are.
// Errors are OAuth's: {"error", "error_description"} (RFC 6749 section 5.2), or an HTML page where a browser is.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../core/errors.ts';
import type { RawWithMeta } from '../../core/oauth/audit.ts';
import { JWT_BEARER } from '../../core/oauth/clients.ts';
import { INTERACTION_PATH, OAUTH_ROUTES } from '../../core/oauth/provider.ts';
import { isOAuthToken } from '../../core/oauth/tokens.ts';
import { requestMeta } from '../ctx.ts';
import { toAppError } from '../http-errors.ts';
import { verifyBearerLimited } from '../rate-limit.ts';
import { sessionCookie, setSessionCookie } from '../session-auth.ts';
import { consentPage, errorPage, loginPage, PAGE_HEADERS } from './pages.ts';

/** The OAuth error a Signet error stands for on this face. */
function oauthError(err: AppError): string {
  if (err.status === 401) return 'invalid_token';
  if (err.status === 403) return 'insufficient_scope';
  if (err.status === 429) return 'slow_down';
  if (err.status >= 500) return 'server_error';
  return 'invalid_request';
}

function renderOAuthError(err: unknown, request: FastifyRequest, reply: FastifyReply) {
  const appErr = toAppError(err);
  if (appErr.status >= 500) request.log.error({ err }, 'request failed');
  const error = oauthError(appErr);
  if (appErr.status === 401) {
    // RFC 6750 section 3; a header value holds printable ASCII only.
    const description = appErr.message.replace(/[^\x20-\x7e]|["\\]/g, '');
    reply.header('www-authenticate', `Bearer error="${error}", error_description="${description}"`);
  }
  return reply.code(appErr.status).send({ error, error_description: appErr.message });
}

/** The `iss` of a JWT, read without verifying it (the grant verifies it): only to name the client. */
function issuerOf(assertion: string): string | null {
  const payload = assertion.split('.')[1];
  if (!payload) return null;
  try {
    const iss = (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { iss?: unknown }).iss;
    return typeof iss === 'string' ? iss : null;
  } catch {
    return null;
  }
}

/** The token request body oidc-provider gets: DocuSign's JWT-bearer requests name their client (see header). */
function tokenBody(request: FastifyRequest, body: string): string {
  const params = new URLSearchParams(body);
  const grantType = params.get('grant_type');
  if (grantType === 'refresh_token') {
    const m = /^srt_(test|live)_/.exec(params.get('refresh_token') ?? '');
    const environment = request.server.config.environment;
    if (m && m[1] !== environment) {
      throw new AppError(
        'environment_mismatch',
        `this is a ${m[1]} refresh token, but this server runs in the ${environment} environment`,
      );
    }
  }
  if (
    grantType === JWT_BEARER &&
    request.headers.authorization === undefined &&
    !params.has('client_id') &&
    !params.has('client_secret') &&
    !params.has('client_assertion')
  ) {
    const iss = issuerOf(params.get('assertion') ?? '');
    if (iss === null) throw new AssertionUnreadable();
    return `${body}&client_id=${encodeURIComponent(iss)}`;
  }
  return body;
}

/** A JWT-bearer request whose assertion names no client: refused here, as oidc-provider would not know why. */
class AssertionUnreadable extends Error {}

const OAUTH_REFUSAL: Record<string, string> = { environment_mismatch: 'invalid_grant' };

export async function oauthFace(fastify: FastifyInstance): Promise<void> {
  const { oauth, people, sessions } = fastify.services;
  oauth.renderErrorPage = errorPage;
  oauth.onServerError = (err) => fastify.log.error({ err }, 'oauth: request failed');
  oauth.audit.onError = (err) =>
    fastify.log.error({ err }, 'oauth: writing token-endpoint audit events failed');
  oauth.audit.onUnattributed = (event) =>
    fastify.log.info({ oauth: event }, 'oauth: token request refused for an unknown client');
  fastify.addHook('onClose', async () => oauth.close());
  const sweep = setInterval(() => {
    oauth.sweep().catch((err: unknown) => fastify.log.warn({ err }, 'oauth: sweeping expired tokens failed'));
  }, 5 * 60_000);
  sweep.unref();
  fastify.addHook('onClose', async () => clearInterval(sweep));

  fastify.setErrorHandler((err, request, reply) => {
    const appErr = toAppError(err);
    if (err instanceof AssertionUnreadable) {
      return reply.code(400).header('cache-control', 'no-store').send({
        error: 'invalid_grant',
        error_description:
          'the assertion is not a signed JWT whose iss is the integration key (header.payload.signature, base64url)',
      });
    }
    const code = OAUTH_REFUSAL[appErr.code];
    if (code) {
      return reply
        .code(400)
        .header('cache-control', 'no-store')
        .send({ error: code, error_description: appErr.message });
    }
    return renderOAuthError(err, request, reply);
  });
  // Form bodies are read whole (a token request is small; oidc-provider's own limit is 56 KiB) and handed on.
  fastify.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: 56 * 1024 },
    (_request, body, done) => done(null, body),
  );

  /** Hands the request to oidc-provider, with its body (already read) and the facts audit records. */
  async function forward(request: FastifyRequest, reply: FastifyReply, body?: string): Promise<void> {
    if ((body ?? '').includes('%00') || request.url.includes('%00')) {
      throw new AppError('invalid_request', 'parameters must not contain NUL characters');
    }
    await oauth.ready();
    const raw = request.raw as RawWithMeta & { body?: string };
    raw.signetMeta = requestMeta(request);
    if (body !== undefined) raw.body = body;
    // oidc-provider writes the response itself: what Fastify would have added must be set on it now.
    reply.raw.setHeader('x-request-id', request.id);
    reply.hijack();
    await oauth.handle(raw, reply.raw);
  }
  const asString = (request: FastifyRequest) => (typeof request.body === 'string' ? request.body : undefined);
  const pass = (request: FastifyRequest, reply: FastifyReply) => forward(request, reply, asString(request));
  const config = { public: true } as const;

  fastify.get(OAUTH_ROUTES.authorization, { config }, pass);
  // Where oidc-provider sends the browser back after an interaction.
  fastify.get(`${OAUTH_ROUTES.authorization}/:uid`, { config }, pass);
  fastify.post(OAUTH_ROUTES.token, { config }, async (request, reply) => {
    const body = asString(request);
    await forward(request, reply, body === undefined ? undefined : tokenBody(request, body));
  });
  fastify.post(OAUTH_ROUTES.revocation, { config }, pass);
  fastify.post(OAUTH_ROUTES.introspection, { config }, pass);
  fastify.get(OAUTH_ROUTES.jwks, { config }, pass);
  // Authorization server metadata, as OpenID Connect Discovery and as RFC 8414 name it.
  fastify.get('/.well-known/openid-configuration', { config }, pass);
  fastify.get('/.well-known/oauth-authorization-server', { config }, pass);

  fastify.get(OAUTH_ROUTES.userinfo, { config }, async (request, reply) => {
    const header = request.headers.authorization;
    const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match)
      throw new AppError('missing_credentials', 'send the access token as "Authorization: Bearer <token>"');
    if (!isOAuthToken(match[1]!)) {
      throw new AppError(
        'invalid_access_token',
        'userinfo takes an OAuth access token (sat_…), not an API key',
      );
    }
    const principal = await verifyBearerLimited(request, reply, match[1]!);
    reply.header('cache-control', 'no-store');
    return oauth.userInfo(principal);
  });

  // --- sign in and consent ---------------------------------------------------------------------------------
  const page = (reply: FastifyReply, html: string, status = 200) =>
    reply.code(status).headers(PAGE_HEADERS).send(html);
  const pageError = (reply: FastifyReply, err: unknown) => {
    const appErr = toAppError(err);
    if (appErr.status >= 500) throw err;
    return page(reply, errorPage(appErr.code, appErr.message), appErr.status);
  };
  // 303 after a form post, never 307 (which would repeat the POST, password included; RFC 9700 section 4.12).
  const see = (reply: FastifyReply, url: string) =>
    reply.header('cache-control', 'no-store').redirect(url, 303);
  // Password guesses are limited per IP (and per email, by the login itself).
  const loginConfig = { public: true, rateLimit: { perIp: 'auth' } } as const;
  const interactionConfig = { public: true } as const;
  type Uid = { Params: { uid: string } };

  fastify.get<Uid>(`${INTERACTION_PATH}/:uid`, { config: { public: true } }, async (request, reply) => {
    try {
      const view = await oauth.interaction(request.raw, reply.raw, request.params.uid);
      if (view.prompt === 'login') {
        // Signed in to Signet already (a dashboard session in this organization): no password asked again.
        const cookie = sessionCookie(request);
        if (cookie) {
          const session = await sessions.resolve(cookie, null, { requireAccount: false }).catch(() => null);
          if (session && session.principal.organizationId === view.organizationId) {
            return see(reply, await oauth.signedIn(request.raw, reply.raw, session.principal.userId!));
          }
        }
        return page(reply, loginPage({ uid: view.uid, clientName: view.clientName }));
      }
      const email = view.user?.email ?? '';
      return page(
        reply,
        consentPage({ uid: view.uid, clientName: view.clientName, email, scopes: view.scopes }),
      );
    } catch (err) {
      return pageError(reply, err);
    }
  });

  fastify.post<Uid>(`${INTERACTION_PATH}/:uid/login`, { config: loginConfig }, async (request, reply) => {
    try {
      const view = await oauth.interaction(request.raw, reply.raw, request.params.uid);
      const form = new URLSearchParams(asString(request) ?? '');
      const email = form.get('email') ?? '';
      try {
        const result = await people.login(
          { email, password: form.get('password') ?? '', organization_id: view.organizationId },
          requestMeta(request),
        );
        if (result.kind === 'mfa') {
          // This page asks for no second factor: the person signs in to Signet first (POST /login, then
          // /login/mfa), and the interaction then goes on with that session (the GET above).
          return page(
            reply,
            loginPage({
              uid: view.uid,
              clientName: view.clientName,
              email,
              error:
                'This account signs in with two-step verification: sign in to Signet in this browser first, then reload this page.',
            }),
            401,
          );
        }
        const session = result.session;
        // The person is signed in to Signet too, as after POST /login.
        setSessionCookie(request, reply, session.token, session.expiresAt);
        const resolved = await sessions.resolve(session.token, null, { requireAccount: false });
        return see(reply, await oauth.signedIn(request.raw, reply.raw, resolved.principal.userId!));
      } catch (err) {
        const appErr = toAppError(err);
        if (appErr.status !== 401 && appErr.status !== 429) throw err;
        return page(
          reply,
          loginPage({ uid: view.uid, clientName: view.clientName, email, error: appErr.message }),
          appErr.status,
        );
      }
    } catch (err) {
      return pageError(reply, err);
    }
  });

  fastify.post<Uid>(
    `${INTERACTION_PATH}/:uid/consent`,
    { config: interactionConfig },
    async (request, reply) => {
      try {
        const view = await oauth.interaction(request.raw, reply.raw, request.params.uid);
        return see(reply, await oauth.consented(request.raw, reply.raw, view, requestMeta(request)));
      } catch (err) {
        return pageError(reply, err);
      }
    },
  );

  fastify.post<Uid>(
    `${INTERACTION_PATH}/:uid/abort`,
    { config: interactionConfig },
    async (request, reply) => {
      try {
        await oauth.interaction(request.raw, reply.raw, request.params.uid);
        return see(reply, await oauth.denied(request.raw, reply.raw));
      } catch (err) {
        return pageError(reply, err);
      }
    },
  );
}
