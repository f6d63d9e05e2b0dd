// The batch writes of an account's objects, as eSignature's REST API (/restapi) takes them: create, update
// or delete several groups, enrol or close several users, delete several brands, and a group's member
// changes answered with the users they named. Each is ONE transaction composed of the operations /api uses
// (mutate() joins the outer transaction): a batch keeps eSignature's per-item answers (an item that fails is
// undone behind its savepoint, with its audit events, and the others apply; src/core/batch.ts), and the
// response the idempotency layer stores with the effect (Ctx.beforeCommit) is the whole batch's.
//
// What each operation returns is read inside its transaction, after the change: a face renders it without
// reading again.
import type { Db } from '../../db/connection.ts';
import type { Activation } from '../auth/activation.ts';
import { eachItem, type Outcome } from '../batch.ts';
import { BrandsService, type BrandView } from '../brands/service.ts';
import { type Ctx, mutate } from '../context.ts';
import { type GroupInput, type GroupPatch, GroupsService, type GroupView } from '../groups/service.ts';
import type { EmailChanges } from '../users/email-changes.ts';
import { type LabelledUser, userOfAccount } from '../users/provisioning.ts';
import { type CreateUserInput, UsersService, type UserView } from '../users/service.ts';

/** Every service of one transaction: their mutations join it. */
function servicesOf(trx: Db, emailChanges: EmailChanges, activation: Activation) {
  return {
    users: new UsersService(trx, emailChanges, activation),
    groups: new GroupsService(trx),
    brands: new BrandsService(trx),
  };
}

export class AccountBatchesService {
  constructor(
    private readonly db: Db,
    private readonly emailChanges: EmailChanges,
    /** eSignature's sendActivationEmail on a new user (src/core/auth/activation.ts). */
    private readonly activation: Activation,
  ) {}

  /** Creates each group in the account. */
  async createGroups(
    ctx: Ctx,
    accountId: string,
    items: readonly Outcome<GroupInput>[],
  ): Promise<Outcome<GroupView>[]> {
    return mutate(this.db, ctx, (trx, audit) => {
      const { groups } = servicesOf(trx, this.emailChanges, this.activation);
      return eachItem(trx, audit, items, (input) => groups.create(ctx, accountId, input));
    });
  }

  /** Changes each group of the account by its patch. */
  async updateGroups(
    ctx: Ctx,
    accountId: string,
    items: readonly Outcome<{ id: number; patch: GroupPatch }>[],
  ): Promise<Outcome<GroupView>[]> {
    return mutate(this.db, ctx, (trx, audit) => {
      const { groups } = servicesOf(trx, this.emailChanges, this.activation);
      return eachItem(trx, audit, items, ({ id, patch }) => groups.update(ctx, accountId, id, patch));
    });
  }

  /** Deletes each group of the account; each outcome is the group as it was. */
  async deleteGroups(
    ctx: Ctx,
    accountId: string,
    items: readonly Outcome<number>[],
  ): Promise<Outcome<GroupView>[]> {
    return mutate(this.db, ctx, (trx, audit) => {
      const { groups } = servicesOf(trx, this.emailChanges, this.activation);
      return eachItem(trx, audit, items, async (id) => {
        const before = await groups.get(ctx, accountId, id);
        await groups.delete(ctx, accountId, id);
        return before;
      });
    });
  }

  /**
   * Adds the users to the group, all or none (GroupsService.addMembers); returns the users named, each once,
   * in the order named, as they are after the change.
   */
  async addGroupMembers(
    ctx: Ctx,
    accountId: string,
    groupId: number,
    userIds: string[],
  ): Promise<UserView[]> {
    return mutate(this.db, ctx, async (trx) => {
      const { groups, users } = servicesOf(trx, this.emailChanges, this.activation);
      await groups.addMembers(ctx, accountId, groupId, userIds);
      return this.usersIn(ctx, users, [...new Set(userIds.map((u) => u.toLowerCase()))]);
    });
  }

  /** Removes the users from the group (GroupsService.removeMembers); returns the users it removed. */
  async removeGroupMembers(
    ctx: Ctx,
    accountId: string,
    groupId: number,
    userIds: string[],
  ): Promise<UserView[]> {
    return mutate(this.db, ctx, async (trx) => {
      const { groups, users } = servicesOf(trx, this.emailChanges, this.activation);
      const { removed } = await groups.removeMembers(ctx, accountId, groupId, userIds);
      return this.usersIn(ctx, users, removed);
    });
  }

  /** Enrols each person in the account (UsersService.enrol: a new user, or a membership for an existing one). */
  async enrolUsers(
    ctx: Ctx,
    accountId: string,
    items: readonly Outcome<CreateUserInput>[],
  ): Promise<Outcome<LabelledUser>[]> {
    return mutate(this.db, ctx, (trx, audit) => {
      const { users } = servicesOf(trx, this.emailChanges, this.activation);
      return eachItem(trx, audit, items, async (input) => {
        const { user } = await users.enrol(ctx, { ...input, account_id: accountId });
        return { user, labels: await users.labels(ctx, user.memberships) };
      });
    });
  }

  /** Closes each user's membership in the account (the seat frees up; the user stays): userOfAccount's users. */
  async closeUsers(
    ctx: Ctx,
    accountId: string,
    items: readonly Outcome<string>[],
  ): Promise<Outcome<UserView>[]> {
    return mutate(this.db, ctx, (trx, audit) => {
      const { users } = servicesOf(trx, this.emailChanges, this.activation);
      return eachItem(trx, audit, items, async (id) => {
        await userOfAccount(ctx, users, accountId, id);
        return users.update(ctx, id, { memberships: [{ account_id: accountId, status: 'closed' }] });
      });
    });
  }

  /** Deletes each brand of the account; each outcome is the brand as it was. */
  async deleteBrands(
    ctx: Ctx,
    accountId: string,
    items: readonly Outcome<string>[],
  ): Promise<Outcome<BrandView>[]> {
    return mutate(this.db, ctx, (trx, audit) => {
      const { brands } = servicesOf(trx, this.emailChanges, this.activation);
      return eachItem(trx, audit, items, async (id) => {
        const before = await brands.get(ctx, accountId, id);
        await brands.delete(ctx, accountId, id);
        return before;
      });
    });
  }

  private async usersIn(ctx: Ctx, users: UsersService, ids: readonly string[]): Promise<UserView[]> {
    const out: UserView[] = [];
    for (const id of ids) out.push(await users.get(ctx, id));
    return out;
  }
}
