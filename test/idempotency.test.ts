import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { sql } from 'kysely';
import { sweepIdempotencyKeys } from '../src/core/idempotency/store.ts';
import type { Services } from '../src/services.ts';
import { as, buildApp, type Caller, createTenant, type Tenant, unique } from './helper.ts';

const idem = (key: string) => ({ 'idempotency-key': key });

async function counts(services: Services, tenant: Tenant, email?: string) {
  const users = await services.db
    .selectFrom('users')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('organization_id', '=', tenant.organizationId)
    .$if(email !== undefined, (q) => q.where(sql<boolean>`lower(email) = lower(${email})`))
    .executeTakeFirstOrThrow();
  const audit = await services.db
    .selectFrom('audit_events')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('organization_id', '=', tenant.organizationId)
    .executeTakeFirstOrThrow();
  return { users: Number(users.n), audit: Number(audit.n) };
}

async function keyId(services: Services, key: string): Promise<string> {
  return (await services.apiKeys.verify(key)).id;
}

/** A second API key of the same organization (no Idempotency-Key: key creation refuses one). */
async function secondKey(call: Caller): Promise<string> {
  const res = await call('POST', '/api/api_keys', { name: unique('second') });
  assert.equal(res.statusCode, 201, res.body);
  return res.json().key;
}

test('idempotency: a replay returns the stored status and body, marked, and writes nothing', async (t) => {
  const { app, services, config } = await buildApp(t);
  const tenant = await createTenant(services, config);
  const call = as(app, tenant.key);
  const email = `${unique('ada')}@example.test`;
  const key = randomUUID();

  const first = await call('POST', '/api/users', { email, first_name: 'Ada' }, idem(key));
  assert.equal(first.statusCode, 201, first.body);
  assert.equal(first.headers['idempotent-replayed'], undefined);
  const before = await counts(services, tenant, email);
  assert.equal(before.users, 1);

  const again = await call('POST', '/api/users', { email, first_name: 'Ada' }, idem(key));
  assert.equal(again.statusCode, 201);
  assert.equal(again.headers['idempotent-replayed'], 'true');
  assert.equal(again.body, first.body, 'byte-identical body');
  assert.equal(again.headers['content-type'], first.headers['content-type']);
  assert.deepEqual(await counts(services, tenant, email), before, 'no new user, no new audit event');

  // The same key on another route is another key.
  const other = await call('POST', `/api/users/${first.json().id}/deactivate`, undefined, idem(key));
  assert.equal(other.statusCode, 200, other.body);
  assert.equal(other.json().status, 'deactivated');
  assert.equal(other.headers['idempotent-replayed'], undefined);
});

test('idempotency: the same key with another body is 422 and does nothing', async (t) => {
  const { app, services, config } = await buildApp(t);
  const tenant = await createTenant(services, config);
  const call = as(app, tenant.key);
  const key = unique('k');
  const email = `${unique('a')}@example.test`;
  assert.equal((await call('POST', '/api/users', { email }, idem(key))).statusCode, 201);
  const before = await counts(services, tenant);

  const other = `${unique('b')}@example.test`;
  const res = await call('POST', '/api/users', { email: other }, idem(key));
  assert.equal(res.statusCode, 422, res.body);
  assert.equal(res.json().error.code, 'idempotency_key_reused');
  // The URL is part of the fingerprint too (query string included).
  const query = await call('POST', '/api/users?x=1', { email }, idem(key));
  assert.equal(query.statusCode, 422, query.body);
  assert.deepEqual(await counts(services, tenant), before);
  assert.equal((await counts(services, tenant, other)).users, 0);
});

test('idempotency: 50 concurrent identical requests create exactly one user', async (t) => {
  const { app, services, config } = await buildApp(t);
  const tenant = await createTenant(services, config);
  const call = as(app, tenant.key);
  const email = `${unique('race')}@example.test`;
  const key = unique('race');

  const responses = await Promise.all(
    Array.from({ length: 50 }, () => call('POST', '/api/users', { email, last_name: 'Race' }, idem(key))),
  );
  const statuses = responses.map((r) => r.statusCode);
  for (const r of responses) {
    assert.ok(r.statusCode === 201 || r.statusCode === 409, `${r.statusCode} ${r.body}`);
    if (r.statusCode === 409) assert.equal(r.json().error.code, 'idempotency_in_progress');
  }
  assert.ok(statuses.includes(201));
  const created = responses.filter((r) => r.statusCode === 201);
  assert.equal(new Set(created.map((r) => r.body)).size, 1, 'every 201 is the same response');
  assert.equal(created.filter((r) => r.headers['idempotent-replayed'] === undefined).length, 1);
  assert.equal((await counts(services, tenant, email)).users, 1);

  // Once done, a retry replays.
  const retry = await call('POST', '/api/users', { email, last_name: 'Race' }, idem(key));
  assert.equal(retry.statusCode, 201);
  assert.equal(retry.headers['idempotent-replayed'], 'true');
  assert.equal(retry.body, created[0]!.body);
});

test('idempotency: an in-flight key is 409; one whose lease lapsed is taken over', async (t) => {
  const { app, services, config } = await buildApp(t);
  const tenant = await createTenant(services, config);
  const call = as(app, tenant.key);
  const principalId = await keyId(services, tenant.key);
  const email = `${unique('busy')}@example.test`;
  // The fingerprint the server computes: method, URL and the body bytes.
  const fingerprint = createHash('sha256')
    .update(`POST /api/users\n${JSON.stringify({ email })}`)
    .digest('hex');
  const insert = (key: string, lockedUntil: string) =>
    sql`INSERT INTO idempotency_keys (organization_id, principal_id, method, route, key, fingerprint, state,
          lock_token, locked_until, expires_at)
        VALUES (${tenant.organizationId}, ${principalId}, 'POST', '/api/users', ${key}, ${fingerprint}, 'in_flight',
          ${randomUUID()}, now() + ${lockedUntil}::interval, now() + interval '1 day')`.execute(services.db);

  const busy = unique('busy');
  await insert(busy, '1 minute');
  const running = await call('POST', '/api/users', { email }, idem(busy));
  assert.equal(running.statusCode, 409, running.body);
  assert.equal(running.json().error.code, 'idempotency_in_progress');
  assert.equal((await counts(services, tenant, email)).users, 0);
  // In flight with another body: the key is being reused, whatever the state.
  const reused = await call('POST', '/api/users', { email: `x${email}` }, idem(busy));
  assert.equal(reused.statusCode, 422, reused.body);

  const stale = unique('stale');
  await insert(stale, '-1 second');
  const takeover = await call('POST', '/api/users', { email }, idem(stale));
  assert.equal(takeover.statusCode, 201, takeover.body);
  assert.equal((await counts(services, tenant, email)).users, 1);
  const row = await services.db
    .selectFrom('idempotency_keys')
    .selectAll()
    .where('key', '=', stale)
    .executeTakeFirstOrThrow();
  assert.equal(row.state, 'done');
  assert.equal(row.status, 201);
  assert.equal(row.locked_until, null);
  const replay = await call('POST', '/api/users', { email }, idem(stale));
  assert.equal(replay.headers['idempotent-replayed'], 'true');
  assert.equal(replay.body, takeover.body);
});

test('idempotency: a 4xx from the handler is stored and replayed; a 400 from validation is not', async (t) => {
  const { app, services, config } = await buildApp(t);
  const tenant = await createTenant(services, config);
  const call = as(app, tenant.key);
  const email = `${unique('dup')}@example.test`;
  assert.equal((await call('POST', '/api/users', { email })).statusCode, 201);

  const key = unique('dup');
  const dup = await call('POST', '/api/users', { email }, idem(key));
  assert.equal(dup.statusCode, 409);
  assert.equal(dup.json().error.code, 'email_taken');
  const audit = (await counts(services, tenant)).audit;
  const again = await call('POST', '/api/users', { email }, idem(key));
  assert.equal(again.statusCode, 409);
  assert.equal(again.headers['idempotent-replayed'], 'true');
  assert.equal(again.body, dup.body);
  assert.equal((await counts(services, tenant)).audit, audit);

  // Validation runs before the key is claimed: fixing the body and retrying with the same key works.
  const fix = unique('fix');
  const bad = await call('POST', '/api/users', { email: 'not-an-email' }, idem(fix));
  assert.equal(bad.statusCode, 400);
  assert.equal(bad.json().error.code, 'validation_failed');
  const good = await call('POST', '/api/users', { email: `${unique('fixed')}@example.test` }, idem(fix));
  assert.equal(good.statusCode, 201, good.body);
});

test('idempotency: keys are scoped per principal', async (t) => {
  const { app, services, config } = await buildApp(t);
  const tenant = await createTenant(services, config);
  const a = as(app, tenant.key);
  const b = as(app, await secondKey(a));
  const key = unique('shared');

  const fromA = await a('POST', '/api/users', { email: `${unique('a')}@example.test` }, idem(key));
  assert.equal(fromA.statusCode, 201);
  // Another principal's same key with another body is not a reuse, and the same body is not a replay.
  const fromB = await b('POST', '/api/users', { email: `${unique('b')}@example.test` }, idem(key));
  assert.equal(fromB.statusCode, 201, fromB.body);
  assert.equal(fromB.headers['idempotent-replayed'], undefined);
  assert.notEqual(fromB.json().id, fromA.json().id);

  // Another organization, too.
  const other = await createTenant(services, config);
  const fromC = await as(app, other.key)(
    'POST',
    '/api/users',
    { email: `${unique('c')}@example.test` },
    idem(key),
  );
  assert.equal(fromC.statusCode, 201);
  assert.equal(fromC.headers['idempotent-replayed'], undefined);
});

test('idempotency: the header is checked, and refused where the response holds a secret', async (t) => {
  const { app, services, config } = await buildApp(t);
  const tenant = await createTenant(services, config);
  const call = as(app, tenant.key);
  const body = { email: `${unique('h')}@example.test` };
  for (const bad of ['', 'has space', 'x'.repeat(256), 'tab\there', 'é']) {
    const res = await call('POST', '/api/users', body, idem(bad));
    assert.equal(res.statusCode, 400, `${JSON.stringify(bad)}: ${res.body}`);
    assert.equal(res.json().error.code, 'invalid_idempotency_key');
    assert.match(res.json().error.message, /Idempotency-Key/);
  }
  assert.equal((await counts(services, tenant, body.email)).users, 0);
  // 255 visible characters are fine, and the draft's quoted form names the same key as the bare one.
  assert.equal((await call('POST', '/api/users', body, idem('k'.repeat(255)))).statusCode, 201);
  const quoted = await call(
    'POST',
    '/api/users',
    { email: `${unique('q')}@example.test` },
    idem('"quoted-1"'),
  );
  assert.equal(quoted.statusCode, 201);
  const bare = await call('POST', '/api/users', { email: `${unique('q')}@example.test` }, idem('quoted-1'));
  assert.equal(bare.statusCode, 422, 'same key, different body');
  // GETs ignore the header.
  assert.equal((await call('GET', '/api/users', undefined, idem('has space'))).statusCode, 200);
  // API key creation and rotation answer with a secret shown once: no replay, so no key.
  const keyRes = await call('POST', '/api/api_keys', { name: 'k' }, idem(unique('k')));
  assert.equal(keyRes.statusCode, 400);
  assert.equal(keyRes.json().error.code, 'invalid_idempotency_key');
});

test('idempotency: PATCH and a 204 DELETE replay too', async (t) => {
  const { app, services, config } = await buildApp(t);
  const tenant = await createTenant(services, config);
  const call = as(app, tenant.key);
  const groups = `/api/accounts/${tenant.accountId}/groups`;
  const group = (await call('POST', groups, { name: unique('G') })).json();

  const patchKey = unique('patch');
  const patched = await call('PATCH', `${groups}/${group.id}`, { description: 'one' }, idem(patchKey));
  assert.equal(patched.statusCode, 200, patched.body);
  const patchedAgain = await call('PATCH', `${groups}/${group.id}`, { description: 'one' }, idem(patchKey));
  assert.equal(patchedAgain.statusCode, 200);
  assert.equal(patchedAgain.headers['idempotent-replayed'], 'true');
  assert.equal(patchedAgain.body, patched.body);

  const deleteKey = unique('delete');
  const deleted = await call('DELETE', `${groups}/${group.id}`, undefined, idem(deleteKey));
  assert.equal(deleted.statusCode, 204, deleted.body);
  const audit = (await counts(services, tenant)).audit;
  const deletedAgain = await call('DELETE', `${groups}/${group.id}`, undefined, idem(deleteKey));
  assert.equal(deletedAgain.statusCode, 204, deletedAgain.body);
  assert.equal(deletedAgain.headers['idempotent-replayed'], 'true');
  assert.equal(deletedAgain.body, '');
  assert.equal((await counts(services, tenant)).audit, audit);
  // Without the key, the second delete is a 404.
  assert.equal((await call('DELETE', `${groups}/${group.id}`)).statusCode, 404);
});

test('idempotency: expired keys are ignored and swept', async (t) => {
  const { app, services, config } = await buildApp(t);
  const tenant = await createTenant(services, config);
  const call = as(app, tenant.key);
  const key = unique('old');
  const groups = `/api/accounts/${tenant.accountId}/groups`;
  const name = unique('G');
  assert.equal((await call('POST', groups, { name }, idem(key))).statusCode, 201);
  await services.db
    .updateTable('idempotency_keys')
    .set({ expires_at: sql<Date>`now() - interval '1 second'` })
    .where('key', '=', key)
    .execute();
  // Expired: the request runs again (and meets the group it made the first time).
  const rerun = await call('POST', groups, { name }, idem(key));
  assert.equal(rerun.statusCode, 409, rerun.body);
  assert.equal(rerun.headers['idempotent-replayed'], undefined);

  await services.db
    .updateTable('idempotency_keys')
    .set({ expires_at: sql<Date>`now() - interval '1 second'` })
    .where('key', '=', key)
    .execute();
  assert.ok((await sweepIdempotencyKeys(services.db)) >= 1);
  const left = await services.db
    .selectFrom('idempotency_keys')
    .select('key')
    .where('key', '=', key)
    .execute();
  assert.deepEqual(left, []);
});
