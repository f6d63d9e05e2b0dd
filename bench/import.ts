// node --import tsx bench/import.ts: the CSV import engine end to end (docs/benchmarks.md, "Imports").
//
// One run, on one scratch database (the embedded PostgreSQL in a temp folder, or a fresh database on the server
// named by DATABASE_URL), measures side by side:
//   - baseline: COPY of the same CSV rows into a plain table of the same database (postgres.js COPY FROM STDIN);
//   - dry-run:  POST /api/imports?operation=add&dry_run=true → GET until `completed`;
//   - import:   the same file for real: users, memberships, group memberships, row results, audit events.
// Signet runs as `signet start` in a child process (one in-process import worker, LOG_LEVEL=silent); the
// organization, account, owner and key come from src/core/bootstrap.ts, plus one group "Sales". Every row is
// an add with a permission profile (DS Sender) and a group (Sales). After the import the script checks the
// counters, the number of users, memberships, group members and audit events, and that the account's seats add
// up; the server's resident memory (VmRSS of its process, from /proc) is sampled every 100 ms throughout.
//
// Options (environment or --name=value arguments):
//   BENCH_ROWS / --rows            rows in the file (default 100000)
//   DATABASE_URL / --database-url  an external server (a fresh database is created there and dropped)
//   BENCH_MODE / --mode            `compare` (default: COPY, dry-run, import) or `memory` (the import only, on a
//                                  file streamed to the server as it is generated; reports RSS growth)
//   BENCH_BATCH_SIZE               SIGNET_IMPORT_BATCH_SIZE for the server (default: Signet's default)
//   BENCH_VERIFY=1                 also recompute the organization's audit hash chain at the end
//   BENCH_QUIET_WAIT (s, 120), BENCH_TIMEOUT (s, 3600), BENCH_CPU_PROF=folder (profile the server),
//   BENCH_JSON=file (raw results)
import type { ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AuditService } from '../src/core/audit/service.ts';
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
  const name = { rows: 'BENCH_ROWS', 'database-url': 'DATABASE_URL', mode: 'BENCH_MODE' }[m[1]!];
  if (!name) throw new Error(`unknown option --${m[1]}`);
  process.env[name] = m[2];
}

const ROWS = Number(process.env.BENCH_ROWS || 100_000);
const MODE = process.env.BENCH_MODE || 'compare';
if (!Number.isSafeInteger(ROWS) || ROWS < 1) throw new Error('BENCH_ROWS must be a positive integer');
if (MODE !== 'compare' && MODE !== 'memory') throw new Error('BENCH_MODE must be compare or memory');
let postmasterPid: number | null = null;

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
  id: string;
  what: string;
  seconds: number;
  rowsPerSecond: number;
  uploadSeconds?: number;
  rssStartMb?: number;
  rssMaxMb?: number;
  cpu: CpuSplit | null;
  counters?: Record<string, unknown>;
}

async function startSignet(dbUrl: string): Promise<{ base: string; child: ChildProcess }> {
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
  track(child);
  const base = `http://127.0.0.1:${port}`;
  await waitForHttp(`${base}/readyz`, child);
  return { base, child };
}

async function runImport(
  base: string,
  key: string,
  accountId: string,
  dryRun: boolean,
  server: ChildProcess,
): Promise<{ seconds: number; uploadSeconds: number; view: Record<string, unknown>; rss: RssSampler }> {
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
      return { seconds: (performance.now() - t0) / 1000, uploadSeconds, view, rss };
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

const mb = (b: number) => b / (1024 * 1024);
const fmt = (n: number, digits = 0) => n.toFixed(digits);

async function main(): Promise<number> {
  watchdog(3600);
  const info = machine();
  log(`${info.nproc} CPUs (${info.cpu}), node ${info.node}, ${info.date}; ${ROWS} rows, mode ${MODE}`);
  const db = await openScratchDb();
  postmasterPid = db.postmasterPid;

  const { handle, boot } = await benchTenant(db.url);
  const sql = handle.sql;
  await sql`
    INSERT INTO groups (organization_id, account_id, name)
    VALUES (${boot.organization_id}, ${boot.account_id}, 'Sales')`;
  const results: Measured[] = [];

  // --- the COPY baseline: the same rows into a plain table -----------------------------------------------
  if (MODE === 'compare') {
    await sql`
      CREATE TABLE bench_copy (first_name text, last_name text, email text, permission_set text, grp text)`;
    const raw = postgresJs(db.url, { max: 1 });
    await waitForQuiet();
    const probe = cpuWindow(process.pid, postmasterPid);
    const t0 = performance.now();
    const writable = await raw`COPY bench_copy FROM STDIN WITH (FORMAT csv, HEADER true)`.writable();
    await pipeline(Readable.from(csvPieces(ROWS)), writable);
    const seconds = (performance.now() - t0) / 1000;
    const cpu = probe();
    const [{ n }] = (await raw`SELECT count(*)::int AS n FROM bench_copy`) as unknown as [{ n: number }];
    if (n !== ROWS) throw new Error(`COPY stored ${n} rows, expected ${ROWS}`);
    await raw.end();
    results.push({
      id: 'copy',
      what: 'COPY … FROM STDIN of the same CSV into a plain 5-column table (no index)',
      seconds,
      rowsPerSecond: ROWS / seconds,
      cpu,
    });
    log(`copy: ${fmt(seconds, 2)} s, ${fmt(ROWS / seconds)} rows/s`);
  }

  const { base, child } = await startSignet(db.url);
  const idleRss = rssOf(child.pid!) ?? 0;
  log(`signet started (pid ${child.pid}, RSS ${fmt(mb(idleRss))} MB)`);

  const variants: { id: string; dry: boolean; what: string }[] =
    MODE === 'compare'
      ? [
          { id: 'dry-run', dry: true, what: 'POST dry_run=true → completed (plan and row results only)' },
          { id: 'import', dry: false, what: 'POST → completed (users, memberships, groups, results, audit)' },
        ]
      : [{ id: 'import-1M', dry: false, what: 'POST → completed, file streamed as generated' }];
  for (const v of variants) {
    await waitForQuiet();
    log(`${v.id}: ${v.what}`);
    const rssBefore = rssOf(child.pid!) ?? 0;
    const probe = cpuWindow(child.pid!, postmasterPid);
    const r = await runImport(base, boot.api_key, boot.account_id, v.dry, child);
    const cpu = probe();
    expectCounters(r.view);
    results.push({
      id: v.id,
      what: v.what,
      seconds: r.seconds,
      rowsPerSecond: ROWS / r.seconds,
      uploadSeconds: r.uploadSeconds,
      rssStartMb: mb(rssBefore),
      rssMaxMb: mb(r.rss.max),
      cpu,
      counters: r.view,
    });
    log(
      `${v.id}: ${fmt(r.seconds, 2)} s (upload ${fmt(r.uploadSeconds, 2)} s), ${fmt(ROWS / r.seconds)} rows/s, ` +
        `RSS ${fmt(mb(rssBefore))} → max ${fmt(mb(r.rss.max))} MB`,
    );
  }

  // --- what the real import left behind --------------------------------------------------------------------
  const count = async (q: Promise<unknown>) => Number(((await q) as [{ n: string }])[0].n);
  const org = boot.organization_id;
  const checks = {
    users: await count(sql`SELECT count(*) AS n FROM users WHERE organization_id = ${org}`),
    memberships: await count(
      sql`SELECT count(*) AS n FROM memberships WHERE account_id = ${boot.account_id}`,
    ),
    group_members: await count(sql`SELECT count(*) AS n FROM group_members`),
    audit_events: await count(
      sql`SELECT count(*) AS n FROM audit_events WHERE organization_id = ${org} AND changes->'_meta'->>'via' = 'import'`,
    ),
    seats_used: await count(sql`SELECT seats_used AS n FROM accounts WHERE id = ${boot.account_id}`),
  };
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
  log(`checked: ${JSON.stringify(checks)}`);
  if (process.env.BENCH_VERIFY === '1') {
    const t0 = performance.now();
    const verified = await new AuditService(handle.db).verify(org);
    log(`audit chain verify: ${JSON.stringify(verified)} in ${fmt((performance.now() - t0) / 1000, 1)} s`);
    if (!(verified as { ok: boolean }).ok) throw new Error('the audit chain does not verify');
  }
  await handle.close();

  // --- report ---------------------------------------------------------------------------------------------
  const copy = results.find((r) => r.id === 'copy');
  const imp = results.find((r) => r.id.startsWith('import'))!;
  const dry = results.find((r) => r.id === 'dry-run');
  const cpuCell = (c: CpuSplit | null) =>
    c
      ? `${fmt(c.subject, 2)} / ${fmt(c.postgres, 2)} / ${fmt(c.client, 2)} / ${fmt(c.foreign + c.steal, 2)}`
      : 'n/a';
  const head = [
    'run',
    'what',
    'rows',
    'seconds',
    'rows/s',
    'upload s',
    'RSS start → max MB',
    'CPU cores: subject / pg / bench / foreign+steal',
  ];
  const body = results.map((r) => [
    r.id,
    r.what,
    String(ROWS),
    fmt(r.seconds, 2),
    fmt(r.rowsPerSecond),
    r.uploadSeconds === undefined ? '' : fmt(r.uploadSeconds, 2),
    r.rssMaxMb === undefined ? '' : `${fmt(r.rssStartMb!)} → ${fmt(r.rssMaxMb)}`,
    cpuCell(r.cpu),
  ]);
  const out = process.stdout;
  out.write(`\n${db.version} (${db.kind}), ${info.nproc} CPUs, node ${info.node}, ${info.date}\n\n`);
  out.write(table([head, ...body]));
  out.write('\n');
  const checksOut: string[][] = [['target', 'measured', 'met']];
  if (MODE === 'compare') {
    checksOut.push([
      'import ≥ 20,000 rows/s',
      `${fmt(imp.rowsPerSecond)} rows/s`,
      imp.rowsPerSecond >= 20_000 ? 'yes' : 'no',
    ]);
    const ratio = imp.rowsPerSecond / copy!.rowsPerSecond;
    checksOut.push([
      'import ≥ 25% of COPY',
      `${fmt(ratio * 100, 1)}% (${fmt(imp.rowsPerSecond)} / ${fmt(copy!.rowsPerSecond)})`,
      ratio >= 0.25 ? 'yes' : 'no',
    ]);
    const speedup = imp.seconds / dry!.seconds;
    checksOut.push([
      'dry-run ≥ 2× faster than import',
      `${fmt(speedup, 2)}× (${fmt(dry!.seconds, 2)} s vs ${fmt(imp.seconds, 2)} s)`,
      speedup >= 2 ? 'yes' : 'no',
    ]);
  } else {
    const growth = imp.rssMaxMb! - mb(idleRss);
    checksOut.push([
      `${ROWS}-row import: RSS growth < 200 MB`,
      `${fmt(growth)} MB (idle ${fmt(mb(idleRss))} → max ${fmt(imp.rssMaxMb!)} MB), ${fmt(imp.rowsPerSecond)} rows/s`,
      growth < 200 ? 'yes' : 'no',
    ]);
  }
  out.write(table(checksOut));
  if (process.env.BENCH_JSON) {
    writeFileSync(
      process.env.BENCH_JSON,
      JSON.stringify({ machine: info, db: db.version, kind: db.kind, rows: ROWS, idleRss, results }, null, 2),
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
