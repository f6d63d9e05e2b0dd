// The unit of work (src/core/context.ts): a mutate() that joins another records its audit events in the
// owner's buffer (the chain tip is locked only at the end), and a transaction PostgreSQL aborts for a deadlock
// or a serialization failure is run again, then answered 503 busy, never a 500.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'kysely';
import { mutate } from '../src/core/context.ts';
import { AppError } from '../src/core/errors.ts';
import { systemPrincipal } from '../src/core/principal.ts';
import { toAppError } from '../src/faces/http-errors.ts';
import { buildServer } from '../src/server.ts';
import { createServices } from '../src/services.ts';
import { buildApp, createTenant, testConfig, testDb, unique } from './helper.ts';

test('a joined mutate appends its audit events with its owner, at the end', async (t) => {
  const { services, config } = await buildApp(t);
  const tenant = await createTenant(services, config);
  const ctx = { principal: systemPrincipal(tenant.organizationId, 'test'), meta: {} };
  const db = testDb().db;
  const tipLocked = async () => {
    // From another connection: is the organization's chain tip locked right now?
    try {
      await db.transaction().execute(async (trx) => {
        await sql`SELECT 1 FROM audit_heads WHERE organization_id = ${tenant.organizationId} FOR UPDATE NOWAIT`.execute(
          trx,
        );
      });
      return false;
    } catch (err) {
      assert.equal((err as { code?: string }).code, '55P03');
      return true;
    }
  };
  const before = await services.audit.list(ctx, { limit: 100 });
  let lockedInside: boolean | undefined;
  await mutate(db, ctx, async (trx, audit) => {
    audit.record({ action: 'test.outer_first', targetType: 'test', targetId: null });
    await mutate(trx, ctx, async (_t, inner) => {
      inner.record({ action: 'test.inner', targetType: 'test', targetId: null });
    });
    lockedInside = await tipLocked();
    audit.record({ action: 'test.outer_last', targetType: 'test', targetId: null });
  });
  assert.equal(lockedInside, false, 'the inner mutate did not lock the chain tip before its owner ended');
  const after = await services.audit.list(ctx, { limit: 100, order: 'asc' });
  const fresh = after.data.slice(before.data.length).map((e) => e.action);
  assert.deepEqual(fresh, ['test.outer_first', 'test.inner', 'test.outer_last']);
  const verified = await services.audit.verify(tenant.organizationId);
  assert.equal(verified.ok, true);
});

test('a deadlock between two writers is retried: both commit, nothing is lost', async (t) => {
  const { services, config } = await buildApp(t);
  const tenant = await createTenant(services, config);
  const ctx = { principal: systemPrincipal(tenant.organizationId, 'test'), meta: {} };
  const db = testDb().db;
  const [a, b] = [unique('A'), unique('B')];
  for (const name of [a, b])
    await db
      .insertInto('groups')
      .values({ organization_id: tenant.organizationId, account_id: tenant.accountId, name })
      .execute();
  const lock = (trx: typeof db, name: string) =>
    sql`SELECT id FROM groups WHERE account_id = ${tenant.accountId} AND name = ${name} FOR UPDATE`.execute(
      trx,
    );
  // Each writer locks one group, waits until the other holds its own, then asks for the other's: a real
  // deadlock, which PostgreSQL breaks by aborting one of them (deadlock_timeout, 1 s by default).
  let held = 0;
  const bothHold = async () => {
    held += 1;
    while (held < 2) await new Promise((r) => setTimeout(r, 5));
  };
  let attempts = 0;
  // The second lock is taken in a joined mutate (as a core operation calling another): the deadlock it meets
  // must reach the owning mutate, which runs the whole transaction again.
  const writer = (first: string, second: string) =>
    mutate(db, ctx, async (trx, audit) => {
      attempts += 1;
      await lock(trx, first);
      if (attempts <= 2) await bothHold();
      await mutate(trx, ctx, async (inner) => {
        await lock(inner, second);
      });
      await sql`UPDATE groups SET description = ${`touched by ${first}`} WHERE account_id = ${tenant.accountId} AND name = ${first}`.execute(
        trx,
      );
      audit.record({
        action: 'test.deadlock',
        targetType: 'group',
        targetId: null,
        accountId: tenant.accountId,
      });
    });
  await Promise.all([writer(a, b), writer(b, a)]);
  assert.equal(attempts, 3, 'one writer was aborted once and ran again');
  const rows = await db
    .selectFrom('groups')
    .select(['name', 'description'])
    .where('account_id', '=', tenant.accountId)
    .where('name', 'in', [a, b])
    .orderBy('name')
    .execute();
  assert.deepEqual(
    rows.map((r) => r.description),
    [`touched by ${a}`, `touched by ${b}`],
  );
});

test('a change that keeps failing to serialize answers 503 busy, after a bounded number of attempts', async (t) => {
  const { services, config } = await buildApp(t);
  const tenant = await createTenant(services, config);
  const ctx = { principal: systemPrincipal(tenant.organizationId, 'test'), meta: {} };
  let attempts = 0;
  const err = await mutate(testDb().db, ctx, async (trx) => {
    attempts += 1;
    await sql`DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = '40001'; END $$`.execute(trx);
  }).catch((e: unknown) => e);
  assert.ok(err instanceof AppError);
  assert.equal(err.code, 'busy');
  assert.equal(err.status, 503);
  assert.equal(attempts, 4);
  // Outside mutate (a raw transaction), the same failure is rendered busy too, never internal_error.
  const raw = await testDb()
    .db.transaction()
    .execute((trx) =>
      sql`DO $$ BEGIN RAISE EXCEPTION 'deadlock' USING ERRCODE = '40P01'; END $$`.execute(trx),
    )
    .catch((e: unknown) => e);
  assert.equal(toAppError(raw).code, 'busy');
});

test('503 answers say when to retry', async (t) => {
  const config = testConfig();
  const services = createServices(testDb().db, config);
  const app = await buildServer(config, services, { logger: false, ready: async () => false });
  t.after(() => app.close());
  const res = await app.inject({ method: 'GET', url: '/readyz' });
  assert.equal(res.statusCode, 503);
  assert.equal(res.headers['retry-after'], '1');
  const fine = await app.inject({ method: 'GET', url: '/healthz' });
  assert.equal(fine.statusCode, 200);
  assert.equal(fine.headers['retry-after'], undefined);
});
