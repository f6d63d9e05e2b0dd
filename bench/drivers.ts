// `node --import tsx bench/drivers.ts`: the database driver choice, measured. A one-row primary-key read of a
// users row, through postgres.js and through `pg` (node-postgres), each directly and under Kysely, each with
// a pool of 10, driven by N concurrent loops for a fixed time. Every variant runs in a fresh child process,
// so JIT and GC state do not carry over; the variants are run in rotated order for several rounds.
// Database: the embedded PostgreSQL in a temp folder, or a scratch database on DATABASE_URL's server.
// Environment: BENCH_SECONDS (per run, default 5), BENCH_WARMUP_SECONDS (default 2), BENCH_ROUNDS (default 3),
// BENCH_CONCURRENCY (loops, default 32), BENCH_VARIANTS (comma-separated ids, default all),
// BENCH_QUIET_WAIT (s, default 120) bounds the wait for other work on the machine to stop before each run,
// BENCH_TIMEOUT (s, default 1800) bounds the whole run, BENCH_JSON=file writes raw results.
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import {
  CompiledQuery,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  Kysely,
  PostgresAdapter,
  PostgresDialect,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type QueryResult,
} from 'kysely';
import { PostgresJSDialect } from 'kysely-postgres-js';
import pg from 'pg';
import type postgres from 'postgres';
import { connect } from '../src/db/connection.ts';
import type { Database } from '../src/db/schema.ts';
import {
  type CpuSplit,
  cleanupAll,
  cpuWindow,
  envNumber,
  log,
  machine,
  openScratchDb,
  postgresJs,
  spawnNode,
  table,
  track,
  waitForQuiet,
  watchdog,
} from './lib.ts';

const SECONDS = envNumber('BENCH_SECONDS', 5);
const WARMUP = envNumber('BENCH_WARMUP_SECONDS', 2);
const ROUNDS = envNumber('BENCH_ROUNDS', 3);
const CONCURRENCY = envNumber('BENCH_CONCURRENCY', 32);
const POOL = 10;
const USERS = 10_000;
const TEXT = 'SELECT * FROM users WHERE id = $1';

type Read = (id: string) => Promise<{ id: string } | undefined>;
interface Variant {
  label: string;
  open(url: string): { read: Read; close(): Promise<void> };
}

const VARIANTS: Record<string, Variant> = {
  postgresjs: {
    label: 'postgres.js, tagged template (prepared: its default)',
    open(url) {
      const sql = postgresJs(url, { max: POOL, onnotice: () => {} });
      return {
        read: async (id) => (await sql`SELECT * FROM users WHERE id = ${id}`)[0] as { id: string },
        close: () => sql.end(),
      };
    },
  },
  pg: {
    label: 'pg, pool.query(text, values) (unnamed statement: its default)',
    open(url) {
      const pool = new pg.Pool({ connectionString: url, max: POOL });
      return {
        read: async (id) => (await pool.query(TEXT, [id])).rows[0],
        close: () => pool.end(),
      };
    },
  },
  'pg-named': {
    label: 'pg, pool.query({name, text, values}) (named prepared statement)',
    open(url) {
      const pool = new pg.Pool({ connectionString: url, max: POOL });
      return {
        read: async (id) => (await pool.query({ name: 'user_by_id', text: TEXT, values: [id] })).rows[0],
        close: () => pool.end(),
      };
    },
  },
  'kysely-postgresjs': {
    label: 'Kysely + postgres.js (kysely-postgres-js 2.0.0 as published)',
    open(url) {
      const sql = postgresJs(url, { max: POOL, onnotice: () => {} });
      const db = new Kysely<Database>({ dialect: new PostgresJSDialect({ postgres: sql }) });
      return { read: kyselyRead(db), close: () => db.destroy() };
    },
  },
  'kysely-signet': {
    label: "Kysely + postgres.js through Signet's connect() (src/db/dialect.ts: prepared)",
    open(url) {
      const handle = connect(url, POOL);
      return {
        read: kyselyRead(handle.db),
        close: async () => {
          await handle.close();
          await handle.sql.end();
        },
      };
    },
  },
  'kysely-pooled': {
    label: 'Kysely + postgres.js, prepared, single queries on the pool (experiment, not in src)',
    open(url) {
      const sql = postgresJs(url, { max: POOL, onnotice: () => {} });
      const db = new Kysely<Database>({ dialect: new PooledDialect(sql) });
      return { read: kyselyRead(db), close: () => db.destroy() };
    },
  },
  'kysely-pg': {
    label: "Kysely + pg (Kysely's built-in PostgresDialect)",
    open(url) {
      const db = new Kysely<Database>({
        dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: POOL }) }),
      });
      return { read: kyselyRead(db), close: () => db.destroy() };
    },
  },
};

function kyselyRead(db: Kysely<Database>): Read {
  return (id) => db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
}

/**
 * The experiment: like src/db/dialect.ts (prepared statements), but a query outside a transaction runs on the
 * pool instead of a reserved connection, so postgres.js can pipeline it; a transaction reserves a connection
 * at BEGIN. The catch: Kysely's db.connection() would no longer pin one session.
 */
class PooledConnection implements DatabaseConnection {
  reserved: postgres.ReservedSql | null = null;
  constructor(private readonly sql: postgres.Sql) {}
  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const params = query.parameters.slice() as postgres.ParameterOrJSON<never>[];
    const result = await (this.reserved ?? this.sql).unsafe(query.sql, params, { prepare: true });
    return { rows: Array.from(result.values()) as R[] };
  }
  // biome-ignore lint/correctness/useYield: streaming is not part of the experiment
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('not supported');
  }
}

class PooledDialect implements Dialect {
  constructor(private readonly sql: postgres.Sql) {}
  createAdapter = () => new PostgresAdapter();
  createIntrospector = (db: Kysely<unknown>) => new PostgresIntrospector(db);
  createQueryCompiler = () => new PostgresQueryCompiler();
  createDriver(): Driver {
    const sql = this.sql;
    const raw = (c: DatabaseConnection, text: string) => c.executeQuery(CompiledQuery.raw(text));
    return {
      init: async () => {},
      acquireConnection: async () => new PooledConnection(sql),
      beginTransaction: async (c: DatabaseConnection) => {
        (c as PooledConnection).reserved = await sql.reserve();
        await raw(c, 'begin');
      },
      commitTransaction: async (c: DatabaseConnection) => void (await raw(c, 'commit')),
      rollbackTransaction: async (c: DatabaseConnection) => void (await raw(c, 'rollback')),
      releaseConnection: async (c: DatabaseConnection) => {
        (c as PooledConnection).reserved?.release();
        (c as PooledConnection).reserved = null;
      },
      destroy: () => sql.end(),
    };
  }
}

interface Result {
  variant: string;
  round: number;
  qps: number;
  meanMs: number;
  p99Ms: number;
  /** CPU in cores during the run: the driver's Node process, our PostgreSQL, other people's work. */
  cpu: CpuSplit | null;
}

/** Child: run one variant, report one Result over IPC, exit. */
async function child(
  variantId: string,
  url: string,
  ids: string[],
  round: number,
  postmasterPid: number | null,
): Promise<Result> {
  const variant = VARIANTS[variantId]!;
  const { read, close } = variant.open(url);
  const check = await read(ids[0]!);
  if (check?.id !== ids[0]) throw new Error(`${variantId}: the read returned the wrong row`);
  const run = async (seconds: number, latencies: number[] | null): Promise<number> => {
    const end = performance.now() + seconds * 1000;
    let count = 0;
    let next = 0;
    const loop = async () => {
      while (performance.now() < end) {
        const id = ids[next++ % ids.length]!;
        const t = performance.now();
        const row = await read(id);
        if (latencies) latencies.push(performance.now() - t);
        if (row === undefined) throw new Error(`${variantId}: no row for ${id}`);
        count++;
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, loop));
    return count;
  };
  await run(WARMUP, null);
  const latencies: number[] = [];
  const probe = cpuWindow(process.pid, postmasterPid);
  const t0 = performance.now();
  const count = await run(SECONDS, latencies);
  const wall = (performance.now() - t0) / 1000;
  const cpu = probe();
  await close();
  latencies.sort((a, b) => a - b);
  return {
    variant: variantId,
    round,
    qps: count / wall,
    meanMs: latencies.reduce((a, b) => a + b, 0) / latencies.length,
    p99Ms: latencies[Math.floor(latencies.length * 0.99)] ?? 0,
    cpu,
  };
}

async function runChild(
  variant: string,
  url: string,
  ids: string[],
  round: number,
  postmasterPid: number | null,
): Promise<Result> {
  const proc = spawnNode(['bench/drivers.ts', '--child'], {}, false);
  const stop = track(proc);
  const result = await new Promise<Result>((resolve, reject) => {
    proc.once('message', (msg: { result?: Result; error?: string }) =>
      msg.result ? resolve(msg.result) : reject(new Error(msg.error)),
    );
    proc.once('exit', (code) => reject(new Error(`${variant}: child exited with ${code}`)));
    proc.send({ variant, url, ids, round, postmasterPid });
  });
  await stop();
  return result;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

async function main(): Promise<number> {
  watchdog(1800);
  const info = machine();
  const variants = process.env.BENCH_VARIANTS ? process.env.BENCH_VARIANTS.split(',') : Object.keys(VARIANTS);
  for (const v of variants) if (!VARIANTS[v]) throw new Error(`unknown variant ${v}`);
  const db = await openScratchDb();
  const setup = postgresJs(db.url, { max: 1, onnotice: () => {} });
  const [org] = await setup`
    INSERT INTO organizations (id, name) VALUES (gen_random_uuid(), 'Drivers') RETURNING id`;
  await setup`
    INSERT INTO users (id, organization_id, email, first_name, last_name, job_title, department)
    SELECT gen_random_uuid(), ${org!.id}, 'user' || i || '@bench.test', 'First' || i, 'Last' || i, 'Engineer', 'R&D'
    FROM generate_series(1, ${USERS}::int) AS i`;
  await setup`VACUUM ANALYZE users`;
  // 1,000 ids in random order: every read is a different row, all of them in shared buffers.
  const ids = (await setup`SELECT id FROM users ORDER BY random() LIMIT 1000`).map((r) => r.id as string);
  await setup.end();

  const results: Result[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const order = variants.map((_, i) => variants[(i + round) % variants.length]!);
    for (const v of order) {
      await waitForQuiet();
      log(
        `round ${round + 1}/${ROUNDS}: ${v} (${WARMUP} s warm-up, ${SECONDS} s measured, ${CONCURRENCY} loops)`,
      );
      const r = await runChild(v, db.url, ids, round, db.postmasterPid);
      log(`  ${r.qps.toFixed(0)} queries/s, mean ${r.meanMs.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms`);
      results.push(r);
    }
  }

  const rows = variants.map((v) => {
    const rs = results.filter((r) => r.variant === v);
    const per = (f: (r: Result) => number) => median(rs.map(f));
    const cpu = (r: Result, k: keyof CpuSplit) => r.cpu?.[k] ?? Number.NaN;
    return [
      v,
      VARIANTS[v]!.label,
      per((r) => r.qps).toFixed(0),
      Math.max(...rs.map((r) => r.qps)).toFixed(0),
      // Each round's figure with the foreign load (cores used by other people's work, plus stolen time).
      rs.map((r) => `${r.qps.toFixed(0)} (${(cpu(r, 'foreign') + cpu(r, 'steal')).toFixed(2)})`).join(' / '),
      per((r) => r.meanMs).toFixed(2),
      per((r) => r.p99Ms).toFixed(2),
      per((r) => (cpu(r, 'subject') / r.qps) * 1e6).toFixed(0),
      per((r) => (cpu(r, 'postgres') / r.qps) * 1e6).toFixed(0),
    ];
  });
  process.stdout.write(
    `\nmachine: ${info.nproc} CPUs (${info.cpu}), ${info.platform}, node ${info.node}; ${db.version} (${db.kind}); ${info.date}\n` +
      `one-row primary-key read of a users row (${USERS} rows), pool of ${POOL}, ${CONCURRENCY} concurrent loops; ` +
      `${ROUNDS} rounds of ${WARMUP} s warm-up + ${SECONDS} s; medians unless marked\n\n` +
      table([
        [
          'variant',
          'what',
          'queries/s (median)',
          'best',
          'per round (foreign load, cores)',
          'mean ms',
          'p99 ms',
          'Node CPU µs/query',
          'PG CPU µs/query',
        ],
        ...rows,
      ]),
  );
  if (process.env.BENCH_JSON) {
    writeFileSync(
      process.env.BENCH_JSON,
      JSON.stringify({ machine: info, database: { kind: db.kind, version: db.version }, results }, null, 2),
    );
  }
  return 0;
}

if (process.argv.includes('--child')) {
  type Msg = { variant: string; url: string; ids: string[]; round: number; postmasterPid: number | null };
  process.once('message', (msg: Msg) => {
    child(msg.variant, msg.url, msg.ids, msg.round, msg.postmasterPid).then(
      (result) => process.send!({ result }, () => process.exit(0)),
      (err: unknown) => process.send!({ error: String(err) }, () => process.exit(1)),
    );
  });
} else {
  let code = 1;
  try {
    code = await main();
  } catch (err) {
    log(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  } finally {
    await cleanupAll();
  }
  process.exit(code);
}
