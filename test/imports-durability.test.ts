// Durability of imports: a worker process killed with SIGKILL mid-import, the job retried by pg-boss in other
// worker processes that resume after the last checkpoint; two workers sharing the queue. Every row is applied
// exactly once: exact counters, no duplicate user, no lost row, one audit event per change.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { as, buildApp, createTenant, testDb } from './helper.ts';
import { runWorker, waitFor } from './imports-helper.ts';

const WORKER = path.resolve('test/import-worker.ts');
// Its own queue: the in-process workers of other test files (same database) must not take these jobs.
const QUEUE = `durability-${process.pid}`;
const ENV = {
  SIGNET_IMPORT_QUEUE: QUEUE,
  SIGNET_IMPORT_BATCH_SIZE: '200',
  SIGNET_JOB_EXPIRE_SECONDS: '4',
  SIGNET_JOB_MAINTENANCE_SECONDS: '1',
};

function startWorker(): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER], {
    env: { ...process.env, ...ENV },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (c) => {
    out += c;
  });
  child.stderr!.on('data', (c) => {
    out += c;
  });
  return new Promise((resolve, reject) => {
    const timer = setInterval(() => {
      if (out.includes('ready ')) {
        clearInterval(timer);
        resolve({ child, output: () => out });
      } else if (child.exitCode !== null) {
        clearInterval(timer);
        reject(new Error(`worker exited: ${out}`));
      }
    }, 50);
  });
}

function csv(accountId: string, prefix: string, n: number): string {
  const lines = ['AccountID,FirstName,LastName,UserEmail,PermissionSet'];
  for (let i = 1; i <= n; i++)
    lines.push(`${accountId},First${i},Last${i},${prefix}${i}@example.test,DS Sender`);
  return `${lines.join('\n')}\n`;
}

test('kill -9 mid-import: another worker resumes after the checkpoint; two workers share the queue', async (t) => {
  // The same job settings as the worker processes (ENV): the job this app queues expires after 4 s too, so
  // the job of a killed worker is retried within seconds, whichever slice it was in.
  const { app, services, config } = await buildApp(t, {
    importQueue: QUEUE,
    jobExpireSeconds: Number(ENV.SIGNET_JOB_EXPIRE_SECONDS),
    jobMaintenanceSeconds: Number(ENV.SIGNET_JOB_MAINTENANCE_SECONDS),
  });
  await runWorker(t, config, 0); // installs pg-boss's schema and queue; does no work here
  const tenant = await createTenant(services, config);
  const api = as(app, tenant.key);
  const db = testDb().db;
  // Large enough that the kill lands mid-file with many batches on both sides (kept modest for a 2-core CI).
  const N = 10_000;

  const workers: ChildProcess[] = [];
  t.after(() => {
    for (const w of workers) if (w.exitCode === null) w.kill('SIGKILL');
  });

  const first = await startWorker();
  workers.push(first.child);
  const res = await api('POST', '/api/imports?operation=add', csv(tenant.accountId, 'big', N), {
    'content-type': 'text/csv',
  });
  assert.equal(res.statusCode, 202, res.body);
  const id = res.json().id;

  // Let it get well into the file, then kill the worker without warning.
  const deadline = Date.now() + 40_000;
  let seen = 0;
  while (seen < 2000) {
    assert.ok(Date.now() < deadline, 'the first worker made no progress');
    const cur = await db
      .selectFrom('imports')
      .select(['processed_user_count'])
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    seen = cur.processed_user_count;
    await new Promise((r) => setTimeout(r, 50));
  }
  first.child.kill('SIGKILL');
  await new Promise((r) => first.child.once('exit', r));
  const atKill = await db.selectFrom('imports').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  assert.equal(atKill.status, 'in_process');
  assert.ok(atKill.last_row < N, 'killed mid-import');
  assert.equal(atKill.last_row % 200, 0, 'the checkpoint is at a batch boundary');

  // A second import waits in the same queue; two fresh workers share both.
  const res2 = await api(
    'POST',
    `/api/imports?operation=add&account_id=${tenant.accountId}`,
    csv(tenant.accountId, 'small', 2000),
    {
      'content-type': 'text/csv',
    },
  );
  assert.equal(res2.statusCode, 202, res2.body);
  const [b, c] = await Promise.all([startWorker(), startWorker()]);
  workers.push(b.child, c.child);

  // Bounds for a loaded two-core machine (8,000 rows left, a lease to expire), not a speed target.
  const done = await waitFor(api, id, 180_000);
  const done2 = await waitFor(api, res2.json().id, 90_000);
  assert.equal(done.status, 'completed', JSON.stringify(done));
  assert.deepEqual(
    [
      done.user_count,
      done.processed_user_count,
      done.added_user_count,
      done.error_count,
      done.no_action_required_user_count,
    ],
    [N, N, N, 0, 0],
  );
  assert.deepEqual([done2.status, done2.added_user_count, done2.error_count], ['completed', 2000, 0]);

  const count = async (q: any) =>
    Number((await q.select((eb: any) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
  assert.equal(
    await count(db.selectFrom('import_rows').where('import_id', '=', id)),
    N,
    'one result per row',
  );
  assert.equal(
    await count(db.selectFrom('users').where('organization_id', '=', tenant.organizationId)),
    1 + N + 2000,
    'no duplicate and no lost user',
  );
  assert.equal(
    await count(
      db
        .selectFrom('audit_events')
        .where('organization_id', '=', tenant.organizationId)
        .where('action', '=', 'user.created'),
    ),
    1 + N + 2000,
    'one user.created per user',
  );
  const account = (await api('GET', `/api/accounts/${tenant.accountId}`)).json();
  assert.equal(account.seats_used, 1 + N + 2000);
  const audit = await services.audit.verify(tenant.organizationId);
  assert.equal(audit.ok, true, 'the audit chain is intact');

  for (const w of [b.child, c.child]) {
    w.kill('SIGTERM');
    await new Promise((r) => w.once('exit', r));
  }
});
