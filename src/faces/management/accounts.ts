// eSignature user management of an account, read side: AccountsApi.getPermissions (the account's permission
// profiles) and AccountsApi.getGroups (its groups, paged by start/take/end). Ids are the integers Signet
// stores, as the SDK expects.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { MAX_LIMIT } from '../../core/pagination.ts';
import { ctxOf } from '../ctx.ts';
import { requireOwnOrganization } from '../docusign/face.ts';
import { adminGroupType, Guid, Open, PagingQuery, paging, window } from './users-mapping.ts';

const AccountParams = Type.Object({ organizationId: Guid, accountId: Guid });

export async function accountRoutes(app: FastifyInstance): Promise<void> {
  const fastify = app.withTypeProvider<TypeBoxTypeProvider>();
  const { permissionProfiles, groups } = fastify.services;
  fastify.addHook('preHandler', async (request) => {
    requireOwnOrganization(request, (request.params as { organizationId: string }).organizationId);
  });

  // AccountsApi.getPermissions: every permission profile of the account.
  fastify.get(
    '/v2/organizations/:organizationId/accounts/:accountId/permissions',
    { config: { docusignScope: 'permission_read' }, schema: { params: AccountParams } },
    async (request) => {
      const ctx = ctxOf(request);
      const permissions: { id: number; name: string }[] = [];
      let cursor: string | undefined;
      do {
        const page = await permissionProfiles.list(ctx, request.params.accountId, {
          limit: MAX_LIMIT,
          cursor,
        });
        permissions.push(...page.data.map((p) => ({ id: Number(p.id), name: p.name })));
        cursor = page.next_cursor ?? undefined;
      } while (cursor);
      return { permissions };
    },
  );

  // AccountsApi.getGroups
  fastify.get(
    '/v2/organizations/:organizationId/accounts/:accountId/groups',
    {
      config: { docusignScope: 'group_read' },
      schema: { params: AccountParams, querystring: Type.Object(PagingQuery, Open) },
    },
    async (request) => {
      const { start, take } = window(request.query);
      const page = await groups.listAt(ctxOf(request), request.params.accountId, {
        offset: start,
        limit: take,
      });
      return {
        groups: page.data.map((g) => ({
          id: Number(g.id),
          name: g.name,
          type: adminGroupType(g.group_type),
        })),
        paging: paging(request, start, take, page.data.length, page.total),
      };
    },
  );
}
