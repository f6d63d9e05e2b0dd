// oidc-provider's storage adapter over PostgreSQL (0021_oauth_payloads.sql). oidc-provider makes one adapter
// per model ("AccessToken", "Grant", "Session", ...) and calls upsert/find/consume/destroy/revokeByGrantId;
// the contract is the one of node-oidc-provider's example/my_adapter.js. What this adapter adds to it:
//
//   - ids are stored as their SHA-256 (an opaque token's id is the token itself), and the payload without it;
//   - consume() is a compare-and-set: of two requests redeeming one code or refresh token at once, exactly one
//     wins; the loser revokes the whole grant (RFC 9700 section 4.14.2 reuse detection, strict mode) and gets
//     invalid_grant. oidc-provider's own check reads before it writes, so it alone cannot see the race;
//   - revoking (a token, or a grant and with it every token made from it) sets revoked_at rather than
//     deleting, so a revoked token is told apart from an unknown one until it would have expired; to
//     oidc-provider a revoked row is simply gone;
//   - a grant-bound token is inserted only while its grant is unrevoked, under a share lock on the grant row:
//     a revocation waits for inserts in flight and an insert after it finds the grant revoked, so a rotation
//     racing a revocation cannot leave a live token behind (the request gets invalid_grant);
//   - "Client" is not stored here: clients are Signet's integrations (clients.ts), read through the lookup.
import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import type { Db } from '../../db/connection.ts';
import { invalidGrant } from './errors.ts';

/** Models whose rows belong to a grant (revoked with it). Interactions and sessions merely mention one. */
const GRANT_BOUND = new Set(['AccessToken', 'RefreshToken', 'AuthorizationCode']);
/** Models a revocation marks rather than deletes: what a client holds and may present again. */
const TOKENS = new Set(['AccessToken', 'RefreshToken', 'AuthorizationCode', 'ClientCredentials']);

export type Payload = Record<string, unknown>;

export function hashId(id: string): Buffer {
  return createHash('sha256').update(id, 'utf8').digest();
}

const epoch = (d: Date) => Math.floor(d.getTime() / 1000);

export interface AdapterHooks {
  /** A grant was revoked by the adapter itself (a lost consume race): drop what was cached for it. */
  onGrantRevoked?: (grantId: string) => void;
  /** Loads a client's metadata (the "Client" model). */
  findClient: (clientId: string) => Promise<Payload | undefined>;
  writer: PayloadWriter;
}

/** Models whose new rows are never updated later, and are written coalesced (PayloadWriter). */
const COALESCED = new Set(['AccessToken', 'ClientCredentials']);

interface NewPayload {
  model: string;
  id: Buffer;
  uid: Buffer | null;
  payload: Payload;
  expiresAt: Date | null;
}

/**
 * Group commit for new tokens: the inserts asked for in one turn of the event loop go to the database as one
 * multi-row INSERT, and each request waits for the one that holds its row (so a token is stored before it is
 * answered, as before). Under load several token requests are in one turn, and the statement, its round trip
 * and its commit are shared; alone, a request pays what a single INSERT costs.
 */
export class PayloadWriter {
  private queue: { row: NewPayload; done: (err?: unknown) => void }[] = [];

  constructor(private readonly db: Db) {}

  insert(row: NewPayload): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.queue.length === 0) setImmediate(() => this.flush());
      this.queue.push({ row, done: (err) => (err === undefined ? resolve() : reject(err)) });
    });
  }

  private flush(): void {
    const batch = this.queue;
    this.queue = [];
    this.db
      .insertInto('oauth_payloads')
      .values(
        batch.map(({ row }) => ({
          model: row.model,
          id: row.id,
          grant_id: null,
          uid: row.uid,
          payload: row.payload,
          expires_at: row.expiresAt,
        })),
      )
      .execute()
      .then(
        () => {
          for (const b of batch) b.done();
        },
        (err: unknown) => {
          for (const b of batch) b.done(err);
        },
      );
  }
}

export class PgAdapter {
  constructor(
    private readonly db: Db,
    private readonly model: string,
    private readonly hooks: AdapterHooks,
  ) {}

  async upsert(id: string, payload: Payload, expiresIn?: number): Promise<void> {
    const { jti: _secret, ...stored } = payload;
    const expiresAt = expiresIn ? new Date(Date.now() + expiresIn * 1000) : null;
    if (this.model === 'Grant') {
      // The organization and integration come from the client, so the grant's foreign keys hold it to one
      // organization and one of its users.
      await sql`
        INSERT INTO oauth_grants (id, organization_id, integration_id, user_id, payload, expires_at)
        SELECT ${hashId(id)}, i.organization_id, i.id, ${String(payload.accountId)}::uuid,
               ${stored}::jsonb, ${expiresAt}
        FROM integrations i WHERE i.client_id = ${String(payload.clientId)}
        ON CONFLICT (id) DO UPDATE SET payload = excluded.payload, expires_at = excluded.expires_at`.execute(
        this.db,
      );
      return;
    }
    const values = {
      model: this.model,
      id: hashId(id),
      uid: typeof payload.uid === 'string' ? hashId(payload.uid) : null,
      payload: stored,
      expiresAt,
    };
    const grantId =
      GRANT_BOUND.has(this.model) && typeof payload.grantId === 'string' ? payload.grantId : null;
    if (!grantId) {
      // A new token of its own (the JWT grant's, client_credentials'): written with the others of this turn.
      if (COALESCED.has(this.model)) return this.hooks.writer.insert(values);
      await sql`
        INSERT INTO oauth_payloads (model, id, uid, payload, expires_at)
        VALUES (${values.model}, ${values.id}, ${values.uid}, ${values.payload}::jsonb, ${values.expiresAt})
        ON CONFLICT (model, id) DO UPDATE
          SET payload = excluded.payload, expires_at = excluded.expires_at, uid = excluded.uid`.execute(
        this.db,
      );
      return;
    }
    // Only while the grant stands, holding it (FOR SHARE) until this insert commits: see the header.
    const inserted = await sql`
      INSERT INTO oauth_payloads (model, id, grant_id, uid, payload, expires_at)
      SELECT ${values.model}, ${values.id}, g.id, ${values.uid}, ${values.payload}::jsonb, ${values.expiresAt}
      FROM oauth_grants g WHERE g.id = ${hashId(grantId)} AND g.revoked_at IS NULL
      FOR SHARE
      ON CONFLICT (model, id) DO UPDATE SET payload = excluded.payload, expires_at = excluded.expires_at`.execute(
      this.db,
    );
    if (Number(inserted.numAffectedRows ?? 0n) === 0) {
      throw invalidGrant('the grant was revoked while this token was being issued');
    }
  }

  async find(id: string): Promise<Payload | undefined> {
    if (this.model === 'Client') return this.hooks.findClient(id);
    if (this.model === 'Grant') {
      const row = await this.db
        .selectFrom('oauth_grants')
        .select('payload')
        .where('id', '=', hashId(id))
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      return row ? { ...row.payload, jti: id } : undefined;
    }
    const row = await this.db
      .selectFrom('oauth_payloads as p')
      .leftJoin('oauth_grants as g', 'g.id', 'p.grant_id')
      .select(['p.payload', 'p.consumed_at'])
      .where('p.model', '=', this.model)
      .where('p.id', '=', hashId(id))
      .where('p.revoked_at', 'is', null)
      .where('g.revoked_at', 'is', null)
      .executeTakeFirst();
    if (!row) return undefined;
    return { ...row.payload, jti: id, ...(row.consumed_at ? { consumed: epoch(row.consumed_at) } : {}) };
  }

  async findByUid(uid: string): Promise<Payload | undefined> {
    const row = await this.db
      .selectFrom('oauth_payloads')
      .select(['payload'])
      .where('model', '=', this.model)
      .where('uid', '=', hashId(uid))
      .executeTakeFirst();
    // A session's id (jti) is in its cookie, not stored; oidc-provider finds a session by uid only to read it.
    return row ? { ...row.payload } : undefined;
  }

  async findByUserCode(_userCode: string): Promise<undefined> {
    return undefined; // the device flow is off
  }

  async consume(id: string): Promise<void> {
    const hashed = hashId(id);
    const won = await this.db
      .updateTable('oauth_payloads')
      .set({ consumed_at: new Date() })
      .where('model', '=', this.model)
      .where('id', '=', hashed)
      .where('consumed_at', 'is', null)
      .where('revoked_at', 'is', null)
      .returning('model')
      .executeTakeFirst();
    if (won) return;
    // Redeemed by a concurrent request since oidc-provider read it (or revoked meanwhile): a reuse.
    const row = await this.db
      .selectFrom('oauth_payloads')
      .select(['payload'])
      .where('model', '=', this.model)
      .where('id', '=', hashed)
      .executeTakeFirst();
    const grantId = row?.payload.grantId;
    if (typeof grantId === 'string') {
      await revokeGrant(this.db, grantId);
      this.hooks.onGrantRevoked?.(grantId);
    }
    throw invalidGrant(
      `${this.model === 'RefreshToken' ? 'refresh token' : 'authorization code'} already used; every token of its grant is revoked`,
    );
  }

  async destroy(id: string): Promise<void> {
    if (this.model === 'Grant') {
      await revokeGrant(this.db, id);
      return;
    }
    if (TOKENS.has(this.model)) {
      await this.db
        .updateTable('oauth_payloads')
        .set({ revoked_at: new Date() })
        .where('model', '=', this.model)
        .where('id', '=', hashId(id))
        .where('revoked_at', 'is', null)
        .execute();
      return;
    }
    await this.db
      .deleteFrom('oauth_payloads')
      .where('model', '=', this.model)
      .where('id', '=', hashId(id))
      .execute();
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    await this.db
      .updateTable('oauth_payloads')
      .set({ revoked_at: new Date() })
      .where('model', '=', this.model)
      .where('grant_id', '=', hashId(grantId))
      .where('revoked_at', 'is', null)
      .execute();
  }
}

/** Revokes a grant: every token that references it stops at once (their finds join the grant). */
export async function revokeGrant(db: Db, grantId: string): Promise<void> {
  await db
    .updateTable('oauth_grants')
    .set({ revoked_at: new Date() })
    .where('id', '=', hashId(grantId))
    .where('revoked_at', 'is', null)
    .execute();
}

/**
 * Records an assertion id (a JWT's `jti`) as used until `expiresAt`; false when it was used before. One
 * INSERT ... ON CONFLICT DO NOTHING, so of concurrent requests with one assertion exactly one gets true
 * (oidc-provider's own ReplayDetection finds, then saves).
 */
export async function firstUse(db: Db, key: string, expiresAt: Date): Promise<boolean> {
  const row = await db
    .insertInto('oauth_payloads')
    .values({
      model: 'ReplayDetection',
      id: hashId(key),
      grant_id: null,
      uid: null,
      payload: {},
      expires_at: expiresAt,
    })
    .onConflict((oc) => oc.columns(['model', 'id']).doNothing())
    .returning('model')
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * Deletes what has expired (an hour after, so a client presenting a just-expired token is told it expired
 * rather than that it does not exist). Bounded batches; returns how many rows went.
 */
export async function sweepExpired(db: Db, limit = 1000): Promise<number> {
  const cutoff = sql<Date>`now() - interval '1 hour'`;
  const payloads = await sql`
    DELETE FROM oauth_payloads WHERE ctid IN (
      SELECT ctid FROM oauth_payloads WHERE expires_at < ${cutoff} LIMIT ${limit})`.execute(db);
  const grants = await sql`
    DELETE FROM oauth_grants WHERE id IN (
      SELECT id FROM oauth_grants WHERE expires_at < ${cutoff} LIMIT ${limit})`.execute(db);
  return Number(payloads.numAffectedRows ?? 0n) + Number(grants.numAffectedRows ?? 0n);
}
