// What this database is, as a whole: its id (a random id made by migration 0019, shown on /healthz) and the
// environment (test | live) of the server that uses it. `signet start` records the environment; `signet
// bootstrap` reads both so that it never prints a key the running server would refuse (docs/operations.md).
// Raw SQL on purpose: signet_meta is a key/value table read at start and by the CLI, and the server's own
// secrets (readOrCreateMeta) are read once per process, not per request.
import { sql } from 'kysely';
import type { Db } from '../db/connection.ts';

export type Environment = 'test' | 'live';

export interface InstanceFacts {
  databaseId: string | null;
  environment: Environment | null;
}

export async function readInstance(db: Db): Promise<InstanceFacts> {
  const { rows } = await sql<{ key: string; value: string }>`
    SELECT key, value FROM signet_meta WHERE key IN ('database_id', 'environment')`.execute(db);
  const value = (k: string) => rows.find((r) => r.key === k)?.value ?? null;
  const environment = value('environment');
  return {
    databaseId: value('database_id'),
    environment: environment === 'test' || environment === 'live' ? environment : null,
  };
}

/** The facts of the database a server uses, for the faces (which hold no database handle). */
export class InstanceService {
  constructor(private readonly db: Db) {}

  read(): Promise<InstanceFacts> {
    return readInstance(this.db);
  }
}

/**
 * Records the environment of the server now using this database, and returns the one recorded before (null
 * on a first start). The server's word is final: an operator may move a database from test to live, and then
 * keys of the other environment are refused (`environment_mismatch`), which `signet start` warns about.
 */
export async function recordServerEnvironment(db: Db, environment: Environment): Promise<Environment | null> {
  const before = (await readInstance(db)).environment;
  await sql`
    INSERT INTO signet_meta (key, value) VALUES ('environment', ${environment})
    ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = now()`.execute(db);
  return before;
}

/** Records the environment only if none is yet (a bootstrap before the first start): the server's is kept. */
export async function recordEnvironmentIfNone(db: Db, environment: Environment): Promise<void> {
  await sql`
    INSERT INTO signet_meta (key, value) VALUES ('environment', ${environment})
    ON CONFLICT (key) DO NOTHING`.execute(db);
}

/**
 * A value of signet_meta made by the first process that needs it (a server secret: the OAuth keys, the key
 * of signing links). INSERT ... ON CONFLICT DO NOTHING then a read, so two processes starting together end up
 * with the same value.
 */
export async function readOrCreateMeta(db: Db, key: string, make: () => string): Promise<string> {
  const read = async () =>
    (await sql<{ value: string }>`SELECT value FROM signet_meta WHERE key = ${key}`.execute(db)).rows[0]
      ?.value;
  const existing = await read();
  if (existing !== undefined) return existing;
  await sql`INSERT INTO signet_meta (key, value) VALUES (${key}, ${make()}) ON CONFLICT (key) DO NOTHING`.execute(
    db,
  );
  return (await read())!;
}
