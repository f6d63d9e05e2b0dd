// Account creation as a recorded process: the Admin API's ProvisionAssetGroupApi creates "sub-accounts" and
// clones accounts through jobs that clients then look up. Signet creates the account (with its default
// permission profiles), for a clone copies the source account's configuration into it, and, if asked, makes a
// person its administrator, all in one transaction; the process is recorded as completed in that same
// transaction, so a creation that fails leaves neither an account nor a record.
//
// A clone copies configuration, not people: the stored account settings, the permission profiles (a default
// profile of the same name takes the source's permissions, settings and description), the account's own groups
// (names, descriptions and profiles, without members; the built-in ones it has already) and the brands with their logos. Memberships, API keys, HR mapping rules,
// imports and exports stay with the source account.

import { sql } from 'kysely';
import type { Db } from '../../db/connection.ts';
import type { Account, AccountCreation } from '../../db/schema.ts';
import type { Activation } from '../auth/activation.ts';
import { BrandsService } from '../brands/service.ts';
import { type Ctx, mutate } from '../context.ts';
import { invalidField, notFound } from '../errors.ts';
import { GroupsService } from '../groups/service.ts';
import { newId } from '../ids.ts';
import { ADMIN_PROFILE_NAME } from '../permission-profiles/defaults.ts';
import { PermissionProfilesService } from '../permission-profiles/service.ts';
import { requirePermission } from '../principal.ts';
import { SettingsService } from '../settings/service.ts';
import type { EmailChanges } from '../users/email-changes.ts';
import { findUserByEmail } from '../users/repository.ts';
import { UsersService } from '../users/service.ts';
import { AccountsService } from './service.ts';

/** The permission profile an account's administrator gets (one of the defaults every account starts with). */
export { ADMIN_PROFILE_NAME };

export interface AccountCreationInput {
  name: string;
  seat_limit?: number | null;
  /** A person to make the new account's administrator: an existing user (by email) or a new one. */
  admin?: { email: string; first_name?: string; last_name?: string; language?: string | null };
  /** What the client asked for, kept with the record and shown back on reads (no secrets). */
  request?: Record<string, unknown>;
}

/** What a clone copied from its source account. */
export interface CloneCounts {
  settings: number;
  permission_profiles: number;
  groups: number;
  brands: number;
}

export type CreationKind = 'create' | 'clone';

export interface AccountCreationView extends AccountCreation {
  account_name: string;
  source_account_name: string | null;
  source_external_account_id: number | null;
  admin_email: string | null;
  admin_first_name: string | null;
  admin_last_name: string | null;
}

export class AccountCreationsService {
  constructor(
    private readonly db: Db,
    private readonly emailChanges: EmailChanges,
    private readonly activation: Activation,
  ) {}

  async create(
    ctx: Ctx,
    input: AccountCreationInput,
  ): Promise<{ creation: AccountCreationView; account: Account }> {
    return this.make(ctx, input, null);
  }

  /** A new account with `sourceAccountId`'s configuration (see the top of this file for what is copied). */
  async clone(
    ctx: Ctx,
    sourceAccountId: string,
    input: AccountCreationInput,
  ): Promise<{ creation: AccountCreationView; account: Account; copied: CloneCounts }> {
    let copied: CloneCounts | undefined;
    const made = await this.make(ctx, input, {
      id: sourceAccountId,
      copy: async (trx, target) => {
        copied = await copyConfiguration(trx, ctx, sourceAccountId, target.id);
      },
    });
    return { ...made, copied: copied! };
  }

  private async make(
    ctx: Ctx,
    input: AccountCreationInput,
    source: { id: string; copy: (trx: Db, target: Account) => Promise<void> } | null,
  ): Promise<{ creation: AccountCreationView; account: Account }> {
    const name = input.name.trim();
    if (name.length === 0) throw invalidField('name', 'must not be blank');
    // Making someone the administrator is a change to users as well as to accounts.
    if (input.admin) requirePermission(ctx.principal, 'users:write');
    return mutate(this.db, ctx, async (trx, audit) => {
      // The services run on this transaction, so their mutations join it.
      const accounts = new AccountsService(trx);
      // The source first: one of another organization (or a member's foreign account) is a 404.
      if (source) await accounts.get(ctx, source.id);
      const account = await accounts.create(ctx, { name, seat_limit: input.seat_limit });
      if (source) await source.copy(trx, account);
      let adminUserId: string | null = null;
      if (input.admin) {
        const profile = await trx
          .selectFrom('permission_profiles')
          .select('id')
          .where('account_id', '=', account.id)
          .where('name', '=', ADMIN_PROFILE_NAME)
          .executeTakeFirstOrThrow();
        const users = new UsersService(trx, this.emailChanges, this.activation);
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
          kind: source ? 'clone' : 'create',
          source_account_id: source?.id ?? null,
          request: input.request ?? {},
          admin_user_id: adminUserId,
          requestor,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      audit.record({
        action: source ? 'account.clone_completed' : 'account.creation_completed',
        targetType: 'account',
        targetId: account.id,
        accountId: account.id,
        after: {
          creation_id: row.id,
          status: row.status,
          admin_user_id: adminUserId,
          ...(source ? { source_account_id: source.id } : {}),
        },
      });
      return { creation: await this.get(ctx, row.id, undefined, trx), account };
    });
  }

  /** The organization's recorded creations of a kind, oldest first; `since`: only those updated at or after it. */
  async list(ctx: Ctx, kind: CreationKind, q: { since?: Date } = {}): Promise<AccountCreationView[]> {
    let query = this.views(this.db, ctx).where('c.kind', '=', kind).orderBy('c.created_at').orderBy('c.id');
    if (q.since) query = query.where('c.updated_at', '>=', q.since);
    // A member sees only the creations of their own account.
    if (ctx.principal.role === 'member') query = query.where('c.account_id', '=', memberAccount(ctx));
    return query.execute();
  }

  async get(ctx: Ctx, id: string, kind?: CreationKind, db: Db = this.db): Promise<AccountCreationView> {
    let query = this.views(db, ctx).where('c.id', '=', id);
    if (kind) query = query.where('c.kind', '=', kind);
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
      .leftJoin('accounts as s', 's.id', 'c.source_account_id')
      .selectAll('c')
      .select([
        'a.name as account_name',
        's.name as source_account_name',
        's.external_account_id as source_external_account_id',
        'u.email as admin_email',
        'u.first_name as admin_first_name',
        'u.last_name as admin_last_name',
      ])
      .where('c.organization_id', '=', ctx.principal.organizationId);
  }
}

/** Copies the source account's configuration into the new (target) account through the core services. */
async function copyConfiguration(
  trx: Db,
  ctx: Ctx,
  sourceId: string,
  targetId: string,
): Promise<CloneCounts> {
  const stored = await trx
    .selectFrom('account_settings')
    .select('values')
    .where('account_id', '=', sourceId)
    .executeTakeFirst();
  const values = (stored?.values ?? {}) as Record<string, unknown>;
  if (Object.keys(values).length > 0) await new SettingsService(trx).update(ctx, targetId, values as never);

  const profiles = new PermissionProfilesService(trx);
  const sourceProfiles = await trx
    .selectFrom('permission_profiles')
    .selectAll()
    .where('account_id', '=', sourceId)
    .orderBy('id')
    .execute();
  const targetProfiles = await trx
    .selectFrom('permission_profiles')
    .select(['id', 'name'])
    .where('account_id', '=', targetId)
    .execute();
  const byName = new Map(targetProfiles.map((p) => [p.name.toLowerCase(), p.id]));
  // Source profile id → its copy's id, for the groups that name a profile.
  const copiedProfile = new Map<number, number>();
  for (const p of sourceProfiles) {
    const same = byName.get(p.name.toLowerCase());
    const fields = { description: p.description, permissions: p.permissions, role_settings: p.role_settings };
    const copy =
      same !== undefined
        ? await profiles.update(ctx, targetId, same, fields)
        : await profiles.create(ctx, targetId, { name: p.name, ...fields });
    copiedProfile.set(p.id, copy.id);
  }

  // The account's own groups; the built-in ones the new account already has.
  const groups = new GroupsService(trx);
  const sourceGroups = await trx
    .selectFrom('groups')
    .select(['name', 'description', 'permission_profile_id'])
    .where('account_id', '=', sourceId)
    .where('group_type', '=', 'custom')
    .orderBy('id')
    .execute();
  for (const g of sourceGroups) {
    await groups.create(ctx, targetId, {
      name: g.name,
      description: g.description,
      permission_profile_id:
        g.permission_profile_id === null ? null : (copiedProfile.get(g.permission_profile_id) ?? null),
    });
  }

  const brands = new BrandsService(trx);
  const sourceBrands = await trx
    .selectFrom('brands')
    .selectAll()
    .where('account_id', '=', sourceId)
    .orderBy('created_at')
    .execute();
  for (const b of sourceBrands) {
    const copy = await brands.create(ctx, targetId, {
      name: b.name,
      company: b.company,
      colors: b.colors,
      email_sender_name: b.email_sender_name,
      email_reply_to: b.email_reply_to,
      is_sending_default: b.is_sending_default,
      is_signing_default: b.is_signing_default,
    });
    const logos = await trx
      .selectFrom('brand_logos')
      .select(['kind', 'content_type', 'content'])
      .where('brand_id', '=', b.id)
      .execute();
    for (const logo of logos) {
      await brands.putLogo(ctx, targetId, copy.id, logo.kind, logo.content_type, logo.content);
    }
  }
  return {
    settings: Object.keys(values).length,
    permission_profiles: sourceProfiles.length,
    groups: sourceGroups.length,
    brands: sourceBrands.length,
  };
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
