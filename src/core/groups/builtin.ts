import type { Db } from '../../db/connection.ts';
import type { Account, Group } from '../../db/schema.ts';
import type { AuditBuffer } from '../audit/writer.ts';

/** DocuSign's built-in groups, which every account has (the rules they follow: ./service.ts). */
export const BUILTIN_GROUPS = [
  { group_type: 'admin', name: 'Administrators', description: "The account's administrators." },
  { group_type: 'everyone', name: 'Everyone', description: 'Every user of the account.' },
] as const;

/**
 * Creates an account's built-in groups, inside the transaction that creates the account (before any
 * membership: Everyone fills itself as memberships are created). Administrators carries `adminProfileId`.
 */
export async function createBuiltinGroups(
  trx: Db,
  account: Account,
  audit: AuditBuffer,
  adminProfileId: number | null,
): Promise<Group[]> {
  const rows = await trx
    .insertInto('groups')
    .values(
      BUILTIN_GROUPS.map((g) => ({
        organization_id: account.organization_id,
        account_id: account.id,
        name: g.name,
        description: g.description,
        group_type: g.group_type,
        permission_profile_id: g.group_type === 'admin' ? adminProfileId : null,
      })),
    )
    .returningAll()
    .execute();
  for (const row of rows) {
    audit.record({
      action: 'group.created',
      targetType: 'group',
      targetId: String(row.id),
      accountId: account.id,
      after: row,
    });
  }
  return rows;
}
