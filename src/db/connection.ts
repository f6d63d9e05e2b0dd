// One connection pool per process: postgres.js under Kysely. postgres.js was chosen by measuring
// (bench/drivers.ts, docs/benchmarks.md): it serves a one-row read faster than `pg` on this machine, provided
// its statements are prepared, which the dialect in dialect.ts does (kysely-postgres-js does not).
import net from 'node:net';
import { Kysely } from 'kysely';
import postgres from 'postgres';
import { PostgresJsPreparedDialect } from './dialect.ts';
import type { Database } from './schema.ts';

export type Db = Kysely<Database>;

export interface DbHandle {
  db: Db;
  sql: postgres.Sql;
  close(): Promise<void>;
}

/**
 * libpq accepts a socket folder as `postgres://user@/db?host=/path`; postgres.js cannot parse an empty host,
 * so such URLs are turned into options (`host` = the folder) here.
 */
function socketOptions(url: string): postgres.Options<Record<string, postgres.PostgresType>> | null {
  const m = /^postgres(?:ql)?:\/\/([^@/]*)@?\/([^?]*)\?(.*)$/.exec(url);
  if (!m) return null;
  const params = new URLSearchParams(m[3]);
  const host = params.get('host');
  if (!host?.startsWith('/')) return null;
  return {
    host,
    port: Number(params.get('port') ?? 5432),
    user: decodeURIComponent(m[1] || 'postgres'),
    database: decodeURIComponent(m[2] || 'postgres'),
  };
}

/**
 * Opens postgres.js's connections with TCP_NODELAY, which postgres.js leaves off: with Nagle's algorithm a small
 * message written while earlier bytes are unacknowledged waits for the server's delayed ACK, and the statement
 * after each COPY … FROM STDIN of an import batch took ~40 ms longer (docs/benchmarks.md, "Imports").
 */
function noDelaySocket(o: { host: string[]; port: number[]; path?: string | false }): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = o.path
      ? net.connect({ path: o.path })
      : net.connect({ host: o.host[0], port: o.port[0] ?? 5432, noDelay: true });
    s.once('error', reject);
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
  });
}

export function connect(url: string, poolSize = 10): DbHandle {
  const socket = socketOptions(url);
  const options: postgres.Options<Record<string, postgres.PostgresType>> = {
    ...socket,
    max: poolSize,
    onnotice: () => {},
    // int8 columns (identity ids, sequence numbers) stay far below 2^53, so they are read as numbers.
    types: {
      bigint: { to: 20, from: [20], serialize: (x: number) => String(x), parse: (x: string) => Number(x) },
    },
    connection: { application_name: 'signet' },
    ...({ socket: noDelaySocket } as object),
  };
  // With an options object as the first argument postgres.js ignores the second, so merge into one.
  const sql = socket ? postgres(options) : postgres(url, options);
  const db = new Kysely<Database>({ dialect: new PostgresJsPreparedDialect(sql) });
  // Statements outside a transaction run on the pool (dialect.ts), so db.connection() would not pin a session.
  Object.defineProperty(db, 'connection', {
    value: () => {
      throw new Error('db.connection() is not supported: use db.transaction() for a session (db/dialect.ts)');
    },
  });
  return {
    db,
    sql,
    async close() {
      await db.destroy();
      // Kysely ends the pool only if a query went through it; callers that used `sql` directly need this.
      await sql.end({ timeout: 5 });
    },
  };
}
