// Email domains an organization claims. A claim counts only once proven: it carries a token, and POST
// …/domains/{id}/verify looks up the TXT records of `_signet-challenge.<domain>` and marks the claim verified
// when one reads `signet-domain-verification=<token>`. A dedicated name rather than the apex: the apex's TXT
// records carry SPF and other providers' proofs (and a TXT record there cannot be delegated), while a
// `_signet-challenge` name can be added, or CNAME'd to wherever the token is managed, without touching them.
//
// An unproven claim blocks nobody (several organizations may hold unproven claims of one domain; a verified
// claim is unique across the server) and does nothing: only a verified claim with auto_join on makes
// POST /signup with an address at the domain join the organization (pending until the address is verified).
import { randomBytes } from 'node:crypto';
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

export const CHALLENGE_LABEL = '_signet-challenge';
export const TXT_PREFIX = 'signet-domain-verification=';

/** Looks up the TXT records of a name (each record as its character-strings); Node's Resolver.resolveTxt. */
export type TxtLookup = (name: string) => Promise<string[][]>;

/** A claim as the API shows it: the row, plus the DNS record that proves it. */
export interface DomainView extends OrganizationDomain {
  verification: { type: 'TXT'; name: string; value: string };
}

export function domainView(row: OrganizationDomain): DomainView {
  return {
    ...row,
    verification: {
      type: 'TXT',
      name: `${CHALLENGE_LABEL}.${row.domain}`,
      value: `${TXT_PREFIX}${row.verification_token}`,
    },
  };
}

// DNS answers that mean "there is no such record" rather than "the lookup failed".
const NO_RECORD = new Set(['ENOTFOUND', 'ENODATA', 'ENONAME', 'NXDOMAIN']);

const DOMAIN_TAKEN = (domain: string) =>
  new AppError('domain_taken', `another organization has proven that it owns ${domain}`, [
    { field: 'domain', message: 'verified by another organization' },
  ]);

export interface DomainInput {
  domain: string;
  auto_join: boolean;
  account_id: string;
  permission_profile_id?: number | null;
}

export class DomainsService {
  constructor(
    private readonly db: Db,
    private readonly lookupTxt: TxtLookup,
  ) {}

  async list(ctx: Ctx, orgId: string): Promise<DomainView[]> {
    this.assertOrg(ctx, orgId);
    // Reads are scoped like writes: a claim names the account its domain's people join, so an
    // account-scoped principal sees the claims of its own account only (every face lists through here).
    const { principal } = ctx;
    if (principal.role === 'member' && !principal.accountId) return [];
    const rows = await this.db
      .selectFrom('organization_domains')
      .selectAll()
      .where('organization_id', '=', orgId)
      .$if(principal.role === 'member', (q) => q.where('account_id', '=', principal.accountId!))
      .orderBy('id')
      .execute();
    return rows.map(domainView);
  }

  async create(ctx: Ctx, orgId: string, input: DomainInput): Promise<DomainView> {
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
        // Another organization's verified claim is final until released; unproven claims do not count.
        const verified = await trx
          .selectFrom('organization_domains')
          .select('id')
          .where('domain', '=', domain)
          .where('verified_at', 'is not', null)
          .where('organization_id', '<>', orgId)
          .executeTakeFirst();
        if (verified) throw DOMAIN_TAKEN(domain);
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
            verification_token: randomBytes(16).toString('hex'),
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
        return domainView(row);
      },
      {
        organization_domains_org_domain_key: new AppError(
          'domain_taken',
          `this organization claims ${domain} already`,
          [{ field: 'domain', message: 'already claimed by this organization' }],
        ),
      },
    );
  }

  /**
   * Looks up `_signet-challenge.<domain>` now and marks the claim verified if one of its TXT records is
   * `signet-domain-verification=<token>`. 422 domain_not_verified (naming the record to publish) when it is
   * not there; 502 dns_lookup_failed when the DNS servers fail; 409 domain_taken when another organization
   * proved the domain first. Verifying a verified claim again checks again and keeps it.
   */
  async verify(ctx: Ctx, orgId: string, id: string): Promise<DomainView> {
    this.assertOrg(ctx, orgId);
    const row = await this.db
      .selectFrom('organization_domains')
      .selectAll()
      .where('id', '=', id)
      .where('organization_id', '=', orgId)
      .executeTakeFirst();
    if (!row) throw notFound('domain', id);
    requireAccountAccess(ctx.principal, row.account_id);
    const view = domainView(row);
    const { name, value } = view.verification;
    let records: string[][];
    try {
      records = await this.lookupTxt(name);
    } catch (err) {
      const code = (err as { code?: string }).code ?? '';
      if (!NO_RECORD.has(code)) {
        throw new AppError(
          'dns_lookup_failed',
          `looking up the TXT records of ${name} failed (${code || 'error'}); try again later`,
          [{ field: 'domain', message: 'DNS lookup failed', dns_error: code || null }],
        );
      }
      records = [];
    }
    // A TXT record longer than 255 bytes arrives as several character-strings: they are one value.
    if (!records.some((chunks) => chunks.join('') === value)) {
      throw new AppError(
        'domain_not_verified',
        `no TXT record "${value}" at ${name}; publish it (it may take a while to propagate) and verify again`,
        [{ field: 'domain', message: 'TXT record not found', record_name: name, record_value: value }],
      );
    }
    if (row.verified_at) return view;
    return mutate(
      this.db,
      ctx,
      async (trx, audit) => {
        const after = await trx
          .updateTable('organization_domains')
          .set({ verified_at: new Date(), updated_at: new Date() })
          .where('id', '=', id)
          .where('verified_at', 'is', null)
          .returningAll()
          .executeTakeFirst();
        if (!after) return domainView(await this.reread(trx, id));
        audit.record({
          action: 'domain.verified',
          targetType: 'organization_domain',
          targetId: after.id,
          accountId: after.account_id,
          before: { verified_at: null },
          after: { verified_at: after.verified_at },
          extra: { record_name: name },
        });
        return domainView(after);
      },
      { organization_domains_verified_domain_key: DOMAIN_TAKEN(row.domain) },
    );
  }

  async remove(ctx: Ctx, orgId: string, id: string): Promise<DomainView> {
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
      return domainView(row);
    });
  }

  private async reread(db: Db, id: string): Promise<OrganizationDomain> {
    const row = await db
      .selectFrom('organization_domains')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row) throw notFound('domain', id);
    return row;
  }

  /** Another organization's id answers exactly as a missing one. */
  private assertOrg(ctx: Ctx, orgId: string): void {
    if (orgId !== ctx.principal.organizationId) throw notFound('organization', orgId);
  }
}
