// The row engine of CSV imports. A batch of rows is first PLANNED against a snapshot of the world (the users,
// memberships and seats it touches, read in a few queries), row by row, each row seeing what the rows before
// it would do; the plan is then EXECUTED with bulk statements. Dry-run plans only: it writes no user; the
// users its plan changed are kept from batch to batch in its spill (src/core/imports/spill.ts) and read before
// the real tables, so row 900 sees the user row 5 would have added.
//
// Rules shared with the API (src/core/users/service.ts) are kept the same here: emails are unique per
// organization, case-insensitively; the seat trigger's limit is checked before writing (so one row over the
// limit is a row error, not a failed batch); the same audit actions are recorded (user.created,
// membership.created / membership.reopened, group.member_added, user.updated, membership.updated,
// membership.closed); HR mapping rules decide the profile and groups of a row that names no profile.
import { sql } from 'kysely';
import type { Db } from '../../db/connection.ts';
import type { ImportOperation, Membership, MembershipStatus, User } from '../../db/schema.ts';
import type { AuditInput } from '../audit/writer.ts';
import type { Activation } from '../auth/activation.ts';
import { type Reach, type Reached, reaches } from '../authz/reach.ts';
import { restoreFormula } from '../csv-safe.ts';
import { isEmail } from '../email.ts';
import { isUuid, newId } from '../ids.ts';
import { type MappingResult, mappingMatcher, type PersonAttributes } from '../mapping-rules/match.ts';
import { beyondHeld, type Principal } from '../principal.ts';
import { mayActOnRole } from '../roles.ts';
import type { EmailChanges } from '../users/email-changes.ts';
import { membershipOpening, openedMembershipFields } from '../users/memberships.ts';
import {
  copyGroupMembers,
  insertGroupMembers,
  insertMemberships,
  insertUsers,
  reopenMemberships,
  updateMembershipProfiles,
  updateUsers,
} from './bulk.ts';
import type { ColumnMap, Field } from './csv.ts';
import { loadSpilled } from './spill.ts';

export const LANGUAGES = [
  'zh_CN',
  'zh_TW',
  'nl',
  'en',
  'fr',
  'de',
  'it',
  'ja',
  'ko',
  'pt',
  'pt_BR',
  'ru',
  'es',
];
const LANGUAGE_BY_KEY = new Map(LANGUAGES.map((l) => [l.toLowerCase().replace('-', '_'), l]));
const BAD_NAME = /[<>\p{Cc}]/u;
const BAD_TEXT = /[<>]/;

export interface RowResult {
  row_number: number;
  status: 'ok' | 'error';
  action: 'add' | 'update' | 'close' | 'no_action';
  result: string;
  error_type: string | null;
  message: string | null;
  email: string | null;
  account_id: string | null;
  user_id: string | null;
  membership_id: string | null;
}

class RowError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

export interface WMembership {
  id: string;
  status: MembershipStatus;
  permission_profile_id: number | null;
  row: Membership | null; // null when planned by this import (dry-run)
}

export interface WUser {
  id: string;
  planned: boolean; // created by this import's plan (dry-run: not in the database)
  row: User;
  memberships: Map<string, WMembership>;
  groups: Set<number>;
}

type Op =
  | { kind: 'createUser'; row: User }
  | { kind: 'createMembership'; row: Membership }
  | { kind: 'reopenMembership'; before: Membership; status: MembershipStatus; profileId: number | null }
  | { kind: 'addGroups'; userId: string; accountId: string; groupIds: number[] }
  | { kind: 'updateUser'; before: User; set: UserSet }
  | { kind: 'updateMembership'; before: Membership; profileId: number }
  | { kind: 'closeMembership'; id: string; accountId: string; userId: string }
  /** Through src/core/users/email-changes.ts, as every email change: the address waits for its link. */
  | { kind: 'requestEmailChange'; userId: string; email: string }
  /** A new user's activation mail (SendActivationEmail: true), through src/core/auth/activation.ts. */
  | { kind: 'sendActivation'; user: User; accountId: string };

type UserSet = Partial<
  Pick<User, 'first_name' | 'last_name' | 'job_title' | 'company' | 'department' | 'language'>
>;

interface AccountInfo {
  name: string;
  profiles: Map<string, number>;
  /** Profile id → its permissions (nobody assigns a profile beyond what they hold). */
  profilePermissions: Map<number, string[]>;
  groups: Map<string, number>;
  everyone: number | undefined;
  matcher: (p: PersonAttributes) => MappingResult | null;
}

/** What a run knows about the organization: its accounts, their profiles, groups and mapping rules. */
export class Catalog {
  private constructor(
    private readonly db: Db,
    private readonly accounts = new Map<string, { name: string }>(),
    private readonly details = new Map<string, AccountInfo>(),
  ) {}

  static async load(db: Db, organizationId: string): Promise<Catalog> {
    const c = new Catalog(db);
    const rows = await db
      .selectFrom('accounts')
      .select(['id', 'name'])
      .where('organization_id', '=', organizationId)
      .execute();
    for (const r of rows) c.accounts.set(r.id, { name: r.name });
    return c;
  }

  has(accountId: string): boolean {
    return this.accounts.has(accountId);
  }

  /**
   * The same catalog, reading what it has not loaded yet through `db`: a batch's transaction. Read through the
   * pool instead, a batch holding the seat locks would wait for a connection that requests blocked on those
   * locks hold, and nothing would end the wait.
   */
  through(db: Db): Catalog {
    return new Catalog(db, this.accounts, this.details);
  }

  async account(accountId: string): Promise<AccountInfo> {
    let info = this.details.get(accountId);
    if (!info) {
      const [profiles, groups, matcher] = await Promise.all([
        this.db
          .selectFrom('permission_profiles')
          .select(['id', 'name', 'permissions'])
          .where('account_id', '=', accountId)
          .execute(),
        this.db
          .selectFrom('groups')
          .select(['id', 'name', 'group_type'])
          .where('account_id', '=', accountId)
          .execute(),
        mappingMatcher(this.db, accountId),
      ]);
      info = {
        name: this.accounts.get(accountId)!.name,
        profiles: new Map(profiles.map((p) => [p.name.toLowerCase(), Number(p.id)])),
        profilePermissions: new Map(profiles.map((p) => [Number(p.id), p.permissions])),
        // Everyone is implicit (the database adds every membership to it): a row naming it adds nothing.
        groups: new Map(
          groups.filter((g) => g.group_type !== 'everyone').map((g) => [g.name.toLowerCase(), Number(g.id)]),
        ),
        everyone: groups.find((g) => g.group_type === 'everyone')?.id,
        matcher,
      };
      this.details.set(accountId, info);
    }
    return info;
  }
}

/**
 * The users, memberships and seats a batch touches, as the batch's rows change them. A dry-run's world also
 * holds what its earlier batches planned: `seats`, carried from batch to batch by the caller, and the users
 * they changed, spilled to the table import_dry_users of `spillOf` (src/core/imports/spill.ts) and read back
 * here before the real tables.
 */
export class World {
  readonly byEmail = new Map<string, WUser>();
  readonly byId = new Map<string, WUser>();
  /** Users the plan created or changed (a dry-run writes them back to its spill). */
  readonly changed = new Set<WUser>();

  constructor(
    readonly seats = new Map<string, { used: number; limit: number | null }>(),
    private readonly spillOf: string | null = null,
  ) {}

  /** Loads what `rows` refer to and is not known yet. `lock`: lock the seat counters (a real run). */
  async load(
    db: Db,
    organizationId: string,
    emails: string[],
    ids: string[],
    accounts: string[],
    lock: boolean,
  ) {
    let newEmails = [...new Set(emails)].filter((e) => !this.byEmail.has(e));
    let newIds = [...new Set(ids)].filter((i) => !this.byId.has(i));
    const spillOf = this.spillOf;
    if (spillOf !== null && (newEmails.length > 0 || newIds.length > 0)) {
      for (const u of await loadSpilled(db, spillOf, newEmails, newIds)) {
        if (!this.byId.has(u.id)) this.put(u);
      }
      newEmails = newEmails.filter((e) => !this.byEmail.has(e));
      newIds = newIds.filter((i) => !this.byId.has(i));
    }
    if (newEmails.length > 0 || newIds.length > 0) {
      // Two index look-ups (by lower(email), by id) rather than one query OR-ing them, which PostgreSQL
      // would answer by scanning the organization's users on every batch.
      const [byEmail, byId] = await Promise.all([
        newEmails.length === 0
          ? []
          : db
              .selectFrom('users')
              .selectAll()
              .where('organization_id', '=', organizationId)
              .where((eb) => eb(sql`lower(email)`, '=', eb.fn.any(eb.val(newEmails))))
              // A user with a spilled entry is as the entry says: not found by the email it had before.
              .$if(spillOf !== null, (q) =>
                q.where(
                  sql<boolean>`NOT EXISTS (SELECT 1 FROM import_dry_users d
                    WHERE d.import_id = ${spillOf} AND d.user_id = users.id)`,
                ),
              )
              .execute(),
        newIds.length === 0
          ? []
          : db
              .selectFrom('users')
              .selectAll()
              .where('organization_id', '=', organizationId)
              .where((eb) => eb('id', '=', eb.fn.any(eb.val(newIds))))
              .execute(),
      ]);
      const users = [...new Map([...byEmail, ...byId].map((u) => [u.id, u])).values()];
      const fresh = users.filter((u) => !this.byId.has(u.id));
      const userIds = fresh.map((u) => u.id);
      const [memberships, groups] =
        userIds.length === 0
          ? [[], []]
          : await Promise.all([
              db
                .selectFrom('memberships')
                .selectAll()
                .where((eb) => eb('user_id', '=', eb.fn.any(eb.val(userIds))))
                .execute(),
              db
                .selectFrom('group_members')
                .select(['user_id', 'group_id'])
                .where((eb) => eb('user_id', '=', eb.fn.any(eb.val(userIds))))
                .execute(),
            ]);
      for (const u of fresh) {
        this.put({ id: u.id, planned: false, row: u, memberships: new Map(), groups: new Set() });
      }
      for (const m of memberships) {
        this.byId.get(m.user_id)!.memberships.set(m.account_id, {
          id: m.id,
          status: m.status,
          permission_profile_id: m.permission_profile_id === null ? null : Number(m.permission_profile_id),
          row: m,
        });
      }
      for (const g of groups) this.byId.get(g.user_id)!.groups.add(Number(g.group_id));
    }
    const newAccounts = [...new Set(accounts)].filter((a) => !this.seats.has(a));
    if (newAccounts.length > 0) {
      let q = db
        .selectFrom('accounts')
        .select(['id', 'seats_used', 'seat_limit'])
        .where((eb) => eb('id', '=', eb.fn.any(eb.val(newAccounts))))
        .orderBy('id');
      // FOR NO KEY UPDATE, as the membership triggers' own updates of the counter: it serializes seat counting
      // without blocking the foreign-key checks of rows that merely reference the account.
      if (lock) q = q.forNoKeyUpdate();
      for (const a of await q.execute()) this.seats.set(a.id, { used: a.seats_used, limit: a.seat_limit });
    }
  }

  put(u: WUser): void {
    this.byId.set(u.id, u);
    this.byEmail.set(u.row.email.toLowerCase(), u);
  }
}

export interface PlanEnv {
  operation: ImportOperation;
  organizationId: string;
  principal: Principal;
  /** The request's account_id, lower-cased; null when rows name their accounts. */
  accountParam: string | null;
  columns: ColumnMap;
  catalog: Catalog;
  /** Dry-run: plan only; ids of users and memberships that would be created are not shown. */
  dryRun: boolean;
  /** What the requestor holds in which account (src/core/authz/reach.ts). */
  reach: Reach;
}

const shown = (env: PlanEnv, planned: boolean, id: string): string | null =>
  planned && env.dryRun ? null : id;

interface Planned {
  results: RowResult[];
  ops: Op[][]; // per row, in row order
}

function cell(env: PlanEnv, fields: string[], f: Field): string {
  const i = env.columns.one[f];
  return i === undefined ? '' : restoreFormula((fields[i] ?? '').trim());
}

function has(env: PlanEnv, f: Field): boolean {
  return env.columns.one[f] !== undefined;
}

/** Plans a batch: one result per row and the writes that carry it out. Reads through `world`. */
export async function planBatch(
  db: Db,
  run: PlanEnv,
  world: World,
  rows: { row: number; fields: string[] }[],
  lock: boolean,
): Promise<Planned> {
  // Whatever the plan reads, it reads through `db`, the batch's transaction.
  const env: PlanEnv = { ...run, catalog: run.catalog.through(db) };
  const emails = rows.map((r) => cell(env, r.fields, 'email').toLowerCase()).filter(Boolean);
  const ids = rows.map((r) => cell(env, r.fields, 'api_user_name').toLowerCase()).filter(isUuid);
  const accounts = new Set<string>();
  for (const r of rows) {
    const a = cell(env, r.fields, 'account_id').toLowerCase() || env.accountParam;
    if (a && env.catalog.has(a)) accounts.add(a);
  }
  await world.load(db, env.organizationId, emails, ids, [...accounts], lock);
  const out: Planned = { results: [], ops: [] };
  for (const r of rows) {
    const email = cell(env, r.fields, 'email');
    const base: RowResult = {
      row_number: r.row,
      status: 'ok',
      action: 'no_action',
      result: 'no_action_taken',
      error_type: null,
      message: null,
      email: email || null,
      account_id: null,
      user_id: null,
      membership_id: null,
    };
    const ops: Op[] = [];
    try {
      await planRow(env, world, r.fields, base, ops);
    } catch (err) {
      if (!(err instanceof RowError)) throw err;
      base.status = 'error';
      base.action = 'no_action';
      base.result = err.type;
      base.error_type = err.type;
      base.message = err.message;
      ops.length = 0;
    }
    out.results.push(base);
    out.ops.push(ops);
  }
  return out;
}

function resolveAccount(env: PlanEnv, fields: string[]): string {
  const given = cell(env, fields, 'account_id').toLowerCase();
  let id: string;
  if (given) {
    if (!isUuid(given) || !env.catalog.has(given)) {
      throw new RowError('invalid_account_id', `AccountID ${given} is not an account of this organization`);
    }
    if (env.accountParam && given !== env.accountParam) {
      throw new RowError(
        'invalid_account_id',
        `AccountID ${given} differs from the import's account ${env.accountParam}`,
      );
    }
    id = given;
  } else if (env.accountParam) {
    id = env.accountParam;
  } else {
    throw new RowError('invalid_account_id', 'AccountID is blank');
  }
  const p = env.principal;
  if (p.role === 'member' && p.accountId !== id) {
    throw new RowError(
      'account_admin_access_denied',
      `this key acts only in its own account (${p.accountId})`,
    );
  }
  return id;
}

function names(env: PlanEnv, fields: string[]): { first: string; last: string } {
  let first = cell(env, fields, 'first_name');
  let last = cell(env, fields, 'last_name');
  const full = cell(env, fields, 'user_name');
  if (!first && !last && full) {
    const parts = full.split(/\s+/);
    last = parts.length > 1 ? parts.pop()! : '';
    first = parts.join(' ');
  }
  for (const n of [first, last]) {
    if (BAD_NAME.test(n))
      throw new RowError(
        'invalid_characters_in_username',
        `the name "${n}" contains < > or control characters`,
      );
    if (n.length > 100) throw new RowError('invalid_row_data', 'a name is longer than 100 characters');
  }
  return { first, last };
}

interface Profile {
  job_title: string;
  company: string;
  department: string;
  language: string | null;
}

function profileFields(env: PlanEnv, fields: string[]): Profile {
  const job_title = cell(env, fields, 'job_title');
  const company = cell(env, fields, 'company');
  const department = cell(env, fields, 'department');
  if (BAD_TEXT.test(job_title))
    throw new RowError('invalid_characters_in_jobtitle', 'UserTitle contains < or >');
  if (BAD_TEXT.test(company))
    throw new RowError('invalid_characters_in_companyname', 'CompanyName contains < or >');
  if (BAD_TEXT.test(department)) throw new RowError('invalid_row_data', 'Department contains < or >');
  for (const v of [job_title, company, department]) {
    if (v.length > 200) throw new RowError('invalid_row_data', 'a field is longer than 200 characters');
  }
  for (const i of env.columns.address) {
    if (BAD_TEXT.test(fields[i] ?? ''))
      throw new RowError('invalid_characters_in_address', 'an address field contains < or >');
  }
  const rawLang = cell(env, fields, 'language');
  let language: string | null = null;
  if (rawLang) {
    language = LANGUAGE_BY_KEY.get(rawLang.toLowerCase().replace('-', '_')) ?? null;
    if (!language) {
      throw new RowError(
        'invalid_language_code',
        `Language "${rawLang}" is not one of ${LANGUAGES.join(', ')}`,
      );
    }
  }
  const policy = cell(env, fields, 'login_policy').toLowerCase();
  if (policy && policy !== 'fedauthrequired' && policy !== 'fedauthbypass') {
    throw new RowError('invalid_loginpolicy', 'LoginPolicy must be blank, FedAuthRequired or FedAuthBypass');
  }
  return { job_title, company, department, language };
}

function checkEmail(email: string): void {
  if (!email) throw new RowError('invalid_useremail_address', 'UserEmail is blank');
  if (!isEmail(email)) {
    throw new RowError('invalid_useremail_address', `"${email}" is not an email address`);
  }
}

async function groupIds(env: PlanEnv, fields: string[], accountId: string): Promise<number[]> {
  const info = await env.catalog.account(accountId);
  const out: number[] = [];
  for (const i of env.columns.groups) {
    const name = restoreFormula((fields[i] ?? '').trim());
    if (!name) continue;
    const id = info.groups.get(name.toLowerCase());
    if (id === undefined) {
      if (name.toLowerCase() === 'everyone') continue; // implicit in DocuSign
      throw new RowError('invalid_group', `no group "${name}" in account ${info.name}`);
    }
    out.push(id);
  }
  return [...new Set(out)];
}

function mayManage(p: Principal, target: User): void {
  if (!mayActOnRole(p.role, target.role)) {
    throw new RowError(
      'account_admin_access_denied',
      `a ${p.role} cannot change the ${target.role} ${target.email}`,
    );
  }
}

/**
 * Nobody assigns a profile granting more than they hold (named by the row or chosen by a mapping rule), and
 * nobody changes or closes a membership whose profile grants more than they hold (docs/security.md).
 */
function mayAssign(env: PlanEnv, info: AccountInfo, accountId: string, profileId: number): void {
  const wanted = info.profilePermissions.get(profileId) ?? [];
  const missing = beyondHeld(new Set(wanted.filter((p) => env.reach.holds(accountId, p))), wanted);
  if (missing.length > 0) {
    throw new RowError(
      'account_admin_access_denied',
      `the permission profile grants ${missing.join(', ')}, which the importer does not hold`,
    );
  }
}

/**
 * Members are account-scoped: they see only users with a membership in their account (one that exists, not
 * one a dry run merely planned). Others see every user of the organization.
 */
function visible(env: PlanEnv, u: WUser): boolean {
  const p = env.principal;
  if (p.role !== 'member' || u.planned) return true;
  const m = p.accountId === null ? undefined : u.memberships.get(p.accountId);
  return m !== undefined && m.row !== null;
}

function takeSeat(world: World, accountId: string): void {
  const s = world.seats.get(accountId);
  if (!s) return;
  if (s.limit !== null && s.used + 1 > s.limit) {
    throw new RowError('maximum_users_exceeded', `account seat limit ${s.limit} reached`);
  }
  s.used += 1;
}

function freeSeat(world: World, accountId: string): void {
  const s = world.seats.get(accountId);
  if (s) s.used -= 1;
}

async function planRow(
  env: PlanEnv,
  world: World,
  fields: string[],
  res: RowResult,
  ops: Op[],
): Promise<void> {
  switch (env.operation) {
    case 'add':
      return planAdd(env, world, fields, res, ops);
    case 'update':
      return planUpdate(env, world, fields, res, ops);
    case 'close':
      return planClose(env, world, fields, res, ops);
  }
}

async function planAdd(
  env: PlanEnv,
  world: World,
  fields: string[],
  res: RowResult,
  ops: Op[],
): Promise<void> {
  const email = cell(env, fields, 'email');
  checkEmail(email);
  const accountId = resolveAccount(env, fields);
  res.account_id = accountId;
  const info = await env.catalog.account(accountId);
  const accountName = cell(env, fields, 'account_name');
  if (accountName && accountName.toLowerCase() !== info.name.toLowerCase()) {
    throw new RowError(
      'invalid_account_id',
      `AccountName "${accountName}" does not match account ${accountId}`,
    );
  }
  const { first, last } = names(env, fields);
  if (!first && !last) throw new RowError('blank_username', 'FirstName and LastName (or UserName) are blank');
  const prof = profileFields(env, fields);
  const auto = cell(env, fields, 'auto_activate').toLowerCase();
  if (auto && auto !== 'true' && auto !== 'false') {
    throw new RowError('invalid_autoactivate', 'AutoActivate must be true, false or blank');
  }
  const status: MembershipStatus = auto === 'false' ? 'pending' : 'active';
  const activation = cell(env, fields, 'send_activation').toLowerCase();
  if (activation && activation !== 'true' && activation !== 'false') {
    throw new RowError('invalid_row_data', 'SendActivationEmail must be true, false or blank');
  }
  let groups = await groupIds(env, fields, accountId);
  const setName = cell(env, fields, 'permission_set');
  let profileId: number;
  if (setName) {
    const id = info.profiles.get(setName.toLowerCase());
    if (id === undefined)
      throw new RowError(
        'invalid_permissionset',
        `no permission profile "${setName}" in account ${info.name}`,
      );
    profileId = id;
  } else {
    // HR mapping rules (src/core/mapping-rules) decide for a row that names no profile.
    const mapped = info.matcher({
      job_title: prof.job_title,
      department: prof.department,
      company: prof.company,
    });
    if (!mapped) {
      throw new RowError(
        'permissionset_required',
        'PermissionSet is blank and no mapping rule of the account applies',
      );
    }
    profileId = mapped.permission_profile_id;
    groups = [...new Set([...groups, ...mapped.group_ids.filter((g) => g !== info.everyone)])];
  }
  mayAssign(env, info, accountId, profileId);

  const existing = world.byEmail.get(email.toLowerCase());
  if (existing) {
    // A user the importer cannot see (a member's import; the user is in none of its account's memberships)
    // is not revealed: a dry run plans the row exactly as for a new user (no id, no check of their name or
    // status, which only the real run can meet), and the real run's errors name nothing of theirs.
    const hidden = !visible(env, existing);
    res.user_id = hidden && env.dryRun ? null : shown(env, existing.planned, existing.id);
    const u = existing.row;
    if (!(hidden && env.dryRun)) {
      if ((first && first !== u.first_name) || (last && last !== u.last_name)) {
        throw new RowError(
          'new_name_with_existing_useremail_not_allowed',
          hidden
            ? `${email} belongs to an existing user with another name; the name cannot change here`
            : `${email} already belongs to ${u.first_name} ${u.last_name}; the name cannot change here (use update)`,
        );
      }
      if (u.status === 'deactivated')
        throw new RowError('invalid_row_data', `user ${email} is deactivated; reactivate the user first`);
    }
    const m = existing.memberships.get(accountId);
    // The rule openMembership() applies (src/core/users/memberships.ts), decided here for the batch's world.
    if (m && membershipOpening(m) === 'already_member') {
      res.result = 'no_action_taken_user_exists';
      res.message = `${email} is already a member of the account`;
      res.membership_id = shown(env, m.row === null, m.id);
      return;
    }
    if (status === 'active') takeSeat(world, accountId);
    world.changed.add(existing);
    if (m) {
      // membershipOpening(m) is 'reopen': a closed membership is reopened, keeping its id.
      const before = m.row ?? ({ id: m.id, account_id: accountId } as Membership);
      ops.push({ kind: 'reopenMembership', before, status, profileId });
      m.status = status;
      m.permission_profile_id = profileId;
      res.membership_id = m.id;
    } else {
      const row = membershipRow(u, accountId, status, profileId);
      ops.push({ kind: 'createMembership', row });
      existing.memberships.set(accountId, {
        id: row.id,
        status,
        permission_profile_id: profileId,
        row: null,
      });
      res.membership_id = shown(env, true, row.id);
    }
    const newGroups = groups.filter((g) => !existing.groups.has(g));
    if (newGroups.length > 0) {
      ops.push({ kind: 'addGroups', userId: u.id, accountId, groupIds: newGroups });
      for (const g of newGroups) existing.groups.add(g);
    }
    res.action = 'add';
    res.result = 'user_added';
    return;
  }
  if (status === 'active') takeSeat(world, accountId);
  const now = new Date();
  const user: User = {
    id: newId(),
    organization_id: env.organizationId,
    email,
    first_name: first,
    last_name: last,
    job_title: prof.job_title || null,
    department: prof.department || null,
    company: prof.company || null,
    language: prof.language,
    role: 'member',
    status: 'active',
    password_hash: null,
    created_at: now,
    updated_at: now,
    email_verified_at: null,
    pending_email: null,
  } as User;
  const membership = membershipRow(user, accountId, status, profileId);
  ops.push({ kind: 'createUser', row: user }, { kind: 'createMembership', row: membership });
  if (groups.length > 0) ops.push({ kind: 'addGroups', userId: user.id, accountId, groupIds: groups });
  if (activation === 'true') ops.push({ kind: 'sendActivation', user, accountId });
  const planned: WUser = {
    id: user.id,
    planned: true,
    row: user,
    memberships: new Map([
      [accountId, { id: membership.id, status, permission_profile_id: profileId, row: null }],
    ]),
    groups: new Set(groups),
  };
  world.put(planned);
  world.changed.add(planned);
  res.action = 'add';
  res.result = 'user_added';
  res.user_id = shown(env, true, user.id);
  res.membership_id = shown(env, true, membership.id);
}

function membershipRow(
  user: User,
  accountId: string,
  status: MembershipStatus,
  profileId: number,
): Membership {
  const now = new Date();
  return {
    id: newId(),
    organization_id: user.organization_id,
    account_id: accountId,
    user_id: user.id,
    created_at: now,
    ...openedMembershipFields(status, profileId, now),
  } as Membership;
}

async function planUpdate(
  env: PlanEnv,
  world: World,
  fields: string[],
  res: RowResult,
  ops: Op[],
): Promise<void> {
  const apiName = cell(env, fields, 'api_user_name').toLowerCase();
  if (!isUuid(apiName))
    throw new RowError('invalid_apiusername', `APIUserName "${apiName}" is not a user id`);
  // The account the row acts in: the row's or the import's, else a member's own. The user must belong to it:
  // an update never touches a user outside the import's account (and, for a member, does not tell whether
  // such a user exists).
  const scope =
    cell(env, fields, 'account_id') || env.accountParam
      ? resolveAccount(env, fields)
      : env.principal.role === 'member'
        ? env.principal.accountId
        : null;
  const target = world.byId.get(apiName);
  const missing = !target || (target.planned && env.dryRun);
  const notInAccount = () => new RowError('user_not_in_account', `no user ${apiName} in account ${scope}`);
  if (missing || !target) {
    // A member sees no user outside its account: a missing one answers alike.
    if (scope && env.principal.role === 'member') throw notInAccount();
    throw new RowError('invalid_apiusername', `no user ${apiName} in this organization`);
  }
  if (scope && !target.memberships.has(scope)) throw notInAccount();
  res.user_id = target.id;
  if (cell(env, fields, 'auto_activate')) {
    throw new RowError('autoactivate_not_allowed', 'AutoActivate applies only when adding users');
  }
  const email = cell(env, fields, 'email');
  if (email) checkEmail(email);
  mayManage(env.principal, target.row);
  const { first, last } = names(env, fields);
  const prof = profileFields(env, fields);
  const set: UserSet = {};
  const u = target.row;
  // A new email is asked for, not set: the user keeps signing in with the present one until the link mailed
  // to the new one is followed. The present address cancels a change that waits.
  let emailChange: string | null = null;
  if (email && email !== u.email) {
    const other = world.byEmail.get(email.toLowerCase());
    if (other && other.id !== u.id) {
      throw new RowError(
        'useremail_username_combination_exists',
        `another user already has the email ${email}`,
      );
    }
    emailChange = email;
  } else if (email && u.pending_email !== null) {
    emailChange = email;
  }
  if (first && first !== u.first_name) set.first_name = first;
  if (last && last !== u.last_name) set.last_name = last;
  if (prof.job_title && prof.job_title !== u.job_title) set.job_title = prof.job_title;
  if (prof.company && prof.company !== u.company) set.company = prof.company;
  if (prof.department && prof.department !== u.department) set.department = prof.department;
  if (prof.language && prof.language !== u.language) set.language = prof.language;
  const changing = Object.keys(emailChange === null ? set : { ...set, email: emailChange });
  if (changing.length > 0) {
    // The user row is one person in every account: changing it reaches each account they belong to.
    // Asking for an email change is checked like making it (the link goes where the row says).
    const reached: Reached[] = [];
    for (const [accountId, m] of target.memberships) {
      if (!reaches({ status: m.status, closed_by_deactivation: m.row?.closed_by_deactivation ?? false }))
        continue;
      // Only a member's change is bounded by the profiles the user holds (Reach.denial).
      if (env.principal.role !== 'member') {
        reached.push({ accountId, profilePermissions: [] });
        continue;
      }
      const info = await env.catalog.account(accountId);
      const granted =
        m.permission_profile_id === null ? undefined : info.profilePermissions.get(m.permission_profile_id);
      reached.push({ accountId, profilePermissions: granted ?? [] });
    }
    const denial = env.reach.denial(u.id, reached, 'manage_users', `changing ${changing.sort().join(', ')}`);
    if (denial) throw new RowError('account_admin_access_denied', denial.message);
  }

  const setName = cell(env, fields, 'permission_set');
  const wantsGroups = env.columns.groups.some((i) => (fields[i] ?? '').trim() !== '');
  let membershipOp: Op | null = null;
  let profileChange: { m: WMembership; id: number } | null = null;
  let groupsOp: Op | null = null;
  if (setName || wantsGroups || cell(env, fields, 'account_id') || env.accountParam) {
    const accountId = resolveAccount(env, fields);
    res.account_id = accountId;
    const m = target.memberships.get(accountId);
    if (setName || wantsGroups) {
      if (!m || m.status === 'closed') {
        throw new RowError(
          'membership_not_in_account',
          `${u.email} has no open membership in account ${accountId}`,
        );
      }
      res.membership_id = m.id;
      const info = await env.catalog.account(accountId);
      if (setName) {
        const id = info.profiles.get(setName.toLowerCase());
        if (id === undefined)
          throw new RowError(
            'invalid_permissionset',
            `no permission profile "${setName}" in account ${info.name}`,
          );
        if (id !== m.permission_profile_id) {
          // Neither the profile it gets nor the one it holds may be above the importer's own.
          if (m.permission_profile_id !== null) mayAssign(env, info, accountId, m.permission_profile_id);
          mayAssign(env, info, accountId, id);
          const before = m.row ?? ({ id: m.id, account_id: accountId } as Membership);
          membershipOp = { kind: 'updateMembership', before, profileId: id };
          // Applied to the world below, once no check of the row can fail any more (an invalid group).
          profileChange = { m, id };
        }
      }
      const groups = (await groupIds(env, fields, accountId)).filter((g) => !target.groups.has(g));
      if (groups.length > 0) {
        groupsOp = { kind: 'addGroups', userId: u.id, accountId, groupIds: groups };
        for (const g of groups) target.groups.add(g);
      }
    } else if (m) {
      res.membership_id = m.id;
    }
  }
  if (changing.length === 0 && !membershipOp && !groupsOp) {
    res.result = 'no_action_taken';
    res.message = 'nothing to change';
    return;
  }
  if (Object.keys(set).length > 0) {
    ops.push({ kind: 'updateUser', before: u, set });
    target.row = { ...u, ...set };
  }
  if (emailChange !== null) {
    ops.push({ kind: 'requestEmailChange', userId: u.id, email: emailChange });
    const cancel = emailChange === u.email;
    target.row = { ...target.row, pending_email: cancel ? null : emailChange };
    res.message = cancel
      ? 'the email change that waited for confirmation is canceled'
      : `the email becomes ${emailChange} once the link mailed there is followed; until then it stays ${u.email}`;
  }
  if (membershipOp) ops.push(membershipOp);
  if (profileChange) profileChange.m.permission_profile_id = profileChange.id;
  if (groupsOp) ops.push(groupsOp);
  world.changed.add(target);
  res.action = 'update';
  res.result = 'user_updated';
}

async function planClose(
  env: PlanEnv,
  world: World,
  fields: string[],
  res: RowResult,
  ops: Op[],
): Promise<void> {
  const email = cell(env, fields, 'email');
  checkEmail(email);
  const accountId = resolveAccount(env, fields);
  res.account_id = accountId;
  const target = world.byEmail.get(email.toLowerCase());
  const m = target?.memberships.get(accountId);
  // No user, or none in the account: the same answer, so a close does not tell who exists elsewhere.
  if (!target || !m)
    throw new RowError('membership_not_in_account', `no user ${email} in account ${accountId}`);
  res.user_id = shown(env, target.planned, target.id);
  const given = has(env, 'membership_id') ? cell(env, fields, 'membership_id').toLowerCase() : '';
  if (given && given !== m.id) {
    throw new RowError(
      'invalid_membership_id',
      `MembershipId ${given} is not ${email}'s membership in the account`,
    );
  }
  res.membership_id = shown(env, m.row === null, m.id);
  if (env.principal.userId === target.id) {
    throw new RowError('cannot_close_own_membership', 'the importing user cannot close their own membership');
  }
  mayManage(env.principal, target.row);
  if (m.status !== 'closed' && m.permission_profile_id !== null) {
    mayAssign(env, await env.catalog.account(accountId), accountId, m.permission_profile_id);
  }
  if (m.status === 'closed') {
    res.result = 'no_action_taken';
    res.message = 'the membership is already closed';
    return;
  }
  ops.push({ kind: 'closeMembership', id: m.id, accountId, userId: target.id });
  if (m.status === 'active') freeSeat(world, accountId);
  m.status = 'closed';
  world.changed.add(target);
  res.action = 'close';
  res.result = 'membership_closed';
}

/**
 * Splits ops into consecutive rounds that one set-based statement each can apply with the same effect as
 * applying them one by one in order: within a round no key repeats, and a `solo` op is alone in its round.
 */
function rounds<T>(ops: readonly T[], key: (op: T) => string, solo: (op: T) => boolean = () => false): T[][] {
  const out: T[][] = [];
  let cur: T[] = [];
  let keys = new Set<string>();
  for (const op of ops) {
    const k = key(op);
    if (cur.length > 0 && (keys.has(k) || solo(op) || solo(cur[0]!))) {
      out.push(cur);
      cur = [];
      keys = new Set();
    }
    cur.push(op);
    keys.add(k);
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

/** The `_meta` of every event an import records (one object for all of them; never modified). */
const IMPORT_META: Readonly<Record<string, unknown>> = Object.freeze({ via: 'import' });

/**
 * Carries out a planned batch with set-based statements (src/core/imports/bulk.ts: one statement per kind of
 * write, whatever the batch size); returns the audit events, in row order, and the mails queued (email
 * changes ask for confirmation one by one, as through the API), to dispatch once the batch has committed.
 * Rows created here are audited as planned (they are exactly what is inserted; created_at/updated_at, the
 * only columns the database fills, are not part of an audit diff); updated rows are audited as the database
 * returns them.
 */
export async function executeBatch(
  trx: Db,
  planned: Planned,
  emailChanges: EmailChanges,
  activation: Activation | null = null,
): Promise<{ events: AuditInput[]; mailIds: string[] }> {
  const all = planned.ops.flat();
  const of = <K extends Op['kind']>(k: K) => all.filter((o): o is Extract<Op, { kind: K }> => o.kind === k);
  await insertUsers(
    trx,
    of('createUser').map((o) => o.row),
  );
  await insertMemberships(
    trx,
    of('createMembership').map((o) => o.row),
  );
  const now = new Date();
  const after = new Map<Op, Record<string, unknown>>();
  for (const round of rounds(of('reopenMembership'), (o) => o.before.id)) {
    const rows = await reopenMemberships(
      trx,
      round.map((o) => ({ id: o.before.id, status: o.status, profileId: o.profileId })),
      now,
    );
    for (const o of round) after.set(o, rows.get(o.before.id)!);
  }
  for (const round of rounds(of('updateUser'), (o) => o.before.id)) {
    const rows = await updateUsers(
      trx,
      round.map((o) => ({ id: o.before.id, set: o.set })),
      now,
    );
    for (const o of round) after.set(o, rows.get(o.before.id)!);
  }
  for (const round of rounds(of('updateMembership'), (o) => o.before.id)) {
    const rows = await updateMembershipProfiles(
      trx,
      round.map((o) => ({ id: o.before.id, profileId: o.profileId })),
      now,
    );
    for (const o of round) after.set(o, rows.get(o.before.id)!);
  }
  const closes = of('closeMembership');
  if (closes.length > 0) {
    await trx
      .updateTable('memberships')
      .set({ status: 'closed', closed_at: now, updated_at: now, closed_by_deactivation: false })
      .where((eb) => eb('id', '=', eb.fn.any(eb.val(closes.map((c) => c.id)))))
      .execute();
  }
  const created = new Set(of('createUser').map((o) => o.row.id));
  const members = of('addGroups').flatMap((o) =>
    o.groupIds.map((group_id) => ({ account_id: o.accountId, group_id, user_id: o.userId })),
  );
  await copyGroupMembers(
    trx,
    members.filter((m) => created.has(m.user_id)),
  );
  await insertGroupMembers(
    trx,
    members.filter((m) => !created.has(m.user_id)),
  );
  const mailIds: string[] = [];
  const emailEvents = new Map<Op, AuditInput[]>();
  for (const op of of('requestEmailChange')) {
    const recorded: AuditInput[] = [];
    const record = (event: AuditInput) => recorded.push(event);
    mailIds.push(...(await emailChanges.request(trx, { record }, op.userId, op.email, IMPORT_META)));
    emailEvents.set(op, recorded);
  }
  const activations = of('sendActivation');
  if (activations.length > 0 && !activation) throw new Error('executeBatch: no activation mailer given');
  for (const op of activations) {
    const recorded: AuditInput[] = [];
    const record = (event: AuditInput) => recorded.push(event);
    mailIds.push(await activation!.queue(trx, { record }, op.user, op.accountId, IMPORT_META));
    emailEvents.set(op, recorded);
  }

  // The same events the API records for each change, marked as the import's.
  const events: AuditInput[] = [];
  const record = (event: Omit<AuditInput, 'extra'>): void => {
    (event as AuditInput).extra = IMPORT_META;
    events.push(event);
  };
  for (const op of all) {
    switch (op.kind) {
      case 'createUser':
        record({
          action: 'user.created',
          targetType: 'user',
          targetId: op.row.id,
          after: op.row,
        });
        break;
      case 'createMembership':
        record({
          action: 'membership.created',
          targetType: 'membership',
          targetId: op.row.id,
          accountId: op.row.account_id,
          after: op.row,
        });
        break;
      case 'reopenMembership':
        record({
          action: 'membership.reopened',
          targetType: 'membership',
          targetId: op.before.id,
          accountId: op.before.account_id,
          before: op.before,
          after: after.get(op) ?? null,
        });
        break;
      case 'addGroups':
        for (const g of op.groupIds) {
          record({
            action: 'group.member_added',
            targetType: 'group',
            targetId: String(g),
            accountId: op.accountId,
            after: { user_id: op.userId },
          });
        }
        break;
      case 'updateUser':
        record({
          action: 'user.updated',
          targetType: 'user',
          targetId: op.before.id,
          before: op.before,
          after: after.get(op) ?? null,
        });
        break;
      case 'updateMembership':
        record({
          action: 'membership.updated',
          targetType: 'membership',
          targetId: op.before.id,
          accountId: op.before.account_id,
          before: op.before,
          after: after.get(op) ?? null,
        });
        break;
      case 'closeMembership':
        record({
          action: 'membership.closed',
          targetType: 'membership',
          targetId: op.id,
          accountId: op.accountId,
          after: { user_id: op.userId, status: 'closed' },
        });
        break;
      case 'requestEmailChange':
      case 'sendActivation':
        events.push(...(emailEvents.get(op) ?? []));
        break;
    }
  }
  return { events, mailIds };
}
