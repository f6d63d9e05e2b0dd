import assert from 'node:assert/strict';
import { test } from 'node:test';
import { as, buildApp, createTenant } from './helper.ts';

test('bad input of every kind is a 4xx naming the problem, never a 500, never a partial write', async (t) => {
  const { app, services, config } = await buildApp(t, { bodyLimitBytes: 4096 });
  const tenant = await createTenant(services, config);
  const api = as(app, tenant.key);
  const json = { 'content-type': 'application/json' };

  const cases: {
    name: string;
    res: Awaited<ReturnType<typeof api>>;
    status: number;
    code: string;
    field?: string;
  }[] = [
    {
      name: 'malformed JSON',
      res: await api('POST', '/api/users', '{"email": "a@b.c",', json),
      status: 400,
      code: 'invalid_json',
    },
    {
      name: 'empty JSON body',
      res: await api('POST', '/api/users', '', json),
      status: 400,
      code: 'invalid_json',
    },
    {
      name: 'wrong type',
      res: await api('POST', '/api/users', { email: 42 }),
      status: 400,
      code: 'validation_failed',
      field: 'email',
    },
    {
      name: 'bad email',
      res: await api('POST', '/api/users', { email: 'not-an-email' }),
      status: 400,
      code: 'validation_failed',
      field: 'email',
    },
    {
      name: 'missing field',
      res: await api('POST', '/api/accounts', {}),
      status: 400,
      code: 'validation_failed',
      field: 'name',
    },
    {
      name: 'unknown field',
      res: await api('POST', '/api/users', { email: 'u@example.test', favourite_colour: 'blue' }),
      status: 400,
      code: 'validation_failed',
      field: 'favourite_colour',
    },
    {
      name: 'unknown query parameter',
      res: await api('GET', '/api/users?colour=blue'),
      status: 400,
      code: 'validation_failed',
      field: 'colour',
    },
    {
      name: 'bad enum',
      res: await api('POST', '/api/users', { email: 'e@example.test', role: 'god' }),
      status: 400,
      code: 'validation_failed',
      field: 'role',
    },
    {
      name: 'bad id in the path',
      res: await api('GET', '/api/users/12345'),
      status: 400,
      code: 'validation_failed',
      field: 'id',
    },
    {
      name: 'limit out of range',
      res: await api('GET', '/api/users?limit=100000'),
      status: 400,
      code: 'validation_failed',
      field: 'limit',
    },
    {
      name: 'oversized body',
      res: await api(
        'POST',
        '/api/users',
        JSON.stringify({ email: 'big@example.test', first_name: 'x'.repeat(8000) }),
        json,
      ),
      status: 413,
      code: 'body_too_large',
    },
    {
      name: 'wrong media type',
      res: await api('POST', '/api/users', 'email=a@b.c', {
        'content-type': 'application/x-www-form-urlencoded',
      }),
      status: 415,
      code: 'unsupported_media_type',
    },
    {
      name: 'unknown route',
      res: await api('GET', '/api/nothing-here'),
      status: 404,
      code: 'route_not_found',
    },
    {
      name: 'missing user',
      res: await api('GET', '/api/users/01890000-0000-7000-8000-000000000000'),
      status: 404,
      code: 'not_found',
    },
    {
      name: 'reference to a missing profile',
      res: await api('POST', '/api/users', { email: 'ref@example.test', permission_profile_id: 999999999 }),
      status: 422,
      code: 'invalid_reference',
      field: 'permission_profile_id',
    },
  ];
  for (const c of cases) {
    assert.equal(c.res.statusCode, c.status, `${c.name}: ${c.res.body}`);
    const body = c.res.json();
    assert.equal(body.error.code, c.code, c.name);
    assert.ok(body.error.message.length > 5, `${c.name} has a message`);
    if (c.field) {
      assert.ok(
        body.error.details.some((d: any) => d.field === c.field),
        `${c.name} names ${c.field}: ${JSON.stringify(body.error)}`,
      );
    }
  }
  // Nothing above wrote a user: only the owner exists.
  const users = await api('GET', '/api/users');
  assert.equal(users.json().data.length, 1);
  // Every response carries a request id; a sane caller-supplied one is kept.
  const traced = await api('GET', '/api/organization', undefined, { 'x-request-id': 'trace-123' });
  assert.equal(traced.headers['x-request-id'], 'trace-123');
});
