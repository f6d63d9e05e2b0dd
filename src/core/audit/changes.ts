// What an audit event records about a change: each field that differs, before and after, secrets masked.
import { canonicalJson } from './chain.ts';

// Field names whose values are secrets (or bulk bytes): recorded as changed, never as values.
const SECRET = /^(password|secret|token|key|content)$|(password_hash|secret_hash|_secret|_token)$/i;
export const MASK = '[redacted]';

function normalise(v: unknown): unknown {
  if (v instanceof Date) return v.toISOString();
  if (Buffer.isBuffer(v)) return MASK;
  return v === undefined ? null : v;
}

function mask(key: string, v: unknown): unknown {
  return SECRET.test(key) && v !== null && v !== undefined ? MASK : normalise(v);
}

/** Field-by-field differences between two snapshots (null before = created, null after = deleted). */
export function diffChanges(
  before: Record<string, unknown> | null,
  after: Record<string, unknown> | null,
  ignore: readonly string[] = ['updated_at', 'created_at'],
): Record<string, { before: unknown; after: unknown }> {
  const keys = new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})]);
  const out: Record<string, { before: unknown; after: unknown }> = {};
  for (const key of [...keys].sort()) {
    if (ignore.includes(key)) continue;
    const b = normalise(before?.[key]);
    const a = normalise(after?.[key]);
    if (JSON.stringify(b) === JSON.stringify(a)) continue;
    out[key] = { before: mask(key, b), after: mask(key, a) };
  }
  return out;
}

// --- the same, straight to canonical JSON (bulk writers) -------------------------------------------------------

const keyInfo = new Map<string, { quoted: string; secret: boolean }>();
function infoOf(key: string): { quoted: string; secret: boolean } {
  let info = keyInfo.get(key);
  if (!info) {
    info = { quoted: JSON.stringify(key), secret: SECRET.test(key) };
    if (keyInfo.size < 10_000) keyInfo.set(key, info);
  }
  return info;
}

// Sorted key unions seen so far, with the key lists they came from (bulk writers see a few shapes).
const shapes: { b: string[]; a: string[]; sorted: string[] }[] = [];
const sameKeys = (x: string[], y: string[]): boolean => {
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
};
/** The union of two records' keys, sorted. */
function keysOf(before: Record<string, unknown> | null, after: Record<string, unknown> | null): string[] {
  const b = before ? Object.keys(before) : [];
  const a = after ? Object.keys(after) : [];
  for (const s of shapes) if (sameKeys(s.b, b) && sameKeys(s.a, a)) return s.sorted;
  const sorted = [...new Set([...b, ...a])].sort();
  if (shapes.length < 32) shapes.push({ b, a, sorted });
  return sorted;
}

/** canonicalJson (./chain.ts) of a value as diffChanges leaves it (Dates already ISO strings). */
function canonical(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v ?? null);
  return canonicalJson(v);
}

/**
 * Exactly `canonicalJson({ ...diffChanges(before, after), ...(extra ? { _meta: extra } : {}) })`, the `changes`
 * of an audit event as its hash covers it, built in one pass without the intermediate objects. The text is
 * also what the bulk writers store (jsonb keeps the same value whatever the key order). test/imports-bulk
 * checks it against the composition it replaces.
 */
export function changesJson(
  before: Record<string, unknown> | null,
  after: Record<string, unknown> | null,
  extra: Record<string, unknown> | undefined,
): string {
  const parts: [string, string][] = [];
  for (const key of keysOf(before, after)) {
    if (key === 'updated_at' || key === 'created_at' || (extra && key === '_meta')) continue;
    const b = normalise(before?.[key]);
    const a = normalise(after?.[key]);
    if (a === b && (a === null || typeof a === 'string' || typeof a === 'boolean')) continue;
    if (JSON.stringify(b) === JSON.stringify(a)) continue;
    const { quoted, secret } = infoOf(key);
    const ma = secret && a !== null && a !== undefined ? MASK : a;
    const mb = secret && b !== null && b !== undefined ? MASK : b;
    parts.push([key, `${quoted}:{"after":${canonical(ma)},"before":${canonical(mb)}}`]);
  }
  if (extra) {
    const meta = `"_meta":${canonicalJson(extra)}`;
    // '_' sorts before the lower-case letters and after the upper-case ones (canonicalJson's plain sort).
    let i = 0;
    while (i < parts.length && parts[i]![0] < '_meta') i++;
    parts.splice(i, 0, ['_meta', meta]);
  }
  let out = '{';
  for (let i = 0; i < parts.length; i++) out += (i === 0 ? '' : ',') + parts[i]![1];
  return `${out}}`;
}
