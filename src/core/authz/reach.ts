// The reach rule: a change to a user that does not stay inside one account — their identity (email, names,
// job details: one user row shared by every account), a password reset, an organization-wide deactivation or
// reactivation, the erasure of their personal data — reaches every account the user belongs to. It needs the
// permission in EACH of them, or the organization role (owner, admin) that holds it everywhere. A deactivated
// user still belongs to the accounts its deactivation closed (a reactivation reopens them), so a deactivated
// admin of another account is as far out of reach as an active one.
//
//   - owners and admins hold every permission org-wide (a restricted key: those its scopes grant);
//   - a member holds in its principal's account what its profile there grants (heldProfilePermissions);
//   - a member acting in person (a dashboard session, or an OAuth access token held for them) also holds, in
//     each other account, what their own active membership's profile there grants (looked up here), cut down
//     to the token's scopes;
//   - a member's API key is confined to its account: a user who belongs elsewhere is out of its reach;
//   - a member never changes a user whose profile in any of those accounts grants more than the member holds
//     there (whoever controls a person's email or password holds that person's rights);
//   - a refusal names only the accounts the principal may see (its own, a session's other accounts); the
//     others it counts (reads are scoped like writes).
//
// Every service that makes such a change calls this (users, imports, password resets), so the faces that
// call those services (/api, /management, /restapi) inherit it.
import type { Db } from '../../db/connection.ts';
import type { User } from '../../db/schema.ts';
import { AppError, notFound } from '../errors.ts';
import {
  beyondHeld,
  heldProfilePermissions,
  type Principal,
  type ProfilePermission,
  withinScopes,
} from '../principal.ts';
import { requireMayManageRole } from '../roles.ts';

export class Reach {
  private constructor(
    readonly principal: Principal,
    private readonly own: ReadonlySet<string>,
    /** A session member's profile permissions in its other accounts (active memberships). */
    private readonly elsewhere: ReadonlyMap<string, ReadonlySet<string>>,
  ) {}

  /** What `principal` holds in which account; for a session member, one query for its other memberships. */
  static async of(db: Db, principal: Principal): Promise<Reach> {
    const elsewhere = new Map<string, Set<string>>();
    if (principal.role === 'member' && principal.kind === 'user' && principal.userId) {
      const rows = await db
        .selectFrom('memberships as m')
        .leftJoin('permission_profiles as pp', 'pp.id', 'm.permission_profile_id')
        .select(['m.account_id', 'pp.permissions'])
        .where('m.user_id', '=', principal.userId)
        .where('m.status', '=', 'active')
        .execute();
      for (const r of rows)
        elsewhere.set(r.account_id, new Set(withinScopes(r.permissions ?? [], principal.scopes)));
    }
    return new Reach(principal, heldProfilePermissions(principal), elsewhere);
  }

  /** Whether the principal holds `need` in `accountId`. */
  holds(accountId: string, need: string): boolean {
    const p = this.principal;
    if (p.role !== 'member' || accountId === p.accountId) return this.own.has(need);
    return this.elsewhere.get(accountId)?.has(need) ?? false;
  }

  /** Whether the principal may see account `accountId` (a member: its own, and a session's other accounts). */
  sees(accountId: string): boolean {
    const p = this.principal;
    return p.role !== 'member' || accountId === p.accountId || this.elsewhere.has(accountId);
  }

  /** The accounts among `accountIds` where the principal lacks `need` (empty: within reach). */
  lacking(accountIds: Iterable<string>, need: ProfilePermission): string[] {
    return [...new Set(accountIds)].filter((a) => !this.holds(a, need)).sort();
  }

  /**
   * The refusal for a change to `userId` that reaches `reached` (the user's memberships), or null when it is
   * within reach: the principal must hold `need` in each of those accounts and, for a member, at least what
   * the user's profile there grants. A member who may manage users does not manage someone above them: taking
   * over their email or password would hand the member that person's rights.
   */
  denial(
    userId: string,
    reached: readonly Reached[],
    need: ProfilePermission,
    change: string,
  ): AppError | null {
    const lacking = this.lacking(
      reached.map((r) => r.accountId),
      need,
    );
    const p = this.principal;
    if (lacking.length > 0) {
      const why =
        p.kind === 'api_key' && p.role === 'member'
          ? `this API key acts only in account ${p.accountId}`
          : `you lack ${need} there`;
      const shown = lacking.filter((a) => this.sees(a));
      const others = lacking.length - shown.length;
      const where = [
        ...(shown.length > 0 ? [`account(s) ${shown.join(', ')}`] : []),
        ...(others > 0 ? [`${others} ${shown.length > 0 ? 'more ' : ''}account(s) you cannot see`] : []),
      ].join(' and ');
      return new AppError(
        'permission_denied',
        `${change} of user ${userId} reaches ${where} where the user also belongs, and ${why}; ` +
          'it needs that permission in every account of the user, or the organization role admin',
        [
          {
            message: 'beyond your accounts',
            permission: need,
            accounts: shown,
            ...(others > 0 ? { other_accounts: others } : {}),
          },
        ],
      );
    }
    if (p.role !== 'member') return null;
    for (const r of reached) {
      const held = new Set(r.profilePermissions.filter((x) => this.holds(r.accountId, x)));
      const missing = beyondHeld(held, r.profilePermissions);
      if (missing.length > 0) {
        return new AppError(
          'permission_denied',
          `${change} of user ${userId}: in account ${r.accountId} the user's permission profile grants ` +
            `${missing.join(', ')}, which you do not hold there; nobody manages someone above themselves`,
          [{ message: 'the user holds more than you', accounts: [r.accountId], missing }],
        );
      }
    }
    return null;
  }
}

/** A membership a change to a user reaches: its account, and what its permission profile grants there. */
export interface Reached {
  accountId: string;
  profilePermissions: readonly string[];
}

/**
 * Whether a membership is one a change to its user reaches: an open (active or pending) one, or one the
 * user's deactivation closed, which a reactivation reopens. Only a membership closed on its own is not.
 */
export function reaches(m: { status: string; closed_by_deactivation: boolean }): boolean {
  return m.status !== 'closed' || m.closed_by_deactivation;
}

/** The memberships a change to `userId` reaches (see `reaches`), with what their profiles grant. */
export async function reachedBy(db: Db, userId: string): Promise<Reached[]> {
  const rows = await db
    .selectFrom('memberships as m')
    .leftJoin('permission_profiles as pp', 'pp.id', 'm.permission_profile_id')
    .select(['m.account_id', 'm.status', 'm.closed_by_deactivation', 'pp.permissions'])
    .where('m.user_id', '=', userId)
    .execute();
  return rows
    .filter(reaches)
    .map((r) => ({ accountId: r.account_id, profilePermissions: r.permissions ?? [] }));
}

/**
 * Refuses (permission_denied) a change to `userId` that reaches an account where the principal lacks
 * `need`. `change` names it for the message ("changing the email").
 */
export async function requireReach(
  db: Db,
  principal: Principal,
  userId: string,
  need: ProfilePermission,
  change: string,
): Promise<void> {
  // Owners and admins (unrestricted, or restricted to a scope granting it) hold it in every account.
  if (principal.role !== 'member' && heldProfilePermissions(principal).has(need)) return;
  const reached = await reachedBy(db, userId);
  const denial = (await Reach.of(db, principal)).denial(userId, reached, need, change);
  if (denial) throw denial;
}

/**
 * The user an admin action on one person names (a password reset, a two-step verification reset): of the
 * principal's organization, and for a member of its own account (anyone else answers 404, as if they did not
 * exist), never above the principal's role. The caller then checks the reach (requireReach).
 */
export async function userToManage(
  db: Db,
  principal: Principal,
  userId: string,
  verb: string,
): Promise<User> {
  const user = await db
    .selectFrom('users')
    .selectAll()
    .where('id', '=', userId)
    .where('organization_id', '=', principal.organizationId)
    .executeTakeFirst();
  if (!user) throw notFound('user', userId);
  if (principal.role === 'member') {
    const inAccount = principal.accountId
      ? await db
          .selectFrom('memberships')
          .select('id')
          .where('user_id', '=', userId)
          .where('account_id', '=', principal.accountId)
          .executeTakeFirst()
      : undefined;
    if (!inAccount) throw notFound('user', userId);
  }
  requireMayManageRole(principal.role, user, verb);
  return user;
}
