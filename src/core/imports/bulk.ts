// Set-based writes of an import batch: each is ONE statement whatever the batch size, its rows passed as
// arrays (one parameter per column) and expanded by unnest(). Compared with multi-row VALUES lists this keeps
// one query text per statement (prepared once per connection, no 65,535-parameter cap to chunk around) and
// costs no per-value query building in Node. Arrays are sent as text[] and cast in SQL: postgres.js escapes
// them exactly (NULL elements stay NULL, the string 'NULL' stays a string).

import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import type { Db } from '../../db/connection.ts';
import type { Membership, User } from '../../db/schema.ts';
import { canonicalJson, GENESIS_HASH } from '../audit/chain.ts';
import { diffChanges } from '../audit/changes.ts';
import type { AuditInput, RequestMeta } from '../audit/writer.ts';
import { newId } from '../ids.ts';
import type { Principal } from '../principal.ts';
import type { RowResult } from './rows.ts';

const col = <T>(rows: readonly T[], f: (r: T) => string | number | null | undefined): (string | null)[] =>
  rows.map((r) => {
    const v = f(r);
    return v === null || v === undefined ? null : String(v);
  });

/** New users (created_at / updated_at: the transaction's now(), as the column defaults give). */
export async function insertUsers(trx: Db, rows: readonly User[]): Promise<void> {
  if (rows.length === 0) return;
  await sql`
    INSERT INTO users (id, organization_id, email, first_name, last_name, job_title, department, company,
                       language, role, status)
    SELECT t.id::uuid, t.org::uuid, t.email, t.first_name, t.last_name, t.job_title, t.department, t.company,
           t.language, t.role, t.status
    FROM unnest(${col(rows, (r) => r.id)}::text[], ${col(rows, (r) => r.organization_id)}::text[],
                ${col(rows, (r) => r.email)}::text[], ${col(rows, (r) => r.first_name)}::text[],
                ${col(rows, (r) => r.last_name)}::text[], ${col(rows, (r) => r.job_title)}::text[],
                ${col(rows, (r) => r.department)}::text[], ${col(rows, (r) => r.company)}::text[],
                ${col(rows, (r) => r.language)}::text[], ${col(rows, (r) => r.role)}::text[],
                ${col(rows, (r) => r.status)}::text[])
      AS t(id, org, email, first_name, last_name, job_title, department, company, language, role, status)`.execute(
    trx,
  );
}

/** New memberships. The seat trigger counts them per statement (0008_import_perf.sql). */
export async function insertMemberships(trx: Db, rows: readonly Membership[]): Promise<void> {
  if (rows.length === 0) return;
  await sql`
    INSERT INTO memberships (id, organization_id, account_id, user_id, status, permission_profile_id)
    SELECT t.id::uuid, t.org::uuid, t.account_id::uuid, t.user_id::uuid, t.status, t.profile_id::bigint
    FROM unnest(${col(rows, (r) => r.id)}::text[], ${col(rows, (r) => r.organization_id)}::text[],
                ${col(rows, (r) => r.account_id)}::text[], ${col(rows, (r) => r.user_id)}::text[],
                ${col(rows, (r) => r.status)}::text[], ${col(rows, (r) => r.permission_profile_id)}::text[])
      AS t(id, org, account_id, user_id, status, profile_id)`.execute(trx);
}

export async function insertGroupMembers(
  trx: Db,
  rows: readonly { group_id: number; user_id: string }[],
): Promise<void> {
  if (rows.length === 0) return;
  await sql`
    INSERT INTO group_members (group_id, user_id)
    SELECT t.group_id::bigint, t.user_id::uuid
    FROM unnest(${col(rows, (r) => r.group_id)}::text[], ${col(rows, (r) => r.user_id)}::text[])
      AS t(group_id, user_id)
    ON CONFLICT DO NOTHING`.execute(trx);
}

/** Reopens closed memberships; returns the rows as updated, by id. */
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
  await sql`
    INSERT INTO import_rows (import_id, row_number, status, action, result, error_type, message, email,
                             account_id, user_id, membership_id)
    SELECT ${importId}::uuid, t.row_number::integer, t.status, t.action, t.result, t.error_type, t.message,
           t.email, t.account_id::uuid, t.user_id::uuid, t.membership_id::uuid
    FROM unnest(${col(rows, (r) => r.row_number)}::text[], ${col(rows, (r) => r.status)}::text[],
                ${col(rows, (r) => r.action)}::text[], ${col(rows, (r) => r.result)}::text[],
                ${col(rows, (r) => r.error_type)}::text[], ${col(rows, (r) => r.message)}::text[],
                ${col(rows, (r) => r.email)}::text[], ${col(rows, (r) => r.account_id)}::text[],
                ${col(rows, (r) => r.user_id)}::text[], ${col(rows, (r) => r.membership_id)}::text[])
      AS t(row_number, status, action, result, error_type, message, email, account_id, user_id,
           membership_id)`.execute(trx);
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
  const first = seq + 1;
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
  const n = inputs.length;
  const ids: string[] = new Array(n);
  const actions: string[] = new Array(n);
  const targetTypes: string[] = new Array(n);
  const targetIds: (string | null)[] = new Array(n);
  const accountIds: (string | null)[] = new Array(n);
  const changes: string[] = new Array(n);
  const prevs: string[] = new Array(n);
  const hashes: string[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const input = inputs[i]!;
    seq += 1;
    const id = newId();
    const accountId = input.accountId ?? null;
    const change = {
      ...diffChanges(input.before ?? null, input.after ?? null),
      ...(input.extra ? { _meta: input.extra } : {}),
    };
    const json =
      `{"account_id":${q(accountId)},"action":${q(input.action)},${actor},"changes":${canonicalJson(change)},` +
      `"id":${q(id)},${middle},"seq":${q(seq.toString())},"target_id":${q(input.targetId)},` +
      `"target_type":${q(input.targetType)},${tail}`;
    const hash = createHash('sha256').update(prev).update('\n').update(json).digest('hex');
    ids[i] = id;
    actions[i] = input.action;
    targetTypes[i] = input.targetType;
    targetIds[i] = input.targetId;
    accountIds[i] = accountId;
    changes[i] = JSON.stringify(change);
    prevs[i] = prev;
    hashes[i] = hash;
    prev = hash;
  }
  await sql`
    INSERT INTO audit_events (id, organization_id, seq, occurred_at, actor_type, actor_id, actor_label, action,
                              target_type, target_id, account_id, changes, ip, user_agent, request_id,
                              prev_hash, hash)
    SELECT t.id::uuid, ${orgId}::uuid, ${first}::bigint + t.ord - 1, ${occurredAt}::timestamptz,
           ${principal.kind}, ${principal.id}, ${principal.label}, t.action, t.target_type, t.target_id,
           t.account_id::uuid, t.changes::jsonb, ${ip}::text, ${userAgent}::text, ${requestId}::text,
           t.prev_hash, t.hash
    FROM unnest(${ids}::text[], ${actions}::text[], ${targetTypes}::text[], ${targetIds}::text[],
                ${accountIds}::text[], ${changes}::text[], ${prevs}::text[], ${hashes}::text[])
      WITH ORDINALITY AS t(id, action, target_type, target_id, account_id, changes, prev_hash, hash, ord)`.execute(
    trx,
  );
  await trx
    .updateTable('audit_heads')
    .set({ last_seq: seq, last_hash: prev })
    .where('organization_id', '=', orgId)
    .execute();
}
