// Account creation as a recorded process: the Admin API's ProvisionAssetGroupApi creates "sub-accounts" through
// a job that clients then look up. Signet creates the account (with its default permission profiles) and, if
// asked, makes a person its administrator, all in one transaction; the process is recorded as completed in
// that same transaction, so a creation that fails leaves neither an account nor a record.
import { sql } from 'kysely';
import type { Db } from '../../db/connection.ts';
import type { Account, AccountCreation } from '../../db/schema.ts';
import { type Ctx, mutate } from '../context.ts';
import { invalidField, notFound } from '../errors.ts';
import { newId } from '../ids.ts';
import { requirePermission } from '../principal.ts';
import { findUserByEmail } from '../users/repository.ts';
import { UsersService } from '../users/service.ts';
import { AccountsService } from './service.ts';

/** The permission profile an account's administrator gets (one of the defaults every account starts with). */
export const ADMIN_PROFILE_NAME = 'DS Admin';

export interface AccountCreationInput {
  name: string;
  seat_limit?: number | null;
  /** A person to make the new account's administrator: an existing user (by email) or a new one. */
  admin?: { email: string; first_name?: string; last_name?: string; language?: string | null };
  /** What the client asked for, kept with the record and shown back on reads (no secrets). */
  request?: Record<string, unknown>;
}

export interface AccountCreationView extends AccountCreation {
  account_name: string;
  admin_email: string | null;
  admin_first_name: string | null;
  admin_last_name: string | null;
}

export class AccountCreationsService {
  constructor(private readonly db: Db) {}

  async create(
    ctx: Ctx,
    input: AccountCreationInput,
  ): Promise<{ creation: AccountCreationView; account: Account }> {
    const name = input.name.trim();
    if (name.length === 0) throw invalidField('name', 'must not be blank');
    // Making someone the administrator is a change to users as well as to accounts.
    if (input.admin) requirePermission(ctx.principal, 'users:write');
    return mutate(this.db, ctx, async (trx, audit) => {
      // The services run on this transaction, so their mutations join it.
      const account = await new AccountsService(trx).create(ctx, { name, seat_limit: input.seat_limit });
      let adminUserId: string | null = null;
      if (input.admin) {
        const profile = await trx
          .selectFrom('permission_profiles')
          .select('id')
          .where('account_id', '=', account.id)
          .where('name', '=', ADMIN_PROFILE_NAME)
          .executeTakeFirstOrThrow();
        const users = new UsersService(trx);
        const existing = await findUserByEmail(trx, ctx.principal.organizationId, input.admin.email);
        if (existing) {
          await users.createMembership(ctx, existing.id, {
            account_id: account.id,
            permission_profile_id: profile.id,
          });
          adminUserId = existing.id;
        } else {
          const created = await users.create(ctx, {
            email: input.admin.email,
            first_name: input.admin.first_name,
            last_name: input.admin.last_name,
            language: input.admin.language ?? null,
            account_id: account.id,
            permission_profile_id: profile.id,
          });
          adminUserId = created.id;
        }
      }
      const requestor = await requestorOf(trx, ctx);
      const row = await trx
        .insertInto('account_creations')
        .values({
          id: newId(),
          organization_id: ctx.principal.organizationId,
          account_id: account.id,
          status: 'completed',
          request: input.request ?? {},
          admin_user_id: adminUserId,
          requestor,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      audit.record({
        action: 'account.creation_completed',
        targetType: 'account',
        targetId: account.id,
        accountId: account.id,
        after: { creation_id: row.id, status: row.status, admin_user_id: adminUserId },
      });
      return { creation: await this.get(ctx, row.id, trx), account };
    });
  }

  /** The organization's recorded creations, oldest first; `since`: only those updated at or after it. */
  async list(ctx: Ctx, q: { since?: Date } = {}): Promise<AccountCreationView[]> {
    let query = this.views(this.db, ctx).orderBy('c.created_at').orderBy('c.id');
    if (q.since) query = query.where('c.updated_at', '>=', q.since);
    // A member sees only the creations of their own account.
    if (ctx.principal.role === 'member') query = query.where('c.account_id', '=', memberAccount(ctx));
    return query.execute();
  }

  async get(ctx: Ctx, id: string, db: Db = this.db): Promise<AccountCreationView> {
    let query = this.views(db, ctx).where('c.id', '=', id);
    if (ctx.principal.role === 'member') query = query.where('c.account_id', '=', memberAccount(ctx));
    const row = await query.executeTakeFirst();
    if (!row) throw notFound('account creation', id);
    return row;
  }

  private views(db: Db, ctx: Ctx) {
    return db
      .selectFrom('account_creations as c')
      .innerJoin('accounts as a', 'a.id', 'c.account_id')
      .leftJoin('users as u', 'u.id', 'c.admin_user_id')
      .selectAll('c')
      .select([
        'a.name as account_name',
        'u.email as admin_email',
        'u.first_name as admin_first_name',
        'u.last_name as admin_last_name',
      ])
      .where('c.organization_id', '=', ctx.principal.organizationId);
  }
}

/** A member's own account (members are confined to it); a member without one sees nothing. */
function memberAccount(ctx: Ctx): string {
  return ctx.principal.accountId ?? '00000000-0000-0000-0000-000000000000';
}

/** Who asked, as a record keeps it: the principal, and the email of the person behind it if there is one. */
async function requestorOf(db: Db, ctx: Ctx): Promise<Record<string, unknown>> {
  const { principal } = ctx;
  const user = principal.userId
    ? await db
        .selectFrom('users')
        .select(['email', sql<string>`trim(first_name || ' ' || last_name)`.as('name')])
        .where('id', '=', principal.userId)
        .executeTakeFirst()
    : undefined;
  return {
    type: principal.kind,
    id: principal.id,
    name: user?.name || principal.label,
    ...(user ? { email: user.email, user_id: principal.userId } : {}),
  };
}
