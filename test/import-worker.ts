// A job worker alone, as `signet worker` runs one, against the test database (SIGNET_TEST_DB_URL). Used by
// test/imports-durability.test.ts, which kill -9s it mid-import. Not a test file itself.
import { loadConfig } from '../src/config.ts';
import { connect } from '../src/db/connection.ts';
import { startJobRunner } from '../src/jobs/queue.ts';

const url = process.env.SIGNET_TEST_DB_URL;
if (!url) throw new Error('SIGNET_TEST_DB_URL is not set');
const config = loadConfig({ ...process.env, SIGNET_ENV: 'test', LOG_LEVEL: 'silent' }, { databaseUrl: url });
const db = connect(url, 4);
const runner = await startJobRunner({
  url,
  db: db.db,
  config,
  concurrency: 1,
  log: (m) => process.stdout.write(`${m}\n`),
});
process.stdout.write(`ready ${runner.workerId}\n`);
process.on('SIGTERM', () => {
  void runner
    .stop()
    .then(() => db.close())
    .then(() => process.exit(0));
});
