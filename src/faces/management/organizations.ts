// Organization: GET /v2/organizations (AccountsApi.getOrganizations) → OrganizationsResponse.
import type { FastifyInstance } from 'fastify';
import { ctxOf } from '../ctx.ts';
import { reservedDomain } from './organization-settings.ts';

export async function organizationRoutes(fastify: FastifyInstance): Promise<void> {
  fastify.get('/v2/organizations', { config: { docusignScope: 'organization_read' } }, async (request) => {
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
  });
}
