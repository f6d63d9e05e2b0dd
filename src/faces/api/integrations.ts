// /api/integrations: integration keys (OAuth clients), their secrets, RSA keys and consents (docs/oauth.md).
// Owners and admins only (integrations:read / integrations:write).
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { CONSENT_SCOPES } from '../../core/integrations/consents.ts';
import {
  SECRET_WINDOW_DEFAULT_SECONDS,
  SECRET_WINDOW_MAX_SECONDS,
} from '../../core/integrations/credentials.ts';
import { MAX_REDIRECT_URIS } from '../../core/integrations/redirect-uris.ts';
import { GRANTS } from '../../core/integrations/service.ts';
import { ctxOf } from '../ctx.ts';
import { errorResponses, IdParams, ListQuery, Nullable, Page, Strict, Timestamp, Uuid } from './schemas.ts';

const ClientType = Type.Union([Type.Literal('confidential'), Type.Literal('public')], {
  description:
    'confidential: keeps a client secret; public: cannot (a browser or native app), uses PKCE alone',
});
const Grant = Type.Union(
  GRANTS.map((g) => Type.Literal(g)),
  { description: 'an OAuth grant type the integration may use' },
);
const RedirectUris = Type.Array(Type.String({ minLength: 1, maxLength: 2000 }), {
  maxItems: MAX_REDIRECT_URIS,
  description:
    'matched exactly; https, http only to 127.0.0.1, [::1] or localhost, or a reverse-domain app scheme',
});
const Grants = Type.Array(Grant, {
  minItems: 1,
  maxItems: GRANTS.length,
  description: 'default: authorization_code and refresh_token',
});
const Name = Type.String({ minLength: 1, maxLength: 200 });

const Secret = Type.Object(
  {
    id: Uuid,
    integration_id: Uuid,
    last4: Type.String(),
    created_at: Timestamp,
    expires_at: Nullable(Timestamp),
    revoked_at: Nullable(Timestamp),
  },
  { $id: 'IntegrationSecret' },
);
const NewSecret = Type.Composite([
  Secret,
  Type.Object({ client_secret: Type.String({ description: 'shown once; store it now' }) }),
]);

const RsaKey = Type.Object(
  {
    id: Type.String({ format: 'uuid', description: 'the key id (a JWT may name it as `kid`)' }),
    integration_id: Uuid,
    public_key: Type.String({ description: 'SPKI PEM' }),
    created_at: Timestamp,
    revoked_at: Nullable(Timestamp),
  },
  { $id: 'IntegrationRsaKey' },
);
const NewRsaKey = Type.Composite([
  RsaKey,
  Type.Object({
    private_key: Type.Optional(
      Type.String({ description: 'generated pairs only: PKCS#1 PEM, shown once; Signet keeps no copy' }),
    ),
  }),
]);

const Integration = Type.Object(
  {
    id: Uuid,
    organization_id: Uuid,
    client_id: Type.String({ description: 'the integration key (OAuth client_id)' }),
    name: Type.String(),
    client_type: ClientType,
    redirect_uris: Type.Array(Type.String()),
    allowed_grants: Type.Array(Grant),
    created_by: Nullable(Uuid),
    created_at: Timestamp,
    updated_at: Timestamp,
    deleted_at: Nullable(Timestamp),
  },
  { $id: 'Integration' },
);
const IntegrationDetail = Type.Composite(
  [Integration, Type.Object({ secrets: Type.Array(Secret), rsa_keys: Type.Array(RsaKey) })],
  { $id: 'IntegrationDetail' },
);
const NewIntegration = Type.Composite([
  IntegrationDetail,
  Type.Object({
    client_secret: Nullable(
      Type.String({ description: 'confidential integrations: shown once, store it now; public: null' }),
    ),
  }),
]);

const Consent = Type.Object(
  {
    id: Uuid,
    organization_id: Uuid,
    integration_id: Uuid,
    user_id: Nullable(Uuid),
    scopes: Type.Array(Type.String()),
    granted_by: Nullable(Uuid),
    created_at: Timestamp,
    revoked_at: Nullable(Timestamp),
  },
  { $id: 'OAuthConsent' },
);

const SecretParams = Type.Object({ id: Uuid, secret_id: Uuid }, Strict);
const KeyParams = Type.Object({ id: Uuid, key_id: Uuid }, Strict);
const ConsentParams = Type.Object({ id: Uuid, consent_id: Uuid }, Strict);

export async function integrationRoutes(app: FastifyInstance): Promise<void> {
  const fastify = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['integrations'];
  const { integrations, integrationCredentials: credentials, consents } = fastify.services;

  fastify.post(
    '/integrations',
    {
      // The response holds a secret shown once: it is not stored for replay, so Idempotency-Key is refused.
      config: { permission: 'integrations:write', idempotency: false },
      schema: {
        tags,
        summary: 'Create an integration key (OAuth client); a confidential one gets its secret here, once',
        body: Type.Object(
          {
            name: Name,
            client_type: ClientType,
            redirect_uris: Type.Optional(RedirectUris),
            allowed_grants: Type.Optional(Grants),
          },
          Strict,
        ),
        response: { 201: NewIntegration, ...errorResponses },
      },
    },
    async (request, reply) => reply.code(201).send(await integrations.create(ctxOf(request), request.body)),
  );

  fastify.get(
    '/integrations',
    {
      config: { permission: 'integrations:read' },
      schema: {
        tags,
        summary: "List the organization's integration keys",
        querystring: Type.Object(ListQuery, Strict),
        response: { 200: Page(Integration), ...errorResponses },
      },
    },
    async (request) => integrations.list(ctxOf(request), request.query),
  );

  fastify.get(
    '/integrations/:id',
    {
      config: { permission: 'integrations:read' },
      schema: {
        tags,
        summary: 'Get an integration key with its secrets (never their values) and RSA keys',
        params: IdParams,
        response: { 200: IntegrationDetail, ...errorResponses },
      },
    },
    async (request) => integrations.get(ctxOf(request), request.params.id),
  );

  fastify.patch(
    '/integrations/:id',
    {
      config: { permission: 'integrations:write' },
      schema: {
        tags,
        summary: "Change an integration key's name, redirect URIs or grants",
        params: IdParams,
        body: Type.Object(
          {
            name: Type.Optional(Name),
            redirect_uris: Type.Optional(RedirectUris),
            allowed_grants: Type.Optional(Grants),
          },
          Strict,
        ),
        response: { 200: IntegrationDetail, ...errorResponses },
      },
    },
    async (request) => integrations.update(ctxOf(request), request.params.id, request.body),
  );

  fastify.delete(
    '/integrations/:id',
    {
      config: { permission: 'integrations:write' },
      schema: {
        tags,
        summary: 'Delete an integration key; its secrets, RSA keys and consents are revoked with it',
        params: IdParams,
        response: { 200: IntegrationDetail, ...errorResponses },
      },
    },
    async (request) => integrations.remove(ctxOf(request), request.params.id),
  );

  fastify.post(
    '/integrations/:id/secrets',
    {
      // The response holds a secret shown once: it is not stored for replay, so Idempotency-Key is refused.
      config: { permission: 'integrations:write', idempotency: false },
      // The body is optional: a bare POST uses the default window.
      preValidation: async (request) => {
        if (request.body === undefined || request.body === null) request.body = {};
      },
      schema: {
        tags,
        summary: 'A new client secret; the ones before it keep working for a while (dual-run)',
        params: IdParams,
        body: Type.Object(
          {
            expires_in_seconds: Type.Optional(
              Type.Integer({
                minimum: 0,
                maximum: SECRET_WINDOW_MAX_SECONDS,
                default: SECRET_WINDOW_DEFAULT_SECONDS,
                description:
                  'how long the older secrets keep working; 0 stops them now (an earlier end is kept)',
              }),
            ),
          },
          Strict,
        ),
        response: {
          201: Type.Object({ new_secret: NewSecret, superseded: Type.Array(Secret) }),
          ...errorResponses,
        },
      },
    },
    async (request, reply) =>
      reply.code(201).send(await credentials.addSecret(ctxOf(request), request.params.id, request.body)),
  );

  fastify.delete(
    '/integrations/:id/secrets/:secret_id',
    {
      config: { permission: 'integrations:write' },
      schema: {
        tags,
        summary: 'Revoke a client secret at once',
        params: SecretParams,
        response: { 200: Secret, ...errorResponses },
      },
    },
    async (request) => credentials.revokeSecret(ctxOf(request), request.params.id, request.params.secret_id),
  );

  fastify.post(
    '/integrations/:id/rsa_keys',
    {
      // A generated pair's private key is in the response, once: not stored for replay.
      config: { permission: 'integrations:write', idempotency: false },
      schema: {
        tags,
        summary: 'Add an RSA public key for the JWT grant, or have Signet generate the pair',
        params: IdParams,
        body: Type.Object(
          {
            public_key: Type.Optional(
              Type.String({
                minLength: 1,
                maxLength: 10_000,
                description: 'PEM RSA public key, 2048-8192 bits',
              }),
            ),
            generate: Type.Optional(
              Type.Boolean({ description: 'true: Signet makes the pair and returns the private key once' }),
            ),
          },
          Strict,
        ),
        response: { 201: NewRsaKey, ...errorResponses },
      },
    },
    async (request, reply) =>
      reply.code(201).send(await credentials.addRsaKey(ctxOf(request), request.params.id, request.body)),
  );

  fastify.delete(
    '/integrations/:id/rsa_keys/:key_id',
    {
      config: { permission: 'integrations:write' },
      schema: {
        tags,
        summary: 'Revoke an RSA key at once',
        params: KeyParams,
        response: { 200: RsaKey, ...errorResponses },
      },
    },
    async (request) => credentials.revokeRsaKey(ctxOf(request), request.params.id, request.params.key_id),
  );

  fastify.post(
    '/integrations/:id/consents',
    {
      config: { permission: 'integrations:write' },
      schema: {
        tags,
        summary: 'Consent for one user, or (no user_id, owners only) every user of the organization',
        params: IdParams,
        body: Type.Object(
          {
            scopes: Type.Array(Type.String({ minLength: 1, maxLength: 100 }), {
              minItems: 1,
              maxItems: 50,
              description: `DocuSign OAuth scopes (${CONSENT_SCOPES.join(', ')}); added to the consent already there`,
            }),
            user_id: Type.Optional(Nullable(Uuid)),
          },
          Strict,
        ),
        response: { 200: Consent, 201: Consent, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { consent, created } = await consents.grant(ctxOf(request), request.params.id, request.body);
      return reply.code(created ? 201 : 200).send(consent);
    },
  );

  fastify.get(
    '/integrations/:id/consents',
    {
      config: { permission: 'integrations:read' },
      schema: {
        tags,
        summary: "List an integration's consents, revoked ones included",
        params: IdParams,
        querystring: Type.Object(ListQuery, Strict),
        response: { 200: Page(Consent), ...errorResponses },
      },
    },
    async (request) => consents.list(ctxOf(request), request.params.id, request.query),
  );

  fastify.delete(
    '/integrations/:id/consents/:consent_id',
    {
      config: { permission: 'integrations:write' },
      schema: {
        tags,
        summary: 'Revoke a consent at once',
        params: ConsentParams,
        response: { 200: Consent, ...errorResponses },
      },
    },
    async (request) => consents.revoke(ctxOf(request), request.params.id, request.params.consent_id),
  );
}
