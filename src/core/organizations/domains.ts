// Email domains an organization claims. With auto_join on, POST /signup with an address at the domain joins
// the organization as a member of the domain's account (pending until the address is verified) instead of
// creating a new organization. A domain has one claimant across the server.
import type { Db } from '../../db/connection.ts';
import type { OrganizationDomain } from '../../db/schema.ts';
import { type Ctx, mutate } from '../context.ts';
import { AppError, invalidField, notFound } from '../errors.ts';
import { newId } from '../ids.ts';
import { requireAccountAccess } from '../principal.ts';
import { profileInAccount } from '../refs.ts';

const DOMAIN = /^(?=.{3,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
/** Mailbox providers nobody may claim: their users are not one organization's people. */
const PUBLIC_PROVIDERS = new Set([
  'gmail.com',
  'googlemail.com',
  'outlook.com',
  'hotmail.com',
  'live.com',
  'msn.com',
  'yahoo.com',
  'icloud.com',
  'me.com',
  'aol.com',
  'proton.me',
  'protonmail.com',
  'gmx.com',
  'gmx.de',
  'web.de',
  'yandex.ru',
  'mail.ru',
  'qq.com',
  '163.com',
]);

export interface DomainInput {
  domain: string;
  auto_join: boolean;
  account_id: string;
  permission_profile_id?: number | null;
}

export class DomainsService {
  constructor(private readonly db: Db) {}

  async list(ctx: Ctx, orgId: string): Promise<OrganizationDomain[]> {
    this.assertOrg(ctx, orgId);
    return this.db
      .selectFrom('organization_domains')
      .selectAll()
      .where('organization_id', '=', orgId)
      .orderBy('id')
      .execute();
  }

  async create(ctx: Ctx, orgId: string, input: DomainInput): Promise<OrganizationDomain> {
    this.assertOrg(ctx, orgId);
    const domain = input.domain.trim().toLowerCase().replace(/\.$/, '');
    if (!DOMAIN.test(domain)) throw invalidField('domain', 'not a domain name such as example.com');
    if (PUBLIC_PROVIDERS.has(domain))
      throw invalidField('domain', `${domain} is a public mailbox provider and cannot be claimed`);
    return mutate(
      this.db,
      ctx,
      async (trx, audit) => {
        const account = await trx
          .selectFrom('accounts')
          .select('id')
          .where('id', '=', input.account_id)
          .where('organization_id', '=', orgId)
          .executeTakeFirst();
        if (!account)
          throw invalidField(
            'account_id',
            `no account ${input.account_id} in this organization`,
            'invalid_reference',
          );
        requireAccountAccess(ctx.principal, account.id);
        const profileId =
          input.permission_profile_id == null
            ? null
            : (await profileInAccount(trx, account.id, input.permission_profile_id)).id;
        const row = await trx
          .insertInto('organization_domains')
          .values({
            id: newId(),
            organization_id: orgId,
            domain,
            auto_join: input.auto_join,
            account_id: account.id,
            permission_profile_id: profileId,
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        audit.record({
          action: 'domain.created',
          targetType: 'organization_domain',
          targetId: row.id,
          accountId: account.id,
          after: row,
        });
        return row;
      },
      {
        organization_domains_domain_key: new AppError(
          'domain_taken',
          `the domain ${domain} is already claimed`,
          [{ field: 'domain', message: 'already claimed' }],
        ),
      },
    );
  }

  async remove(ctx: Ctx, orgId: string, id: string): Promise<OrganizationDomain> {
    this.assertOrg(ctx, orgId);
    return mutate(this.db, ctx, async (trx, audit) => {
      const row = await trx
        .deleteFrom('organization_domains')
        .where('id', '=', id)
        .where('organization_id', '=', orgId)
        .returningAll()
        .executeTakeFirst();
      if (!row) throw notFound('domain', id);
      audit.record({
        action: 'domain.deleted',
        targetType: 'organization_domain',
        targetId: row.id,
        accountId: row.account_id,
        before: row,
      });
      return row;
    });
  }

  /** Another organization's id answers exactly as a missing one. */
  private assertOrg(ctx: Ctx, orgId: string): void {
    if (orgId !== ctx.principal.organizationId) throw notFound('organization', orgId);
  }
}
