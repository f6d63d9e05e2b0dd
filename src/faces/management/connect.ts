// OrgConnectApi (12 operations): organization-level Connect configurations, the organization's Connect HMAC
// secrets and its Connect OAuth configuration (docs/webhooks.md, "Connect"; docs/compatibility.md). The
// configurations are webhook endpoints of format `connect` (src/core/webhooks/connect.ts). Bodies are the
// spec's camelCase models; the routes of /connect/oauth and /connect/secret are static, so they win over
// /connect/:connectId whatever the order.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ctxOf } from '../ctx.ts';
import { requireOwnOrganization } from '../docusign/face.ts';
import { Guid, OrgParams } from './users-mapping.ts';

const Flag = Type.Union([Type.String({ maxLength: 10 }), Type.Boolean()], {
  description: '"true" or "false"',
});
const Ids = Type.Array(Type.String({ maxLength: 100 }), { maxItems: 1000 });

// OrganizationConnectConfigurationRequest
const ConfigRequest = Type.Object({
  connectId: Type.Optional(Type.String({ maxLength: 100 })),
  configurationType: Type.Optional(Type.String({ maxLength: 100 })),
  allowEnvelopePublish: Type.Optional(Flag),
  urlToPublishTo: Type.Optional(Type.String({ maxLength: 2048 })),
  deliveryMode: Type.Optional(Type.String({ maxLength: 100 })),
  events: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { maxItems: 100 })),
  associatedFilterSelection: Type.Optional(Type.String({ maxLength: 100 })),
  groupIds: Type.Optional(Ids),
  accountIds: Type.Optional(Type.Array(Guid, { maxItems: 1000 })),
  userIds: Type.Optional(Ids),
  name: Type.Optional(Type.String({ maxLength: 500 })),
  signMessageWithX509Certificate: Type.Optional(Flag),
  includeOAuth: Type.Optional(Flag),
  includeHMAC: Type.Optional(Flag),
  pausePublish: Type.Optional(Flag),
  eventData: Type.Optional(
    Type.Object({
      version: Type.Optional(Type.String({ maxLength: 20 })),
      includeData: Type.Optional(Type.Array(Type.String({ maxLength: 100 }), { maxItems: 100 })),
    }),
  ),
});

// OrganizationConnectOAuthConfiguration
const OAuthRequest = Type.Object({
  authorizationServerUrl: Type.Optional(Type.String({ maxLength: 2048 })),
  clientId: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })),
  clientSecret: Type.Optional(Type.String({ minLength: 1, maxLength: 2000 })),
  scope: Type.Optional(Type.String({ maxLength: 1000 })),
  customParameter: Type.Optional(
    Type.Record(Type.String({ maxLength: 100 }), Type.String({ maxLength: 1000 }), { maxProperties: 20 }),
  ),
});

const ConnectParams = Type.Object({ organizationId: Guid, connectId: Type.String({ maxLength: 100 }) });
const KeyParams = Type.Object({ organizationId: Guid, keyId: Type.String({ maxLength: 100 }) });

export async function connectRoutes(app: FastifyInstance): Promise<void> {
  const fastify = app.withTypeProvider<TypeBoxTypeProvider>();
  const connect = fastify.services.connect;
  fastify.addHook('preHandler', async (request) => {
    requireOwnOrganization(request, (request.params as { organizationId: string }).organizationId);
  });
  const base = '/v2/organizations/:organizationId/connect';

  // OrgConnectApi.getOrganizationConnectConfigs (filter: accountId)
  fastify.get(
    base,
    {
      config: { docusignScope: 'connect_org_config_read_api' },
      schema: {
        params: OrgParams,
        querystring: Type.Object({
          sortBy: Type.Optional(Type.String()),
          siteId: Type.Optional(Type.Integer()),
          accountId: Type.Optional(Guid),
          allowEnvelopePublish: Type.Optional(Type.Boolean()),
          q: Type.Optional(Type.String()),
        }),
      },
    },
    async (request) => connect.list(ctxOf(request), { accountId: request.query.accountId }),
  );

  // OrgConnectApi.createOrganizationConnectConfig
  fastify.post(
    base,
    {
      config: { docusignScope: 'connect_org_config_write_api' },
      schema: { params: OrgParams, body: ConfigRequest },
    },
    async (request) => connect.create(ctxOf(request), request.body),
  );

  // OrgConnectApi.getOrganizationConnectOAuthConfiguration / post… / put… / delete…
  fastify.get(
    `${base}/oauth`,
    { config: { docusignScope: 'connect_org_oauth_read_api' }, schema: { params: OrgParams } },
    async (request) => connect.oauth(ctxOf(request)),
  );
  fastify.post(
    `${base}/oauth`,
    {
      config: { docusignScope: 'connect_org_oauth_write_api' },
      schema: { params: OrgParams, body: OAuthRequest },
    },
    async (request) => connect.setOAuth(ctxOf(request), request.body, 'replace'),
  );
  fastify.put(
    `${base}/oauth`,
    {
      config: { docusignScope: 'connect_org_oauth_write_api' },
      schema: { params: OrgParams, body: OAuthRequest },
    },
    async (request) => connect.setOAuth(ctxOf(request), request.body, 'merge'),
  );
  fastify.delete(
    `${base}/oauth`,
    { config: { docusignScope: 'connect_org_oauth_write_api' }, schema: { params: OrgParams } },
    async (request) => {
      await connect.deleteOAuth(ctxOf(request));
      return {};
    },
  );

  // OrgConnectApi.getConnectHmacSecrets / postConnectHmacSecret / deleteConnectHmacSecret
  fastify.get(
    `${base}/secret`,
    { config: { docusignScope: 'connect_org_hmac_read_api' }, schema: { params: OrgParams } },
    async (request) => connect.secrets(ctxOf(request)),
  );
  fastify.post(
    `${base}/secret`,
    { config: { docusignScope: 'connect_org_hmac_write_api' }, schema: { params: OrgParams } },
    async (request) => connect.addSecret(ctxOf(request)),
  );
  fastify.delete(
    `${base}/secret/:keyId`,
    { config: { docusignScope: 'connect_org_hmac_write_api' }, schema: { params: KeyParams } },
    async (request) => connect.deleteSecret(ctxOf(request), request.params.keyId),
  );

  // OrgConnectApi.getOrganizationConnectConfig / updateOrganizationConnectConfig / deleteOrganizationConnectConfig
  fastify.get(
    `${base}/:connectId`,
    { config: { docusignScope: 'connect_org_config_read_api' }, schema: { params: ConnectParams } },
    async (request) => connect.get(ctxOf(request), request.params.connectId),
  );
  fastify.put(
    `${base}/:connectId`,
    {
      config: { docusignScope: 'connect_org_config_write_api' },
      schema: { params: ConnectParams, body: ConfigRequest },
    },
    async (request) => connect.update(ctxOf(request), request.params.connectId, request.body),
  );
  fastify.delete(
    `${base}/:connectId`,
    { config: { docusignScope: 'connect_org_config_write_api' }, schema: { params: ConnectParams } },
    async (request) => {
      await connect.delete(ctxOf(request), request.params.connectId);
      return {};
    },
  );
}
