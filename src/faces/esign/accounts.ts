// eSignature account information: AccountsApi.getAccountInformation (GET /v2.1/accounts/{accountId}).
import type { FastifyInstance } from 'fastify';
import { accountOf, compact, iso } from './shared.ts';

export async function accountRoutes(fastify: FastifyInstance): Promise<void> {
  fastify.get(
    '/v2.1/accounts/:accountId',
    { config: { docusignScope: 'signature', permission: 'accounts:read' } },
    async (request) => {
      const { ctx, accountId } = await accountOf(request);
      const account = await fastify.services.accounts.get(ctx, accountId);
      return compact({
        accountIdGuid: account.id,
        accountName: account.name,
        externalAccountId: String(account.external_account_id),
        createdDate: iso(account.created_at),
        seatsAllowed: account.seat_limit === null ? 'unlimited' : String(account.seat_limit),
        seatsInUse: String(account.seats_used),
      });
    },
  );
}
