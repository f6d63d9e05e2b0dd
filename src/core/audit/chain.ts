// The audit log's hash chain: each event's hash covers the previous hash and the event's canonical JSON, so
// editing, deleting or reordering any stored event breaks every later link (and `signet audit verify` says
// which event first).
import { createHash } from 'node:crypto';

export const GENESIS_HASH = '0'.repeat(64);

/** JSON with object keys sorted at every depth, so the bytes hashed do not depend on storage (jsonb reorders keys). */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
}

export interface ChainedFields {
  id: string;
  organization_id: string;
  seq: string;
  occurred_at: string; // ISO-8601, millisecond precision
  actor_type: string;
  actor_id: string | null;
  actor_label: string | null;
  action: string;
  target_type: string;
  target_id: string | null;
  account_id: string | null;
  changes: Record<string, unknown>;
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
}

/**
 * The link of any hash chain Signet keeps: SHA-256 over the previous link and the event's canonical JSON. The
 * audit log chains ChainedFields per organization; envelope histories (src/core/envelopes/events.ts) chain
 * their own fields per envelope with the same function.
 */
export function eventHash(prevHash: string, event: ChainedFields | Record<string, unknown>): string {
  return createHash('sha256').update(prevHash).update('\n').update(canonicalJson(event)).digest('hex');
}

/** Projects a stored row onto exactly the fields the hash covers. */
export function chainedFields(
  row: Omit<ChainedFields, 'occurred_at' | 'seq'> & { occurred_at: string | Date; seq: number | string },
): ChainedFields {
  return {
    id: row.id,
    organization_id: row.organization_id,
    seq: String(row.seq),
    occurred_at: row.occurred_at instanceof Date ? row.occurred_at.toISOString() : row.occurred_at,
    actor_type: row.actor_type,
    actor_id: row.actor_id,
    actor_label: row.actor_label,
    action: row.action,
    target_type: row.target_type,
    target_id: row.target_id,
    account_id: row.account_id,
    changes: row.changes,
    ip: row.ip,
    user_agent: row.user_agent,
    request_id: row.request_id,
  };
}
