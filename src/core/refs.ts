// Checks that ids named in a request body belong to the right account: a reference to another tenant's
// object, or to no object, is a 422 naming the field (never a silent cross-tenant link).
import type { Db } from '../db/connection.ts';
import type { PermissionProfile } from '../db/schema.ts';
import type { Ctx } from './context.ts';
import { invalidField, notFound } from './errors.ts';
import { requireAccountAccess } from './principal.ts';

async function findAccount(ctx: Ctx, db: Db, accountId: string, lock: boolean): Promise<boolean> {
  let query = db
    .selectFrom('accounts')
    .select('id')
    .where('id', '=', accountId)
    .where('organization_id', '=', ctx.principal.organizationId);
  // FOR NO KEY UPDATE serialises writers that must not interleave (e.g. moving a default flag) without
  // blocking inserts that merely reference the account.
  if (lock) query = query.forNoKeyUpdate();
  return (await query.executeTakeFirst()) !== undefined;
}

/**
 * The account named in a path: one of another organization answers the same 404 as a missing one, and a
 * member acts only in their own account.
 */
export async function accountInPath(
  ctx: Ctx,
  db: Db,
  accountId: string,
  opts: { lock?: boolean } = {},
): Promise<void> {
  if (!(await findAccount(ctx, db, accountId, opts.lock ?? false))) throw notFound('account', accountId);
  requireAccountAccess(ctx.principal, accountId);
}

/** The account named in a body: one of another organization is refused like a missing one, naming the field. */
export async function accountInBody(
  ctx: Ctx,
  db: Db,
  accountId: string,
  field = 'account_id',
): Promise<void> {
  if (!(await findAccount(ctx, db, accountId, false))) {
    throw invalidField(field, `no account ${accountId} in this organization`, 'invalid_reference');
  }
  requireAccountAccess(ctx.principal, accountId);
}

export async function profileInAccount(
  db: Db,
  accountId: string,
  profileId: string | number,
  field = 'permission_profile_id',
): Promise<PermissionProfile> {
  const profile = await db
    .selectFrom('permission_profiles')
    .selectAll()
    .where('id', '=', Number(profileId))
    .where('account_id', '=', accountId)
    .executeTakeFirst();
  if (!profile)
    throw invalidField(
      field,
      `no permission profile ${profileId} in account ${accountId}`,
      'invalid_reference',
    );
  return profile;
}

export async function groupsInAccount(
  db: Db,
  accountId: string,
  groupIds: readonly (string | number)[],
  field = 'group_ids',
): Promise<number[]> {
  const wanted = [...new Set(groupIds.map(Number))];
  if (wanted.length === 0) return [];
  const found = await db
    .selectFrom('groups')
    .select('id')
    .where('account_id', '=', accountId)
    .where('id', 'in', wanted)
    .execute();
  const have = new Set(found.map((g) => g.id));
  const missing = wanted.filter((id) => !have.has(id));
  if (missing.length > 0) {
    throw invalidField(field, `no group ${missing.join(', ')} in account ${accountId}`, 'invalid_reference');
  }
  return wanted;
}

/** The profile a new member gets when the request names none: the account's "DS Sender", if it has one. */
export async function defaultProfileId(db: Db, accountId: string): Promise<number | null> {
  const row = await db
    .selectFrom('permission_profiles')
    .select('id')
    .where('account_id', '=', accountId)
    .where('name', '=', 'DS Sender')
    .executeTakeFirst();
  return row?.id ?? null;
}
