// The one rule for putting a user into an account, whoever does it: the users service (POST memberships,
// enrol, the DocuSign faces), an invite accepted, a signup that joins a claimed domain, a new organization's
// owner, and import rows. A user has at most one membership per account (unique (account_id, user_id)): an open
// one (active or pending) means the user is already a member; a closed one is reopened, not duplicated, so the
// membership keeps its id and history; a deactivated user gets none until reactivated.
//
// Import rows apply their writes set-based (src/core/imports/bulk.ts, thousands of rows per statement) and cannot
// call openMembership() per row: they decide with membershipOpening() and write the columns
// openedMembershipFields() names (bulk.ts's insertMemberships and reopenMemberships set exactly these).
import type { Db } from '../../db/connection.ts';
import type { Membership, MembershipStatus, User } from '../../db/schema.ts';
import type { AuditBuffer } from '../audit/writer.ts';
import { AppError } from '../errors.ts';
import { newId } from '../ids.ts';
import { defaultProfileId } from '../refs.ts';

export type MembershipOpening = 'create' | 'reopen' | 'already_member';

/**
 * What opening a membership does, given the user's row in that account (if any). `activatePending`: an
 * accepted invite turns a pending membership active (it is the confirmation the pending one waits for).
 */
export function membershipOpening(
  existing: { status: MembershipStatus } | undefined,
  opts: { activatePending?: boolean } = {},
): MembershipOpening {
  if (!existing) return 'create';
  if (existing.status === 'closed') return 'reopen';
  if (existing.status === 'pending' && opts.activatePending) return 'reopen';
  return 'already_member';
}

/** The columns an opened (created or reopened) membership has, besides its keys. */
export function openedMembershipFields(status: MembershipStatus, profileId: number | null, now: Date) {
  return {
    status,
    permission_profile_id: profileId,
    updated_at: now,
    closed_at: null,
    closed_by_deactivation: false,
  } as const;
}

export interface OpenMembership {
  user: Pick<User, 'id' | 'organization_id' | 'status'>;
  accountId: string;
  /** `active` unless given. */
  status?: MembershipStatus;
  /** A profile already checked to be the account's, null for none; undefined: the account's default. */
  profileId?: number | null;
  activatePending?: boolean;
  /** What an already open membership is called in the error (the caller's words); a default otherwise. */
  alreadyMember?: string;
  /** The `_meta` of the audit event. */
  extra?: Record<string, unknown>;
}

/**
 * Creates the user's membership in the account, or reopens their closed one, in the caller's transaction,
 * with its audit event (membership.created or membership.reopened). Refuses (409) an open one and a
 * deactivated user.
 */
export async function openMembership(
  trx: Db,
  audit: AuditBuffer,
  input: OpenMembership,
): Promise<Membership> {
  const { user, accountId } = input;
  const existing = await trx
    .selectFrom('memberships')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('user_id', '=', user.id)
    .forUpdate()
    .executeTakeFirst();
  const opening = membershipOpening(existing, input);
  if (opening === 'already_member') {
    throw new AppError(
      'already_member',
      input.alreadyMember ?? `user ${user.id} already has a membership in account ${accountId}`,
      [{ field: 'account_id', message: 'already a member', membership_id: existing!.id }],
    );
  }
  if (user.status === 'deactivated') {
    throw new AppError('conflict', `user ${user.id} is deactivated; reactivate the user first`);
  }
  const profileId = input.profileId === undefined ? await defaultProfileId(trx, accountId) : input.profileId;
  const values = openedMembershipFields(input.status ?? 'active', profileId, new Date());
  const row =
    opening === 'reopen'
      ? await trx
          .updateTable('memberships')
          .set(values)
          .where('id', '=', existing!.id)
          .returningAll()
          .executeTakeFirstOrThrow()
      : await trx
          .insertInto('memberships')
          .values({
            ...values,
            id: newId(),
            organization_id: user.organization_id,
            account_id: accountId,
            user_id: user.id,
          })
          .returningAll()
          .executeTakeFirstOrThrow();
  audit.record({
    action: opening === 'reopen' ? 'membership.reopened' : 'membership.created',
    targetType: 'membership',
    targetId: row.id,
    accountId,
    before: existing ?? null,
    after: row,
    ...(input.extra ? { extra: input.extra } : {}),
  });
  return row;
}
