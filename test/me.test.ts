// GET /api/me: the caller as Signet resolved it — for keys and for dashboard sessions, whatever the scopes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { as, buildApp, createTenant, unique } from './helper.ts';
import { browser, PASSWORD } from './people-helper.ts';

test('GET /api/me describes an owner key, a restricted key and a session; without credentials it is 401', async (t) => {
  const { app, services, config } = await buildApp(t, { authRateLimitPerMinute: 0 });
  const tenant = await createTenant(services, config);
  const owner = as(app, tenant.key);

  const me = (await owner('GET', '/api/me')).json();
  assert.equal(me.type, 'api_key');
  assert.equal(me.organization_id, tenant.organizationId);
  assert.equal(me.user_id, tenant.ownerId);
  assert.equal(me.role, 'owner');
  assert.equal(me.environment, 'test');
  assert.equal(me.scopes, null);
  assert.ok(me.permissions.includes('keys:write') && me.permissions.includes('audit:read'));

  // A key restricted to users:read may still ask who it is, and sees exactly what it may do.
  const created = await owner('POST', '/api/api_keys', { name: 'reader', scopes: ['users:read'] });
  assert.equal(created.statusCode, 201, created.body);
  const reader = (await as(app, created.json().key)('GET', '/api/me')).json();
  assert.equal(reader.id, created.json().id);
  assert.deepEqual(reader.scopes, ['users:read']);
  assert.deepEqual(reader.permissions, ['users:read']);

  const b = browser(app);
  const email = `${unique('me')}@example.test`;
  const signup = await b.call('POST', '/signup', {
    email,
    password: PASSWORD,
    name: 'Ada Lovelace',
    organization_name: unique('Org'),
  });
  assert.equal(signup.statusCode, 201, signup.body);
  const session = (await b.call('GET', '/api/me')).json();
  assert.equal(session.type, 'user');
  assert.equal(session.role, 'owner');
  assert.equal(session.key_kind, null);
  assert.notEqual(session.organization_id, tenant.organizationId);

  const anonymous = await as(app, null)('GET', '/api/me');
  assert.equal(anonymous.statusCode, 401);
  assert.equal(anonymous.json().error.code, 'missing_credentials');
});
