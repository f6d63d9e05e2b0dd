import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildApp } from './helper.ts';

test('healthz and readyz answer; the OpenAPI document lists the native routes', async (t) => {
  const { app } = await buildApp(t);
  assert.equal((await app.inject('/healthz')).json().status, 'ok');
  assert.equal((await app.inject('/readyz')).statusCode, 200);
  const doc = (await app.inject('/openapi.json')).json();
  assert.equal(doc.openapi, '3.1.0');
  for (const path of [
    '/api/users',
    '/api/users/{id}',
    '/api/accounts',
    '/api/api_keys',
    '/api/audit_events',
  ]) {
    assert.ok(doc.paths[path], `OpenAPI lists ${path}`);
  }
  const docs = await app.inject('/docs/');
  assert.equal(docs.statusCode, 200);
  assert.match(docs.body, /swagger/i);
});
