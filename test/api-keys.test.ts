import assert from 'node:assert/strict';
import { test } from 'node:test';
import { generateKey, parseKey } from '../src/core/api-keys/format.ts';
import { systemPrincipal } from '../src/core/principal.ts';
import { as, buildApp, createTenant, testDb } from './helper.ts';

test('key format: environment prefix, checksum refuses typos before any look-up', () => {
  const key = generateKey('live');
  assert.match(key, /^sk_live_[0-9A-Za-z]{38}$/);
  assert.deepEqual(parseKey(key), { ok: true, environment: 'live' });
  const typo = key.slice(0, 20) + (key[20] === 'a' ? 'b' : 'a') + key.slice(21);
  const parsed = parseKey(typo);
  assert.equal(parsed.ok, false);
  assert.match((parsed as { reason: string }).reason, /checksum/);
  assert.equal(parseKey('Bearer nonsense').ok, false);
});

test('api keys: shown once, stored hashed, listed without secret, revoked at once', async (t) => {
  const { app, services, config } = await buildApp(t);
  const tenant = await createTenant(services, config);
  const api = as(app, tenant.key);

  const created = await api('POST', '/api/api_keys', { name: 'ci robot' });
  assert.equal(created.statusCode, 201);
  const key = created.json();
  assert.match(key.key, /^sk_test_/);
  assert.equal(key.last4, key.key.slice(-4));
  assert.equal(key.account_id, tenant.accountId);
  assert.equal(key.role, 'owner');

  const row = await testDb()
    .db.selectFrom('api_keys')
    .selectAll()
    .where('id', '=', key.id)
    .executeTakeFirstOrThrow();
  assert.equal(row.secret_hash.length, 32, 'only a SHA-256 digest is stored');
  assert.ok(!JSON.stringify(row).includes(key.key));

  const list = await api('GET', '/api/api_keys');
  const listed = list.json().data.find((k: any) => k.id === key.id);
  assert.ok(listed);
  assert.equal(listed.key, undefined, 'the secret is never listed');

  const robot = as(app, key.key);
  assert.equal((await robot('GET', '/api/organization')).statusCode, 200);

  const revoked = await api('DELETE', `/api/api_keys/${key.id}`);
  assert.equal(revoked.statusCode, 200);
  assert.ok(revoked.json().revoked_at);
  const after = await robot('GET', '/api/organization');
  assert.equal(after.statusCode, 401);
  assert.equal(after.json().error.code, 'api_key_revoked');

  const events = await api('GET', `/api/audit_events?target_id=${key.id}&order=asc`);
  assert.deepEqual(
    events.json().data.map((e: any) => e.action),
    ['api_key.created', 'api_key.revoked'],
  );
  assert.ok(!JSON.stringify(events.json()).includes(key.key), 'no secret in the audit log');
});

test('authentication errors say what is wrong', async (t) => {
  const { app, services, config } = await buildApp(t);
  const tenant = await createTenant(services, config);
  const cases: [string | null, string][] = [
    [null, 'missing_credentials'],
    ['garbage', 'invalid_api_key'],
    [tenant.key.slice(0, -1) + (tenant.key.endsWith('A') ? 'B' : 'A'), 'invalid_api_key'],
    [generateKey('test'), 'invalid_api_key'],
    [generateKey('live'), 'environment_mismatch'],
  ];
  for (const [key, code] of cases) {
    const res = await as(app, key)('GET', '/api/users');
    assert.equal(res.statusCode, 401, `${key} → 401`);
    assert.equal(res.json().error.code, code);
    assert.ok(res.json().error.message.length > 10);
  }
  const mismatch = await as(app, generateKey('live'))('GET', '/api/users');
  assert.match(mismatch.json().error.message, /live key.*test environment/);

  const expiring = await as(app, tenant.key)('POST', '/api/api_keys', {
    name: 'short',
    expires_at: new Date(Date.now() + 60_000).toISOString(),
  });
  assert.equal(expiring.statusCode, 201);
  await testDb()
    .db.updateTable('api_keys')
    .set({ expires_at: new Date(Date.now() - 1000) })
    .where('id', '=', expiring.json().id)
    .execute();
  // A fresh app has a cold cache, as another process would.
  const { app: other } = await buildApp(t);
  const expired = await as(other, expiring.json().key)('GET', '/api/users');
  assert.equal(expired.json().error.code, 'api_key_expired');

  const past = await as(app, tenant.key)('POST', '/api/api_keys', {
    name: 'past',
    expires_at: '2001-01-01T00:00:00Z',
  });
  assert.equal(past.statusCode, 400);
  assert.equal(past.json().error.details[0].field, 'expires_at');
});

test('members act only inside their account, with what their profile grants', async (t) => {
  const { app, services, config } = await buildApp(t);
  const tenant = await createTenant(services, config);
  const owner = as(app, tenant.key);
  const other = (await owner('POST', '/api/accounts', { name: 'Other' })).json();
  const profiles = await testDb()
    .db.selectFrom('permission_profiles')
    .select(['id', 'name'])
    .where('account_id', '=', tenant.accountId)
    .execute();
  const sender = profiles.find((p) => p.name === 'DS Sender')!.id;
  const admin = profiles.find((p) => p.name === 'DS Admin')!.id;

  // A member with the DS Sender profile: reads, no writes.
  const alice = (
    await owner('POST', '/api/users', { email: 'alice@example.test', permission_profile_id: sender })
  ).json();
  const aliceKey = await services.apiKeys.create(
    { principal: systemPrincipal(tenant.organizationId, 'test'), meta: {} },
    { name: 'alice', created_by: alice.id, role: 'member', account_id: tenant.accountId },
  );
  const asAlice = as(app, aliceKey.key);
  assert.equal((await asAlice('GET', '/api/users')).statusCode, 200);
  const denied = await asAlice('POST', '/api/users', { email: 'x@example.test' });
  assert.equal(denied.statusCode, 403);
  assert.equal(denied.json().error.code, 'permission_denied');
  assert.match(denied.json().error.message, /users:write/);
  assert.equal((await asAlice('GET', `/api/accounts/${other.id}`)).statusCode, 403);
  assert.equal((await asAlice('GET', '/api/audit_events')).statusCode, 403);

  // Promote her profile to DS Admin: user management inside her own account only.
  const m = alice.memberships[0];
  await owner('PATCH', `/api/users/${alice.id}/memberships/${m.id}`, { permission_profile_id: admin });
  const { app: fresh } = await buildApp(t);
  const asAdminAlice = as(fresh, aliceKey.key);
  assert.equal((await asAdminAlice('POST', '/api/users', { email: 'bob@example.test' })).statusCode, 201);
  const elsewhere = await asAdminAlice('POST', '/api/users', {
    email: 'carol@example.test',
    account_id: other.id,
  });
  assert.equal(elsewhere.statusCode, 403);
  const ownerEdit = await asAdminAlice('PATCH', `/api/users/${tenant.ownerId}`, { first_name: 'X' });
  assert.equal(ownerEdit.statusCode, 403);
  const escalate = await asAdminAlice('POST', '/api/api_keys', { name: 'up', role: 'owner' });
  assert.equal(escalate.statusCode, 403, 'a key never exceeds its creator');

  // Deactivating the creator stops the key.
  await owner('POST', `/api/users/${alice.id}/deactivate`);
  const { app: later } = await buildApp(t);
  const dead = await as(later, aliceKey.key)('GET', '/api/users');
  assert.equal(dead.statusCode, 401);
});
