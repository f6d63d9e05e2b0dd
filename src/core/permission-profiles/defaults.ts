import type { Db } from '../../db/connection.ts';
import type { Account, PermissionProfile } from '../../db/schema.ts';
import type { AuditBuffer } from '../audit/writer.ts';
import { PROFILE_PERMISSIONS, type ProfilePermission } from '../principal.ts';

/** The profile an account's administrator gets (the first owner, an account creation's admin). */
export const ADMIN_PROFILE_NAME = 'DS Admin';

/** The profiles every new account starts with, named as DocuSign estates name them. */
export const DEFAULT_PROFILES: {
  name: string;
  description: string;
  permissions: readonly ProfilePermission[];
}[] = [
  {
    name: 'DS Admin',
    description: 'Administers the account: users, groups, settings, brands, keys.',
    permissions: PROFILE_PERMISSIONS,
  },
  { name: 'DS Sender', description: 'Sends envelopes.', permissions: ['send_envelopes'] },
  { name: 'DS Viewer', description: 'Views envelopes sent to them; no administration.', permissions: [] },
];

export async function createDefaultProfiles(
  trx: Db,
  account: Account,
  audit: AuditBuffer,
): Promise<PermissionProfile[]> {
  const rows = await trx
    .insertInto('permission_profiles')
    .values(
      DEFAULT_PROFILES.map((p) => ({
        organization_id: account.organization_id,
        account_id: account.id,
        name: p.name,
        description: p.description,
        permissions: [...p.permissions],
      })),
    )
    .returningAll()
    .execute();
  for (const row of rows) {
    audit.record({
      action: 'permission_profile.created',
      targetType: 'permission_profile',
      targetId: String(row.id),
      accountId: account.id,
      after: row,
    });
  }
  return rows;
}
