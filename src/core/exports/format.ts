// What an export's rows look like, and the queries that read them in keyset pages.
//
// A users export in CSV is one row per membership (a user with no membership, in an organization-wide
// export, is one row with the account cells blank), under the header names the CSV import reads
// (src/core/imports/csv.ts), so an export can be edited and imported again. In JSONL it is one object per
// user with its memberships nested. An account-settings export is one row (object) per account, every setting
// of the catalogue in it. CSV cells are escaped against formula injection; JSONL is for programs and carries
// values as they are. Envelopes and the credit ledger (for a warehouse that mirrors them) are one row (object)
// per envelope or ledger entry, under snake_case names, the API's own field names.
import { sql } from 'kysely';
import type { Db } from '../../db/connection.ts';
import type { CreditEntryRow, EnvelopeRow, ExportRow, User } from '../../db/schema.ts';
import { entryView } from '../credits/ledger.ts';
import { type CsvRow, csvText } from '../csv-safe.ts';
import { partyView, signingCounts, summary } from '../envelopes/service.ts';
import { systemPrincipal } from '../principal.ts';
import { SettingsService } from '../settings/service.ts';
import { FLAT_SETTINGS, flatValue, settingText } from '../settings/text.ts';

/** Users (or accounts) read per query. */
const PAGE = 500;

/** A user's (or account's) rendered rows: the unit a chunk is cut at, so a resume never splits one. */
export interface Unit {
  key: string;
  text: string;
  rows: number;
}

export interface MembershipOut {
  id: string;
  account_id: string;
  account_name: string;
  status: string;
  permission_profile_id: number | null;
  permission_profile_name: string | null;
  groups: { id: number; name: string }[];
}

// --- users ------------------------------------------------------------------------------------------------

/** The CSV header of a users export with `groupColumns` Group columns (the import reads repeated Group). */
export function usersCsvHeader(groupColumns: number): string[] {
  return [
    'AccountID',
    'AccountName',
    'APIUserName',
    'FirstName',
    'LastName',
    'UserEmail',
    'PermissionSet',
    ...Array.from({ length: groupColumns }, () => 'Group'),
    'UserTitle',
    'CompanyName',
    'Department',
    'Language',
    // Not import columns: an import ignores them (and lists them in invalid_column_headers).
    'MembershipStatus',
    'UserStatus',
  ];
}

function usersCsvRows(u: User, memberships: MembershipOut[], groupColumns: number): CsvRow[] {
  const person = [u.job_title, u.company, u.department, u.language];
  const groupCells = (names: string[]): (string | null)[] => {
    const cells: (string | null)[] = names.slice(0, groupColumns);
    // More groups than columns: the membership gained groups after the header was fixed. Keep them all, in
    // the last cell, rather than drop any silently.
    if (names.length > groupColumns) cells[groupColumns - 1] = names.slice(groupColumns - 1).join('; ');
    while (cells.length < groupColumns) cells.push(null);
    return cells;
  };
  const list: (MembershipOut | null)[] = memberships.length > 0 ? memberships : [null];
  return list.map((m) => [
    m?.account_id,
    m?.account_name,
    u.id,
    u.first_name,
    u.last_name,
    u.email,
    m?.permission_profile_name,
    ...groupCells(m ? m.groups.map((g) => g.name) : []),
    ...person,
    m?.status,
    u.status,
  ]);
}

function userJson(u: User, memberships: MembershipOut[]): Record<string, unknown> {
  return {
    id: u.id,
    email: u.email,
    first_name: u.first_name,
    last_name: u.last_name,
    job_title: u.job_title,
    company: u.company,
    department: u.department,
    language: u.language,
    role: u.role,
    status: u.status,
    created_at: u.created_at,
    updated_at: u.updated_at,
    memberships,
  };
}

/** Users of the export's scope after `after` (by id): with an account filter, those with a membership there. */
async function userPage(db: Db, exp: ExportRow, after: string | null): Promise<User[]> {
  const accounts = exp.account_ids;
  let query = db
    .selectFrom('users as u')
    .selectAll('u')
    .where('u.organization_id', '=', exp.organization_id)
    .orderBy('u.id')
    .limit(PAGE);
  if (after) query = query.where('u.id', '>', after);
  if (accounts) {
    query = query.where(({ exists, selectFrom }) =>
      exists(
        selectFrom('memberships as m')
          .select(sql`1`.as('one'))
          .whereRef('m.user_id', '=', 'u.id')
          .where((eb) => eb('m.account_id', '=', eb.fn.any(eb.val(accounts)))),
      ),
    );
  }
  return (await query.execute()) as User[];
}

async function membershipsOf(
  db: Db,
  userIds: string[],
  accounts: string[] | null,
): Promise<Map<string, MembershipOut[]>> {
  let query = db
    .selectFrom('memberships as m')
    .innerJoin('accounts as a', 'a.id', 'm.account_id')
    .leftJoin('permission_profiles as p', 'p.id', 'm.permission_profile_id')
    .select([
      'm.id',
      'm.user_id',
      'm.account_id',
      'a.name as account_name',
      'm.status',
      'm.permission_profile_id',
      'p.name as permission_profile_name',
    ])
    .select(
      sql<{ id: number; name: string }[]>`(
        SELECT coalesce(jsonb_agg(jsonb_build_object('id', g.id, 'name', g.name) ORDER BY g.name, g.id), '[]')
        FROM group_members gm JOIN groups g ON g.id = gm.group_id
        -- Everyone is implicit in the import's format (every membership is in it), as in DocuSign's CSV.
        WHERE gm.user_id = m.user_id AND g.account_id = m.account_id AND g.group_type <> 'everyone')`.as(
        'groups',
      ),
    )
    .where((eb) => eb('m.user_id', '=', eb.fn.any(eb.val(userIds))))
    .orderBy('m.user_id')
    .orderBy('a.name')
    .orderBy('m.account_id');
  if (accounts) query = query.where((eb) => eb('m.account_id', '=', eb.fn.any(eb.val(accounts))));
  const out = new Map<string, MembershipOut[]>();
  for (const r of await query.execute()) {
    const list = out.get(r.user_id) ?? [];
    list.push({
      id: r.id,
      account_id: r.account_id,
      account_name: r.account_name,
      status: r.status,
      permission_profile_id: r.permission_profile_id === null ? null : Number(r.permission_profile_id),
      permission_profile_name: r.permission_profile_name,
      groups: r.groups.map((g) => ({ id: Number(g.id), name: g.name })),
    });
    out.set(r.user_id, list);
  }
  return out;
}

async function* userUnits(db: Db, exp: ExportRow): AsyncGenerator<Unit> {
  let after = exp.last_key;
  for (;;) {
    const users = await userPage(db, exp, after);
    if (users.length === 0) return;
    const memberships = await membershipsOf(
      db,
      users.map((u) => u.id),
      exp.account_ids,
    );
    for (const u of users) {
      const ms = memberships.get(u.id) ?? [];
      if (exp.format === 'csv') {
        const rows = usersCsvRows(u, ms, exp.group_columns);
        yield { key: u.id, text: csvText(rows), rows: rows.length };
      } else {
        yield { key: u.id, text: `${JSON.stringify(userJson(u, ms))}\n`, rows: 1 };
      }
    }
    if (users.length < PAGE) return;
    after = users[users.length - 1]!.id;
  }
}

// --- account settings -------------------------------------------------------------------------------------

export function settingsCsvHeader(): string[] {
  return ['AccountID', 'AccountName', ...FLAT_SETTINGS.map((f) => f.path)];
}

async function* settingsUnits(db: Db, exp: ExportRow): AsyncGenerator<Unit> {
  // The settings service merges stored values over the catalogue's defaults; the scope was checked when the
  // export was created, so it reads as the system.
  const settings = new SettingsService(db);
  const ctx = { principal: systemPrincipal(exp.organization_id, 'test'), meta: {} };
  let after = exp.last_key;
  for (;;) {
    let query = db
      .selectFrom('accounts')
      .select(['id', 'name'])
      .where('organization_id', '=', exp.organization_id)
      .orderBy('id')
      .limit(PAGE);
    if (after) query = query.where('id', '>', after);
    const accounts = exp.account_ids;
    if (accounts) query = query.where((eb) => eb('id', '=', eb.fn.any(eb.val(accounts))));
    const page = await query.execute();
    if (page.length === 0) return;
    for (const account of page) {
      const values = (await settings.get(ctx, account.id, db)) as Record<string, unknown>;
      const text =
        exp.format === 'csv'
          ? csvText([
              [
                account.id,
                account.name,
                // One column per flat setting, in the settings text form imports read back.
                ...FLAT_SETTINGS.map((f) => settingText(flatValue(values, f))),
              ],
            ])
          : `${JSON.stringify({ account_id: account.id, account_name: account.name, settings: values })}\n`;
      yield { key: account.id, text, rows: 1 };
    }
    if (page.length < PAGE) return;
    after = page[page.length - 1]!.id;
  }
}

// --- envelopes ----------------------------------------------------------------------------------------------

export function envelopesCsvHeader(): string[] {
  return [
    'envelope_id',
    'organization_id',
    'account_id',
    'status',
    'title',
    'external_id',
    'signed_count',
    'total',
    'payer_organization_id',
    'created_by_type',
    'created_by_id',
    'created_by_label',
    'reminder_count',
    'void_reason',
    'decline_reason',
    'document_sha256',
    'signed_sha256',
    'metadata',
    'expires_at',
    'sent_at',
    'completed_at',
    'declined_at',
    'voided_at',
    'expired_at',
    'created_at',
    'updated_at',
  ];
}

/** Envelopes of the export's organization (and accounts), changed since `updated_since`, after `after` by id. */
async function envelopePage(db: Db, exp: ExportRow, after: string | null): Promise<EnvelopeRow[]> {
  let query = db
    .selectFrom('envelopes')
    .selectAll()
    .where('organization_id', '=', exp.organization_id)
    .orderBy('id')
    .limit(PAGE);
  if (after) query = query.where('id', '>', after);
  const accounts = exp.account_ids;
  if (accounts) query = query.where((eb) => eb('account_id', '=', eb.fn.any(eb.val(accounts))));
  if (exp.updated_since) query = query.where('updated_at', '>=', exp.updated_since);
  return query.execute();
}

async function* envelopeUnits(db: Db, exp: ExportRow, publicUrl: string): AsyncGenerator<Unit> {
  let after = exp.last_key;
  for (;;) {
    const page = await envelopePage(db, exp, after);
    if (page.length === 0) return;
    const ids = page.map((e) => e.id);
    // A page's parties and document facts in two queries (never the documents' bytes).
    const [parties, docs] = await Promise.all([
      db
        .selectFrom('envelope_parties')
        .selectAll()
        .where((eb) => eb('envelope_id', '=', eb.fn.any(eb.val(ids))))
        .orderBy('envelope_id')
        .orderBy('signing_order')
        .orderBy('id')
        .execute(),
      db
        .selectFrom('envelope_documents')
        .select(['envelope_id', 'kind', 'filename', 'size_bytes', 'page_count', 'sha256'])
        .where((eb) => eb('envelope_id', '=', eb.fn.any(eb.val(ids))))
        .execute(),
    ]);
    for (const e of page) {
      const own = parties.filter((p) => p.envelope_id === e.id);
      const original = docs.find((d) => d.envelope_id === e.id && d.kind === 'original');
      const signed = docs.find((d) => d.envelope_id === e.id && d.kind === 'signed');
      const counts = signingCounts(own);
      let text: string;
      if (exp.format === 'csv') {
        text = csvText([
          [
            e.id,
            e.organization_id,
            e.account_id,
            e.status,
            e.title,
            e.external_id,
            counts.signed_count,
            counts.total,
            e.payer_organization_id,
            e.created_by_type,
            e.created_by_id,
            e.created_by_label,
            e.reminder_count,
            e.void_reason,
            e.decline_reason,
            original?.sha256,
            signed?.sha256,
            e.metadata,
            e.expires_at,
            e.sent_at,
            e.completed_at,
            e.declined_at,
            e.voided_at,
            e.expired_at,
            e.created_at,
            e.updated_at,
          ],
        ]);
      } else {
        // The object GET /api/envelope/{id} answers.
        const line = {
          ...summary(e, publicUrl),
          parties: own.map(partyView),
          ...counts,
          document: original
            ? {
                filename: original.filename,
                size_bytes: original.size_bytes,
                page_count: original.page_count,
                sha256: original.sha256,
                signed_sha256: signed?.sha256 ?? null,
              }
            : null,
        };
        text = `${JSON.stringify(line)}\n`;
      }
      yield { key: e.id, text, rows: 1 };
    }
    if (page.length < PAGE) return;
    after = page[page.length - 1]!.id;
  }
}

// --- the credit ledger --------------------------------------------------------------------------------------

export function ledgerCsvHeader(): string[] {
  return [
    'id',
    'organization_id',
    'kind',
    'amount',
    'balance_after',
    'envelope_id',
    'envelope_organization_id',
    'actor_type',
    'actor_id',
    'actor_label',
    'reason',
    'created_at',
  ];
}

/**
 * The organization's own pool's entries, oldest first (ids are UUIDv7: creation order), made since
 * `updated_since`: entries never change, so "updated" is "made". A connected account whose platform pays
 * has no entries for those sends; they are in the platform's ledger, naming the envelope and its organization.
 */
async function* ledgerUnits(db: Db, exp: ExportRow): AsyncGenerator<Unit> {
  let after = exp.last_key;
  for (;;) {
    let query = db
      .selectFrom('credit_entries')
      .selectAll()
      .where('organization_id', '=', exp.organization_id)
      .orderBy('id')
      .limit(PAGE);
    if (after) query = query.where('id', '>', after);
    if (exp.updated_since) query = query.where('created_at', '>=', exp.updated_since);
    const page: CreditEntryRow[] = await query.execute();
    if (page.length === 0) return;
    for (const r of page) {
      const text =
        exp.format === 'csv'
          ? csvText([
              [
                r.id,
                r.organization_id,
                r.kind,
                r.amount,
                r.balance_after,
                r.envelope_id,
                r.envelope_organization_id,
                r.actor_type,
                r.actor_id,
                r.actor_label,
                r.reason,
                r.created_at,
              ],
            ])
          : `${JSON.stringify(entryView(r))}\n`;
      yield { key: r.id, text, rows: 1 };
    }
    if (page.length < PAGE) return;
    after = page[page.length - 1]!.id;
  }
}

// --- the plan, fixed before the first row ------------------------------------------------------------------

/** The rows expected (for percent_completed) and, for a CSV users export, the number of Group columns. */
export async function planExport(
  db: Db,
  exp: ExportRow,
): Promise<{ totalRows: number; groupColumns: number }> {
  const org = exp.organization_id;
  const accounts = exp.account_ids;
  const inScope = accounts ? sql`AND m.account_id = ANY(${accounts}::uuid[])` : sql``;
  const since = exp.updated_since;
  if (exp.kind === 'envelopes') {
    const r = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM envelopes e WHERE e.organization_id = ${org}
      ${accounts ? sql`AND e.account_id = ANY(${accounts}::uuid[])` : sql``}
      ${since ? sql`AND e.updated_at >= ${since}` : sql``}`.execute(db);
    return { totalRows: r.rows[0]!.n, groupColumns: 1 };
  }
  if (exp.kind === 'credit_ledger') {
    const r = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM credit_entries c WHERE c.organization_id = ${org}
      ${since ? sql`AND c.created_at >= ${since}` : sql``}`.execute(db);
    return { totalRows: r.rows[0]!.n, groupColumns: 1 };
  }
  if (exp.kind === 'account_settings') {
    const r = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM accounts a
      WHERE a.organization_id = ${org} ${accounts ? sql`AND a.id = ANY(${accounts}::uuid[])` : sql``}`.execute(
      db,
    );
    return { totalRows: r.rows[0]!.n, groupColumns: 1 };
  }
  const users = await sql<{ n: number }>`
    SELECT count(*)::int AS n FROM users u WHERE u.organization_id = ${org}
    ${accounts ? sql`AND EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = u.id ${inScope})` : sql``}`.execute(
    db,
  );
  if (exp.format === 'jsonl') return { totalRows: users.rows[0]!.n, groupColumns: 1 };
  // CSV: a row per membership, plus a row per user without one (organization-wide exports only).
  const rows = await sql<{ n: number }>`
    SELECT (SELECT count(*) FROM memberships m WHERE m.organization_id = ${org} ${inScope})::int
      + ${
        accounts
          ? sql`0`
          : sql`(SELECT count(*) FROM users u WHERE u.organization_id = ${org}
          AND NOT EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = u.id))::int`
      } AS n`.execute(db);
  const groups = await sql<{ n: number }>`
    SELECT coalesce(max(n), 0)::int AS n FROM (
      SELECT count(*) AS n FROM group_members gm
      JOIN groups g ON g.id = gm.group_id
      JOIN memberships m ON m.user_id = gm.user_id AND m.account_id = g.account_id
      WHERE g.organization_id = ${org} AND g.group_type <> 'everyone' ${inScope}
      GROUP BY m.id) per_membership`.execute(db);
  return { totalRows: rows.rows[0]!.n, groupColumns: Math.max(1, groups.rows[0]!.n) };
}

/** The text before the first row: CSV's BOM (as results.csv, so spreadsheets read UTF-8) and header. */
export function preamble(exp: ExportRow): string {
  if (exp.format === 'jsonl') return '';
  const header = {
    users: () => usersCsvHeader(exp.group_columns),
    account_settings: settingsCsvHeader,
    envelopes: envelopesCsvHeader,
    credit_ledger: ledgerCsvHeader,
  }[exp.kind]();
  return `\ufeff${csvText([header])}`;
}

/**
 * The export's rows from its checkpoint on, one unit per user (account, envelope, ledger entry). `publicUrl`
 * makes an envelope's review_url, as the API answers it.
 */
export function units(db: Db, exp: ExportRow, publicUrl: string): AsyncGenerator<Unit> {
  switch (exp.kind) {
    case 'users':
      return userUnits(db, exp);
    case 'account_settings':
      return settingsUnits(db, exp);
    case 'envelopes':
      return envelopeUnits(db, exp, publicUrl);
    case 'credit_ledger':
      return ledgerUnits(db, exp);
  }
}
