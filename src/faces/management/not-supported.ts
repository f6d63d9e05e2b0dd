// Admin API operations Signet deliberately does not implement: each answers 501
// {"error": "not_supported", "error_description": <why>} after authentication (an unauthenticated caller still
// gets 401), and declares the scope the spec gives it (docs/compatibility.md lists them).
import type { FastifyInstance, HTTPMethods } from 'fastify';
import { AppError } from '../../core/errors.ts';
import type { DocuSignScope } from '../docusign/scopes.ts';

const CONNECT =
  'Signet does not send Connect webhooks yet, so it has no organization-level Connect configurations, ' +
  'Connect OAuth settings or Connect HMAC secrets.';

/** [method, path after /management, the spec's scope, why] */
export const NOT_SUPPORTED: readonly [HTTPMethods, string, DocuSignScope, string][] = [
  ['GET', '/v2/organizations/:organizationId/connect', 'connect_org_config_read_api', CONNECT],
  ['POST', '/v2/organizations/:organizationId/connect', 'connect_org_config_write_api', CONNECT],
  ['GET', '/v2/organizations/:organizationId/connect/oauth', 'connect_org_oauth_read_api', CONNECT],
  ['POST', '/v2/organizations/:organizationId/connect/oauth', 'connect_org_oauth_write_api', CONNECT],
  ['PUT', '/v2/organizations/:organizationId/connect/oauth', 'connect_org_oauth_write_api', CONNECT],
  ['DELETE', '/v2/organizations/:organizationId/connect/oauth', 'connect_org_oauth_write_api', CONNECT],
  ['GET', '/v2/organizations/:organizationId/connect/secret', 'connect_org_hmac_read_api', CONNECT],
  ['POST', '/v2/organizations/:organizationId/connect/secret', 'connect_org_hmac_write_api', CONNECT],
  [
    'DELETE',
    '/v2/organizations/:organizationId/connect/secret/:keyId',
    'connect_org_hmac_write_api',
    CONNECT,
  ],
  ['GET', '/v2/organizations/:organizationId/connect/:connectId', 'connect_org_config_read_api', CONNECT],
  ['PUT', '/v2/organizations/:organizationId/connect/:connectId', 'connect_org_config_write_api', CONNECT],
  ['DELETE', '/v2/organizations/:organizationId/connect/:connectId', 'connect_org_config_write_api', CONNECT],
];

export async function notSupportedRoutes(fastify: FastifyInstance): Promise<void> {
  for (const [method, url, docusignScope, reason] of NOT_SUPPORTED) {
    fastify.route({
      method,
      url,
      config: { docusignScope, notSupported: reason },
      // The face's onRequest hook answers 501 before any handler; this one only guards against a bypass.
      handler: async () => {
        throw new AppError('not_supported', reason);
      },
    });
  }
}
