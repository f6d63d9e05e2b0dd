// The idempotency_keys table (0003_idempotency.sql): claim a key, complete it with the response, release it.
// Face-independent: any face (the native API, a DocuSign-compatible one later) drives it through
// src/faces/idempotency.ts. Every time comparison uses the database clock, so processes with skewed clocks
// agree on leases and expiry.
import { sql } from 'kysely';
import type { Db } from '../../db/connection.ts';

/** What identifies a key: the organization, the principal, the method, the route pattern and the key. */
export interface IdempotencyScope {
  organizationId: string;
  principalId: string;
  method: string;
  route: string;
  key: string;
}

export interface StoredResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

export type Claim =
  /** This request holds the key (new, expired, or taken over from an attempt whose lease lapsed). */
  | { outcome: 'owned'; token: string; tookOver: boolean }
  /** A completed request with the same fingerprint: replay its response. */
  | { outcome: 'replay'; response: StoredResponse }
  /** Another attempt holds the key and its lease is current. */
  | { outcome: 'in_progress'; fingerprintMatches: boolean }
  /** A completed request with another fingerprint. */
  | { outcome: 'mismatch' };

const where = (s: IdempotencyScope) =>
  sql`organization_id = ${s.organizationId}::uuid AND principal_id = ${s.principalId} AND method = ${s.method}
      AND route = ${s.route} AND key = ${s.key}`;

/**
 * Claims the key for one attempt. One statement decides: the row is inserted, or taken over when it has
 * expired or its lease lapsed (ON CONFLICT … WHERE locks the row, so concurrent claimers serialise and
 * exactly one wins); otherwise the existing row says what to answer.
 */
export async function claimKey(
  db: Db,
  scope: IdempotencyScope,
  fingerprint: string,
  opts: { token: string; leaseSeconds: number; retentionSeconds: number },
): Promise<Claim> {
  // A row can vanish (swept) or its lease lapse between the two statements: then try again.
  for (let attempt = 0; attempt < 3; attempt++) {
    const claimed = await sql<{ inserted: boolean }>`
      INSERT INTO idempotency_keys AS k
        (organization_id, principal_id, method, route, key, fingerprint, state, lock_token, locked_until,
         created_at, expires_at)
      VALUES (${scope.organizationId}::uuid, ${scope.principalId}, ${scope.method}, ${scope.route},
              ${scope.key}, ${fingerprint}, 'in_flight', ${opts.token}::uuid,
              now() + make_interval(secs => ${opts.leaseSeconds}), now(),
              now() + make_interval(secs => ${opts.retentionSeconds}))
      ON CONFLICT (organization_id, principal_id, method, route, key) DO UPDATE SET
        fingerprint = EXCLUDED.fingerprint, state = 'in_flight', lock_token = EXCLUDED.lock_token,
        locked_until = EXCLUDED.locked_until, status = NULL, headers = NULL, body = NULL,
        created_at = now(), expires_at = EXCLUDED.expires_at
      WHERE k.expires_at <= now() OR (k.state = 'in_flight' AND k.locked_until <= now())
      RETURNING (xmax = 0) AS inserted`.execute(db);
    const row = claimed.rows[0];
    if (row) return { outcome: 'owned', token: opts.token, tookOver: !row.inserted };

    const found = await sql<{
      state: 'in_flight' | 'done';
      fingerprint: string;
      status: number | null;
      headers: Record<string, string> | null;
      body: Buffer | null;
      live: boolean;
    }>`
      SELECT state, fingerprint, status, headers, body,
             expires_at > now() AND (state = 'done' OR locked_until > now()) AS live
      FROM idempotency_keys WHERE ${where(scope)}`.execute(db);
    const existing = found.rows[0];
    if (!existing?.live) continue;
    const matches = existing.fingerprint === fingerprint;
    if (existing.state === 'in_flight') return { outcome: 'in_progress', fingerprintMatches: matches };
    if (!matches) return { outcome: 'mismatch' };
    return {
      outcome: 'replay',
      response: {
        status: existing.status!,
        headers: existing.headers ?? {},
        body: existing.body ?? Buffer.alloc(0),
      },
    };
  }
  // Three lost races in a row: tell the client to retry rather than loop.
  return { outcome: 'in_progress', fingerprintMatches: true };
}

/**
 * Marks the key done with its response, if this attempt still holds it. Returns false when it does not
 * (its lease lapsed and another attempt took the key over); called inside the effect's transaction, the
 * caller then rolls the effect back. `onlyIfInFlight` keeps an error from overwriting a committed success.
 */
export async function completeKey(
  db: Db,
  scope: IdempotencyScope,
  token: string,
  response: StoredResponse,
  opts: { onlyIfInFlight?: boolean } = {},
): Promise<boolean> {
  const result = await sql`
    UPDATE idempotency_keys SET state = 'done', status = ${response.status},
      headers = ${JSON.stringify(response.headers)}::text::jsonb, body = ${response.body}, locked_until = NULL
    WHERE ${where(scope)} AND lock_token = ${token}::uuid
      ${opts.onlyIfInFlight ? sql`AND state = 'in_flight'` : sql``}`.execute(db);
  return Number(result.numAffectedRows ?? 0) > 0;
}

/** Gives the key up after an unexpected failure, so the client's retry runs again. */
export async function releaseKey(db: Db, scope: IdempotencyScope, token: string): Promise<void> {
  await sql`DELETE FROM idempotency_keys
    WHERE ${where(scope)} AND lock_token = ${token}::uuid AND state = 'in_flight'`.execute(db);
}

/** Deletes up to `limit` expired rows; returns how many. Cheap enough to run on a timer in every process. */
export async function sweepIdempotencyKeys(db: Db, limit = 1000): Promise<number> {
  const result = await sql`
    DELETE FROM idempotency_keys WHERE ctid = ANY (ARRAY(
      SELECT ctid FROM idempotency_keys WHERE expires_at <= now() LIMIT ${limit}))`.execute(db);
  return Number(result.numAffectedRows ?? 0);
}

/**
 * The store over one database handle, as the services container holds it: the faces' idempotency layer
 * (src/faces/idempotency.ts) drives keys through it and never holds the handle itself. `complete` takes the
 * effect's transaction when it runs in one (Ctx.beforeCommit), so the response commits with the effect.
 */
export class IdempotencyStore {
  constructor(private readonly db: Db) {}

  claim(
    scope: IdempotencyScope,
    fingerprint: string,
    opts: { token: string; leaseSeconds: number; retentionSeconds: number },
  ): Promise<Claim> {
    return claimKey(this.db, scope, fingerprint, opts);
  }

  complete(
    scope: IdempotencyScope,
    token: string,
    response: StoredResponse,
    opts: { onlyIfInFlight?: boolean; trx?: Db } = {},
  ): Promise<boolean> {
    return completeKey(opts.trx ?? this.db, scope, token, response, opts);
  }

  release(scope: IdempotencyScope, token: string): Promise<void> {
    return releaseKey(this.db, scope, token);
  }

  sweep(limit = 1000): Promise<number> {
    return sweepIdempotencyKeys(this.db, limit);
  }
}
