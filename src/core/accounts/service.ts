import type { Db } from '../../db/connection.ts';
import type { Account } from '../../db/schema.ts';
import { type Ctx, mutate } from '../context.ts';
import { notFound } from '../errors.ts';
import { isUuid, newId } from '../ids.ts';
import { DEFAULT_LIMIT, decodeCursor, MAX_LIMIT, type Page, toPage } from '../pagination.ts';
import { requireAccountAccess } from '../principal.ts';
import { seedAccount } from './seed.ts';

export interface AccountInput {
  name: string;
  seat_limit?: number | null;
}

export class AccountsService {
  constructor(private readonly db: Db) {}

  /** Loads an account of the caller's organization; a foreign or missing id is the same 404. */
  async get(ctx: Ctx, id: string, db: Db = this.db): Promise<Account> {
    const account = await db
      .selectFrom('accounts')
      .selectAll()
      .where('id', '=', id)
      .where('organization_id', '=', ctx.principal.organizationId)
      .executeTakeFirst();
    if (!account) throw notFound('account', id);
    requireAccountAccess(ctx.principal, id);
    return account;
  }

  /**
   * An account named either by its id or by its external account number (the integer DocuSign shows as the
   * account id); anything else, or another organization's account, is the same 404 as a missing one.
   */
  async getByRef(ctx: Ctx, ref: string, db: Db = this.db): Promise<Account> {
    if (isUuid(ref)) return this.get(ctx, ref.toLowerCase(), db);
    const number = /^\d{1,15}$/.test(ref) ? Number(ref) : Number.NaN;
    const account = Number.isSafeInteger(number)
      ? await db
          .selectFrom('accounts')
          .selectAll()
          .where('external_account_id', '=', number as never)
          .where('organization_id', '=', ctx.principal.organizationId)
          .executeTakeFirst()
      : undefined;
    if (!account) throw notFound('account', ref);
    requireAccountAccess(ctx.principal, account.id);
    return account;
  }

  async list(ctx: Ctx, q: { limit?: number; cursor?: string }): Promise<Page<Account>> {
    const limit = q.limit ?? DEFAULT_LIMIT;
    const after = decodeCursor(q.cursor);
    let query = this.db
      .selectFrom('accounts')
      .selectAll()
      .where('organization_id', '=', ctx.principal.organizationId)
      .orderBy('id')
      .limit(limit + 1);
    if (after) query = query.where('id', '>', after);
    if (ctx.principal.role === 'member' && ctx.principal.accountId) {
      query = query.where('id', '=', ctx.principal.accountId);
    }
    return toPage(await query.execute(), limit, (a) => a.id);
  }

  /**
   * Every account the caller sees, in id order (the organization listings of the DocuSign faces): owners and
   * admins every account of the organization, a member only its own, exactly as list() pages them.
   */
  async visible(ctx: Ctx): Promise<Account[]> {
    const out: Account[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.list(ctx, { limit: MAX_LIMIT, cursor });
      out.push(...page.data);
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
    return out;
  }

  /** Creates an account with DocuSign's default permission profiles and built-in groups (./seed.ts). */
  async create(ctx: Ctx, input: AccountInput): Promise<Account> {
    return mutate(this.db, ctx, async (trx, audit) => {
      const account = await trx
        .insertInto('accounts')
        .values({
          id: newId(),
          organization_id: ctx.principal.organizationId,
          name: input.name,
          seat_limit: input.seat_limit ?? null,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      audit.record({
        action: 'account.created',
        targetType: 'account',
        targetId: account.id,
        accountId: account.id,
        after: account,
      });
      await seedAccount(trx, account, audit);
      return account;
    });
  }

  async update(ctx: Ctx, id: string, patch: Partial<AccountInput>): Promise<Account> {
    return mutate(this.db, ctx, async (trx, audit) => {
      const before = await this.get(ctx, id, trx);
      const after = await trx
        .updateTable('accounts')
        .set({ ...patch, updated_at: new Date() })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirstOrThrow();
      audit.record({
        action: 'account.updated',
        targetType: 'account',
        targetId: id,
        accountId: id,
        before,
        after,
      });
      return after;
    });
  }
}
