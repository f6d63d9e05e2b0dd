// EXPLAIN (ANALYZE, BUFFERS) of the queries behind the dashboard's users table (GET /api/users) on an account
// of BENCH_USERS (100,000) users: the first page, the first page of one account, a page deep in the keyset
// (cursor), a search, and the memberships of the 50 users shown. The SQL is what listUsers and membershipsOf
// really send (captured through Kysely's log), so the plans are the server's. Docs: docs/benchmarks.md.
import type { CompiledQuery } from 'kysely';
import { Kysely } from 'kysely';
import { listUsers, membershipsOf } from '../src/core/users/repository.ts';
import { connect } from '../src/db/connection.ts';
import { PostgresJsPreparedDialect } from '../src/db/dialect.ts';
import type { Database } from '../src/db/schema.ts';
import { benchTenant, cleanupAll, envNumber, log, openScratchDb, watchdog } from './lib.ts';
import { seed } from './seed.ts';

watchdog(900);
const USERS = envNumber('BENCH_USERS', 100_000);

try {
  const scratch = await openScratchDb();
  const { handle, boot } = await benchTenant(scratch.url);
  log(`seeding ${USERS} users`);
  await seed(handle.sql, boot.organization_id, boot.account_id, USERS);
  await handle.close();

  const { sql } = connect(scratch.url, 2);
  let captured: CompiledQuery | null = null;
  const db = new Kysely<Database>({
    dialect: new PostgresJsPreparedDialect(sql),
    log: (event) => {
      if (event.level === 'query') captured = event.query;
    },
  });
  const explain = async (name: string, run: () => Promise<unknown>) => {
    await run(); // warm: the plan cache and shared buffers, as a server that has served a page
    captured = null;
    await run();
    const q = captured as CompiledQuery | null;
    if (!q) throw new Error(`${name}: no query captured`);
    const plan = await sql.unsafe(`EXPLAIN (ANALYZE, BUFFERS) ${q.sql}`, q.parameters as never[]);
    process.stdout.write(`\n### ${name}\n\n${q.sql}\n\n${plan.map((r) => r['QUERY PLAN']).join('\n')}\n`);
  };
  const org = boot.organization_id;
  const first = await listUsers(db, org, {}, undefined, 50);
  const deep = await listUsers(db, org, {}, undefined, 1000);
  await explain('first page (GET /api/users?limit=50)', () => listUsers(db, org, {}, undefined, 50));
  await explain('first page of the account', () =>
    listUsers(db, org, { accountId: boot.account_id }, undefined, 50),
  );
  await explain('page after 1,000 users (cursor)', () =>
    listUsers(db, org, {}, deep[deep.length - 1]!.id, 50),
  );
  await explain('search q=last4242', () => listUsers(db, org, { q: 'last4242' }, undefined, 50));
  await explain('search q=first1 (many matches)', () => listUsers(db, org, { q: 'first1' }, undefined, 50));
  await explain('memberships of the 50 users shown', () =>
    membershipsOf(
      db,
      first.map((u) => u.id),
    ),
  );
  await db.destroy();
} finally {
  await cleanupAll();
}
