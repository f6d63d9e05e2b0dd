// SIGNET_TRUST_PROXY: behind a TLS-terminating proxy the session cookie is still Secure and per-IP limits
// count the client, not the proxy; without the setting, forwarded headers are ignored (a client can't forge
// its address or scheme).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../src/config.ts';
import { buildApp, unique } from './helper.ts';
import { browser, PASSWORD } from './people-helper.ts';

const env = (value: string) => ({ SIGNET_ENV: 'test', SIGNET_TRUST_PROXY: value });

test('SIGNET_TRUST_PROXY: false by default; true, false, addresses, CIDR ranges and proxy-addr names', () => {
  assert.equal(loadConfig({ SIGNET_ENV: 'test' }).trustProxy, false);
  assert.equal(loadConfig(env('false')).trustProxy, false);
  assert.equal(loadConfig(env('true')).trustProxy, true);
  assert.deepEqual(loadConfig(env('10.0.0.1, 10.1.0.0/16,loopback,::1,fd00::/8')).trustProxy, [
    '10.0.0.1',
    '10.1.0.0/16',
    'loopback',
    '::1',
    'fd00::/8',
  ]);
  for (const bad of ['2', 'proxy.internal', '10.0.0.0/33', '10.0.0.1/8/1', '::1/129', 'yes']) {
    assert.throws(
      () => loadConfig(env(bad)),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.message.startsWith('SIGNET_TRUST_PROXY') &&
        err.message.includes(bad),
      bad,
    );
  }
});

type App = Awaited<ReturnType<typeof buildApp>>['app'];

async function signupCookie(app: App, headers: Record<string, string>) {
  const b = browser(app);
  const res = await b.call(
    'POST',
    '/signup',
    {
      email: `${unique('proxied')}@example.test`,
      password: PASSWORD,
      name: 'Grace Hopper',
      organization_name: unique('Proxied'),
    },
    { headers },
  );
  assert.equal(res.statusCode, 201, res.body);
  return res.cookies.find((c) => c.name === 'signet_session')!;
}

/** A login that fails (unknown email), sent by client `ip` through the proxy. */
function failedLogin(app: App, ip: string) {
  return app.inject({
    method: 'POST',
    url: '/login',
    headers: { 'x-forwarded-for': ip },
    payload: { email: 'nobody@example.test', password: 'not the password' },
  });
}

test('a trusted proxy: X-Forwarded-Proto https makes the session cookie Secure; X-Forwarded-For is the client', async (t) => {
  // inject() connects from 127.0.0.1, the proxy here.
  const { app } = await buildApp(t, { trustProxy: ['loopback'], authRateLimitPerMinute: 2 });
  const viaTls = await signupCookie(app, { 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.1' });
  assert.equal(viaTls.secure, true);
  const plain = await signupCookie(app, { 'x-forwarded-for': '203.0.113.2' });
  assert.notEqual(plain.secure, true, 'plain HTTP at the proxy: no Secure flag');

  // Per-IP budgets follow the forwarded client address: 203.0.113.1 has used one of its two, so one more
  // passes and the next is refused, while another client behind the same proxy still has its own.
  assert.equal((await failedLogin(app, '203.0.113.1')).statusCode, 401);
  const limited = await failedLogin(app, '203.0.113.1');
  assert.equal(limited.statusCode, 429);
  assert.equal(limited.json().error.code, 'rate_limited');
  assert.equal((await failedLogin(app, '198.51.100.7')).statusCode, 401);
});

test('no trusted proxy: forwarded headers are ignored', async (t) => {
  const { app } = await buildApp(t, { authRateLimitPerMinute: 2 });
  const cookie = await signupCookie(app, { 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.1' });
  assert.notEqual(cookie.secure, true, 'a client cannot claim HTTPS');
  // Every "client" is 127.0.0.1: the signup used one of its two, one more passes, then the shared budget is spent.
  assert.equal((await failedLogin(app, '198.51.100.1')).statusCode, 401);
  assert.equal(
    (await failedLogin(app, '198.51.100.2')).statusCode,
    429,
    'a forged X-Forwarded-For gets no fresh budget',
  );
});
