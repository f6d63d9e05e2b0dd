import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { installRateLimits, MemoryStore } from '../src/faces/rate-limit.ts';
import { as, buildApp, createTenant, testConfig, unique } from './helper.ts';

// The machine's Redis (CI has one too); SIGNET_TEST_REDIS_URL points elsewhere.
const REDIS_URL = process.env.SIGNET_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

type Headers = Record<string, string | string[] | number | undefined>;

/** Parses `"name";a=1;b=2` into { name, a, b }. */
function item(value: unknown): { name: string; params: Record<string, number> } {
  const m = /^"([^"]+)"((?:;[a-z]+=\d+)*)$/.exec(String(value));
  assert.ok(m, `structured field: ${String(value)}`);
  const params: Record<string, number> = {};
  for (const p of m[2]!.split(';').slice(1)) {
    const [k, v] = p.split('=');
    params[k!] = Number(v);
  }
  return { name: m[1]!, params };
}

function checkHeaders(h: Headers, limit: number, remaining: number): number {
  const policy = item(h['ratelimit-policy']);
  assert.deepEqual(policy, { name: 'default', params: { q: limit, w: 60 } });
  const state = item(h['ratelimit']);
  assert.equal(state.name, 'default');
  assert.equal(state.params.r, remaining);
  const t = state.params.t!;
  assert.ok(t > 0 && t <= 60, `t=${t}`);
  assert.equal(h['x-ratelimit-limit'], String(limit));
  assert.equal(h['x-ratelimit-remaining'], String(remaining));
  const reset = Number(h['x-ratelimit-reset']);
  const now = Date.now() / 1000;
  assert.ok(
    reset >= now && reset <= now + 61,
    `X-RateLimit-Reset ${reset} is epoch seconds within the window`,
  );
  assert.ok(Math.abs(reset - now - t) <= 1.5, 'X-RateLimit-Reset and t agree');
  return t;
}

test('rate limits: the 6th request of a 5/min key is 429 with every header; 200s carry them too', async (t) => {
  const { app, services, config } = await buildApp(t, { rateLimitPerMinute: 5 });
  const tenant = await createTenant(services, config);
  const call = as(app, tenant.key);

  for (let i = 1; i <= 5; i++) {
    const res = await call('GET', '/api/users');
    assert.equal(res.statusCode, 200, res.body);
    checkHeaders(res.headers, 5, 5 - i);
    assert.equal(res.headers['retry-after'], undefined);
  }
  const limited = await call('GET', '/api/users');
  assert.equal(limited.statusCode, 429, limited.body);
  assert.equal(limited.json().error.code, 'rate_limited');
  assert.equal(limited.json().error.details[0].policy, 'default');
  const tSeconds = checkHeaders(limited.headers, 5, 0);
  const retryAfter = Number(limited.headers['retry-after']);
  assert.ok(
    Number.isInteger(retryAfter) && retryAfter >= tSeconds && retryAfter <= 60,
    `Retry-After ${retryAfter}`,
  );
  // Writes count against the same budget, and a limited write does nothing.
  const write = await call('POST', '/api/users', { email: `${unique('rl')}@example.test` });
  assert.equal(write.statusCode, 429);
  // Requests without a valid key are not counted against (or limited by) anyone's budget.
  const anonymous = await as(app, null)('GET', '/api/users');
  assert.equal(anonymous.statusCode, 401);
  assert.equal(anonymous.headers['ratelimit'], undefined);
});

test('rate limits: two keys have independent budgets', async (t) => {
  const { app, services, config } = await buildApp(t, { rateLimitPerMinute: 2 });
  const tenant = await createTenant(services, config);
  const a = as(app, tenant.key);
  const other = await createTenant(services, config);
  const b = as(app, other.key);
  assert.equal((await a('GET', '/api/users')).statusCode, 200);
  assert.equal((await a('GET', '/api/users')).statusCode, 200);
  assert.equal((await a('GET', '/api/users')).statusCode, 429);
  const fromB = await b('GET', '/api/users');
  assert.equal(fromB.statusCode, 200);
  checkHeaders(fromB.headers, 2, 1);
});

test('rate limits: 0 turns the limit off (no headers)', async (t) => {
  const { app, services, config } = await buildApp(t, { rateLimitPerMinute: 0 });
  const tenant = await createTenant(services, config);
  const res = await as(app, tenant.key)('GET', '/api/users');
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers['ratelimit'], undefined);
  assert.equal(res.headers['x-ratelimit-limit'], undefined);
});

test('rate limits: routes can declare a per-IP limit (the public auth endpoints)', async (t) => {
  const fastify = Fastify({ logger: false });
  t.after(() => fastify.close());
  installRateLimits(fastify, testConfig({ authRateLimitPerMinute: 3 }));
  fastify.post('/login', { config: { rateLimit: { perIp: 'auth' } } }, async () => ({ ok: true }));
  fastify.get('/open', async () => ({ ok: true }));
  await fastify.ready();

  const from = (ip: string) => fastify.inject({ method: 'POST', url: '/login', remoteAddress: ip });
  for (let i = 0; i < 3; i++) assert.equal((await from('192.0.2.1')).statusCode, 200);
  const limited = await from('192.0.2.1');
  assert.equal(limited.statusCode, 429);
  assert.ok(Number(limited.headers['retry-after']) >= 1);
  assert.equal(item(limited.headers['ratelimit-policy']).name, 'auth');
  assert.deepEqual(item(limited.headers['ratelimit-policy']).params, { q: 3, w: 60 });
  assert.equal(item(limited.headers['ratelimit']).params.r, 0);
  // Another address has its own budget; an undeclared route is not limited.
  const elsewhere = await from('192.0.2.2');
  assert.equal(elsewhere.statusCode, 200);
  assert.equal(item(elsewhere.headers['ratelimit']).params.r, 2);
  const open = await fastify.inject({ method: 'GET', url: '/open', remoteAddress: '192.0.2.1' });
  assert.equal(open.statusCode, 200);
  assert.equal(open.headers['ratelimit'], undefined);
});

test('rate limits: the memory store evicts expired buckets and stays bounded', async () => {
  const store = new MemoryStore(100, 60_000);
  try {
    const t0 = 1_000_000;
    for (let i = 0; i < 50; i++) store.hitSync(`a${i}`, 1000, t0);
    assert.equal(store.size, 50);
    assert.deepEqual(store.hitSync('a0', 1000, t0 + 10), { count: 2, resetAt: t0 + 1000 });
    store.sweep(t0 + 1000);
    assert.equal(store.size, 0, 'expired buckets are swept');
    for (let i = 0; i < 500; i++) store.hitSync(`b${i}`, 1000, t0 + 2000);
    assert.ok(store.size <= 100, `bounded: ${store.size}`);
    // A window that ended starts afresh.
    assert.equal(store.hitSync('b499', 1000, t0 + 3000).count, 1);
  } finally {
    await store.close();
  }
});

test('rate limits: two instances sharing REDIS_URL share one budget', async (t) => {
  // A prefix of this run's own, so parallel runs against one Redis never share counters.
  const prefix = `signet-test:${randomBytes(6).toString('hex')}:`;
  const overrides = { rateLimitPerMinute: 5, redisUrl: REDIS_URL, rateLimitRedisPrefix: prefix };
  const one = await buildApp(t, overrides);
  const two = await buildApp(t, overrides);
  const tenant = await createTenant(one.services, one.config);
  const callOne = as(one.app, tenant.key);
  const callTwo = as(two.app, tenant.key);

  const seen: number[] = [];
  for (let i = 0; i < 6; i++) {
    const res = await (i % 2 === 0 ? callOne : callTwo)('GET', '/api/users');
    seen.push(res.statusCode);
    if (i < 5) checkHeaders(res.headers, 5, 4 - i);
  }
  assert.deepEqual(seen, [200, 200, 200, 200, 200, 429]);
  assert.equal((await callOne('GET', '/api/users')).statusCode, 429);

  const redis = new Redis(REDIS_URL);
  try {
    const keys = await redis.keys(`${prefix}*`);
    assert.equal(keys.length, 1, `one counter: ${keys.join(', ')}`);
    const ttl = await redis.pttl(keys[0]!);
    assert.ok(ttl > 0 && ttl <= 60_000, 'the counter expires with its window');
    assert.equal(await redis.get(keys[0]!), '7');
    await redis.del(...keys);
  } finally {
    redis.disconnect();
  }
});

test('failed API key verifications are limited per IP: over the budget, 429 before the key is looked at', async (t) => {
  const { app, services, config } = await buildApp(t, { keyFailuresPerMinute: 3 });
  const tenant = await createTenant(services, config);
  const { generateKey } = await import('../src/core/api-keys/format.ts');
  const fromIp = (ip: string, key: string, url = '/api/users') =>
    app.inject({ method: 'GET', url, remoteAddress: ip, headers: { authorization: `Bearer ${key}` } });

  // A bad checksum (cheap to forge) and a well-formed unknown key both count as failures.
  const forged = `${tenant.key.slice(0, -1)}${tenant.key.endsWith('A') ? 'B' : 'A'}`;
  assert.equal((await fromIp('10.0.0.7', forged)).statusCode, 401);
  assert.equal((await fromIp('10.0.0.7', generateKey('test'))).statusCode, 401);
  assert.equal(
    (await fromIp('10.0.0.7', generateKey('test'), '/management/v2/organizations')).statusCode,
    401,
  );
  // Successful verifications count nothing.
  assert.equal((await fromIp('10.0.0.8', tenant.key)).statusCode, 200);

  // Over the budget even the right key is refused: nothing was verified, no query ran.
  const limited = await fromIp('10.0.0.7', tenant.key);
  assert.equal(limited.statusCode, 429, limited.body);
  assert.equal(limited.json().error.code, 'rate_limited');
  assert.equal(limited.json().error.details[0].policy, 'key_failures');
  const retryAfter = Number(limited.headers['retry-after']);
  assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
  const management = await fromIp('10.0.0.7', tenant.key, '/management/v2/organizations');
  assert.equal(management.statusCode, 429, management.body);
  assert.ok(Number(management.headers['retry-after']) >= 1);
  // Another address keeps its own budget.
  assert.equal((await fromIp('10.0.0.9', tenant.key)).statusCode, 200);
});
