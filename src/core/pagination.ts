// Keyset pagination: the cursor is the last row's sort key, opaque to clients (base64url JSON).
import { AppError } from './errors.ts';

export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 500;

export function encodeCursor(key: string): string {
  return Buffer.from(JSON.stringify({ k: key })).toString('base64url');
}

export function decodeCursor(cursor: string | undefined): string | undefined {
  if (cursor === undefined || cursor === '') return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { k?: unknown };
    if (typeof parsed.k === 'string' && parsed.k.length > 0 && parsed.k.length < 100) return parsed.k;
  } catch {
    // fall through
  }
  throw new AppError('invalid_cursor', 'cursor: not a cursor this API returned; start again without it', [
    { field: 'cursor', message: 'malformed cursor' },
  ]);
}

/** Builds a page from limit+1 fetched rows: the extra row only tells whether there is a next page. */
export function toPage<T>(rows: T[], limit: number, keyOf: (row: T) => string): Page<T> {
  const more = rows.length > limit;
  const data = more ? rows.slice(0, limit) : rows;
  const last = data[data.length - 1];
  return { data, next_cursor: more && last !== undefined ? encodeCursor(keyOf(last)) : null };
}

/** The cursor of a list keyed by an integer id (permission profiles, groups). */
export function decodeIntCursor(cursor: string | undefined): number | undefined {
  const key = decodeCursor(cursor);
  if (key === undefined) return undefined;
  const n = Number(key);
  if (Number.isSafeInteger(n) && n > 0) return n;
  throw new AppError('invalid_cursor', 'cursor: not a cursor this API returned; start again without it', [
    { field: 'cursor', message: 'malformed cursor' },
  ]);
}
