// node --import tsx bench/import.ts: the CSV import engine end to end (docs/benchmarks.md, "Imports").
//
// Mode `compare` (default) runs BENCH_ROUNDS (3) interleaved rounds on one server (the embedded PostgreSQL in a
// temp folder, or DATABASE_URL's). A template database is migrated and given an organization, account, owner,
// key (src/core/bootstrap.ts) and a group "Sales"; each round clones it twice (CREATE DATABASE … TEMPLATE) and
// measures, one after the other:
//   - dry-run: `signet start` on clone A, POST /api/imports?operation=add&dry_run=true → GET until `completed`;
//   - import:  the same file for real on clone A (users, memberships, group members, row results, audit);
//   - limit:   the import's own limit: the exact tuples the import wrote in A (its users, memberships, Sales
//              group members, row results and audit events, read back with COPY … TO), loaded by COPY … FROM
//              into clone B, a fresh database with Signet's full schema, indexes, constraints and triggers (the
//              seat and Everyone-group triggers of memberships add what they added in A).
// Each is timed and its write-ahead log measured (pg_current_wal_lsn() before and after; the server runs
// nothing else when embedded). The report gives per round and as medians: import / limit (rows per second),
// WAL bytes per row of each, and the dry-run's speed-up over the import.
//
// Mode `memory` imports BENCH_ROWS (default 1,000,000) streamed as generated, sampling the server's resident
// memory (VmRSS from /proc every 100 ms) and GET /api/me latency: one request every 10 ms for 15 s while idle,
// then the same during the import; reports RSS growth and both p99s.
//
// Every row is an add with a permission profile (DS Sender) and a group (Sales). After each import the script
// checks the counters, the users, memberships, group members and audit events, and the account's seats.
//
// Options (environment or --name=value arguments):
//   BENCH_ROWS / --rows            rows in the file (default 100000; memory mode 1000000)
//   BENCH_ROUNDS / --rounds        rounds of the compare mode (default 3)
//   DATABASE_URL / --database-url  an external server (fresh databases are created there and dropped)
//   BENCH_MODE / --mode            `compare` or `memory`
//   BENCH_BATCH_SIZE               SIGNET_IMPORT_BATCH_SIZE for the server (default: Signet's default)
//   BENCH_VERIFY=1                 also recompute the organization's audit hash chain after each import
//   BENCH_QUIET_WAIT (s, 120), BENCH_TIMEOUT (s, 3600), BENCH_CPU_PROF=folder (profile the server),
//   BENCH_JSON=file (raw results)
import type { ChildProcess } from 'node:child_process';
import { chmodSync, createReadStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type postgres from 'postgres';
import { AuditService } from '../src/core/audit/service.ts';
import { connect } from '../src/db/connection.ts';
import {
  benchTenant,
  type CpuSplit,
  childOutput,
  cleanupAll,
  cpuWindow,
  freePort,
  log,
  machine,
  openScratchDb,
  postgresJs,
  spawnNode,
  table,
  track,
  waitForHttp,
  waitForQuiet,
  watchdog,
} from './lib.ts';

for (const arg of process.argv.slice(2)) {
  const m = /^--([a-z-]+)=(.*)$/.exec(arg);
  if (!m)
    throw new Error(`unknown argument ${arg} (use --rows=N, --database-url=URL, --mode=compare|memory)`);
  const name = {
    rows: 'BENCH_ROWS',
    rounds: 'BENCH_ROUNDS',
    'database-url': 'DATABASE_URL',
    mode: 'BENCH_MODE',
  }[m[1]!];
  if (!name) throw new Error(`unknown option --${m[1]}`);
  process.env[name] = m[2];
}

const MODE = process.env.BENCH_MODE || 'compare';
const ROWS = Number(process.env.BENCH_ROWS || (MODE === 'memory' ? 1_000_000 : 100_000));
const ROUNDS = Number(process.env.BENCH_ROUNDS || 3);
if (!Number.isSafeInteger(ROWS) || ROWS < 1) throw new Error('BENCH_ROWS must be a positive integer');
if (!Number.isSafeInteger(ROUNDS) || ROUNDS < 1) throw new Error('BENCH_ROUNDS must be a positive integer');
if (MODE !== 'compare' && MODE !== 'memory') throw new Error('BENCH_MODE must be compare or memory');

const HEADER = 'FirstName,LastName,UserEmail,PermissionSet,Group\n';
const line = (i: number) => `First${i},Last${i},user${i}@bench.test,DS Sender,Sales\n`;

/** The CSV, generated in ~256 KB pieces (never whole in memory). */
function* csvPieces(rows: number): Generator<Buffer> {
  let buf = HEADER;
  for (let i = 1; i <= rows; i++) {
    buf += line(i);
    if (buf.length >= 256 * 1024) {
      yield Buffer.from(buf);
      buf = '';
    }
  }
  if (buf) yield Buffer.from(buf);
}

/** VmRSS of a process in bytes, from /proc (null when it is gone or there is no /proc). */
function rssOf(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

class RssSampler {
  max = 0;
  last = 0;
  private readonly timer: NodeJS.Timeout;
  constructor(pid: number) {
    const sample = () => {
      const r = rssOf(pid);
      if (r !== null) {
        this.last = r;
        this.max = Math.max(this.max, r);
      }
    };
    sample();
    this.timer = setInterval(sample, 100);
  }
  stop(): void {
    clearInterval(this.timer);
  }
}

interface Measured {
  round: number;
  id: string;
  seconds: number;
  rowsPerSecond: number;
  walBytes?: number;
  uploadSeconds?: number;
  rssStartMb?: number;
  rssMaxMb?: number;
  cpu: CpuSplit | null;
}

async function startSignet(
  dbUrl: string,
): Promise<{ base: string; child: ChildProcess; stop: () => Promise<void> }> {
  const port = await freePort();
  const env: Record<string, string> = {
    PORT: String(port),
    HOST: '127.0.0.1',
    DATABASE_URL: dbUrl,
    SIGNET_ENV: 'test',
    LOG_LEVEL: 'silent',
    SIGNET_RATE_LIMIT_PER_MINUTE: '1000000000',
    SIGNET_IMPORT_MAX_BYTES: String(1024 * 1024 * 1024),
  };
  if (process.env.BENCH_BATCH_SIZE) env.SIGNET_IMPORT_BATCH_SIZE = process.env.BENCH_BATCH_SIZE;
  const child = spawnNode(['bin/signet.js', 'start'], env, true);
  const stop = track(child);
  const base = `http://127.0.0.1:${port}`;
  await waitForHttp(`${base}/readyz`, child);
  return { base, child, stop };
}

/** The server's write-ahead log position, as a byte count. */
async function walLsn(sql: postgres.Sql): Promise<bigint> {
  const [row] = await sql`SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::text AS b`;
  return BigInt(String(row?.b));
}

async function runImport(
  base: string,
  key: string,
  accountId: string,
  dryRun: boolean,
  server: ChildProcess,
): Promise<{
  id: string;
  seconds: number;
  uploadSeconds: number;
  view: Record<string, unknown>;
  rss: RssSampler;
}> {
  const headers = { authorization: `Bearer ${key}` };
  const rss = new RssSampler(server.pid!);
  const t0 = performance.now();
  const res = await fetch(
    `${base}/api/imports?operation=add&account_id=${accountId}${dryRun ? '&dry_run=true' : ''}`,
    {
      method: 'POST',
      headers: { ...headers, 'content-type': 'text/csv' },
      body: Readable.toWeb(Readable.from(csvPieces(ROWS))) as ReadableStream,
      duplex: 'half',
    } as RequestInit,
  );
  const created = (await res.json()) as { id: string };
  if (res.status !== 202) throw new Error(`POST /api/imports: ${res.status} ${JSON.stringify(created)}`);
  const uploadSeconds = (performance.now() - t0) / 1000;
  for (;;) {
    const r = await fetch(`${base}/api/imports/${created.id}`, { headers });
    const view = (await r.json()) as Record<string, unknown>;
    if (view.status === 'completed') {
      rss.stop();
      return { id: created.id, seconds: (performance.now() - t0) / 1000, uploadSeconds, view, rss };
    }
    if (view.status === 'failed' || view.status === 'canceled') {
      throw new Error(`import ${created.id} ended ${view.status}: ${JSON.stringify(view)}`);
    }
    if (server.exitCode !== null) throw new Error(`the server exited: ${childOutput(server)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function expectCounters(view: Record<string, unknown>): void {
  const want = {
    user_count: ROWS,
    processed_user_count: ROWS,
    added_user_count: ROWS,
    error_count: 0,
    no_action_required_user_count: 0,
  };
  for (const [k, v] of Object.entries(want)) {
    if (view[k] !== v) throw new Error(`import counter ${k} = ${String(view[k])}, expected ${v}`);
  }
}

/**
 * GET /api/me latency: one request every `everyMs` (not back to back, so the probe's own load is the same idle
 * and busy) until stop() is called; returns the latencies in milliseconds.
 */
function meProbe(base: string, key: string, everyMs = 10): { stop: () => Promise<number[]> } {
  const samples: number[] = [];
  let running = true;
  const loop = (async () => {
    let next = performance.now();
    while (running) {
      const t0 = performance.now();
      const r = await fetch(`${base}/api/me`, { headers: { authorization: `Bearer ${key}` } });
      await r.arrayBuffer();
      if (r.status !== 200) throw new Error(`GET /api/me: ${r.status}`);
      samples.push(performance.now() - t0);
      next += everyMs;
      const wait = next - performance.now();
      if (wait > 0) await new Promise((res) => setTimeout(res, wait));
      else next = performance.now();
    }
  })();
  // A failed request (the server gone) is reported by stop(), not as an unhandled rejection meanwhile.
  const done = loop.then(
    () => null,
    (err: unknown) => err,
  );
  return {
    stop: async () => {
      running = false;
      const err = await done;
      if (err) throw err;
      return samples;
    },
  };
}

const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
};
const median = (xs: number[]): number => quantile(xs, 0.5);
const mb = (b: number) => b / (1024 * 1024);
const fmt = (n: number, digits = 0) => n.toFixed(digits);

interface Tenant {
  organization_id: string;
  account_id: string;
  user_id: string;
  api_key: string;
}

/** Checks what an import left behind in the database at `url`. */
async function checkImported(url: string, boot: Tenant): Promise<void> {
  const sql = postgresJs(url, { max: 1 });
  const n = async (q: Promise<unknown>) => Number(((await q) as [{ n: string }])[0].n);
  const org = boot.organization_id;
  const checks = {
    users: await n(sql`SELECT count(*) AS n FROM users WHERE organization_id = ${org}`),
    memberships: await n(sql`SELECT count(*) AS n FROM memberships WHERE account_id = ${boot.account_id}`),
    group_members: await n(
      sql`SELECT count(*) AS n FROM group_members gm JOIN groups g ON g.id = gm.group_id WHERE g.name = 'Sales'`,
    ),
    audit_events: await n(
      sql`SELECT count(*) AS n FROM audit_events WHERE organization_id = ${org} AND changes->'_meta'->>'via' = 'import'`,
    ),
    seats_used: await n(sql`SELECT seats_used AS n FROM accounts WHERE id = ${boot.account_id}`),
  };
  await sql.end();
  const want = {
    users: ROWS + 1,
    memberships: ROWS + 1,
    group_members: ROWS,
    audit_events: ROWS * 3,
    seats_used: ROWS + 1,
  };
  for (const [k, v] of Object.entries(want)) {
    const got = checks[k as keyof typeof checks];
    if (got !== v) throw new Error(`after the import: ${k} = ${got}, expected ${v}`);
  }
  if (process.env.BENCH_VERIFY === '1') {
    const h = connect(url, 1);
    const verified = await new AuditService(h.db).verify(org);
    await h.close();
    if (!(verified as { ok: boolean }).ok) throw new Error('the audit chain does not verify');
    log('audit chain verified');
  }
}

/**
 * The tuples import `importId` wrote in the database at `from`, as COPY text files in `dir`, in load order,
 * each with the SELECT that reads it back. Group members: the Sales group's only (the Everyone group's are
 * written by the memberships trigger, in the import as in the limit load).
 */
function limitTables(boot: Tenant, importId: string, seqBefore: number): { table: string; select: string }[] {
  const org = `'${boot.organization_id}'`;
  return [
    {
      table: 'users',
      select: `SELECT * FROM users WHERE organization_id = ${org} AND id <> '${boot.user_id}'`,
    },
    {
      table: 'memberships',
      select: `SELECT * FROM memberships WHERE account_id = '${boot.account_id}' AND user_id <> '${boot.user_id}'`,
    },
    {
      table: 'group_members',
      select: `SELECT gm.* FROM group_members gm JOIN groups g ON g.id = gm.group_id WHERE g.name = 'Sales'`,
    },
    { table: 'import_rows', select: `SELECT * FROM import_rows WHERE import_id = '${importId}'` },
    {
      table: 'audit_events',
      select: `SELECT * FROM audit_events WHERE organization_id = ${org} AND seq > ${seqBefore} ORDER BY seq`,
    },
  ];
}

/** Bytes per imported row of each table the import writes and of each of its indexes (where the bytes go). */
const sizes: string[][] = [];
async function relationSizes(sql: postgres.Sql): Promise<string[][]> {
  const rows = (await sql`
    SELECT c.relname AS name, coalesce(i.indrelid::regclass::text, '') AS of, pg_relation_size(c.oid)::bigint AS bytes
    FROM pg_class c LEFT JOIN pg_index i ON i.indexrelid = c.oid
    WHERE c.relname IN ('users', 'memberships', 'group_members', 'import_rows', 'audit_events')
       OR i.indrelid::regclass::text IN ('users', 'memberships', 'group_members', 'import_rows', 'audit_events')
    ORDER BY coalesce(i.indrelid::regclass::text, c.relname), i.indrelid IS NOT NULL, c.relname`) as unknown as {
    name: string;
    of: string;
    bytes: string;
  }[];
  return rows.map((r) => [r.of ? `  index ${r.name}` : r.name, fmt(Number(r.bytes) / ROWS)]);
}

/**
 * COPY … TO a file written by the server itself (a superuser's COPY; the bench's database user is one): a
 * postgres.js COPY TO STDOUT stream stalled on its third use on one connection (the server waiting in
 * ClientWrite). The files are read back by the client for the timed COPY … FROM STDIN.
 */
async function copyOut(sql: postgres.Sql, select: string, file: string): Promise<void> {
  await sql.unsafe(`COPY (${select}) TO '${file}'`);
}

async function copyIn(sql: postgres.Sql, table: string, file: string): Promise<void> {
  const writable = await sql.unsafe(`COPY ${table} FROM STDIN`).writable();
  await pipeline(createReadStream(file), writable);
}

/** One compare round: dry-run and import on a clone of the template, then the limit load into another. */
async function compareRound(
  db: Awaited<ReturnType<typeof openScratchDb>>,
  round: number,
  boot: Tenant,
  postmasterPid: number | null,
  results: Measured[],
): Promise<void> {
  const a = await db.clone();
  const b = await db.clone();
  const sqlA = postgresJs(a.url, { max: 1 });
  const { base, child, stop } = await startSignet(a.url);
  for (const dry of [true, false]) {
    await waitForQuiet();
    const [{ s }] = (await sqlA`SELECT coalesce(max(seq), 0)::int AS s FROM audit_events`) as unknown as [
      { s: number },
    ];
    const wal0 = await walLsn(sqlA);
    const probe = cpuWindow(child.pid!, postmasterPid);
    const r = await runImport(base, boot.api_key, boot.account_id, dry, child);
    const cpu = probe();
    const walBytes = Number((await walLsn(sqlA)) - wal0);
    expectCounters(r.view);
    const id = dry ? 'dry-run' : 'import';
    results.push({
      round,
      id,
      seconds: r.seconds,
      rowsPerSecond: ROWS / r.seconds,
      walBytes,
      uploadSeconds: r.uploadSeconds,
      cpu,
    });
    log(
      `round ${round} ${id}: ${fmt(r.seconds, 2)} s, ${fmt(ROWS / r.seconds)} rows/s, WAL ${fmt(walBytes / ROWS)} B/row`,
    );
    if (!dry) {
      await stop();
      await checkImported(a.url, boot);
      if (round === 1) sizes.push(...(await relationSizes(sqlA)));
      // --- the limit: the same tuples by COPY into a fresh clone ---
      const dir = mkdtempSync(path.join(os.tmpdir(), 'signet-bench-limit-'));
      chmodSync(dir, 0o777); // the server's user writes the files (copyOut)
      try {
        const tables = limitTables(boot, r.id, s);
        const sqlB = postgresJs(b.url, { max: 1 });
        // The imports row the row results refer to (not timed: the import wrote it at POST).
        await copyOut(sqlA, `SELECT * FROM imports WHERE id = '${r.id}'`, path.join(dir, 'imports'));
        await copyIn(sqlB, 'imports', path.join(dir, 'imports'));
        for (const t of tables) await copyOut(sqlA, t.select, path.join(dir, t.table));
        await waitForQuiet();
        const lwal0 = await walLsn(sqlB);
        const lprobe = cpuWindow(process.pid, postmasterPid);
        const t0 = performance.now();
        for (const t of tables) await copyIn(sqlB, t.table, path.join(dir, t.table));
        const seconds = (performance.now() - t0) / 1000;
        const lcpu = lprobe();
        const lwal = Number((await walLsn(sqlB)) - lwal0);
        for (const t of tables) {
          const q = `SELECT count(*)::int AS n FROM (${t.select}) x`;
          const [x] = (await sqlA.unsafe(q)) as unknown as [{ n: number }];
          const [y] = (await sqlB.unsafe(q)) as unknown as [{ n: number }];
          if (x.n !== y.n) throw new Error(`limit load: ${t.table} has ${y.n} rows, the import wrote ${x.n}`);
        }
        await sqlB.end();
        results.push({
          round,
          id: 'limit',
          seconds,
          rowsPerSecond: ROWS / seconds,
          walBytes: lwal,
          cpu: lcpu,
        });
        log(
          `round ${round} limit: ${fmt(seconds, 2)} s, ${fmt(ROWS / seconds)} rows/s, WAL ${fmt(lwal / ROWS)} B/row`,
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }
  await sqlA.end();
  await db.dropClone(a.name);
  await db.dropClone(b.name);
}

async function main(): Promise<number> {
  watchdog(3600);
  const info = machine();
  const load = os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
  log(
    `${info.nproc} CPUs (${info.cpu}), node ${info.node}, ${info.date}; load ${load}; ${ROWS} rows, mode ${MODE}`,
  );
  const db = await openScratchDb();
  const postmasterPid = db.postmasterPid;
  const { handle, boot } = await benchTenant(db.url);
  await handle.sql`
    INSERT INTO groups (organization_id, account_id, name)
    VALUES (${boot.organization_id}, ${boot.account_id}, 'Sales')`;
  const results: Measured[] = [];
  const out = process.stdout;
  const cpuCell = (c: CpuSplit | null) =>
    c
      ? `${fmt(c.subject, 2)} / ${fmt(c.postgres, 2)} / ${fmt(c.client, 2)} / ${fmt(c.foreign + c.steal, 2)}`
      : 'n/a';
  let extra: Record<string, unknown> = {};

  if (MODE === 'compare') {
    await handle.close(); // the template must have no session
    for (let round = 1; round <= ROUNDS; round++) await compareRound(db, round, boot, postmasterPid, results);
    out.write(
      `\n${db.version} (${db.kind}), ${info.nproc} CPUs, node ${info.node}, ${info.date}, load ${load}\n\n`,
    );
    const head = [
      'round',
      'run',
      'seconds',
      'rows/s',
      'WAL B/row',
      'CPU cores: subject / pg / bench / foreign+steal',
    ];
    const body = results.map((r) => [
      String(r.round),
      r.id,
      fmt(r.seconds, 2),
      fmt(r.rowsPerSecond),
      r.walBytes === undefined ? '' : fmt(r.walBytes / ROWS),
      cpuCell(r.cpu),
    ]);
    out.write(table([head, ...body]));
    out.write('\nOn-disk bytes per imported row after round 1 (heap, then each index):\n\n');
    out.write(table([['relation', 'bytes/row'], ...sizes]));
    const per = (id: string) => results.filter((r) => r.id === id);
    const imp = per('import');
    const lim = per('limit');
    const dry = per('dry-run');
    const ratios = imp.map((r, i) => r.rowsPerSecond / lim[i]!.rowsPerSecond);
    const speedups = imp.map((r, i) => r.seconds / dry[i]!.seconds);
    const walImport = median(imp.map((r) => r.walBytes! / ROWS));
    const walLimit = median(lim.map((r) => r.walBytes! / ROWS));
    const checks: string[][] = [['target (medians of the rounds)', 'measured', 'met']];
    checks.push([
      'import ≥ 85% of its limit (same tuples by COPY)',
      `${fmt(median(ratios) * 100, 1)}% (rounds: ${ratios.map((x) => fmt(x * 100, 1)).join(', ')}; ` +
        `${fmt(median(imp.map((r) => r.rowsPerSecond)))} vs ${fmt(median(lim.map((r) => r.rowsPerSecond)))} rows/s)`,
      median(ratios) >= 0.85 ? 'yes' : 'no',
    ]);
    checks.push([
      'WAL per imported row ≤ 2,600 bytes',
      `${fmt(walImport)} B/row (the limit load: ${fmt(walLimit)})`,
      walImport <= 2600 ? 'yes' : 'no',
    ]);
    checks.push([
      'dry-run ≥ 2× faster than import',
      `${fmt(median(speedups), 2)}× (rounds: ${speedups.map((x) => fmt(x, 2)).join(', ')})`,
      median(speedups) >= 2 ? 'yes' : 'no',
    ]);
    out.write('\n');
    out.write(table(checks));
    extra = { ratios, speedups, walImport, walLimit };
  } else {
    const { base, child } = await startSignet(db.url);
    const sql = postgresJs(db.url, { max: 1 });
    await waitForQuiet();
    const idleProbe = meProbe(base, boot.api_key);
    await new Promise((r) => setTimeout(r, 15_000));
    const idle = await idleProbe.stop();
    const idleRss = rssOf(child.pid!) ?? 0;
    log(
      `signet idle: RSS ${fmt(mb(idleRss))} MB, GET /api/me p99 ${fmt(quantile(idle, 0.99), 2)} ms (${idle.length})`,
    );
    const wal0 = await walLsn(sql);
    const busyProbe = meProbe(base, boot.api_key);
    const probe = cpuWindow(child.pid!, postmasterPid);
    const r = await runImport(base, boot.api_key, boot.account_id, false, child);
    const cpu = probe();
    const busy = await busyProbe.stop();
    const walBytes = Number((await walLsn(sql)) - wal0);
    await sql.end();
    expectCounters(r.view);
    await handle.close();
    await checkImported(db.url, boot);
    results.push({
      round: 1,
      id: 'import',
      seconds: r.seconds,
      rowsPerSecond: ROWS / r.seconds,
      walBytes,
      uploadSeconds: r.uploadSeconds,
      rssStartMb: mb(idleRss),
      rssMaxMb: mb(r.rss.max),
      cpu,
    });
    const growth = mb(r.rss.max) - mb(idleRss);
    const p99Idle = quantile(idle, 0.99);
    const p99Busy = quantile(busy, 0.99);
    out.write(
      `\n${db.version} (${db.kind}), ${info.nproc} CPUs, node ${info.node}, ${info.date}, load ${load}\n\n`,
    );
    const checks: string[][] = [['target', 'measured', 'met']];
    checks.push([
      `${ROWS}-row import: RSS growth < 200 MB`,
      `${fmt(growth)} MB (idle ${fmt(mb(idleRss))} → max ${fmt(mb(r.rss.max))} MB), ${fmt(ROWS / r.seconds)} rows/s, ` +
        `${fmt(r.seconds, 1)} s, WAL ${fmt(walBytes / ROWS)} B/row, CPU ${cpuCell(cpu)}`,
      growth < 200 ? 'yes' : 'no',
    ]);
    checks.push([
      'GET /api/me p99 during the import ≤ 3× idle',
      `${fmt(p99Busy / p99Idle, 2)}× (${fmt(p99Busy, 2)} ms during, ${busy.length} requests; ` +
        `${fmt(p99Idle, 2)} ms idle, ${idle.length}; p50 ${fmt(median(busy), 2)} vs ${fmt(median(idle), 2)} ms)`,
      p99Busy <= 3 * p99Idle ? 'yes' : 'no',
    ]);
    out.write(table(checks));
    extra = { idle, busy: busy.length, p99Idle, p99Busy, growth };
  }
  if (process.env.BENCH_JSON) {
    writeFileSync(
      process.env.BENCH_JSON,
      JSON.stringify(
        { machine: info, load, db: db.version, kind: db.kind, rows: ROWS, results, extra },
        null,
        2,
      ),
    );
  }
  return 0;
}

let code = 1;
try {
  code = await main();
} catch (err) {
  log(`failed: ${(err as Error).stack ?? String(err)}`);
} finally {
  await cleanupAll();
}
process.exit(code);
