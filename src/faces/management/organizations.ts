// Organization: GET /v2/organizations (AccountsApi.getOrganizations) → OrganizationsResponse. The accounts
// listed are those the caller sees (AccountsService.visible: a member, its own only); the face reads no table.
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ctxOf } from '../ctx.ts';
import { reservedDomain } from './organization-settings.ts';

export async function organizationRoutes(fastify: FastifyInstance): Promise<void> {
  // mode (org_admin, the default, or account_membership) selects the organizations of a DocuSign user that
  // administers some and belongs to others; a Signet principal belongs to one, which both modes list.
  const schema = {
    querystring: Type.Object(
      { mode: Type.Optional(Type.Union([Type.Literal('org_admin'), Type.Literal('account_membership')])) },
      { additionalProperties: true },
    ),
  };
  fastify.get(
    '/v2/organizations',
    { schema, config: { docusignScope: 'organization_read' } },
    async (request) => {
      // Through the core services, like every listing: a member sees its own account only (finding 7).
      const ctx = ctxOf(request);
      const org = await fastify.services.organizations.get(ctx, ctx.principal.organizationId);
      const accounts = await fastify.services.accounts.visible(ctx);
      const domains = await fastify.services.domains.list(ctx, org.id);
      return {
        organizations: [
          {
            id: org.id,
            name: org.name,
            default_account_id: accounts[0]?.id,
            created_on: org.created_at.toISOString(),
            last_modified_on: org.updated_at.toISOString(),
            accounts: accounts.map((a) => ({
              id: a.id,
              name: a.name,
              external_account_id: a.external_account_id,
            })),
            reserved_domains: domains.map(reservedDomain),
            identity_providers: [],
            links: [],
          },
        ],
      };
    },
  );
}
