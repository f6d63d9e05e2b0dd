// The `signet` command line, run as a user runs it: a child process with environment variables.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { connect } from '../src/db/connection.ts';
import { BIN, runSignet } from './cli-helper.ts';
import { testDb, testDbUrl } from './helper.ts';

const withDb = { DATABASE_URL: testDbUrl() };

test('bootstrap --json prints the four fields; run again it finds the same ids and makes a fresh key', async () => {
  const org = `CLI Org ${randomBytes(4).toString('hex')}`;
  const args = ['bootstrap', '--email', 'ops@example.test', '--org', org, '--account', 'Main', '--json'];
  const first = await runSignet(args, withDb);
  assert.equal(first.code, 0, first.stderr);
  const a = JSON.parse(first.stdout);
  assert.deepEqual(Object.keys(a).sort(), ['account_id', 'api_key', 'organization_id', 'user_id']);
  assert.match(a.api_key, /^sk_test_/);
  const second = await runSignet(args, withDb);
  const b = JSON.parse(second.stdout);
  assert.equal(b.organization_id, a.organization_id);
  assert.equal(b.account_id, a.account_id);
  assert.equal(b.user_id, a.user_id);
  assert.notEqual(b.api_key, a.api_key);

  const profiles = await testDb()
    .db.selectFrom('permission_profiles')
    .select('name')
    .where('account_id', '=', a.account_id)
    .orderBy('name')
    .execute();
  assert.deepEqual(
    profiles.map((p) => p.name),
    ['DS Admin', 'DS Sender', 'DS Viewer'],
  );

  const bad = await runSignet(['bootstrap', '--org', 'x', '--account', 'y'], withDb);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--email/);
});

test('audit verify passes, then fails naming the event after a row is edited by hand', async () => {
  const org = `Audit Org ${randomBytes(4).toString('hex')}`;
  const boot = JSON.parse(
    (
      await runSignet(
        ['bootstrap', '--email', 'a@example.test', '--org', org, '--account', 'Main', '--json'],
        withDb,
      )
    ).stdout,
  );
  const ok = await runSignet(['audit', 'verify', '--org', boot.organization_id], withDb);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, /intact/);

  const db = testDb().db;
  const event = await db
    .selectFrom('audit_events')
    .select(['id', 'seq'])
    .where('organization_id', '=', boot.organization_id)
    .where('seq', '=', 3)
    .executeTakeFirstOrThrow();
  await db
    .updateTable('audit_events')
    .set({ actor_label: 'someone else' })
    .where('id', '=', event.id)
    .execute();
  const broken = await runSignet(['audit', 'verify', '--org', boot.organization_id], withDb);
  assert.equal(broken.code, 1);
  assert.match(broken.stdout, new RegExp(`event #3 \\(id ${event.id}\\)`));
});

test('migrations are safe when two processes start at once', async () => {
  const name = `signet_migrate_${randomBytes(4).toString('hex')}`;
  const admin = connect(testDbUrl(), 1);
  await admin.sql.unsafe(`CREATE DATABASE ${name}`);
  try {
    const url = testDbUrl().includes('@/')
      ? testDbUrl().replace(/@\/[^?]+\?/, `@/${name}?`)
      : Object.assign(new URL(testDbUrl()), { pathname: `/${name}` }).toString();
    const [one, two] = await Promise.all([
      runSignet(['migrate'], { DATABASE_URL: url }),
      runSignet(['migrate'], { DATABASE_URL: url }),
    ]);
    assert.equal(one.code, 0, one.stderr);
    assert.equal(two.code, 0, two.stderr);
    const check = connect(url, 1);
    const applied = await check.sql`SELECT count(*)::int AS n FROM schema_migrations`;
    assert.ok(applied[0]!.n >= 1);
    await check.close();
  } finally {
    await admin.sql.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.close();
  }
});

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

// A first start runs initdb; on a loaded two-core machine that alone has taken over a minute.
async function waitReady(port: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 180_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`signet start exited with ${child.exitCode}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('signet start did not become ready within 180 s');
}

test('embedded database: start, kill -9, start again (the stale server is adopted), stop cleanly', async () => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'signet-cli-'));
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    LOG_LEVEL: 'silent',
    SIGNET_DATA_DIR: dataDir,
    PORT: String(port),
  };
  delete env.DATABASE_URL;
  const start = () => spawn(process.execPath, [BIN, 'start'], { env, stdio: 'ignore' });
  try {
    const first = start();
    await waitReady(port, first);
    const pidFile = path.join(dataDir, 'pg', 'postmaster.pid');
    const postmaster = Number((await readFile(pidFile, 'utf8')).split('\n')[0]);
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));

    const second = start();
    await waitReady(port, second);
    const boot = await runSignet(
      ['bootstrap', '--email', 'k@example.test', '--org', 'Kill', '--account', 'Main', '--json'],
      {
        SIGNET_DATA_DIR: dataDir,
      },
    );
    assert.equal(boot.code, 0, boot.stderr);
    const key = JSON.parse(boot.stdout).api_key;
    const res = await fetch(`http://127.0.0.1:${port}/api/users`, {
      headers: { authorization: `Bearer ${key}` },
    });
    assert.equal(res.status, 200);

    second.kill('SIGTERM');
    const code = await new Promise((r) => second.once('exit', r));
    assert.equal(code, 0);
    let alive = true;
    try {
      process.kill(postmaster, 0);
    } catch {
      alive = false;
    }
    assert.equal(alive, false, 'the adopted PostgreSQL is stopped with the server');
    assert.equal(existsSync(pidFile), false);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
