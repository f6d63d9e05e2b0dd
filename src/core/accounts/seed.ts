// What every new account starts with, however it is created (bootstrap and signup through
// ../organizations/create.ts, /api and /management account creation and cloning through AccountsService):
// DocuSign's default permission profiles and its built-in groups, inside the creating transaction.
import type { Db } from '../../db/connection.ts';
import type { Account, PermissionProfile } from '../../db/schema.ts';
import type { AuditBuffer } from '../audit/writer.ts';
import { createBuiltinGroups } from '../groups/builtin.ts';
import { ADMIN_PROFILE_NAME, createDefaultProfiles } from '../permission-profiles/defaults.ts';

export async function seedAccount(
  trx: Db,
  account: Account,
  audit: AuditBuffer,
): Promise<{ profiles: PermissionProfile[]; adminProfile: PermissionProfile }> {
  const profiles = await createDefaultProfiles(trx, account, audit);
  const adminProfile = profiles.find((p) => p.name === ADMIN_PROFILE_NAME)!;
  await createBuiltinGroups(trx, account, audit, adminProfile.id);
  return { profiles, adminProfile };
}
