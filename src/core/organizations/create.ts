// A new organization as both `signet bootstrap` and `POST /signup` make it: the organization, its first
// account (seeded as every account is: ../accounts/seed.ts), and its owner with an active DS Admin membership,
// all audited inside the caller's transaction.
import type { Db } from '../../db/connection.ts';
import type { Account, Organization, User } from '../../db/schema.ts';
import { seedAccount } from '../accounts/seed.ts';
import type { AuditBuffer } from '../audit/writer.ts';
import { newId } from '../ids.ts';
import { openMembership } from '../users/memberships.ts';

export interface NewOrganizationInput {
  organizationId: string;
  organizationName: string;
  accountName: string;
  owner: {
    id: string;
    email: string;
    first_name?: string;
    last_name?: string;
    password_hash: string | null;
  };
  /** The audit action for the owner's creation (`user.created`, or `signup` when a person signs up). */
  ownerAction?: string;
  ownerExtra?: Record<string, unknown>;
}

export async function createOrganizationWithOwner(
  trx: Db,
  audit: AuditBuffer,
  input: NewOrganizationInput,
): Promise<{ organization: Organization; account: Account; owner: User }> {
  const organization = await trx
    .insertInto('organizations')
    .values({ id: input.organizationId, name: input.organizationName })
    .returningAll()
    .executeTakeFirstOrThrow();
  audit.record({
    action: 'organization.created',
    targetType: 'organization',
    targetId: organization.id,
    after: organization,
  });
  const account = await trx
    .insertInto('accounts')
    .values({ id: newId(), organization_id: organization.id, name: input.accountName })
    .returningAll()
    .executeTakeFirstOrThrow();
  audit.record({
    action: 'account.created',
    targetType: 'account',
    targetId: account.id,
    accountId: account.id,
    after: account,
  });
  const { adminProfile: admin } = await seedAccount(trx, account, audit);
  const owner = await trx
    .insertInto('users')
    .values({ ...input.owner, organization_id: organization.id, role: 'owner' })
    .returningAll()
    .executeTakeFirstOrThrow();
  audit.record({
    action: input.ownerAction ?? 'user.created',
    targetType: 'user',
    targetId: owner.id,
    accountId: account.id,
    after: owner,
    ...(input.ownerExtra ? { extra: input.ownerExtra } : {}),
  });
  await openMembership(trx, audit, {
    user: owner,
    accountId: account.id,
    status: 'active',
    profileId: admin.id,
  });
  return { organization, account, owner };
}
