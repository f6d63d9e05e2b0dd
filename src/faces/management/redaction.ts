// Data deletion: AccountsApi.redactIndividualMembershipData (one account's membership) and
// OrganizationsApi.redactIndividualUserData (memberships in several accounts). Both erase the user's
// personal data through UsersService.redact, which refuses while the user has an open membership: Signet
// keeps personal data on the user, not per membership, so it can only go once every membership is closed.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Redaction } from '../../core/users/service.ts';
import { translatingCtx } from '../docusign/ctx.ts';
import { requireOwnOrganization } from '../docusign/face.ts';
import { Guid, Open, withFieldNames } from './users-mapping.ts';

/** IndividualUserDataRedactionResponse. */
function redactionResponse(r: Redaction) {
  return {
    user_id: r.user_id,
    status: r.status,
    membership_results: r.accounts.map((a) => ({ account_id: a.account_id, status: a.status })),
  };
}

export async function redactionRoutes(app: FastifyInstance): Promise<void> {
  const fastify = app.withTypeProvider<TypeBoxTypeProvider>();
  const { users, accounts } = fastify.services;

  fastify.post(
    '/v2/data_redaction/accounts/:accountId/user',
    {
      config: { docusignScope: 'user_data_redact' },
      schema: {
        params: Type.Object({ accountId: Guid }),
        body: Type.Object({ user_id: Guid }, Open),
      },
    },
    async (request) => {
      const ctx = translatingCtx(request, redactionResponse);
      await accounts.get(ctx, request.params.accountId); // another organization's account: 404
      return redactionResponse(
        await withFieldNames(users.redact(ctx, request.body.user_id, [request.params.accountId]), {
          account_id: 'accountId',
        }),
      );
    },
  );

  fastify.post(
    '/v2/data_redaction/organizations/:organizationId/user',
    {
      config: { docusignScope: 'user_data_redact' },
      schema: {
        params: Type.Object({ organizationId: Guid }),
        body: Type.Object(
          {
            user_id: Guid,
            memberships: Type.Array(Type.Object({ account_id: Guid }, Open), { minItems: 1, maxItems: 50 }),
          },
          Open,
        ),
      },
    },
    async (request) => {
      requireOwnOrganization(request, request.params.organizationId);
      const accountIds = [...new Set(request.body.memberships.map((m) => m.account_id))];
      return redactionResponse(
        await withFieldNames(
          users.redact(translatingCtx(request, redactionResponse), request.body.user_id, accountIds),
          {
            account_id: 'memberships.account_id',
          },
        ),
      );
    },
  );
}
