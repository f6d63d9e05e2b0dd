// Keyset pagination: the cursor is the last row's sort key, opaque to clients (base64url JSON).
import { AppError } from './errors.ts';
import { isUuid } from './ids.ts';

export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 500;

export function encodeCursor(key: string): string {
  return Buffer.from(JSON.stringify({ k: key })).toString('base64url');
}

function invalidCursor(): AppError {
  return new AppError('invalid_cursor', 'cursor: not a cursor this API returned; start again without it', [
    { field: 'cursor', message: 'malformed cursor' },
  ]);
}

/** The key inside a cursor, whatever its shape; callers check the shape their list keys by. */
function decodeKey(cursor: string | undefined): string | undefined {
  if (cursor === undefined || cursor === '') return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { k?: unknown } | null;
    if (typeof parsed?.k === 'string' && parsed.k.length > 0 && parsed.k.length < 100) return parsed.k;
  } catch {
    // fall through
  }
  throw invalidCursor();
}

/**
 * The cursor of a list keyed by a UUID id (most lists). The key is checked here: a forged cursor holding
 * any other text would otherwise reach PostgreSQL as a uuid and fail there (a 500).
 */
export function decodeCursor(cursor: string | undefined): string | undefined {
  const key = decodeKey(cursor);
  if (key === undefined || isUuid(key)) return key;
  throw invalidCursor();
}

/** Builds a page from limit+1 fetched rows: the extra row only tells whether there is a next page. */
export function toPage<T>(rows: T[], limit: number, keyOf: (row: T) => string): Page<T> {
  const more = rows.length > limit;
  const data = more ? rows.slice(0, limit) : rows;
  const last = data[data.length - 1];
  return { data, next_cursor: more && last !== undefined ? encodeCursor(keyOf(last)) : null };
}

/** The cursor of a list keyed by a positive integer (permission profiles, groups, import rows). */
export function decodeIntCursor(cursor: string | undefined): number | undefined {
  const key = decodeKey(cursor);
  if (key === undefined) return undefined;
  const n = Number(key);
  if (/^[0-9]+$/.test(key) && Number.isSafeInteger(n) && n > 0) return n;
  throw invalidCursor();
}
