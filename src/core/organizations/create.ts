// A new organization as both `signet bootstrap` and `POST /signup` make it: the organization, its first
// account (seeded as every account is: ../accounts/seed.ts), and its owner with an active DS Admin membership,
// all audited inside the caller's transaction. A platform's connected account (../platform/service.ts) is
// made the same way without an owner: nobody signs in to it until the platform invites someone.
import type { Db } from '../../db/connection.ts';
import type { Account, Organization, PermissionProfile, User } from '../../db/schema.ts';
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

/**
 * What follows a new organization's row (inserted by the caller: a connected account's insert is its
 * idempotency check): its audit event and its first account, seeded.
 */
export async function seedOrganization(
  trx: Db,
  audit: AuditBuffer,
  organization: Organization,
  accountName: string,
): Promise<{ account: Account; adminProfile: PermissionProfile }> {
  audit.record({
    action: 'organization.created',
    targetType: 'organization',
    targetId: organization.id,
    after: organization,
  });
  const account = await trx
    .insertInto('accounts')
    .values({ id: newId(), organization_id: organization.id, name: accountName })
    .returningAll()
    .executeTakeFirstOrThrow();
  audit.record({
    action: 'account.created',
    targetType: 'account',
    targetId: account.id,
    accountId: account.id,
    after: account,
  });
  const { adminProfile } = await seedAccount(trx, account, audit);
  return { account, adminProfile };
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
  const { account, adminProfile: admin } = await seedOrganization(
    trx,
    audit,
    organization,
    input.accountName,
  );
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
