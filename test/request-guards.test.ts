// No 500 on any input (issue 10, finding 8): NUL characters and invalid UTF-8 are a 422 naming the field, on
// every face and in its dialect; bodies in another charset are a 415; malformed cursors, Signet-Account
// headers and undecodable paths are 400s; a replayed revoke_all answers exactly what the first one did.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeCursor } from '../src/core/pagination.ts';
import { as, buildApp, createTenant, unique } from './helper.ts';
import { runWorker } from './imports-helper.ts';
import { browser, PASSWORD } from './people-helper.ts';

const JSON_TYPE = { 'content-type': 'application/json' };
const invalidUtf8 = (before: string, after: string) =>
  Buffer.concat([Buffer.from(before), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from(after)]);

test('a NUL anywhere in a JSON body, a query string or a path parameter is a 422 naming it, on every face', async (t) => {
  const { app, services, config } = await buildApp(t);
  const tenant = await createTenant(services, config);
  const call = as(app, tenant.key);
  const org = `/management/v2/organizations/${tenant.organizationId}`;
  const esign = `/restapi/v2.1/accounts/${tenant.accountId}`;
  const nul = '\u0000';

  // /api: a value, a nested value, a key; the query; a path parameter.
  for (const [body, field, pointer] of [
    [{ name: `a${nul}b` }, 'name', '/name'],
    [{ name: 'ok', list: [{ deep: `x${nul}` }] }, 'list.0.deep', '/list/0/deep'],
    [{ [`na${nul}me`]: 'x' }, 'na\\u0000me', `/na${nul}me`],
  ] as const) {
    const res = await call('POST', '/api/accounts', JSON.stringify(body), JSON_TYPE);
    assert.equal(res.statusCode, 422, res.body);
    const err = res.json().error;
    assert.equal(err.code, 'invalid_text');
    assert.equal(err.details[0].field, field);
    assert.equal(err.details[0].pointer, pointer);
    assert.equal(err.details[0].location, 'body');
  }
  const query = await call('GET', '/api/users?email=a%00b');
  assert.equal(query.statusCode, 422, query.body);
  assert.deepEqual(
    [query.json().error.code, query.json().error.details[0].field, query.json().error.details[0].location],
    ['invalid_text', 'email', 'query'],
  );
  const param = await call('GET', `/api/accounts/${tenant.accountId}/brands/a%00b`);
  assert.equal(param.statusCode, 422, param.body);
  assert.equal(param.json().error.details[0].location, 'params');
  // The escaped text "\u0000" (a backslash, then u0000) is not a NUL, and is stored as sent.
  const literal = await call('POST', '/api/accounts', JSON.stringify({ name: 'a\\u0000b' }), JSON_TYPE);
  assert.equal(literal.statusCode, 201, literal.body);
  assert.equal(literal.json().name, 'a\\u0000b');

  // /management: {error, error_description}.
  for (const res of [
    await call(
      'POST',
      `${org}/accounts/${tenant.accountId}/users`,
      JSON.stringify({ email: 'x@example.test', first_name: `A${nul}` }),
      JSON_TYPE,
    ),
    await call('GET', `${org}/users?email=a%00b`),
  ]) {
    assert.equal(res.statusCode, 422, res.body);
    assert.equal(res.json().error, 'invalid_text');
    assert.match(res.json().error_description, /^(body\.first_name|query\.email): contains a NUL/);
  }

  // /restapi: {errorCode, message}, and eSignature's 400 for every request error (its dialect).
  for (const res of [
    await call('POST', `${esign}/groups`, JSON.stringify({ groups: [{ groupName: `G${nul}` }] }), JSON_TYPE),
    await call('GET', `${esign}/users?email=a%00b`),
    await call('GET', `${esign}/users/a%00b`),
  ]) {
    assert.equal(res.statusCode, 400, res.body);
    assert.equal(res.json().errorCode, 'INVALID_TEXT');
    assert.match(
      res.json().message,
      /^(body\.groups\.0\.groupName|query\.email|params\.userId): contains a NUL/,
    );
  }

  // The people face (public routes): the native dialect.
  const login = await app.inject({
    method: 'POST',
    url: '/login',
    headers: JSON_TYPE,
    payload: JSON.stringify({ email: `a${nul}@example.test`, password: PASSWORD }),
  });
  assert.equal(login.statusCode, 422, login.body);
  assert.equal(login.json().error.details[0].field, 'email');
});

test('a JSON body that is not UTF-8 is a 422 naming the field, on every face', async (t) => {
  const { app, services, config } = await buildApp(t);
  const tenant = await createTenant(services, config);
  const call = as(app, tenant.key);

  const api = await call('POST', '/api/accounts', invalidUtf8('{"name":"a', '"}'), JSON_TYPE);
  assert.equal(api.statusCode, 422, api.body);
  assert.equal(api.json().error.code, 'invalid_text');
  assert.equal(api.json().error.details[0].field, 'name');
  // Not JSON either: the body as a whole.
  const garbage = await call('POST', '/api/accounts', invalidUtf8('{"name', ''), JSON_TYPE);
  assert.equal(garbage.statusCode, 422, garbage.body);
  assert.equal(garbage.json().error.details[0].field, '(root)');
  const mgmt = await call(
    'POST',
    `/management/v2/organizations/${tenant.organizationId}/accounts/${tenant.accountId}/users`,
    invalidUtf8('{"email":"x@example.test","first_name":"', '"}'),
    JSON_TYPE,
  );
  assert.equal(mgmt.statusCode, 422, mgmt.body);
  assert.equal(mgmt.json().error, 'invalid_text');
  assert.match(mgmt.json().error_description, /^body\.first_name: is not valid UTF-8/);
  const esign = await call(
    'POST',
    `/restapi/v2.1/accounts/${tenant.accountId}/groups`,
    invalidUtf8('{"groups":[{"groupName":"', '"}]}'),
    JSON_TYPE,
  );
  assert.equal(esign.statusCode, 400, esign.body);
  assert.equal(esign.json().errorCode, 'INVALID_TEXT');
  assert.match(esign.json().message, /^body\.groups\.0\.groupName: is not valid UTF-8/);
  // A valid multi-byte body (and a BOM-less one) is accepted and kept as sent.
  const ok = await call('POST', '/api/accounts', JSON.stringify({ name: 'Zürich 東京 🎉' }), JSON_TYPE);
  assert.equal(ok.statusCode, 201, ok.body);
  assert.equal(ok.json().name, 'Zürich 東京 🎉');
});

test('a body in a charset other than UTF-8 is a 415 on every face; utf-8, us-ascii and none are accepted', async (t) => {
  const { app, services, config } = await buildApp(t);
  const tenant = await createTenant(services, config);
  const call = as(app, tenant.key);
  const type = (charset: string) => ({ 'content-type': `application/json; charset=${charset}` });

  for (const charset of ['utf-16', 'UTF-16LE', 'latin1', 'iso-8859-1', '"windows-1252"']) {
    const res = await call('POST', '/api/api_keys/revoke_all', '{"reason":"x"}', type(charset));
    assert.equal(res.statusCode, 415, `${charset}: ${res.body}`);
    assert.equal(res.json().error.code, 'unsupported_media_type');
    assert.equal(res.json().error.details[0].field, 'Content-Type');
  }
  const mgmt = await call(
    'POST',
    `/management/v2/organizations/${tenant.organizationId}/accounts/${tenant.accountId}/users`,
    '{"email":"x@example.test"}',
    type('utf-16'),
  );
  assert.equal(mgmt.statusCode, 415, mgmt.body);
  assert.equal(mgmt.json().error, 'unsupported_media_type');
  const esign = await call(
    'POST',
    `/restapi/v2.1/accounts/${tenant.accountId}/groups`,
    '{"groups":[]}',
    type('utf-16'),
  );
  assert.equal(esign.statusCode, 415, esign.body);
  assert.equal(esign.json().errorCode, 'INVALID_CONTENT_TYPE');
  // A CSV upload too: Signet reads every text body as UTF-8.
  const csv = await call('POST', `/api/imports?account_id=${tenant.accountId}&operation=add`, 'UserEmail\n', {
    'content-type': 'text/csv; charset=utf-16',
  });
  assert.equal(csv.statusCode, 415, csv.body);

  for (const charset of ['utf-8', 'UTF-8', '"utf-8"', 'utf8', 'us-ascii']) {
    const res = await call('POST', '/api/accounts', JSON.stringify({ name: unique('A') }), type(charset));
    assert.equal(res.statusCode, 201, `${charset}: ${res.body}`);
  }
});

test('a path that does not decode is a 400 in the dialect of the face it names', async (t) => {
  const { app, services, config } = await buildApp(t);
  const tenant = await createTenant(services, config);
  const call = as(app, tenant.key);
  const api = await call('GET', '/api/users/%FF%FE');
  assert.equal(api.statusCode, 400, api.body);
  assert.equal(api.json().error.code, 'invalid_request');
  const mgmt = await call('GET', `/management/v2/organizations/${tenant.organizationId}/users/%FF`);
  assert.equal(mgmt.statusCode, 400, mgmt.body);
  assert.equal(mgmt.json().error, 'invalid_request');
  const esign = await call('GET', `/restapi/v2.1/accounts/${tenant.accountId}/users/%FF`);
  assert.equal(esign.statusCode, 400, esign.body);
  assert.equal(esign.json().errorCode, 'INVALID_REQUEST');
});

test('a cursor that decodes but holds no key of the list is 400 invalid_cursor, not a database error', async (t) => {
  const { app, services, config } = await buildApp(t);
  const tenant = await createTenant(services, config);
  const call = as(app, tenant.key);
  const forged = [
    encodeCursor('not-a-uuid'),
    encodeCursor("'; drop table users; --"),
    Buffer.from('null').toString('base64url'),
    Buffer.from('{"k":42}').toString('base64url'),
    '%%%',
  ];
  for (const path of [
    '/api/users',
    '/api/accounts',
    '/api/api_keys',
    '/api/audit_events',
    '/api/imports',
    '/api/exports',
    '/api/invites',
    `/api/accounts/${tenant.accountId}/brands`,
  ]) {
    for (const cursor of forged) {
      const res = await call('GET', `${path}?cursor=${encodeURIComponent(cursor)}`);
      assert.equal(res.statusCode, 400, `${path} ${cursor}: ${res.body}`);
      assert.equal(res.json().error.code, 'invalid_cursor');
    }
  }
  // Integer-keyed lists refuse anything but a positive integer.
  for (const key of ['1.5', '-1', '0', '1e3', 'abc']) {
    const res = await call(
      'GET',
      `/api/accounts/${tenant.accountId}/permission_profiles?cursor=${encodeCursor(key)}`,
    );
    assert.equal(res.statusCode, 400, `${key}: ${res.body}`);
    assert.equal(res.json().error.code, 'invalid_cursor');
  }
});

test('a malformed Signet-Account header is a 400 naming the header (not a 403, not a 500)', async (t) => {
  const { app } = await buildApp(t, { authRateLimitPerMinute: 0 });
  const b = browser(app);
  const signup = await b.call('POST', '/signup', {
    email: `${unique('acct')}@example.test`,
    password: PASSWORD,
    name: 'Ada Lovelace',
    organization_name: unique('Org'),
  });
  assert.equal(signup.statusCode, 201, signup.body);
  // 36 characters of the old pattern's alphabet, which reached PostgreSQL as a uuid; and plain garbage.
  for (const value of ['-'.repeat(36), 'ffffffff-ffff-ffff-ffff-ffffffffffffff', 'nope', 'é'.repeat(40)]) {
    for (const path of ['/api/users', '/session']) {
      const res = await b.call('GET', path, undefined, { headers: { 'signet-account': value } });
      assert.equal(res.statusCode, 400, `${path} ${value}: ${res.body}`);
      assert.equal(res.json().error.code, 'validation_failed');
      assert.equal(res.json().error.details[0].field, 'Signet-Account');
    }
  }
});

test('a replayed POST /api/api_keys/revoke_all answers exactly what the first request did', async (t) => {
  const { app } = await buildApp(t, { authRateLimitPerMinute: 0 });
  // A session caller: its credential survives revoking every key, so it can replay.
  const b = browser(app);
  const signup = await b.call('POST', '/signup', {
    email: `${unique('owner')}@example.test`,
    password: PASSWORD,
    name: 'Ada Lovelace',
    organization_name: unique('Org'),
  });
  assert.equal(signup.statusCode, 201, signup.body);
  for (let i = 0; i < 2; i++) {
    const key = await b.call('POST', '/api/api_keys', { name: `k${i}` });
    assert.equal(key.statusCode, 201, key.body);
  }
  const headers = { 'idempotency-key': unique('revoke') };
  const first = await b.call('POST', '/api/api_keys/revoke_all', { reason: 'incident' }, { headers });
  assert.equal(first.statusCode, 200, first.body);
  assert.deepEqual(first.json(), { revoked_count: 2 });
  const replay = await b.call('POST', '/api/api_keys/revoke_all', { reason: 'incident' }, { headers });
  assert.equal(replay.statusCode, 200, replay.body);
  assert.equal(replay.headers['idempotent-replayed'], 'true');
  assert.equal(replay.body, first.body);
});

test('an Idempotency-Key on a route whose service yields no result (admin password reset) is replayed, not a 500', async (t) => {
  const { app, services, config } = await buildApp(t);
  const tenant = await createTenant(services, config);
  const call = as(app, tenant.key);
  const user = await call('POST', '/api/users', {
    email: `${unique('reset')}@example.test`,
    account_id: tenant.accountId,
  });
  assert.equal(user.statusCode, 201, user.body);
  const headers = { 'idempotency-key': unique('reset') };
  const first = await call('POST', `/api/users/${user.json().id}/password_reset`, undefined, headers);
  assert.equal(first.statusCode, 202, first.body);
  const replay = await call('POST', `/api/users/${user.json().id}/password_reset`, undefined, headers);
  assert.equal(replay.statusCode, 202, replay.body);
  assert.equal(replay.headers['idempotent-replayed'], 'true');
  assert.equal(replay.body, first.body);
});

test('routes outside the faces (health) answer a NUL in the query in the native dialect', async (t) => {
  const { app } = await buildApp(t);
  const res = await app.inject({ method: 'GET', url: '/healthz?probe=%00' });
  assert.equal(res.statusCode, 422, res.body);
  assert.equal(res.json().error.code, 'invalid_text');
  assert.equal(res.json().error.details[0].field, 'probe');
});

test('a NUL in an upload file name or the User-Agent is dropped, not a 500', async (t) => {
  const { app, services, config } = await buildApp(t);
  await runWorker(t, config); // an import is queued
  const tenant = await createTenant(services, config);
  const call = as(app, tenant.key);
  const csv = { 'content-type': 'text/csv', 'content-disposition': "attachment; filename*=UTF-8''a%00b.csv" };
  const native = await call(
    'POST',
    `/api/imports?account_id=${tenant.accountId}&operation=add&dry_run=true`,
    'UserEmail\n',
    csv,
  );
  assert.ok(native.statusCode < 500, native.body);
  const mgmt = await call(
    'POST',
    `/management/v2/organizations/${tenant.organizationId}/imports/bulk_users/add`,
    'UserEmail\n',
    csv,
  );
  assert.ok(mgmt.statusCode < 500, mgmt.body);
  const ua = await call('POST', '/api/accounts', { name: unique('UA') }, { 'user-agent': 'agent\u0000x' });
  assert.equal(ua.statusCode, 201, ua.body);
});
