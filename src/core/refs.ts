// Checks that ids named in a request body belong to the right account: a reference to another tenant's
// object, or to no object, is a 422 naming the field (never a silent cross-tenant link).
import type { Db } from '../db/connection.ts';
import type { PermissionProfile } from '../db/schema.ts';
import { invalidField } from './errors.ts';

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
