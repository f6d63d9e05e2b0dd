// Secrets Signet must keep readable (it computes with them: webhook signing secrets, Connect HMAC secrets and
// OAuth client secrets; TOTP seeds may follow) are stored sealed: AES-256-GCM under a key of the server's,
// never as they are (docs/security.md, "Secrets at rest"). What a hash cannot do for such a secret, this does:
// a copy of the table, a query result in a log or a support ticket, a backup of some tables, reveals nothing.
//
// Sealed form: `sb1.<key id>.<base64url(12-byte nonce | ciphertext | 16-byte tag)>`. The key id names the key
// that sealed it, so keys can rotate: new values are sealed with the current key, older ones still open with
// theirs, and `resealAll` (run after the migrations, src/db/index.ts) moves every stored value to the current
// key and seals any value still stored as it was. The context (e.g. `webhook_secrets/<row id>`) is bound as
// associated data: a sealed value copied into another row, or another column, does not open there.
//
// Keys: SIGNET_SECRET_KEYS (`id:base64 of 32 bytes`, comma separated, the first sealing), which keeps the key
// off the database server so that a dump of the database alone opens nothing; else a key made once per
// database and kept in signet_meta, as the signing-link and OAuth keys are (then the database and its key
// travel together: the protection is against partial leaks, not a thief of the whole database). Each master
// key is used only through HKDF-SHA-256, so the same key material never serves two purposes.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { Db } from '../db/connection.ts';
import { readOrCreateMeta } from './instance.ts';

const PREFIX = 'sb1';
/** The id of the key kept in the database (signet_meta `secret_box_key`) when none is configured. */
export const DATABASE_KEY_ID = 'db1';
const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;
const INFO = Buffer.from('signet secret-box v1 aes-256-gcm');

export interface KeyMaterial {
  id: string;
  /** 32 bytes. */
  key: Buffer;
}

/** A sealed value could not be opened: a wrong or missing key, or a value altered or moved. */
export class SecretBoxError extends Error {}

/**
 * Reads SIGNET_SECRET_KEYS: `id:base64,id:base64…` (the first seals); throws naming the mistake. Empty: none
 * configured (the database's own key is used).
 */
export function parseSecretKeys(text: string | undefined): KeyMaterial[] {
  const out: KeyMaterial[] = [];
  for (const part of (text ?? '').split(',').map((p) => p.trim())) {
    if (part === '') continue;
    const colon = part.indexOf(':');
    const id = part.slice(0, colon);
    if (colon < 1 || !KEY_ID.test(id)) {
      throw new Error(`"${part.slice(0, 8)}…" is not id:base64 (an id of 1 to 32 letters, digits, - or _)`);
    }
    if (id === DATABASE_KEY_ID)
      throw new Error(`the key id "${DATABASE_KEY_ID}" is the database's own key's`);
    const key = Buffer.from(part.slice(colon + 1), 'base64');
    if (key.length !== 32)
      throw new Error(`key "${id}" is ${key.length} bytes; it must be 32 (openssl rand -base64 32)`);
    if (out.some((k) => k.id === id)) throw new Error(`key id "${id}" is given twice`);
    out.push({ id, key });
  }
  return out;
}

/** Whether a stored value is sealed (else it is a value stored before sealing, to be sealed by resealAll). */
export function isSealed(value: string): boolean {
  return value.startsWith(`${PREFIX}.`);
}

interface Keyring {
  current: string;
  keys: Map<string, Buffer>;
}

function derive(master: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), INFO, 32));
}

export class SecretBox {
  private ring: Promise<Keyring> | null = null;

  /**
   * `configured`: the keys of SIGNET_SECRET_KEYS, the first sealing. Without any, the database's own key
   * (made on first use). The database's key, once made, always opens what it sealed, so configuring keys
   * later loses nothing: resealAll moves the values to the configured key.
   */
  constructor(
    private readonly db: Db,
    private readonly configured: readonly KeyMaterial[] = [],
  ) {}

  /**
   * Loads the keys. Call it before sealing or opening inside a transaction that holds row locks (the first load
   * reads signet_meta on a pool connection of its own; resealAll, at start, does). A failed load is retried.
   */
  load(): Promise<Keyring> {
    if (!this.ring) {
      const loading = readOrCreateMeta(this.db, 'secret_box_key', () =>
        randomBytes(32).toString('base64url'),
      ).then((dbKey) => {
        const keys = new Map<string, Buffer>([[DATABASE_KEY_ID, derive(Buffer.from(dbKey, 'base64url'))]]);
        for (const k of this.configured) keys.set(k.id, derive(k.key));
        return { current: this.configured[0]?.id ?? DATABASE_KEY_ID, keys };
      });
      loading.catch(() => {
        if (this.ring === loading) this.ring = null;
      });
      this.ring = loading;
    }
    return this.ring;
  }

  /** The id of the key that seals now. */
  async currentKeyId(): Promise<string> {
    return (await this.load()).current;
  }

  /** Seals `plain` for `context` (what it is and which row: `table/<id>`), with the current key. */
  async seal(plain: string, context: string): Promise<string> {
    const ring = await this.load();
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', ring.keys.get(ring.current)!, nonce);
    cipher.setAAD(Buffer.from(context));
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return `${PREFIX}.${ring.current}.${Buffer.concat([nonce, body, cipher.getAuthTag()]).toString('base64url')}`;
  }

  /** Opens a value sealed for `context`; throws SecretBoxError when it cannot (never returns a wrong value). */
  async open(sealed: string, context: string): Promise<string> {
    const ring = await this.load();
    const [prefix, keyId, data] = sealed.split('.');
    if (prefix !== PREFIX || !keyId || data === undefined) {
      throw new SecretBoxError(`the stored secret of ${context} is not sealed`);
    }
    const key = ring.keys.get(keyId);
    if (!key) {
      throw new SecretBoxError(
        `the stored secret of ${context} is sealed with key "${keyId}", which is not configured (SIGNET_SECRET_KEYS)`,
      );
    }
    const raw = Buffer.from(data, 'base64url');
    if (raw.length < 28) throw new SecretBoxError(`the stored secret of ${context} is cut short`);
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
      decipher.setAAD(Buffer.from(context));
      decipher.setAuthTag(raw.subarray(raw.length - 16));
      return Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]).toString(
        'utf8',
      );
    } catch {
      throw new SecretBoxError(
        `the stored secret of ${context} does not open: altered, or moved from another row`,
      );
    }
  }

  /** Whether a stored value is sealed with the current key (else resealAll rewrites it). */
  async isCurrent(value: string): Promise<boolean> {
    return value.startsWith(`${PREFIX}.${await this.currentKeyId()}.`);
  }
}

/** A box for the keys of SIGNET_SECRET_KEYS (config.secretKeys), checked at configuration load. */
export function secretBoxOf(db: Db, secretKeys: readonly string[]): SecretBox {
  return new SecretBox(db, parseSecretKeys(secretKeys.join(',')));
}

/**
 * Every column that holds sealed secrets: its table, the column, and the key column whose value names the row
 * in the context (`<table>/<key>`). A new sealed column is added here, and resealAll keeps it sealed with the
 * current key.
 */
export const SEALED_COLUMNS = [
  { table: 'webhook_secrets', column: 'secret', key: 'id' },
  { table: 'webhook_account_secrets', column: 'secret', key: 'account_id' },
  { table: 'connect_hmac_secrets', column: 'secret', key: 'id' },
  { table: 'connect_oauth_configs', column: 'client_secret', key: 'organization_id' },
] as const;
export type SealedTable = (typeof SEALED_COLUMNS)[number]['table'];

/** The context a value of `table` is sealed for: the table and its row. */
export function contextOf(table: SealedTable, key: string): string {
  return `${table}/${key}`;
}

/**
 * Seals every stored value not yet sealed with the current key: values stored as they were before sealing
 * existed (migration 0030b; this runs after the migrations, src/db/index.ts), and values sealed with a key
 * that is no longer the first of SIGNET_SECRET_KEYS (a rotation). Each row is rewritten only if unchanged
 * since read, so concurrent starts and writers are safe. Throws, naming it, when a value is sealed with a key
 * that is not configured: a secret that cannot be opened must stop the start, not fail deliveries later.
 * Returns how many values it rewrote.
 */
export async function resealAll(db: Db, box: SecretBox): Promise<number> {
  const current = await box.currentKeyId();
  let rewritten = 0;
  for (const c of SEALED_COLUMNS) {
    const { rows } = await sql<{ key: string; value: string }>`
      SELECT ${sql.ref(c.key)}::text AS key, ${sql.ref(c.column)} AS value FROM ${sql.table(c.table)}
      WHERE ${sql.ref(c.column)} NOT LIKE ${`${PREFIX}.${current}.%`}`.execute(db);
    for (const row of rows) {
      const context = contextOf(c.table, row.key);
      const plain = isSealed(row.value) ? await box.open(row.value, context) : row.value;
      const sealed = await box.seal(plain, context);
      const done = await sql`
        UPDATE ${sql.table(c.table)} SET ${sql.ref(c.column)} = ${sealed}
        WHERE ${sql.ref(c.key)} = ${row.key} AND ${sql.ref(c.column)} = ${row.value}`.execute(db);
      rewritten += Number(done.numAffectedRows ?? 0);
    }
  }
  return rewritten;
}
