// The simulated world of a dry-run, kept in PostgreSQL between batches (table import_dry_users,
// 0012_import_dry_users.sql) instead of in the worker's memory, so a dry-run's memory is bounded by its batch,
// not its file. A real import needs none of this: what its batches did is in the users tables.
//
// Each entry is one user as the dry-run's plan left it (a WUser: its row, memberships and groups), keyed by
// (import_id, user_id) and findable by its simulated email, lower-cased. A batch loads the entries its rows
// refer to (by email and by id) before the real tables, and the real tables are read only for users that have
// no entry (World.load); so a user whose email the plan changed is no longer found by the old one, and an
// email handed to another user is found on that user. The batch then upserts the entries it changed, in its
// own transaction, with the seat counters (import_dry_state): what is kept always matches the committed
// checkpoint, so a dry-run resumes after it as an import does. All is deleted when the import ends, and when a
// dry-run starts over (PostgreSQL crashed and emptied these UNLOGGED tables).
import { sql } from 'kysely';
import type { Db } from '../../db/connection.ts';
import type { WMembership, World, WUser } from './rows.ts';

interface Stored {
  planned: boolean;
  row: WUser['row'];
  memberships: [string, WMembership][];
  groups: number[];
}

/** JSON of a WUser; its Dates become ISO strings (ms precision, as a Date holds them). */
export function encodeUser(u: WUser): string {
  const s: Stored = {
    planned: u.planned,
    row: u.row,
    memberships: [...u.memberships],
    groups: [...u.groups],
  };
  return JSON.stringify(s);
}

// Every timestamp column of users and memberships is named …_at (created_at, updated_at, closed_at,
// email_verified_at); JSON gave their Dates as ISO strings.
const reviveDates = (key: string, value: unknown): unknown =>
  key.endsWith('_at') && typeof value === 'string' ? new Date(value) : value;

export function decodeUser(json: string): WUser {
  const s = JSON.parse(json, reviveDates) as Stored;
  return {
    id: s.row.id,
    planned: s.planned,
    row: s.row,
    memberships: new Map(s.memberships),
    groups: new Set(s.groups),
  };
}

/** The entries of `importId` with one of `emails` (lower-cased) or `ids`. */
export async function loadSpilled(
  db: Db,
  importId: string,
  emails: string[],
  ids: string[],
): Promise<WUser[]> {
  // Two index look-ups, as World.load does for the users table.
  const [byEmail, byId] = await Promise.all([
    emails.length === 0
      ? { rows: [] }
      : sql<{ state: string }>`
          SELECT state::text AS state FROM import_dry_users
          WHERE import_id = ${importId} AND email = ANY(${emails}::text[])`.execute(db),
    ids.length === 0
      ? { rows: [] }
      : sql<{ state: string }>`
          SELECT state::text AS state FROM import_dry_users
          WHERE import_id = ${importId} AND user_id = ANY(${ids}::uuid[])`.execute(db),
  ]);
  const out = new Map<string, WUser>();
  for (const r of [...byEmail.rows, ...byId.rows]) {
    const u = decodeUser(r.state);
    out.set(u.id, u);
  }
  return [...out.values()];
}

/**
 * Writes the entries of `users` (as they are now) for `importId`, one statement. They go as ONE text parameter
 * (a JSON array of {email, state}), which postgres.js sends as it is, rather than text[] parameters it would
 * escape element by element.
 */
export async function saveSpilled(db: Db, importId: string, users: Iterable<WUser>): Promise<void> {
  const items: string[] = [];
  for (const u of users) {
    items.push(`{"e":${JSON.stringify(u.row.email.toLowerCase())},"s":${encodeUser(u)}}`);
  }
  if (items.length === 0) return;
  await sql`
    INSERT INTO import_dry_users (import_id, user_id, email, state)
    SELECT ${importId}::uuid, (i->'s'->'row'->>'id')::uuid, i->>'e', i->'s'
    FROM jsonb_array_elements(${`[${items.join(',')}]`}::text::jsonb) AS i
    ON CONFLICT (import_id, user_id) DO UPDATE SET email = excluded.email, state = excluded.state`.execute(
    db,
  );
}

type Seats = World['seats'];

/** Records the seat counters as the batch ending at `lastRow` left them (in that batch's transaction). */
export async function saveDryState(db: Db, importId: string, lastRow: number, seats: Seats): Promise<void> {
  const json = JSON.stringify(Object.fromEntries(seats));
  await sql`
    INSERT INTO import_dry_state (import_id, last_row, seats)
    VALUES (${importId}::uuid, ${lastRow}, ${json}::text::jsonb)
    ON CONFLICT (import_id) DO UPDATE SET last_row = excluded.last_row, seats = excluded.seats`.execute(db);
}

/** The seat counters recorded with checkpoint `lastRow`; null when there are none (the dry-run starts over). */
export async function loadDryState(db: Db, importId: string, lastRow: number): Promise<Seats | null> {
  const { rows } = await sql<{ last_row: number; seats: string }>`
    SELECT last_row, seats::text AS seats FROM import_dry_state WHERE import_id = ${importId}`.execute(db);
  const row = rows[0];
  if (!row || row.last_row !== lastRow) return null;
  const seats = JSON.parse(row.seats) as Record<string, { used: number; limit: number | null }>;
  return new Map(Object.entries(seats));
}

/** Deletes what a dry-run keeps (the import ended, or the dry-run starts over). */
export async function clearSpilled(db: Db, importId: string): Promise<void> {
  await sql`DELETE FROM import_dry_users WHERE import_id = ${importId}`.execute(db);
  await sql`DELETE FROM import_dry_state WHERE import_id = ${importId}`.execute(db);
}
