// The multi-step user changes of the DocuSign Admin API (/management): add or update a user in an account,
// give or take away an account's access with a permission profile, close several memberships, update a batch
// of users. Each is ONE transaction composed of the UsersService and GroupsService operations /api uses
// (mutate() joins the outer transaction), so a step that fails undoes the steps before it, and the response
// the idempotency layer stores with the effect (Ctx.beforeCommit) is the complete result of the request
// (docs/security.md, "One home for every rule").
//
// What each operation returns is read inside its transaction, after the change: a face renders it without
// reading again.
import type { Db } from '../../db/connection.ts';
import type { Account } from '../../db/schema.ts';
import { AccountsService } from '../accounts/service.ts';
import type { Activation } from '../auth/activation.ts';
import { eachItem } from '../batch.ts';
import { type Ctx, mutate } from '../context.ts';
import { type AppError, invalidField, notFound } from '../errors.ts';
import { GroupsService, type GroupView } from '../groups/service.ts';
import { PermissionProfilesService } from '../permission-profiles/service.ts';
import type { EmailChanges } from './email-changes.ts';
import type { MembershipLabels, MembershipView } from './repository.ts';
import { type UpdateUserInput, UsersService, type UserView } from './service.ts';

/** A user named by id or by email address (case-insensitively). */
export type UserRef = { id: string } | { email: string };

/** A user's standing in one account, as read at the end of the operation that changed it. */
export interface AccountAccess {
  user: UserView;
  account: Account;
  /** The user's open (not closed) membership in the account, if any. */
  membership: MembershipView | null;
  /** The open membership's permission profile (null: none, or no open membership). */
  profile: { id: number; name: string } | null;
  /** The open membership's groups, in the membership's order (Everyone first). */
  groups: GroupView[];
}

export interface AddOrUpdateInput {
  account_id: string;
  email: string;
  first_name?: string;
  last_name?: string;
  language?: string | null;
  /** The membership's profile; undefined: the account's default for a new membership, unchanged otherwise. */
  permission_profile_id?: number;
  /** Groups of the account by GUID (groups.ds_group_id), added to those the membership has. */
  ds_group_ids?: string[];
  /** For a new or reopened membership; undefined: the core's default. */
  membership_status?: 'active' | 'pending';
  /** Mail a user this creates an activation link (a user who exists already is not mailed). */
  send_activation?: boolean;
}

/** A user with the names of the accounts, profiles and groups their memberships point at. */
export interface LabelledUser {
  user: UserView;
  labels: MembershipLabels;
}

/**
 * The user as a user of the account: one with a membership there, of any status (eSignature's "user of an
 * account"). Anyone else is not found, as a missing user is.
 */
export async function userOfAccount(
  ctx: Ctx,
  users: UsersService,
  accountId: string,
  id: string,
): Promise<UserView> {
  const user = await users.get(ctx, id);
  if (!user.memberships.some((m) => m.account_id === accountId)) throw notFound('user', id);
  return user;
}

/** One user's change in a batch: it was made, or refused with an error and undone (nothing of it kept). */
export type ItemOutcome = { ok: true; user: UserView } | { ok: false; error: AppError };

const openIn = (memberships: readonly MembershipView[], accountId: string) =>
  memberships.find((m) => m.account_id === accountId && m.status !== 'closed') ?? null;

/** Every service of one transaction: their mutations join it. */
function servicesOf(trx: Db, emailChanges: EmailChanges, activation: Activation) {
  return {
    accounts: new AccountsService(trx),
    users: new UsersService(trx, emailChanges, activation),
    groups: new GroupsService(trx),
    profiles: new PermissionProfilesService(trx),
  };
}

export class ProvisioningService {
  constructor(
    private readonly db: Db,
    private readonly emailChanges: EmailChanges,
    private readonly activation: Activation,
  ) {}

  /** The user's access to the account as it is (a read: DocuSign's product permission profile lookups). */
  async access(ctx: Ctx, accountId: string, ref: UserRef): Promise<AccountAccess> {
    // The account first: one the caller may not act in is refused before its people are looked at.
    const s = servicesOf(this.db, this.emailChanges, this.activation);
    await s.accounts.get(ctx, accountId);
    const user = await this.userOf(ctx, s.users, ref);
    return this.accessIn(ctx, this.db, accountId, { id: user.id });
  }

  /**
   * Puts the person with `input.email` into the account: a user with an open membership there has their names,
   * the membership's profile and groups updated; anyone else is enrolled (a new user, a new membership, or a
   * closed membership reopened) and, if they existed, gets the names given. All of it or none of it.
   */
  async addOrUpdate(ctx: Ctx, input: AddOrUpdateInput): Promise<AccountAccess> {
    return mutate(this.db, ctx, async (trx) => {
      const s = servicesOf(trx, this.emailChanges, this.activation);
      const accountId = input.account_id;
      await s.accounts.get(ctx, accountId);
      const groupIds = await s.groups.idsOfDsGroups(ctx, accountId, input.ds_group_ids ?? []);
      const names: UpdateUserInput = {
        ...(input.first_name !== undefined ? { first_name: input.first_name } : {}),
        ...(input.last_name !== undefined ? { last_name: input.last_name } : {}),
        ...(input.language !== undefined ? { language: input.language } : {}),
      };
      const existing = await s.users.getByEmail(ctx, input.email);
      const open = existing && openIn(existing.memberships, accountId);
      let userId: string;
      if (existing && open) {
        const added = groupIds.filter((g) => !open.group_ids.includes(g));
        const profileChanged =
          input.permission_profile_id !== undefined &&
          input.permission_profile_id !== open.permission_profile_id;
        const membership = {
          account_id: accountId,
          ...(profileChanged ? { permission_profile_id: input.permission_profile_id } : {}),
          // The membership's groups are replaced by this list: those it has and the new ones.
          ...(added.length > 0 ? { group_ids: [...open.group_ids, ...added] } : {}),
        };
        const changesMembership = profileChanged || added.length > 0;
        if (Object.keys(names).length > 0 || changesMembership) {
          await s.users.update(ctx, existing.id, {
            ...names,
            memberships: changesMembership ? [membership] : [],
          });
        }
        userId = existing.id;
      } else {
        const enrolled = await s.users.enrol(ctx, {
          email: input.email,
          ...names,
          account_id: accountId,
          ...(input.permission_profile_id !== undefined
            ? { permission_profile_id: input.permission_profile_id }
            : {}),
          group_ids: groupIds,
          ...(input.membership_status ? { membership_status: input.membership_status } : {}),
          ...(input.send_activation ? { send_activation: true } : {}),
        });
        userId = enrolled.user.id;
        // enrol() makes a new user with the names; an existing one keeps theirs unless the request names them.
        if (!enrolled.created && Object.keys(names).length > 0) await s.users.update(ctx, userId, names);
      }
      return this.accessIn(ctx, trx, accountId, { id: userId });
    });
  }

  /**
   * Gives the user access to the account with this permission profile: an open membership gets the profile, a
   * closed one is reopened with it, a user without one gets a new membership. `profileId` undefined changes
   * nothing (the access as it is). The user must be one the caller sees, the account one of the organization.
   */
  async grantAccess(
    ctx: Ctx,
    accountId: string,
    ref: UserRef,
    profileId: number | undefined,
  ): Promise<AccountAccess> {
    return mutate(this.db, ctx, async (trx) => {
      const s = servicesOf(trx, this.emailChanges, this.activation);
      await s.accounts.get(ctx, accountId);
      const user = await this.userOf(ctx, s.users, ref);
      if (profileId !== undefined) {
        const membership = user.memberships.find((m) => m.account_id === accountId);
        if (!membership) {
          await s.users.createMembership(ctx, user.id, {
            account_id: accountId,
            permission_profile_id: profileId,
          });
        } else {
          await s.users.updateMembership(ctx, user.id, membership.id, {
            permission_profile_id: profileId,
            ...(membership.status === 'closed' ? { status: 'active' as const } : {}),
          });
        }
      }
      return this.accessIn(ctx, trx, accountId, { id: user.id });
    });
  }

  /**
   * Takes the user's access to the account away by closing their open membership there. `closed` false: they
   * had none open (nothing changed). A user named by both id and email must be the same user.
   */
  async revokeAccess(
    ctx: Ctx,
    accountId: string,
    ref: { id?: string; email?: string },
  ): Promise<{ user: UserView; closed: boolean }> {
    return mutate(this.db, ctx, async (trx) => {
      const s = servicesOf(trx, this.emailChanges, this.activation);
      await s.accounts.get(ctx, accountId);
      let user: UserView;
      if (ref.id) {
        user = await s.users.get(ctx, ref.id);
        if (ref.email && user.email.toLowerCase() !== ref.email.toLowerCase()) {
          throw invalidField('email', `is not the email of user ${ref.id}`);
        }
      } else if (ref.email) {
        user = await this.userOf(ctx, s.users, { email: ref.email });
      } else {
        throw invalidField('user_id', 'name the user by id or email');
      }
      const membership = openIn(user.memberships, accountId);
      if (!membership) return { user, closed: false };
      await s.users.updateMembership(ctx, user.id, membership.id, { status: 'closed' });
      return { user: await s.users.get(ctx, user.id), closed: true };
    });
  }

  /**
   * Closes the user's membership in each of the accounts: every one, or (an account where the user has no
   * membership, one the caller may not act in) none. Returns the accounts, each once, in the order given.
   */
  async closeMemberships(ctx: Ctx, userId: string, accountIds: readonly string[]): Promise<string[]> {
    const wanted = [...new Set(accountIds.map((a) => a.toLowerCase()))];
    return mutate(this.db, ctx, async (trx) => {
      const { users } = servicesOf(trx, this.emailChanges, this.activation);
      const memberships = await users.memberships(ctx, userId); // another organization's user: 404
      for (const accountId of wanted) {
        const membership = memberships.find((m) => m.account_id === accountId);
        if (!membership) {
          throw invalidField(
            'account_id',
            `user ${userId} has no membership in account ${accountId}; no membership was closed`,
            'invalid_reference',
          );
        }
        await users.updateMembership(ctx, userId, membership.id, { status: 'closed' });
      }
      return wanted;
    });
  }

  /**
   * Updates each user with its patch (UsersService.update: the user's fields and memberships). A batch of
   * users, as DocuSign's updateUser and updateEmailAddress take: each user's change is whole or undone (a
   * savepoint per user), one user's refusal does not stop the others, and the batch commits once, with
   * the response that reports every user's outcome.
   */
  async updateEach(
    ctx: Ctx,
    items: readonly { id: string; patch: UpdateUserInput }[],
  ): Promise<ItemOutcome[]> {
    return mutate(this.db, ctx, async (trx, audit) => {
      const { users } = servicesOf(trx, this.emailChanges, this.activation);
      const outcomes = await eachItem(
        trx,
        audit,
        items.map((item) => ({ ok: true as const, value: item })),
        ({ id, patch }) => users.update(ctx, id, patch),
      );
      return outcomes.map((o): ItemOutcome => (o.ok ? { ok: true, user: o.value } : o));
    });
  }

  /**
   * Updates a user of the account (userOfAccount) with the patch; returns them with their labels, read in the
   * transaction (eSignature's updateUser).
   */
  async updateInAccount(
    ctx: Ctx,
    accountId: string,
    userId: string,
    patch: UpdateUserInput,
  ): Promise<LabelledUser> {
    return mutate(this.db, ctx, async (trx) => {
      const { users } = servicesOf(trx, this.emailChanges, this.activation);
      await userOfAccount(ctx, users, accountId, userId);
      const user = await users.update(ctx, userId, patch);
      return { user, labels: await users.labels(ctx, user.memberships) };
    });
  }

  /** The user's access to the account, read in the transaction. */
  private async accessIn(ctx: Ctx, trx: Db, accountId: string, ref: { id: string }): Promise<AccountAccess> {
    const s = servicesOf(trx, this.emailChanges, this.activation);
    const [user, account] = [await s.users.get(ctx, ref.id), await s.accounts.get(ctx, accountId)];
    const membership = openIn(user.memberships, accountId);
    const profile =
      membership?.permission_profile_id == null
        ? null
        : await s.profiles.get(ctx, accountId, membership.permission_profile_id);
    const groups: GroupView[] = [];
    for (const id of membership?.group_ids ?? []) groups.push(await s.groups.get(ctx, accountId, id));
    return {
      user,
      account,
      membership,
      profile: profile && { id: profile.id, name: profile.name },
      groups,
    };
  }

  private async userOf(ctx: Ctx, users: UsersService, ref: UserRef): Promise<UserView> {
    if ('id' in ref) return users.get(ctx, ref.id);
    const user = await users.getByEmail(ctx, ref.email);
    if (!user) throw notFound(`user with email ${ref.email}`, undefined, 'user');
    return user;
  }
}
