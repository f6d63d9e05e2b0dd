// Set-based writes of an import batch: each is ONE statement whatever the batch size. New rows (users,
// memberships, row results, audit events) are streamed with COPY … FROM STDIN on the batch transaction's
// connection: PostgreSQL parses COPY's text format far more cheaply than unnest() over text[] parameters with
// casts, it inserts in multi-row batches, and Node builds the text itself instead of postgres.js serialising one
// escaped array per column (~10% of an import's CPU). COPY runs every constraint, index and trigger an INSERT
// does (the seat trigger included: statement-level AFTER INSERT triggers fire for COPY, with their transition
// tables); group members of the users a batch creates are copied too. Updates, and group members of existing
// users (ON CONFLICT DO NOTHING), stay `… FROM unnest($1::text[], …)` statements, one parameter per column;
// postgres.js escapes those arrays exactly (NULL elements stay NULL).

import { hash as digest } from 'node:crypto';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { sql } from 'kysely';
import type postgres from 'postgres';
import type { Db } from '../../db/connection.ts';
import type { Membership, User } from '../../db/schema.ts';
import { GENESIS_HASH } from '../audit/chain.ts';
import { changesJson } from '../audit/changes.ts';
import type { AuditInput, RequestMeta } from '../audit/writer.ts';
import { newId } from '../ids.ts';
import type { Principal } from '../principal.ts';
import { recordWebhookEvents } from '../webhooks/events.ts';
import type { RowResult } from './rows.ts';

const col = <T>(rows: readonly T[], f: (r: T) => string | number | null | undefined): (string | null)[] =>
  rows.map((r) => {
    const v = f(r);
    return v === null || v === undefined ? null : String(v);
  });

// --- COPY --------------------------------------------------------------------------------------------------

const SPECIAL = /[\\\t\n\r]/;
const SPECIALS = /[\\\t\n\r]/g;
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };
const escapeChar = (ch: string): string => ESCAPES[ch]!;

/** A value in COPY's text format: \N for NULL; backslash, tab, newline and carriage return escaped. */
export function copyValue(v: string | number | null | undefined): string {
  if (v === null || v === undefined) return '\\N';
  const s = typeof v === 'string' ? v : String(v);
  return SPECIAL.test(s) ? s.replace(SPECIALS, escapeChar) : s;
}

/**
 * COPY text of `rows`, one line each, in pieces of ~64 KB, made as the COPY consumes them: PostgreSQL applies
 * the first pieces while Node makes the next ones, and a batch's text (megabytes for its audit events) is
 * never held whole in memory.
 */
function* inPieces<T>(rows: Iterable<T>, line: (r: T) => string): Generator<string> {
  let cur = '';
  for (const r of rows) {
    cur += line(r);
    if (cur.length >= 65_536) {
      yield cur;
      cur = '';
    }
  }
  if (cur) yield cur;
}

interface CopyQuery {
  resolve: (x: unknown) => void;
  reject: (err: unknown) => void;
  writable(): Promise<Writable>;
}

/** The postgres.js connection a Kysely transaction runs on (src/db/dialect.ts keeps it as `reserved`). */
async function connectionOf(trx: Db): Promise<postgres.ReservedSql> {
  return trx.getExecutor().provideConnection(async (c) => {
    const reserved = (c as unknown as { reserved?: postgres.ReservedSql }).reserved;
    if (!reserved) throw new Error('COPY needs the postgres.js connection of src/db/dialect.ts');
    return reserved;
  });
}

/**
 * Runs `statement` (a COPY … FROM STDIN) with `pieces` as its data, on the transaction's connection, and
 * resolves once PostgreSQL has applied it. postgres.js resolves a COPY query with its stream at CopyInResponse
 * and, once the data has been sent, reports a failure of the COPY (a unique violation, the seat trigger's
 * SN001…) only by rejecting that already-resolved query: awaiting the stream would then wait forever. So the
 * query's resolve/reject are observed directly: the second resolve is the COPY's completion, a reject its error.
 * The pieces are taken one at a time, each once the previous one has been handed to the socket.
 */
async function copyIn(trx: Db, statement: string, pieces: Iterable<string>): Promise<void> {
  const conn = await connectionOf(trx);
  await new Promise<void>((resolve, reject) => {
    const q = conn.unsafe(statement) as unknown as CopyQuery;
    const resolveQuery = q.resolve;
    const rejectQuery = q.reject;
    let stream: Writable | null = null;
    const pump = async (w: Writable) => {
      try {
        for (const piece of pieces) {
          if (!w.write(piece)) await once(w, 'drain');
        }
        w.end();
      } catch (err) {
        w.destroy(err as Error); // CopyFail: PostgreSQL abandons the COPY
        reject(err);
      }
    };
    q.resolve = (x) => {
      resolveQuery(x);
      if (stream) {
        resolve();
        return;
      }
      stream = x as Writable;
      stream.on('error', reject);
      void pump(stream);
    };
    q.reject = (err) => {
      rejectQuery(err);
      reject(err);
    };
    q.writable().catch(reject);
  });
}

/** New users (created_at / updated_at: the transaction's now(), as the column defaults give). */
export async function insertUsers(trx: Db, rows: readonly User[]): Promise<void> {
  if (rows.length === 0) return;
  const lines = inPieces(
    rows,
    (r) =>
      `${copyValue(r.id)}\t${copyValue(r.organization_id)}\t${copyValue(r.email)}\t${copyValue(r.first_name)}\t` +
      `${copyValue(r.last_name)}\t${copyValue(r.job_title)}\t${copyValue(r.department)}\t` +
      `${copyValue(r.company)}\t${copyValue(r.language)}\t${copyValue(r.role)}\t${copyValue(r.status)}\n`,
  );
  await copyIn(
    trx,
    `COPY users (id, organization_id, email, first_name, last_name, job_title, department, company, language,
                 role, status) FROM STDIN`,
    lines,
  );
}

/**
 * New memberships. The seat trigger counts them per statement (0008_import_perf.sql). Rows are built with
 * openedMembershipFields() (src/core/users/memberships.ts), the columns every opened membership has.
 */
export async function insertMemberships(trx: Db, rows: readonly Membership[]): Promise<void> {
  if (rows.length === 0) return;
  const lines = inPieces(
    rows,
    (r) =>
      `${copyValue(r.id)}\t${copyValue(r.organization_id)}\t${copyValue(r.account_id)}\t${copyValue(r.user_id)}\t` +
      `${copyValue(r.status)}\t${copyValue(r.permission_profile_id)}\n`,
  );
  await copyIn(
    trx,
    'COPY memberships (id, organization_id, account_id, user_id, status, permission_profile_id) FROM STDIN',
    lines,
  );
}

/**
 * Group members of users this batch creates: no row can exist for them yet (the batch plans each user's
 * groups once), so COPY needs no ON CONFLICT. insertGroupMembers below is for users that already existed.
 */
export async function copyGroupMembers(
  trx: Db,
  rows: readonly { account_id: string; group_id: number; user_id: string }[],
): Promise<void> {
  if (rows.length === 0) return;
  await copyIn(
    trx,
    'COPY group_members (account_id, group_id, user_id) FROM STDIN',
    inPieces(rows, (r) => `${copyValue(r.account_id)}\t${r.group_id}\t${copyValue(r.user_id)}\n`),
  );
}

export async function insertGroupMembers(
  trx: Db,
  rows: readonly { account_id: string; group_id: number; user_id: string }[],
): Promise<void> {
  if (rows.length === 0) return;
  await sql`
    INSERT INTO group_members (account_id, group_id, user_id)
    SELECT t.account_id::uuid, t.group_id::bigint, t.user_id::uuid
    FROM unnest(${col(rows, (r) => r.account_id)}::text[], ${col(rows, (r) => r.group_id)}::text[],
                ${col(rows, (r) => r.user_id)}::text[]) AS t(account_id, group_id, user_id)
    ON CONFLICT DO NOTHING`.execute(trx);
}

/**
 * Reopens closed memberships; returns the rows as updated, by id. Sets the columns openedMembershipFields()
 * names (src/core/users/memberships.ts), set-based: this SQL and that function are the one definition of a
 * reopened membership, keep them alike.
 */
export async function reopenMemberships(
  trx: Db,
  rows: readonly { id: string; status: string; profileId: number | null }[],
  now: Date,
): Promise<Map<string, Membership>> {
  if (rows.length === 0) return new Map();
  const out = await sql<Membership>`
    UPDATE memberships m
    SET status = t.status, permission_profile_id = t.profile_id::bigint, updated_at = ${now},
        closed_at = NULL, closed_by_deactivation = false
    FROM unnest(${col(rows, (r) => r.id)}::text[], ${col(rows, (r) => r.status)}::text[],
                ${col(rows, (r) => r.profileId)}::text[]) AS t(id, status, profile_id)
    WHERE m.id = t.id::uuid
    RETURNING m.*`.execute(trx);
  return new Map(out.rows.map((r) => [r.id, r]));
}

/** Changes memberships' permission profiles; returns the rows as updated, by id. */
export async function updateMembershipProfiles(
  trx: Db,
  rows: readonly { id: string; profileId: number }[],
  now: Date,
): Promise<Map<string, Membership>> {
  if (rows.length === 0) return new Map();
  const out = await sql<Membership>`
    UPDATE memberships m
    SET permission_profile_id = t.profile_id::bigint, updated_at = ${now}
    FROM unnest(${col(rows, (r) => r.id)}::text[], ${col(rows, (r) => r.profileId)}::text[])
      AS t(id, profile_id)
    WHERE m.id = t.id::uuid
    RETURNING m.*`.execute(trx);
  return new Map(out.rows.map((r) => [r.id, r]));
}

export type UserChange = Partial<
  Pick<User, 'email' | 'first_name' | 'last_name' | 'job_title' | 'company' | 'department' | 'language'>
>;

/**
 * Applies user changes (a blank cell never changes a field, so NULL here means "keep"); returns the rows as
 * updated, by id. Each user at most once per call.
 */
export async function updateUsers(
  trx: Db,
  rows: readonly { id: string; set: UserChange }[],
  now: Date,
): Promise<Map<string, User>> {
  if (rows.length === 0) return new Map();
  const out = await sql<User>`
    UPDATE users u
    SET email = coalesce(t.email, u.email), first_name = coalesce(t.first_name, u.first_name),
        last_name = coalesce(t.last_name, u.last_name), job_title = coalesce(t.job_title, u.job_title),
        company = coalesce(t.company, u.company), department = coalesce(t.department, u.department),
        language = coalesce(t.language, u.language), updated_at = ${now}
    FROM unnest(${col(rows, (r) => r.id)}::text[], ${col(rows, (r) => r.set.email)}::text[],
                ${col(rows, (r) => r.set.first_name)}::text[], ${col(rows, (r) => r.set.last_name)}::text[],
                ${col(rows, (r) => r.set.job_title)}::text[], ${col(rows, (r) => r.set.company)}::text[],
                ${col(rows, (r) => r.set.department)}::text[], ${col(rows, (r) => r.set.language)}::text[])
      AS t(id, email, first_name, last_name, job_title, company, department, language)
    WHERE u.id = t.id::uuid
    RETURNING u.*`.execute(trx);
  return new Map(out.rows.map((r) => [r.id, r]));
}

/** The batch's row results, in one statement. */
export async function insertRowResults(trx: Db, importId: string, rows: readonly RowResult[]): Promise<void> {
  if (rows.length === 0) return;
  const id = copyValue(importId);
  const lines = inPieces(
    rows,
    (r) =>
      `${id}\t${r.row_number}\t${copyValue(r.status)}\t${copyValue(r.action)}\t${copyValue(r.result)}\t` +
      `${copyValue(r.error_type)}\t${copyValue(r.message)}\t${copyValue(r.email)}\t${copyValue(r.account_id)}\t` +
      `${copyValue(r.user_id)}\t${copyValue(r.membership_id)}\n`,
  );
  await copyIn(
    trx,
    `COPY import_rows (import_id, row_number, status, action, result, error_type, message, email, account_id,
                       user_id, membership_id) FROM STDIN`,
    lines,
  );
}

/**
 * appendAudit (src/core/audit/writer.ts) for a batch: the same events, the same chain, the same lock on the
 * organization's audit head, held to commit; the hashes are computed here and every event is inserted by one
 * statement. The events are exactly those appendAudit would store (tests verify the chain).
 */
export async function appendAuditBulk(
  trx: Db,
  principal: Principal,
  meta: RequestMeta,
  inputs: readonly AuditInput[],
): Promise<void> {
  if (inputs.length === 0) return;
  const orgId = principal.organizationId;
  // Lock this organization's chain tip, creating it on first use, in one round trip: DO UPDATE takes the row
  // lock (as appendAudit's SELECT … FOR UPDATE does) and returns the tip as it stands.
  const head = (
    await sql<{ last_seq: number; last_hash: string }>`
      INSERT INTO audit_heads (organization_id, last_seq, last_hash) VALUES (${orgId}, 0, ${GENESIS_HASH})
      ON CONFLICT (organization_id) DO UPDATE SET last_seq = audit_heads.last_seq
      RETURNING last_seq, last_hash`.execute(trx)
  ).rows[0];
  if (!head) throw new Error(`no audit head for organization ${orgId}`);
  let seq = Number(head.last_seq);
  let prev = head.last_hash;
  const occurredAt = new Date().toISOString();
  const q = (v: string | null) => JSON.stringify(v);
  const ip = meta.ip ?? null;
  const userAgent = meta.userAgent ?? null;
  const requestId = meta.requestId ?? null;
  // canonicalJson(ChainedFields) (src/core/audit/chain.ts) spelled out: the keys in sorted order, the fields
  // every event of the batch shares serialized once. Same bytes, so the same hashes `audit verify` recomputes.
  const actor = `"actor_id":${q(principal.id)},"actor_label":${q(principal.label)},"actor_type":${q(principal.kind)}`;
  const middle = `"ip":${q(ip)},"occurred_at":${q(occurredAt)},"organization_id":${q(orgId)},"request_id":${q(requestId)}`;
  const tail = `"user_agent":${q(userAgent)}}`;
  // The columns every event of the batch shares, in COPY text (id and seq come first and vary).
  const shared =
    `${copyValue(orgId)}\t${copyValue(occurredAt)}\t${copyValue(principal.kind)}\t${copyValue(principal.id)}\t` +
    `${copyValue(principal.label)}`;
  const sharedTail = `${copyValue(ip)}\t${copyValue(userAgent)}\t${copyValue(requestId)}`;
  // Made as the COPY consumes them (inPieces): seq and prev are final once the COPY has run.
  const lines = inPieces(inputs, (input) => {
    seq += 1;
    const id = newId();
    const accountId = input.accountId ?? null;
    const change = changesJson(input.before ?? null, input.after ?? null, input.extra);
    const json =
      `{"account_id":${q(accountId)},"action":${q(input.action)},${actor},"changes":${change},` +
      `"id":${q(id)},${middle},"seq":"${seq}","target_id":${q(input.targetId)},` +
      `"target_type":${q(input.targetType)},${tail}`;
    const hash = digest('sha256', `${prev}\n${json}`, 'hex');
    const line =
      `${id}\t${seq}\t${shared}\t${copyValue(input.action)}\t${copyValue(input.targetType)}\t` +
      `${copyValue(input.targetId)}\t${copyValue(accountId)}\t${copyValue(change)}\t${sharedTail}\t${prev}\t${hash}\n`;
    prev = hash;
    return line;
  });
  await copyIn(
    trx,
    `COPY audit_events (id, seq, organization_id, occurred_at, actor_type, actor_id, actor_label, action,
                        target_type, target_id, account_id, changes, ip, user_agent, request_id, prev_hash, hash)
     FROM STDIN`,
    lines,
  );
  await trx
    .updateTable('audit_heads')
    .set({ last_seq: seq, last_hash: prev })
    .where('organization_id', '=', orgId)
    .execute();
  // As appendAudit does: the batch's webhook events, in its transaction (a cached lookup when none is wanted).
  await recordWebhookEvents(trx, orgId, inputs, occurredAt);
}
