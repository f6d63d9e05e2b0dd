// `signet worker`: a process that runs only job workers (imports) against the database, no HTTP. Run several
// to scale out; they share pg-boss's queue in the database, and each job goes to one of them.
import exitHook from 'async-exit-hook';
import type { Config } from '../config.ts';
import { openDatabase } from '../db/index.ts';
import { startJobRunner } from '../jobs/queue.ts';

export async function startWorker(config: Config, concurrency: number): Promise<number> {
  const log = (m: string) => {
    if (config.logLevel !== 'silent') process.stderr.write(`${new Date().toISOString()} ${m}\n`);
  };
  const db = await openDatabase(config, { log: (m) => config.logLevel === 'debug' && log(m) });
  const jobs = await startJobRunner({ url: db.url, db: db.db, config, concurrency, log });
  exitHook.forceExitTimeout(20_000);
  exitHook((done: () => void) => {
    log('worker shutting down');
    jobs
      .stop()
      .catch((err: unknown) => log(`stopping workers failed: ${(err as Error).message}`))
      .then(() => db.close())
      .then(() => process.exit(0))
      .catch(() => done());
  });
  log(`signet worker ${jobs.workerId} ready (concurrency ${concurrency})`);
  return new Promise<number>(() => {}); // runs until a signal
}
