// Reads against the limit of Signet's own stack (issue 15, target 1): `signet start` against
// bench/reads-bare-server.ts (Fastify + postgres.js, no auth, no hooks, exactly Signet's SQL, prepared, the
// same response schemas), for
//   (b)  GET /api/users/{id}
//   (c1) GET /api/users?account_id&limit=100, first page
//   (c2) the same, 90,000 rows deep
// in BENCH_ROUNDS (default 3) interleaved rounds (each pair measured back to back, order alternating), after
// checking that both servers answer byte-identical bodies. Targets: Signet ≥ 80% of the bare server's
// requests/s for each, and c2 within 1.5× of c1's latency (Signet's).
//
//   DATABASE_URL=postgres://… node --import tsx bench/reads.ts      # BENCH_USERS (100000), BENCH_SECONDS (10)
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import autocannon from 'autocannon';
import { encodeCursor } from '../src/core/pagination.ts';
import { membershipsOfMany, userPages, userWithMemberships } from '../src/core/users/repository.ts';
import {
  benchTenant,
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
  watchdog,
} from './lib.ts';
import { memberAt, seed } from './seed.ts';

const SECONDS = envNumber('BENCH_SECONDS', 10);
const WARMUP = envNumber('BENCH_WARMUP_SECONDS', 3);
const USERS = envNumber('BENCH_USERS', 100_000);
const ROUNDS = envNumber('BENCH_ROUNDS', 3);
/** BENCH_ONLY=b,c1: measure only these (e.g. for a CPU profile of one route with BENCH_CPU_PROF=<folder>). */
const ONLY = process.env.BENCH_ONLY?.split(',');
const MEASURED = ['b', 'c1', 'c2'].filter((id) => !ONLY || ONLY.includes(id));
const CONNECTIONS = 32;
/** Both servers' pool size (Signet's default, bench/reads-bare-server.ts's), and pgbench's clients. */
const POOL = 10;
const DEEP = Math.min(90_000, USERS - 100);

/** One statement of a request, as Signet sends it: its SQL text and the values of its parameters. */
interface Statement {
  sql: string;
  parameters: readonly unknown[];
}

/**
 * The database's own ceiling for one request's statements: `pgbench -M prepared` running exactly that SQL
 * (a pgbench "transaction" is the request's statements back to back, with no BEGIN), at the servers' pool
 * size. Returns requests per second, or null when pgbench is not installed.
 */
async function pgbench(url: string, statements: Statement[], seconds: number): Promise<number | null> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'signet-pgbench-'));
  const defines: string[] = [];
  const script = statements
    .map((st, i) =>
      st.sql.replace(/\$(\d+)/g, (_m, n: string) => {
        const value = st.parameters[Number(n) - 1];
        const text = Array.isArray(value) ? `{${value.join(',')}}` : String(value);
        defines.push('-D', `s${i}p${n}=${text}`);
        return `:s${i}p${n}`;
      }),
    )
    .map((q) => `${q.replace(/\s+/g, ' ')};`)
    .join('\n');
  const file = path.join(dir, 'request.sql');
  await writeFile(file, `${script}\n`);
  const args = ['-n', '-M', 'prepared', '-c', String(POOL), '-j', '2', '-T', String(seconds), '-f', file];
  try {
    const { stdout } = await promisify(execFile)('pgbench', [...args, ...defines, url]);
    const tps = /tps = ([\d.]+)/.exec(stdout);
    if (!tps) throw new Error(`pgbench printed no tps:\n${stdout}`);
    return Number(tps[1]);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}

async function main(): Promise<number> {
  watchdog(3600);
  const info = machine();
  const { loadavg } = await import('node:os');
  log(`${info.nproc} CPUs (${info.cpu}), node ${info.node}, ${info.date}, load ${loadavg().join(' ')}`);
  const db = await openScratchDb();
  const { handle, boot } = await benchTenant(db.url);
  log(`seeding ${USERS} users`);
  await seed(handle.sql, boot.organization_id, boot.account_id, USERS);
  const userId = await memberAt(handle.sql, boot.organization_id, boot.account_id, Math.floor(USERS / 2));
  const deepAfter = await memberAt(handle.sql, boot.organization_id, boot.account_id, DEEP - 1);
  const deepCursor = encodeCursor(deepAfter);
  // The statements each request runs, with its values, for pgbench (the page's ids are the page's own).
  const orgId = boot.organization_id;
  const k = handle.db;
  const pageStatements = async (after: string | undefined): Promise<Statement[]> => {
    const page = userPages[2 + (after ? 1 : 0)]!(k, {
      orgId,
      accountId: boot.account_id,
      after: after ?? '',
      take: 101,
    });
    const rows = (await handle.sql.unsafe(page.sql, page.parameters as never[])) as unknown as {
      id: string;
    }[];
    return [page, membershipsOfMany(k, { ids: rows.slice(0, 100).map((r) => r.id) })];
  };
  const statements: Record<string, Statement[]> = {
    b: [userWithMemberships(k, { orgId, id: userId })],
    c1: await pageStatements(undefined),
    c2: await pageStatements(deepAfter),
  };
  await handle.close();

  const signetPort = await freePort();
  const signet = spawnNode(
    ['bin/signet.js', 'start'],
    {
      PORT: String(signetPort),
      HOST: '127.0.0.1',
      DATABASE_URL: db.url,
      SIGNET_ENV: 'test',
      LOG_LEVEL: 'silent',
      SIGNET_RATE_LIMIT_PER_MINUTE: '1000000000',
    },
    true,
  );
  track(signet);
  const barePort = await freePort();
  const bare = spawnNode(
    ['bench/reads-bare-server.ts'],
    { PORT: String(barePort), DATABASE_URL: db.url, ORG_ID: boot.organization_id },
    true,
  );
  track(bare);
  await waitForHttp(`http://127.0.0.1:${signetPort}/readyz`, signet);
  await waitForHttp(`http://127.0.0.1:${barePort}/api/users/${userId}`, bare);

  const auth = { authorization: `Bearer ${boot.api_key}` };
  const paths = {
    b: `/api/users/${userId}`,
    c1: `/api/users?account_id=${boot.account_id}&limit=100`,
    c2: `/api/users?account_id=${boot.account_id}&limit=100&cursor=${deepCursor}`,
  };
  // The bytes: both servers must answer the same body for each request measured.
  for (const [id, p] of Object.entries(paths)) {
    const a = await (await fetch(`http://127.0.0.1:${signetPort}${p}`, { headers: auth })).text();
    const b = await (await fetch(`http://127.0.0.1:${barePort}${p}`)).text();
    if (a !== b) {
      let at = 0;
      while (a[at] === b[at]) at++;
      const around = (t: string) => t.slice(Math.max(0, at - 200), at + 200);
      throw new Error(`${id}: the bodies differ at ${at}\nsignet: …${around(a)}\nbare:   …${around(b)}`);
    }
    log(`${id}: identical bodies, ${a.length} B`);
  }

  const results: Record<string, { rps: number; p50: number; p99: number; cpu: string }[]> = {};
  const one = async (key: string, port: number, p: string, headers: Record<string, string>, pid: number) => {
    const url = `http://127.0.0.1:${port}${p}`;
    await autocannon({ url, connections: CONNECTIONS, duration: WARMUP, headers });
    const probe = cpuWindow(pid, db.postmasterPid);
    const r = await autocannon({ url, connections: CONNECTIONS, duration: SECONDS, headers });
    const cpu = probe();
    if (r.non2xx + r.errors + r.timeouts > 0)
      throw new Error(`${key}: ${r.non2xx} non-2xx, ${r.errors} errors`);
    results[key] ??= [];
    results[key].push({
      rps: r.requests.average,
      p50: r.latency.p50,
      p99: r.latency.p99,
      cpu: cpu
        ? `${cpu.subject.toFixed(2)}/${cpu.client.toFixed(2)}/${cpu.postgres.toFixed(2)}/${(cpu.foreign + cpu.steal).toFixed(2)}`
        : '',
    });
    log(`${key}: ${r.requests.average.toFixed(0)} req/s, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms`);
  };
  const ratios: Record<string, number[]> = { b: [], c1: [], c2: [] };
  const ceilings: Record<string, number[]> = { b: [], c1: [], c2: [] };
  for (let round = 0; round < ROUNDS; round++) {
    log(`round ${round + 1}/${ROUNDS}, load ${loadavg()[0]!.toFixed(2)}`);
    for (const [id, p] of Object.entries(paths)) {
      if (!MEASURED.includes(id)) continue;
      const pair = [
        () => one(`${id} signet`, signetPort, p, auth, signet.pid!),
        () => one(`${id} bare`, barePort, p, {}, bare.pid!),
      ];
      for (const f of round % 2 ? pair.reverse() : pair) await f();
      const s = results[`${id} signet`]!.at(-1)!.rps;
      const b = results[`${id} bare`]!.at(-1)!.rps;
      ratios[id]!.push(s / b);
      const ceiling = await pgbench(db.url, statements[id]!, SECONDS);
      if (ceiling !== null) {
        ceilings[id]!.push(ceiling);
        log(`${id} pgbench -M prepared: ${ceiling.toFixed(0)} requests/s`);
      }
    }
  }
  await cleanupAll();

  const rows = [['row', 'req/s (rounds)', 'p50 ms', 'p99 ms', 'CPU cores server/client/pg/foreign (rounds)']];
  for (const [key, rs] of Object.entries(results)) {
    rows.push([
      key,
      rs.map((r) => r.rps.toFixed(0)).join(' / '),
      rs.map((r) => r.p50).join(' / '),
      rs.map((r) => r.p99).join(' / '),
      rs.map((r) => r.cpu).join(' · '),
    ]);
  }
  process.stdout.write(
    `\nReads, ${ROUNDS} interleaved rounds, ${CONNECTIONS} connections, ${USERS} users\n\n`,
  );
  process.stdout.write(table(rows));
  const pct = (xs: number[]) =>
    `${(100 * median(xs)).toFixed(1)}% (${xs.map((x) => `${(100 * x).toFixed(1)}%`).join(' / ')})`;
  process.stdout.write(`\nSignet / bare, median of rounds (target ≥ 80%):\n`);
  for (const id of MEASURED) process.stdout.write(`- ${id}: ${pct(ratios[id]!)}\n`);
  if (Object.values(ceilings).some((c) => c.length > 0)) {
    process.stdout.write(
      `\nAgainst the database's own ceiling (pgbench -M prepared, the same SQL, ${POOL} clients), medians:\n`,
    );
    for (const id of MEASURED) {
      const pg = median(ceilings[id]!);
      const sig = median(results[`${id} signet`]!.map((r) => r.rps));
      const bare = median(results[`${id} bare`]!.map((r) => r.rps));
      process.stdout.write(
        `- ${id}: pgbench ${pg.toFixed(0)}/s; Signet ${((100 * sig) / pg).toFixed(1)}%, bare server ${((100 * bare) / pg).toFixed(1)}%\n`,
      );
    }
  }
  const p50 = (k: string) => median(results[k]!.map((r) => r.p50));
  const p99 = (k: string) => median(results[k]!.map((r) => r.p99));
  if (results['c1 signet'] && results['c2 signet'])
    process.stdout.write(
      `- deep / first page latency (Signet, medians): p50 ${(p50('c2 signet') / p50('c1 signet')).toFixed(2)}×, p99 ${(p99('c2 signet') / p99('c1 signet')).toFixed(2)}× (target ≤ 1.5×)\n`,
    );
  process.stdout.write(`load average at the end: ${loadavg().join(' ')}\n`);
  return 0;
}

process.exitCode = await main().finally(cleanupAll);
