// `npm run bench` (node --import tsx bench/api.ts): HTTP throughput and latency of the foundation, measured
// with autocannon over loopback against servers in their own processes:
//   (a) a bare Fastify 5 server, one route returning a small JSON object (the ceiling on this machine);
//   (b) GET /api/users/{id} on the real Signet server (`signet start`), authenticated with a Bearer API key;
//   (c) GET /api/users?account_id=…&limit=100 on an account with 100,000 users: the first page, and a page
//       90,000 rows deep;
//   (d) GET /api/me with the same key: the authenticated request path alone (verification from the key cache,
//       rate limit, serialisation), issue 3's "API-key-authenticated read" target.
// The database is the embedded PostgreSQL in a temp folder, or a scratch database on DATABASE_URL's server.
// Environment: BENCH_SECONDS (per measurement, default 10), BENCH_WARMUP_SECONDS (default 3),
// BENCH_CONNECTIONS (for (a)/(b), default 32; (c) always uses 32), BENCH_USERS (default 100000),
// BENCH_LOG_VARIANT=0 skips the extra (b) run with request logging on, BENCH_UNLOADED=0 the extra (c) runs at
// 1 connection, BENCH_QUIET_WAIT (s, default 120) bounds the wait for other work on the machine to stop
// before each measurement, BENCH_TIMEOUT (s, default 1800) bounds the whole run, BENCH_CPU_PROF=folder
// profiles the servers, BENCH_JSON=file writes raw results, BENCH_ROUNDS (default 3) is the number of
// interleaved rounds of (a), (b) and (d), BENCH_ONLY=a,d measures only the rows named
// (targets whose rows were skipped are not checked).
// Prints a Markdown table and the targets check; exits 0 when every measurement ran cleanly (targets missed
// are reported, not failed), 1 on errors or non-2xx responses.
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { encodeCursor } from '../src/core/pagination.ts';
import {
  benchTenant,
  type CpuSplit,
  childOutput,
  cleanupAll,
  cpuWindow,
  envNumber,
  freePort,
  log,
  machine,
  openScratchDb,
  spawnNode,
  table,
  track,
  waitForHttp,
  waitForQuiet,
  watchdog,
} from './lib.ts';
import { memberAt, seed } from './seed.ts';

const SECONDS = envNumber('BENCH_SECONDS', 10);
const WARMUP = envNumber('BENCH_WARMUP_SECONDS', 3);
const CONNECTIONS = envNumber('BENCH_CONNECTIONS', 32);
const LIST_CONNECTIONS = 32;
const USERS = envNumber('BENCH_USERS', 100_000);
const DEEP = Math.min(90_000, USERS - 100);
const LOG_VARIANT = process.env.BENCH_LOG_VARIANT !== '0';
const UNLOADED = process.env.BENCH_UNLOADED !== '0';
const ROUNDS = envNumber('BENCH_ROUNDS', 3);
const ONLY = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(',').map((s) => s.trim())) : null;
let postmasterPid: number | null = null;

interface Row {
  id: string;
  label: string;
  connections: number;
  rps: number;
  p50: number;
  p975: number;
  p99: number;
  mean: number;
  requests: number;
  bad: number;
  statuses: Record<string, number>;
  cpu: CpuSplit | null;
}

async function measure(
  id: string,
  label: string,
  url: string,
  connections: number,
  server: ChildProcess,
  headers: Record<string, string> = {},
): Promise<Row | null> {
  if (ONLY && !ONLY.has(id)) return null;
  const waited = await waitForQuiet();
  if (waited > 1) log(`${id}: waited ${waited.toFixed(0)} s for the machine to go quiet`);
  log(`${id}: warm-up ${WARMUP} s, then ${SECONDS} s at ${connections} connections — ${label}`);
  await autocannon({ url, connections, duration: WARMUP, headers });
  const probe = cpuWindow(server.pid!, postmasterPid);
  const r = await autocannon({ url, connections, duration: SECONDS, headers });
  const cpu = probe();
  if (server.exitCode !== null || server.signalCode !== null) {
    throw new Error(
      `${id}: the server process exited (${server.exitCode ?? server.signalCode}) during the run\n${childOutput(server)}`,
    );
  }
  const row: Row = {
    id,
    label,
    connections,
    rps: r.requests.average,
    p50: r.latency.p50,
    p975: r.latency.p97_5,
    p99: r.latency.p99,
    mean: r.latency.mean,
    requests: r['2xx'],
    bad: r.non2xx + r.errors + r.timeouts,
    statuses: Object.fromEntries(Object.entries(r.statusCodeStats).map(([code, v]) => [code, v.count])),
    cpu,
  };
  log(
    `${id}: ${row.rps.toFixed(0)} req/s, p50 ${row.p50} ms, p97.5 ${row.p975} ms, p99 ${row.p99} ms` +
      (row.bad ? `, ${row.bad} non-2xx/errors/timeouts (statuses ${JSON.stringify(row.statuses)})` : ''),
  );
  return row;
}

async function getJson(url: string, key: string): Promise<any> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${key}` } });
  const body = await res.json();
  if (res.status !== 200) throw new Error(`${url}: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

async function startSignet(
  dbUrl: string,
  logLevel: string,
): Promise<{ base: string; child: ChildProcess; stop: () => Promise<void> }> {
  const port = await freePort();
  const child = spawnNode(
    ['bin/signet.js', 'start'],
    {
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: dbUrl,
      SIGNET_ENV: 'test',
      LOG_LEVEL: logLevel,
      // The per-key rate limit (600/min by default) would turn a load test into a test of 429s. A limit no
      // run can reach keeps the limiter's per-request work in the measurement.
      SIGNET_RATE_LIMIT_PER_MINUTE: '1000000000',
    },
    true, // stdout (request logs at LOG_LEVEL=info) goes to a temp file, as a service's logs go to a file or pipe
  );
  const stop = track(child);
  const base = `http://127.0.0.1:${port}`;
  await waitForHttp(`${base}/readyz`, child);
  return { base, child, stop };
}

const fmt = (n: number, digits = 0) => n.toFixed(digits);

/** The round whose throughput is the median (the lower middle for an even count), labelled as such. */
function medianRow(rows: Row[]): Row | null {
  if (rows.length === 0) return null;
  const sorted = [...rows].sort((x, y) => x.rps - y.rps);
  const mid = sorted[Math.floor((sorted.length - 1) / 2)]!;
  return rows.length === 1 ? mid : { ...mid, label: `${mid.label}, median of ${rows.length} rounds` };
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((x, y) => x - y);
  const n = sorted.length;
  return n % 2 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
}

async function main(): Promise<number> {
  watchdog(1800);
  const info = machine();
  log(`${info.nproc} CPUs (${info.cpu}), node ${info.node}, ${info.date}`);
  const db = await openScratchDb();
  postmasterPid = db.postmasterPid;

  // --- data: organization, account, owner and key through bootstrap; then the members by SQL -----------
  const { handle, boot } = await benchTenant(db.url);
  log(`seeding ${USERS} users with memberships in account ${boot.account_id}`);
  const t0 = Date.now();
  await seed(handle.sql, boot.organization_id, boot.account_id, USERS);
  log(`seeded in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const targetUser = await memberAt(handle.sql, boot.organization_id, boot.account_id, Math.floor(USERS / 2));
  // The deep page starts after the DEEP-th member; its cursor is that member's id, as the API encodes it.
  const deepCursor = encodeCursor(
    await memberAt(handle.sql, boot.organization_id, boot.account_id, DEEP - 1),
  );
  const prevCursor = encodeCursor(
    await memberAt(handle.sql, boot.organization_id, boot.account_id, DEEP - 101),
  );
  const firstDeepId = await memberAt(handle.sql, boot.organization_id, boot.account_id, DEEP);
  await handle.close();

  const measured: (Row | null)[] = [];
  const rounds: { round: number; row: Row }[] = [];

  // --- (a), (b), (d): interleaved rounds ------------------------------------------------------------------
  // The targets are ratios to (a), and this machine's speed drifts by tens of percent within minutes, so the
  // bare server and Signet both stay up and each round measures (a), (b) and (d) back to back (the order
  // rotating per round); the report gives each round's ratios and their median.
  const port = await freePort();
  const bare = spawnNode(['bench/baseline-server.ts'], { PORT: String(port) }, true);
  const stopBare = track(bare);
  const bareUrl = `http://127.0.0.1:${port}/`;
  await waitForHttp(bareUrl, bare);

  const auth = { authorization: `Bearer ${boot.api_key}` };
  {
    const signet = await startSignet(db.url, 'silent');
    const listUrl = `${signet.base}/api/users?account_id=${boot.account_id}&limit=100`;
    // Check what we are about to measure: right status, full pages, and a deep cursor the API itself would
    // hand out (the page before it ends exactly where our computed cursor points).
    const user = await getJson(`${signet.base}/api/users/${targetUser}`, boot.api_key);
    if (user.id !== targetUser || user.memberships.length !== 1) throw new Error('unexpected user body');
    const first = await getJson(listUrl, boot.api_key);
    if (first.data.length !== 100 || !first.next_cursor) throw new Error('first page is not a full page');
    const before = await getJson(`${listUrl}&cursor=${prevCursor}`, boot.api_key);
    if (before.next_cursor !== deepCursor)
      throw new Error('the computed deep cursor is not what the API returns');
    const deep = await getJson(`${listUrl}&cursor=${deepCursor}`, boot.api_key);
    if (deep.data.length !== 100 || deep.data[0].id !== firstDeepId) throw new Error('deep page mismatch');
    const me = await getJson(`${signet.base}/api/me`, boot.api_key);
    if (me.organization_id !== boot.organization_id) throw new Error('unexpected /api/me body');
    log(
      `response sizes: user ${JSON.stringify(user).length} B, page of 100 ${JSON.stringify(first).length} B`,
    );

    const ratioRows = [
      () => measure('a', 'bare Fastify, GET / (small JSON)', bareUrl, CONNECTIONS, bare),
      () =>
        measure(
          'b',
          'Signet, GET /api/users/{id} (Bearer key)',
          `${signet.base}/api/users/${targetUser}`,
          CONNECTIONS,
          signet.child,
          auth,
        ),
      // Issue 3's target: an API-key-authenticated read with verification off the database (the key cache).
      () =>
        measure(
          'd',
          'Signet, GET /api/me (Bearer key; the authenticated path, no data read)',
          `${signet.base}/api/me`,
          CONNECTIONS,
          signet.child,
          auth,
        ),
    ];
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < ratioRows.length; i++) {
        const row = await ratioRows[(i + round) % ratioRows.length]!();
        if (row) rounds.push({ round: round + 1, row });
      }
    }
    await stopBare();
    for (const id of ['a', 'b', 'd']) {
      const mid = medianRow(rounds.filter((r) => r.row.id === id).map((r) => r.row));
      if (mid) measured.push(mid);
    }
    measured.push(
      await measure(
        'c1',
        'Signet, GET /api/users?account_id&limit=100, first page',
        listUrl,
        LIST_CONNECTIONS,
        signet.child,
        auth,
      ),
    );
    measured.push(
      await measure(
        'c2',
        `Signet, same, page ${DEEP.toLocaleString('en')} rows deep`,
        `${listUrl}&cursor=${deepCursor}`,
        LIST_CONNECTIONS,
        signet.child,
        auth,
      ),
    );
    if (UNLOADED) {
      // Informational: one request at a time, so the latency is service time without queueing.
      for (const [id, what, url] of [
        ['c1-1', 'first page', listUrl],
        ['c2-1', 'deep page', `${listUrl}&cursor=${deepCursor}`],
      ] as const) {
        measured.push(
          await measure(id, `as (c), ${what}, 1 connection (no queueing)`, url, 1, signet.child, auth),
        );
      }
    }
    await signet.stop();
  }
  if (LOG_VARIANT) {
    const signet = await startSignet(db.url, 'info');
    measured.push(
      await measure(
        'b-log',
        'as (b), with LOG_LEVEL=info (request logs to a file)',
        `${signet.base}/api/users/${targetUser}`,
        CONNECTIONS,
        signet.child,
        auth,
      ),
    );
    await signet.stop();
  }

  // --- report ----------------------------------------------------------------------------------------------
  const rows = measured.filter((r): r is Row => r !== null);
  const byId = (id: string) => rows.find((r) => r.id === id);
  const a = byId('a');
  const c1 = byId('c1');
  const c2 = byId('c2');
  const cpuCell = (r: Row) =>
    r.cpu
      ? [r.cpu.subject, r.cpu.client, r.cpu.postgres, r.cpu.foreign, r.cpu.steal]
          .map((x) => fmt(x, 2))
          .join(' / ')
      : 'n/a';
  const out: string[] = [];
  out.push(
    `\nmachine: ${info.nproc} CPUs (${info.cpu}), ${info.platform}, node ${info.node}; ${db.version} (${db.kind}); ${info.date}`,
  );
  out.push(
    `each row: ${WARMUP} s warm-up, then ${SECONDS} s measured; autocannon, 1 client process, no pipelining\n`,
  );
  out.push(
    table([
      [
        '',
        'measurement',
        'conns',
        'req/s (mean)',
        'p50 ms',
        'p97.5 ms',
        'p99 ms',
        'CPU cores: server/client/pg/foreign/steal',
      ],
      ...rows.map((r) => [
        r.id,
        r.label,
        String(r.connections),
        fmt(r.rps),
        String(r.p50),
        String(r.p975),
        String(r.p99),
        cpuCell(r),
      ]),
    ]),
  );
  const checks: [string, boolean, string][] = [];
  // A round's ratio compares rows measured within a minute of each other; the target is checked on the
  // median of the rounds' ratios.
  const ratiosOf = (id: string) => {
    const out: number[] = [];
    for (let r = 1; r <= ROUNDS; r++) {
      const x = rounds.find((e) => e.round === r && e.row.id === id)?.row;
      const base = rounds.find((e) => e.round === r && e.row.id === 'a')?.row;
      if (x && base) out.push(x.rps / base.rps);
    }
    return out;
  };
  for (const [id, what] of [
    ['b', '(b) req/s ≥ 40% of (a)'],
    ['d', '(d) authenticated read ≥ 40% of (a) (issue 3)'],
  ] as const) {
    const ratios = ratiosOf(id);
    if (ratios.length === 0) continue;
    const m = median(ratios);
    checks.push([
      what,
      m >= 0.4,
      `${fmt(m * 100, 1)}% (median; rounds ${ratios.map((x) => `${fmt(x * 100, 1)}%`).join(', ')})`,
    ]);
  }
  if (c1) checks.push(['(c) first page p99 ≤ 25 ms at 32 connections', c1.p99 <= 25, `${c1.p99} ms`]);
  if (c2) checks.push(['(c) deep page p99 ≤ 25 ms at 32 connections', c2.p99 <= 25, `${c2.p99} ms`]);
  if (c1 && c2) {
    checks.push([
      '(c) deep page latency ≤ 1.5× first page (p50 and p99)',
      c2.p50 <= 1.5 * c1.p50 && c2.p99 <= 1.5 * c1.p99,
      `p50 ${fmt(c2.p50 / c1.p50, 2)}×, p99 ${fmt(c2.p99 / c1.p99, 2)}×`,
    ]);
  }
  if (rounds.length > 0) {
    out.push(
      table([
        ['round', 'a req/s', 'b req/s', 'd req/s', 'b/a', 'd/a', 'foreign+steal cores (a / b / d)'],
        ...Array.from({ length: ROUNDS }, (_, i) => {
          const get = (id: string) => rounds.find((e) => e.round === i + 1 && e.row.id === id)?.row;
          const [ra, rb, rd] = [get('a'), get('b'), get('d')];
          const pct = (x?: Row) => (x && ra ? `${fmt((x.rps / ra.rps) * 100, 1)}%` : '–');
          const noise = (x?: Row) => (x?.cpu ? fmt(x.cpu.foreign + x.cpu.steal, 2) : '–');
          return [
            String(i + 1),
            ra ? fmt(ra.rps) : '–',
            rb ? fmt(rb.rps) : '–',
            rd ? fmt(rd.rps) : '–',
            pct(rb),
            pct(rd),
            `${noise(ra)} / ${noise(rb)} / ${noise(rd)}`,
          ];
        }),
      ]),
    );
  }
  const bLog = rows.find((r) => r.id === 'b-log');
  if (a && bLog) {
    checks.push([
      '(b) with request logging ≥ 40% of (a) (informational)',
      bLog.rps / a.rps >= 0.4,
      `${fmt((bLog.rps / a.rps) * 100, 1)}%`,
    ]);
  }
  out.push(table([['target', 'met', 'measured'], ...checks.map(([t, ok, m]) => [t, ok ? 'yes' : 'NO', m])]));
  process.stdout.write(out.join('\n'));
  if (process.env.BENCH_JSON) {
    writeFileSync(
      process.env.BENCH_JSON,
      JSON.stringify(
        { machine: info, database: { kind: db.kind, version: db.version }, rows, checks },
        null,
        2,
      ),
    );
  }
  const bad = rows.filter((r) => r.bad > 0);
  for (const r of bad) log(`${r.id}: ${r.bad} responses were not 2xx or failed — results are not valid`);
  return bad.length > 0 ? 1 : 0;
}

let code = 1;
try {
  code = await main();
} catch (err) {
  log(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
} finally {
  await cleanupAll();
}
process.exit(code);
