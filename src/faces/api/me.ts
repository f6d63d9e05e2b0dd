// GET /api/me: who the caller is and what it may do — the key (session, access token) resolved to its principal. Scripts
// use it to check a key before a run ("is this the live key of the right organization, with users:write?"),
// as DocuSign's clients use /oauth/userinfo. It reads nothing but the principal, which API-key verification
// already holds in its cache: no database round trip.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { AppError } from '../../core/errors.ts';
import { PERMISSIONS } from '../../core/principal.ts';
import { errorResponses, Nullable, Role, Uuid } from './schemas.ts';

const Me = Type.Object(
  {
    type: Type.Union([
      Type.Literal('api_key'),
      Type.Literal('user'),
      Type.Literal('system'),
      Type.Literal('integration'),
    ]),
    id: Type.String({
      description:
        "the key's id; the person's user id for a dashboard session or an access token held for them; the integration's id for a client_credentials token",
    }),
    label: Type.String(),
    organization_id: Uuid,
    account_id: Nullable(Uuid),
    user_id: Nullable(Uuid),
    role: Role,
    environment: Type.Union([Type.Literal('test'), Type.Literal('live')]),
    key_kind: Nullable(Type.Union([Type.Literal('profile'), Type.Literal('platform')])),
    platform_organization_id: Nullable(
      Type.String({
        format: 'uuid',
        description: 'set when a platform key acts for a connected account (Atlas-Account): its platform',
      }),
    ),
    /** A restricted key's scopes; null for an unrestricted key or a session. */
    scopes: Nullable(Type.Array(Type.String())),
    permissions: Type.Array(Type.String(), { description: 'every route permission the caller holds' }),
    /** For an OAuth access token: the integration it was issued to and its (DocuSign) scopes. */
    oauth: Nullable(
      Type.Object({ integration_id: Uuid, client_id: Type.String(), scopes: Type.Array(Type.String()) }),
    ),
  },
  { $id: 'Me' },
);

export async function meRoutes(app: FastifyInstance): Promise<void> {
  const fastify = app.withTypeProvider<TypeBoxTypeProvider>();
  fastify.get(
    '/me',
    {
      // Any authenticated caller may ask who it is, whatever its scopes.
      config: { authenticated: true },
      schema: {
        tags: ['api keys'],
        summary: 'The calling key or session: organization, role, environment, scopes and permissions',
        response: { 200: Me, ...errorResponses },
      },
    },
    async (request) => {
      const p = request.principal!;
      // A party's signing link is a credential of the /sign pages only; it never authenticates here.
      if (p.kind === 'signer') throw new AppError('missing_credentials', 'this endpoint needs an API key');
      return {
        type: p.kind,
        id: p.id,
        label: p.label,
        organization_id: p.organizationId,
        account_id: p.accountId,
        user_id: p.userId,
        role: p.role,
        environment: p.environment,
        key_kind: p.keyKind ?? null,
        platform_organization_id: p.platformOrganizationId ?? null,
        scopes: p.scopes ? [...p.scopes] : null,
        // In the catalogue's order, so the answer is stable.
        permissions: PERMISSIONS.filter((perm) => p.permissions.has(perm)),
        oauth: p.oauth
          ? {
              integration_id: p.oauth.integrationId,
              client_id: p.oauth.clientId,
              scopes: [...p.oauth.scopes],
            }
          : null,
      };
    },
  );
}
