// `node --import tsx bench/login.ts`: the cost of a password login at the configured argon2id parameters.
//   (1) argon2id hash and verify, one at a time, in this process: the per-login CPU cost;
//   (2) POST /login over loopback HTTP against `signet start` in its own process, with autocannon, at
//       BENCH_LOGIN_CONNECTIONS (default 4) for BENCH_SECONDS (default 10). The per-IP auth rate limit is
//       turned off for the run (SIGNET_AUTH_RATE_LIMIT_PER_MINUTE=0); every login succeeds.
// Database: embedded in a temp folder, or a scratch database on DATABASE_URL's server (see bench/lib.ts).
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import { ApiKeysService } from '../src/core/api-keys/service.ts';
import { bootstrap } from '../src/core/bootstrap.ts';
import { hashPassword, verifyPassword } from '../src/core/passwords.ts';
import { connect } from '../src/db/connection.ts';
import {
  cleanupAll,
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

const SECONDS = envNumber('BENCH_SECONDS', 10);
const CONNECTIONS = envNumber('BENCH_LOGIN_CONNECTIONS', 4);
const PASSWORD = 'correct horse battery staple';

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function timeIt(n: number, fn: () => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    out.push(performance.now() - t0);
  }
  return out.sort((a, b) => a - b);
}

async function main(): Promise<void> {
  watchdog(300);
  const m = machine();
  log(`${m.cpu}, ${m.nproc} cores, node ${m.node}`);

  const stored = await hashPassword(PASSWORD);
  const hashes = await timeIt(20, () => hashPassword(PASSWORD));
  const verifies = await timeIt(20, () => verifyPassword(stored, PASSWORD));

  const db = await openScratchDb();
  const handle = connect(db.url, 2);
  await bootstrap(handle.db, new ApiKeysService(handle.db, 'test', 0), 'test', {
    email: 'bench@example.test',
    organizationName: 'Bench',
    accountName: 'Main',
    passwordHash: stored,
  });
  await handle.close();

  const port = await freePort();
  const server = spawnNode(
    ['bin/signet.js', 'start'],
    {
      DATABASE_URL: db.url,
      PORT: String(port),
      LOG_LEVEL: 'warn',
      SIGNET_AUTH_RATE_LIMIT_PER_MINUTE: '0',
    },
    true,
  );
  track(server);
  await waitForHttp(`http://127.0.0.1:${port}/readyz`, server);

  const result = await autocannon({
    url: `http://127.0.0.1:${port}/login`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'bench@example.test', password: PASSWORD }),
    connections: CONNECTIONS,
    duration: SECONDS,
  });
  const ok = result['2xx'];
  const bad = result.non2xx + result.errors;

  process.stdout.write(
    `\nLogin cost, argon2id m=19456 KiB t=2 p=1 (${m.date}, ${db.kind}, ${db.version})\n\n`,
  );
  process.stdout.write(
    table([
      ['measure', 'p50 ms', 'p99 ms'],
      ['argon2id hash (1 at a time)', percentile(hashes, 50).toFixed(1), percentile(hashes, 99).toFixed(1)],
      [
        'argon2id verify (1 at a time)',
        percentile(verifies, 50).toFixed(1),
        percentile(verifies, 99).toFixed(1),
      ],
    ]),
  );
  process.stdout.write('\n');
  process.stdout.write(
    table([
      ['POST /login', 'connections', 'req/s', 'p50 ms', 'p99 ms', '2xx', 'errors'],
      [
        'signet start',
        String(CONNECTIONS),
        result.requests.average.toFixed(1),
        String(result.latency.p50),
        String(result.latency.p99),
        String(ok),
        String(bad),
      ],
    ]),
  );
  process.stdout.write('\n');
  await cleanupAll();
  process.exit(bad > 0 ? 1 : 0);
}

main().catch(async (err) => {
  log(String(err?.stack ?? err));
  await cleanupAll();
  process.exit(1);
});
