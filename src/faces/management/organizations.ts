// Organization: GET /v2/organizations (AccountsApi.getOrganizations) → OrganizationsResponse.
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
      const principal = request.principal!;
      const db = fastify.services.db;
      const org = await db
        .selectFrom('organizations')
        .selectAll()
        .where('id', '=', principal.organizationId)
        .executeTakeFirstOrThrow();
      const accounts = await db
        .selectFrom('accounts')
        .select(['id', 'name', 'external_account_id'])
        .where('organization_id', '=', org.id)
        .orderBy('id')
        .execute();
      const domains = await fastify.services.domains.list(ctxOf(request), org.id);
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
