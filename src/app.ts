// The whole application as one Fastify plugin: production (server.ts) and tests register the same thing.
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import type { Config } from './config.ts';
import type { Permission, Principal } from './core/principal.ts';
import { apiFace, renderNative } from './faces/api/index.ts';
import { esignFace } from './faces/esign/index.ts';
import { healthRoutes } from './faces/health.ts';
import { startIdempotencySweep } from './faces/idempotency.ts';
import { managementFace } from './faces/management/index.ts';
import { oauthFace } from './faces/oauth/index.ts';
import { peopleFace } from './faces/people/index.ts';
import { installRateLimits } from './faces/rate-limit.ts';
import { installRequestGuards } from './faces/request-guards.ts';
import { signFace } from './faces/sign/index.ts';
import { webFace } from './faces/web.ts';
import type { FaceServices, Services } from './services.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** The core services, without the database handle: faces call core operations, never tables. */
    services: FaceServices;
    config: Config;
  }
  interface FastifyRequest {
    principal: Principal | null;
    /** The dashboard session a request came with (cookie), when that is how it authenticated. */
    signInSession: { id: string; mfaEnrollmentRequired: boolean; passwordChangeRequired: boolean } | null;
  }
  interface FastifyContextConfig {
    /**
     * A route of the signed-in person (their password, sessions, two-step verification): only a dashboard
     * session reaches it; an API key or an access token is refused (docs/people-and-sessions.md).
     */
    person?: boolean;
    /** Reachable by a session whose user must still enrol two-step verification (mfa_required). */
    duringMfaEnrollment?: boolean;
    /** Reachable by a session whose password has expired (password_policy.max_age_days): the change itself. */
    duringPasswordChange?: boolean;
    /** The permission a route needs. Routes under an authenticated face must declare one or be `public`. */
    permission?: Permission;
    /**
     * Instead of `permission`, for routes whose object decides which permission applies (an export needs
     * users:read or settings:read by its kind): any one of these admits the request, and the service checks
     * the one the object needs.
     */
    anyPermission?: readonly Permission[];
    /** Any authenticated caller, whatever its permissions (GET /api/me). */
    authenticated?: boolean;
    public?: boolean;
  }
}

export interface AppOptions {
  config: Config;
  services: Services;
  ready?: () => Promise<boolean>;
}

export async function app(fastify: FastifyInstance, opts: AppOptions): Promise<void> {
  const { db: _db, ...faceServices } = opts.services;
  fastify.decorate('services', faceServices);
  fastify.decorate('config', opts.config);
  fastify.decorateRequest('principal', null);
  fastify.decorateRequest('signInSession', null);
  // Set first thing, so every answer carries it (errors and 404s too). A synchronous hook: this runs on every
  // request, and an async one costs a promise and a microtask turn each time.
  fastify.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    done();
  });
  // A 503 (busy, not_ready) is always worth retrying: say when, on every face (RFC 9110 §10.2.3).
  fastify.addHook('onSend', (_request, reply, payload, done) => {
    if (reply.statusCode === 503 && !reply.hasHeader('retry-after')) reply.header('retry-after', '1');
    done(null, payload);
  });
  // Before any route: routes that declare `config.rateLimit.perIp` get their per-IP hook (faces/rate-limit.ts).
  installRateLimits(fastify, opts.config);
  // Before the faces, which inherit them: charsets, strict UTF-8 JSON, no NUL in any text (faces/request-guards.ts).
  installRequestGuards(fastify);
  // Routes outside the faces (health, the OpenAPI document) answer errors in the native dialect too.
  fastify.setErrorHandler(renderNative);
  startIdempotencySweep(fastify, opts.services.idempotency);
  // API keys record their last use in memory; write what is pending before the database goes away.
  fastify.addHook('onClose', async () => {
    await opts.services.apiKeys.close().catch((err: unknown) => {
      fastify.log.error({ err }, 'flushing API key usage failed');
    });
  });

  await fastify.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Signet API',
        version: '0.1.0',
        description: 'Administration and provisioning for e-signature estates. See docs/ for concepts.',
      },
      components: {
        securitySchemes: {
          apiKey: { type: 'http', scheme: 'bearer', description: 'sk_test_… or sk_live_…' },
        },
      },
      security: [{ apiKey: [] }],
    },
  });
  await fastify.register(swaggerUi, { routePrefix: '/docs' });
  fastify.get('/openapi.json', { schema: { hide: true } }, async () => fastify.swagger());

  await fastify.register(healthRoutes, { ready: opts.ready ?? (async () => true) });
  await fastify.register(peopleFace);
  await fastify.register(oauthFace);
  await fastify.register(signFace);
  await fastify.register(apiFace, { prefix: '/api' });
  await fastify.register(managementFace, { prefix: '/management' });
  await fastify.register(esignFace, { prefix: '/restapi' });
  // The dashboard at / (its pages and hashed assets; GET only, so no endpoint above is shadowed).
  await fastify.register(webFace);
}
