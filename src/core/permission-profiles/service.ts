// Permission profiles belong to an account: a name unique in it (case-insensitively) and a set of permissions
// from PROFILE_PERMISSIONS. Memberships point at a profile, so a profile in use is deleted only by moving its
// memberships to another profile of the account in the same transaction; groups that name it move with them
// (or, with no memberships to move, lose the reference).
import { sql } from 'kysely';
import type { Db } from '../../db/connection.ts';
import type { PermissionProfile } from '../../db/schema.ts';
import { type Ctx, mutate } from '../context.ts';
import { AppError, invalidField, nameTaken, notFound } from '../errors.ts';
import { DEFAULT_LIMIT, decodeIntCursor, type Page, toPage } from '../pagination.ts';
import { PROFILE_PERMISSIONS, requireHolds } from '../principal.ts';
import { accountInPath, profileInAccount } from '../refs.ts';
import { applyRoleSettings, mergeKept, parseRoleSettings } from './role-settings.ts';

export interface PermissionProfileView extends PermissionProfile {
  /** Active and pending memberships that use the profile. */
  user_count: number;
}

export interface PermissionProfileInput {
  name: string;
  description?: string | null;
  permissions?: string[];
  /**
   * eSignature AccountRoleSettings (./role-settings.ts): the flags Signet enforces grant or withdraw
   * permissions (on top of `permissions`), the other fields are kept as sent and merged into those kept.
   */
  role_settings?: unknown;
}

export type PermissionProfilePatch = Partial<PermissionProfileInput>;

function cleanName(name: string): string {
  const trimmed = name.trim();
  if (trimmed.length === 0) throw invalidField('name', 'must not be blank');
  return trimmed;
}

/** The permissions as a set, in the catalogue's order; a name outside the catalogue is refused. */
function cleanPermissions(permissions: readonly string[]): string[] {
  const known: readonly string[] = PROFILE_PERMISSIONS;
  const unknown = permissions.filter((p) => !known.includes(p));
  if (unknown.length > 0) {
    throw invalidField(
      'permissions',
      `unknown permission ${unknown.map((p) => JSON.stringify(p)).join(', ')}; the permissions are ${known.join(', ')}`,
    );
  }
  return known.filter((p) => permissions.includes(p));
}

export class PermissionProfilesService {
  constructor(private readonly db: Db) {}

  async list(
    ctx: Ctx,
    accountId: string,
    q: { limit?: number; cursor?: string },
  ): Promise<Page<PermissionProfileView>> {
    await accountInPath(ctx, this.db, accountId);
    const limit = q.limit ?? DEFAULT_LIMIT;
    const after = decodeIntCursor(q.cursor);
    let query = this.views(this.db, ctx, accountId)
      .orderBy('p.id')
      .limit(limit + 1);
    if (after !== undefined) query = query.where('p.id', '>', after);
    return toPage(await query.execute(), limit, (p) => String(p.id));
  }

  async get(ctx: Ctx, accountId: string, id: number, db: Db = this.db): Promise<PermissionProfileView> {
    await accountInPath(ctx, db, accountId);
    const profile = await this.views(db, ctx, accountId).where('p.id', '=', id).executeTakeFirst();
    if (!profile) throw notFound('permission profile', id);
    return profile;
  }

  async create(ctx: Ctx, accountId: string, input: PermissionProfileInput): Promise<PermissionProfileView> {
    const name = cleanName(input.name);
    const roles = parseRoleSettings(input.role_settings);
    const permissions = cleanPermissions(applyRoleSettings(input.permissions ?? [], roles));
    const role_settings = mergeKept({}, roles.kept);
    // Nobody grants more than they hold: a profile is a grant waiting to be assigned.
    requireHolds(ctx.principal, permissions, `permission profile "${name}"`, 'permissions');
    return mutate(
      this.db,
      ctx,
      async (trx, audit) => {
        await accountInPath(ctx, trx, accountId);
        const row = await trx
          .insertInto('permission_profiles')
          .values({
            organization_id: ctx.principal.organizationId,
            account_id: accountId,
            name,
            description: input.description ?? null,
            permissions,
            role_settings,
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        audit.record({
          action: 'permission_profile.created',
          targetType: 'permission_profile',
          targetId: String(row.id),
          accountId,
          after: row,
        });
        return this.get(ctx, accountId, row.id, trx);
      },
      { permission_profiles_name_key: nameTaken('permission profile', name) },
    );
  }

  async update(
    ctx: Ctx,
    accountId: string,
    id: number,
    patch: PermissionProfilePatch,
  ): Promise<PermissionProfileView> {
    const set: Partial<Pick<PermissionProfile, 'name' | 'description' | 'permissions' | 'role_settings'>> =
      {};
    if (patch.name !== undefined) set.name = cleanName(patch.name);
    if (patch.description !== undefined) set.description = patch.description;
    if (patch.permissions !== undefined) {
      set.permissions = cleanPermissions(patch.permissions);
      requireHolds(ctx.principal, set.permissions, 'the edited permission profile', 'permissions');
    }
    const roles = parseRoleSettings(patch.role_settings);
    return mutate(
      this.db,
      ctx,
      async (trx, audit) => {
        const before = await this.load(ctx, trx, accountId, id, true);
        // A profile above the caller is out of its reach: editing it (even renaming) acts on those it grants.
        requireHolds(ctx.principal, before.permissions, `permission profile ${id}`);
        // Role settings change what the profile holds now (read under the row lock), flag by flag, and stay
        // within what the caller holds, as `permissions` do.
        if (roles.grant.length + roles.withdraw.length > 0) {
          set.permissions = cleanPermissions(applyRoleSettings(set.permissions ?? before.permissions, roles));
          requireHolds(ctx.principal, set.permissions, 'the edited permission profile', 'permissions');
        }
        if (Object.keys(roles.kept).length > 0) {
          set.role_settings = mergeKept(before.role_settings, roles.kept);
        }
        if (Object.keys(set).length === 0) return this.get(ctx, accountId, id, trx);
        const after = await trx
          .updateTable('permission_profiles')
          .set({ ...set, updated_at: new Date() })
          .where('id', '=', id)
          .returningAll()
          .executeTakeFirstOrThrow();
        audit.record({
          action: 'permission_profile.updated',
          targetType: 'permission_profile',
          targetId: String(id),
          accountId,
          before,
          after,
        });
        return this.get(ctx, accountId, id, trx);
      },
      { permission_profiles_name_key: nameTaken('permission profile', set.name ?? '') },
    );
  }

  /**
   * Deletes a profile. One that memberships (of any status) still use is refused unless `moveUsersTo` names
   * another profile of the account: those memberships move to it first, in the same transaction.
   */
  async delete(ctx: Ctx, accountId: string, id: number, moveUsersTo?: number): Promise<void> {
    await mutate(this.db, ctx, async (trx, audit) => {
      // The row lock keeps concurrent requests from pointing new memberships at the profile meanwhile.
      const before = await this.load(ctx, trx, accountId, id, true);
      requireHolds(ctx.principal, before.permissions, `permission profile ${id}`);
      let target: PermissionProfile | undefined;
      if (moveUsersTo !== undefined) {
        if (moveUsersTo === id) {
          throw invalidField(
            'move_users_to',
            'must name another profile than the one being deleted',
            'invalid_reference',
          );
        }
        target = await profileInAccount(trx, accountId, moveUsersTo, 'move_users_to');
        // Moving memberships to a profile assigns it.
        requireHolds(ctx.principal, target.permissions, `permission profile ${target.id}`, 'move_users_to');
      }
      // HR mapping rules that assign the profile keep it: they must be pointed elsewhere (or deleted) first.
      // (A rule being created meanwhile waits on the row lock above, then fails its foreign key.)
      const rules = await trx
        .selectFrom('mapping_rules')
        .select(['id', 'name'])
        .where('permission_profile_id', '=', id)
        .orderBy('position')
        .execute();
      if (rules.length > 0) {
        throw new AppError(
          'profile_in_use',
          `permission profile ${id} is assigned by ${rules.length} mapping rule(s) (${rules
            .map((r) => `${r.id} "${r.name}"`)
            .join(', ')}); point them at another profile or delete them first`,
          rules.map((r) => ({
            field: 'mapping_rules',
            message: 'assigns the profile',
            mapping_rule_id: r.id,
            name: r.name,
          })),
        );
      }
      const using = await trx
        .selectFrom('memberships')
        .selectAll()
        .where('permission_profile_id', '=', id)
        .orderBy('id')
        .execute();
      if (using.length > 0 && !target) {
        throw new AppError(
          'profile_in_use',
          `permission profile ${id} is used by ${using.length} membership(s); pass ?move_users_to=<profile id> ` +
            'to move them to another profile of this account and delete it',
          [{ field: 'move_users_to', message: 'required: the profile is in use', memberships: using.length }],
        );
      }
      if (target && using.length > 0) {
        const now = new Date();
        const moved = await trx
          .updateTable('memberships')
          .set({ permission_profile_id: target.id, updated_at: now })
          .where('permission_profile_id', '=', id)
          .returningAll()
          .execute();
        const byId = new Map(using.map((m) => [m.id, m]));
        for (const after of moved) {
          audit.record({
            action: 'membership.updated',
            targetType: 'membership',
            targetId: after.id,
            accountId,
            before: byId.get(after.id) ?? null,
            after,
            extra: { reason: `permission profile ${id} deleted` },
          });
        }
      }
      // Groups that name the profile follow its memberships: to the profile they move to, or to none (a
      // group's profile is a label, so clearing it takes nobody's rights away).
      const relabelled = await trx
        .updateTable('groups')
        .set({ permission_profile_id: target?.id ?? null, updated_at: new Date() })
        .where('account_id', '=', accountId)
        .where('permission_profile_id', '=', id)
        .returningAll()
        .execute();
      for (const after of relabelled) {
        audit.record({
          action: 'group.updated',
          targetType: 'group',
          targetId: String(after.id),
          accountId,
          before: { ...after, permission_profile_id: id },
          after,
          extra: { reason: `permission profile ${id} deleted` },
        });
      }
      await trx.deleteFrom('permission_profiles').where('id', '=', id).execute();
      audit.record({
        action: 'permission_profile.deleted',
        targetType: 'permission_profile',
        targetId: String(id),
        accountId,
        before,
        after: null,
        ...(target ? { extra: { moved_memberships: using.length, moved_to: target.id } } : {}),
      });
    });
  }

  // --- internals -------------------------------------------------------------------------------------

  private views(db: Db, ctx: Ctx, accountId: string) {
    return db
      .selectFrom('permission_profiles as p')
      .selectAll('p')
      .select(
        sql<number>`(SELECT count(*) FROM memberships m
          WHERE m.permission_profile_id = p.id AND m.status IN ('active', 'pending'))::integer`.as(
          'user_count',
        ),
      )
      .where('p.organization_id', '=', ctx.principal.organizationId)
      .where('p.account_id', '=', accountId);
  }

  private async load(
    ctx: Ctx,
    db: Db,
    accountId: string,
    id: number,
    lock = false,
  ): Promise<PermissionProfile> {
    await accountInPath(ctx, db, accountId);
    let query = db
      .selectFrom('permission_profiles')
      .selectAll()
      .where('organization_id', '=', ctx.principal.organizationId)
      .where('account_id', '=', accountId)
      .where('id', '=', id);
    if (lock) query = query.forUpdate();
    const profile = await query.executeTakeFirst();
    if (!profile) throw notFound('permission profile', id);
    return profile;
  }
}
