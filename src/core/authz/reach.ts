// The reach rule: a change to a user that does not stay inside one account — their identity (email, names,
// job details: one user row shared by every account), a password reset, an organization-wide deactivation or
// reactivation — reaches every account the user belongs to. It needs the permission in EACH of them, or the
// organization role (owner, admin) that holds it everywhere.
//
//   - owners and admins hold every permission org-wide (a restricted key: those its scopes grant);
//   - a member holds in its principal's account what its profile there grants (heldProfilePermissions);
//   - a member acting through a dashboard session also holds, in each other account, what their own active
//     membership's profile there grants (looked up here);
//   - a member's API key is confined to its account: a user who belongs elsewhere is out of its reach.
//
// Every service that makes such a change calls this (users, imports, password resets), so the faces that
// call those services (/api, /management, /restapi) inherit it.
import type { Db } from '../../db/connection.ts';
import { AppError } from '../errors.ts';
import { heldProfilePermissions, type Principal, type ProfilePermission } from '../principal.ts';

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
      for (const r of rows) elsewhere.set(r.account_id, new Set(r.permissions ?? []));
    }
    return new Reach(principal, heldProfilePermissions(principal), elsewhere);
  }

  /** Whether the principal holds `need` in `accountId`. */
  holds(accountId: string, need: string): boolean {
    const p = this.principal;
    if (p.role !== 'member' || accountId === p.accountId) return this.own.has(need);
    return this.elsewhere.get(accountId)?.has(need) ?? false;
  }

  /** The accounts among `accountIds` where the principal lacks `need` (empty: within reach). */
  lacking(accountIds: Iterable<string>, need: ProfilePermission): string[] {
    return [...new Set(accountIds)].filter((a) => !this.holds(a, need)).sort();
  }

  /** The refusal for a change to `userId` that reaches `accountIds`, or null when it is within reach. */
  denial(
    userId: string,
    accountIds: Iterable<string>,
    need: ProfilePermission,
    change: string,
  ): AppError | null {
    const lacking = this.lacking(accountIds, need);
    if (lacking.length === 0) return null;
    const p = this.principal;
    const why =
      p.kind === 'api_key' && p.role === 'member'
        ? `this API key acts only in account ${p.accountId}`
        : `you lack ${need} there`;
    return new AppError(
      'permission_denied',
      `${change} of user ${userId} reaches account(s) ${lacking.join(', ')} where the user also belongs, and ${why}; ` +
        'it needs that permission in every account of the user, or the organization role admin',
      [{ message: 'beyond your accounts', permission: need, accounts: lacking }],
    );
  }
}

/**
 * The accounts a change to `userId` reaches: those of its open (active or pending) memberships, and with
 * `reopening`, also those a reactivation would reopen (closed by the deactivation).
 */
export async function accountsOf(
  db: Db,
  userId: string,
  opts: { reopening?: boolean } = {},
): Promise<string[]> {
  const rows = await db
    .selectFrom('memberships')
    .select('account_id')
    .where('user_id', '=', userId)
    .where((eb) =>
      opts.reopening
        ? eb.or([eb('status', '!=', 'closed'), eb('closed_by_deactivation', '=', true)])
        : eb('status', '!=', 'closed'),
    )
    .execute();
  return rows.map((r) => r.account_id);
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
  opts: { reopening?: boolean } = {},
): Promise<void> {
  // Owners and admins (unrestricted, or restricted to a scope granting it) hold it in every account.
  if (principal.role !== 'member' && heldProfilePermissions(principal).has(need)) return;
  const accounts = await accountsOf(db, userId, opts);
  const denial = (await Reach.of(db, principal)).denial(userId, accounts, need, change);
  if (denial) throw denial;
}
