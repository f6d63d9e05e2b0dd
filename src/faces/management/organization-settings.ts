// An organization's sign-in configuration: IdentityProvidersApi.getIdentityProviders and
// ReservedDomainsApi.getReservedDomains. Reserved domains are the email domains the organization has claimed
// in Signet (src/core/organizations/domains.ts); Signet has no single sign-on configuration yet, so the
// identity provider list is empty (an empty list, not an error).
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import type { OrganizationDomain } from '../../core/types.ts';
import { ctxOf } from '../ctx.ts';
import { requireOwnOrganization } from '../docusign/face.ts';
import { OrgParams } from './users-mapping.ts';

/**
 * DomainResponse for a claimed domain: `pending` with its txt_token until the DNS TXT record proves it
 * (POST /api/organizations/{id}/domains/{id}/verify), then `active`. With auto_join on, sign-ups at a
 * verified domain join the organization (a DocuSign setting-like fact, shown as a setting).
 */
export function reservedDomain(d: OrganizationDomain) {
  return {
    id: d.id,
    status: d.verified_at ? 'active' : 'pending',
    host_name: d.domain,
    txt_token: d.verification_token,
    settings: [{ key: 'auto_join', value: String(d.auto_join), type: 'boolean' }],
    links: [],
  };
}

export async function organizationSettingRoutes(app: FastifyInstance): Promise<void> {
  const fastify = app.withTypeProvider<TypeBoxTypeProvider>();
  fastify.addHook('preHandler', async (request) => {
    requireOwnOrganization(request, (request.params as { organizationId: string }).organizationId);
  });

  // IdentityProvidersApi.getIdentityProviders
  fastify.get(
    '/v2/organizations/:organizationId/identity_providers',
    { config: { docusignScope: 'identity_provider_read' }, schema: { params: OrgParams } },
    async () => ({ identity_providers: [] }),
  );

  // ReservedDomainsApi.getReservedDomains
  fastify.get(
    '/v2/organizations/:organizationId/reserved_domains',
    { config: { docusignScope: 'domain_read' }, schema: { params: OrgParams } },
    async (request) => {
      const domains = await fastify.services.domains.list(ctxOf(request), request.params.organizationId);
      return { reserved_domains: domains.map(reservedDomain) };
    },
  );
}
