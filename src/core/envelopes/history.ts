// An envelope's history (GET /api/envelope/{id}/events): append-only (the table refuses UPDATE and DELETE)
// and hash-chained per envelope with the audit log's own link function (src/core/audit/chain.ts), so a
// stored event edited, removed or reordered breaks every later link, and verifyHistory says which first.
// The caller holds the envelope row locked (every change to an envelope does), so an envelope's events get
// consecutive seq numbers with no lock of their own.
import type { Db } from '../../db/connection.ts';
import type { EnvelopeEventRow } from '../../db/schema.ts';
import { eventHash, GENESIS_HASH } from '../audit/chain.ts';
import type { RequestMeta } from '../audit/writer.ts';
import { newId } from '../ids.ts';
import type { Principal } from '../principal.ts';

export interface HistoryInput {
  type: string;
  /** Who acted: a principal, or a party signing through its link. */
  actor: { type: string; id: string | null; label: string | null };
  partyId?: string | null;
  payload?: Record<string, unknown>;
  meta?: RequestMeta;
}

export function actorOf(principal: Principal): HistoryInput['actor'] {
  return { type: principal.kind, id: principal.id, label: principal.label };
}

/** The fields each link covers: every stored column but the link itself. */
function linked(row: Omit<EnvelopeEventRow, 'hash' | 'prev_hash'>): Record<string, unknown> {
  return {
    id: row.id,
    organization_id: row.organization_id,
    envelope_id: row.envelope_id,
    seq: row.seq,
    type: row.type,
    occurred_at: row.occurred_at instanceof Date ? row.occurred_at.toISOString() : row.occurred_at,
    actor_type: row.actor_type,
    actor_id: row.actor_id,
    actor_label: row.actor_label,
    party_id: row.party_id,
    payload: row.payload,
    ip: row.ip,
    user_agent: row.user_agent,
  };
}

/** Appends events to an envelope's chain, in the caller's transaction (which holds the envelope locked). */
export async function appendHistory(
  trx: Db,
  envelope: { id: string; organization_id: string },
  inputs: HistoryInput[],
): Promise<void> {
  const tip = await trx
    .selectFrom('envelope_events')
    .select(['seq', 'hash'])
    .where('envelope_id', '=', envelope.id)
    .orderBy('seq', 'desc')
    .limit(1)
    .executeTakeFirst();
  let seq = tip?.seq ?? 0;
  let prev = tip?.hash ?? GENESIS_HASH;
  const occurredAt = new Date().toISOString();
  const rows = inputs.map((input) => {
    seq += 1;
    const fields = {
      id: newId(),
      organization_id: envelope.organization_id,
      envelope_id: envelope.id,
      seq,
      type: input.type,
      occurred_at: occurredAt,
      actor_type: input.actor.type,
      actor_id: input.actor.id,
      actor_label: input.actor.label,
      party_id: input.partyId ?? null,
      payload: input.payload ?? {},
      ip: input.meta?.ip ?? null,
      user_agent: input.meta?.userAgent ?? null,
    };
    const hash = eventHash(prev, linked(fields));
    const row = { ...fields, prev_hash: prev, hash };
    prev = hash;
    return row;
  });
  if (rows.length > 0) await trx.insertInto('envelope_events').values(rows).execute();
}

export interface HistoryEventView {
  id: string;
  seq: number;
  type: string;
  occurred_at: string;
  actor: { type: string; id: string | null; label: string | null };
  party_id: string | null;
  payload: Record<string, unknown>;
  ip: string | null;
  user_agent: string | null;
  prev_hash: string;
  hash: string;
}

export function historyView(row: EnvelopeEventRow): HistoryEventView {
  return {
    id: row.id,
    seq: row.seq,
    type: row.type,
    occurred_at: row.occurred_at instanceof Date ? row.occurred_at.toISOString() : row.occurred_at,
    actor: { type: row.actor_type, id: row.actor_id, label: row.actor_label },
    party_id: row.party_id,
    payload: row.payload,
    ip: row.ip,
    user_agent: row.user_agent,
    prev_hash: row.prev_hash,
    hash: row.hash,
  };
}

/** Recomputes a history's links in seq order: null when whole, else the first seq that does not fit. */
export function verifyHistory(rows: readonly EnvelopeEventRow[]): { seq: number; reason: string } | null {
  let prev = GENESIS_HASH;
  let expected = 1;
  for (const row of rows) {
    if (row.seq !== expected) return { seq: row.seq, reason: `expected seq ${expected}` };
    if (row.prev_hash !== prev) return { seq: row.seq, reason: 'prev_hash is not the previous hash' };
    if (eventHash(prev, linked(row)) !== row.hash) return { seq: row.seq, reason: 'hash does not match' };
    prev = row.hash;
    expected += 1;
  }
  return null;
}
