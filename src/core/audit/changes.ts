// What an audit event records about a change: each field that differs, before and after, secrets masked.

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
