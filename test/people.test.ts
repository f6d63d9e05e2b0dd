// Sign-up, sessions with CSRF, login (no enumeration, throttling), logout, email verification, password
// resets (self-service and admin-triggered), Signet-Account, and `signet mail list`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runSignet } from './cli-helper.ts';
import { as, buildApp, createTenant, testDb, testDbUrl, unique } from './helper.ts';
import { browser, fakeSmtp, lastMail, PASSWORD } from './people-helper.ts';

/** Per-IP limits off: these tests make many logins from one address (the limit has its own test). */
const OPEN = { authRateLimitPerMinute: 0 };

const email = (p = 'person') => `${unique(p)}@example.test`;

async function signup(b: ReturnType<typeof browser>, address: string, password = PASSWORD) {
  return b.call('POST', '/signup', {
    email: address,
    password,
    name: 'Ada Lovelace',
    organization_name: unique('Analytical'),
  });
}

test('signup creates org, account, owner and a session; /api takes the session with CSRF on writes', async (t) => {
  const { app } = await buildApp(t, OPEN);
  const b = browser(app);
  const address = email('ada');
  const res = await signup(b, address);
  assert.equal(res.statusCode, 201, res.body);
  const body = res.json();
  assert.equal(body.user.email, address);
  assert.equal(body.user.role, 'owner');
  assert.equal(body.user.first_name, 'Ada');
  assert.equal(body.user.email_verified_at, null);
  assert.equal(body.joined_existing_organization, false);
  assert.equal(body.account.organization_id, body.organization.id);
  assert.equal(body.user.memberships[0].status, 'active');
  assert.ok(body.csrf_token.length >= 32);
  assert.ok(!('password_hash' in body.user));

  const cookie = res.cookies.find((c) => c.name === 'signet_session')!;
  assert.ok(cookie, 'session cookie set');
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.sameSite, 'Lax');
  assert.equal(cookie.path, '/');
  assert.ok(!cookie.secure, 'not Secure over plain HTTP');
  const stored = await testDb()
    .db.selectFrom('sessions')
    .selectAll()
    .where('user_id', '=', body.user.id)
    .execute();
  assert.equal(stored.length, 1);
  assert.notEqual(stored[0]!.token_hash.toString('base64url'), cookie.value, 'only the hash is stored');
  assert.equal(stored[0]!.idle_timeout_minutes, 20, 'the account setting session_timeout_minutes');

  // Default permission profiles exist and the owner holds DS Admin.
  const profiles = await testDb()
    .db.selectFrom('permission_profiles')
    .select(['id', 'name'])
    .where('account_id', '=', body.account.id)
    .execute();
  assert.deepEqual(profiles.map((p) => p.name).sort(), ['DS Admin', 'DS Sender', 'DS Viewer']);
  const admin = profiles.find((p) => p.name === 'DS Admin')!;
  assert.equal(Number(body.user.memberships[0].permission_profile_id), Number(admin.id));

  const session = await b.call('GET', '/session');
  assert.equal(session.statusCode, 200);
  assert.equal(session.json().csrf_token, body.csrf_token);

  const list = await b.call('GET', '/api/users');
  assert.equal(list.statusCode, 200, list.body);
  assert.equal(list.json().data.length, 1);

  const noCsrf = await b.call('POST', '/api/users', { email: email('x') }, { csrf: false });
  assert.equal(noCsrf.statusCode, 403);
  assert.equal(noCsrf.json().error.code, 'csrf_failed');
  const wrongCsrf = await b.call(
    'POST',
    '/api/users',
    { email: email('x') },
    {
      csrf: false,
      headers: { 'x-csrf-token': 'x'.repeat(43) },
    },
  );
  assert.equal(wrongCsrf.statusCode, 403);
  assert.equal(wrongCsrf.json().error.code, 'csrf_failed');
  const ok = await b.call('POST', '/api/users', { email: email('x') });
  assert.equal(ok.statusCode, 201, ok.body);

  // The audit log names the person, and never the password.
  const events = await testDb()
    .db.selectFrom('audit_events')
    .select(['action', 'actor_type', 'actor_id', 'changes'])
    .where('organization_id', '=', body.organization.id)
    .execute();
  const signupEvent = events.find((e) => e.action === 'signup')!;
  assert.equal(signupEvent.actor_type, 'user');
  assert.equal(signupEvent.actor_id, body.user.id);
  assert.ok(!JSON.stringify(events).includes(PASSWORD));
  assert.ok(!JSON.stringify(events).includes('$argon2'));
  const created = events.find((e) => e.action === 'user.created')!;
  assert.equal(created.actor_id, body.user.id, 'API writes by a session are attributed to the user');
});

test('signup validates: the password policy (12+ characters by default) up to 256, named field', async (t) => {
  const { app } = await buildApp(t, OPEN);
  const short = await signup(browser(app), email(), 'Elevenchar1');
  assert.equal(short.statusCode, 400);
  assert.equal(short.json().error.code, 'password_policy');
  assert.deepEqual(
    short.json().error.details.map((d: { field: string; rule: string }) => [d.field, d.rule]),
    [['password', 'min_length']],
  );
  const long = await signup(browser(app), email(), `Aa1${'x'.repeat(254)}`);
  assert.equal(long.statusCode, 400);
  assert.equal(long.json().error.details[0].field, 'password');
  assert.equal((await signup(browser(app), email(), `Aa1${'x'.repeat(253)}`)).statusCode, 201);
});

test('login: wrong password and unknown email answer identically; logout ends the session', async (t) => {
  const { app } = await buildApp(t, OPEN);
  const address = email('grace');
  await signup(browser(app), address);

  const wrong = await app.inject({
    method: 'POST',
    url: '/login',
    payload: { email: address, password: 'not the password!' },
  });
  const unknown = await app.inject({
    method: 'POST',
    url: '/login',
    payload: { email: email('nobody'), password: 'not the password!' },
  });
  assert.equal(wrong.statusCode, 401);
  assert.equal(unknown.statusCode, 401);
  assert.equal(wrong.body, unknown.body);
  assert.equal(wrong.json().error.code, 'invalid_credentials');
  assert.equal(wrong.cookies.length, 0);

  const b = browser(app);
  const login = await b.call('POST', '/login', { email: address.toUpperCase(), password: PASSWORD });
  assert.equal(login.statusCode, 200, login.body);
  assert.equal(login.json().user.email, address);
  assert.equal((await b.call('GET', '/api/users')).statusCode, 200);

  const noCsrf = await b.call('POST', '/logout', undefined, { csrf: false });
  assert.equal(noCsrf.statusCode, 403);
  const cookie = b.cookie;
  const out = await b.call('POST', '/logout');
  assert.equal(out.statusCode, 204);
  assert.equal(b.cookie, null, 'the cookie is cleared');
  const replay = await app.inject({
    method: 'GET',
    url: '/api/users',
    headers: { cookie: `signet_session=${cookie}` },
  });
  assert.equal(replay.statusCode, 401);
  assert.equal(replay.json().error.code, 'missing_credentials');
  const session = await app.inject({
    method: 'GET',
    url: '/session',
    headers: { cookie: `signet_session=${cookie}` },
  });
  assert.equal(session.statusCode, 401);
});

test('login throttling: 5 failures lock the email (429 + Retry-After), alike for unknown emails', async (t) => {
  const { app } = await buildApp(t, OPEN);
  const address = email('locked');
  await signup(browser(app), address);
  const nobody = email('nobody');
  for (const who of [address, nobody]) {
    for (let i = 0; i < 5; i++) {
      const r = await app.inject({
        method: 'POST',
        url: '/login',
        payload: { email: who, password: `wrong password ${i}` },
      });
      assert.equal(r.statusCode, 401);
    }
  }
  const locked = await app.inject({
    method: 'POST',
    url: '/login',
    payload: { email: address, password: PASSWORD },
  });
  assert.equal(locked.statusCode, 429, 'the right password is refused while locked');
  assert.equal(locked.json().error.code, 'too_many_attempts');
  const retry = Number(locked.headers['retry-after']);
  assert.ok(retry > 0 && retry <= 15 * 60, `Retry-After ${retry}`);
  const lockedUnknown = await app.inject({
    method: 'POST',
    url: '/login',
    payload: { email: nobody, password: PASSWORD },
  });
  assert.equal(lockedUnknown.statusCode, 429);
  assert.equal(lockedUnknown.json().error.code, locked.json().error.code);

  // Once the failures age out of the window, the right password works and clears the count.
  await testDb()
    .db.updateTable('login_failures')
    .set({ at: new Date(Date.now() - 16 * 60_000) })
    .where('email', '=', address)
    .execute();
  const again = await app.inject({
    method: 'POST',
    url: '/login',
    payload: { email: address, password: PASSWORD },
  });
  assert.equal(again.statusCode, 200, again.body);
});

test('login throttling is atomic: 30 parallel wrong passwords let exactly 5 reach the password check', async (t) => {
  const { app } = await buildApp(t, OPEN);
  const address = email('burst');
  await signup(browser(app), address);
  const results = await Promise.all(
    Array.from({ length: 30 }, (_, i) =>
      app.inject({ method: 'POST', url: '/login', payload: { email: address, password: `wrong ${i}` } }),
    ),
  );
  const codes = results.map((r) => r.statusCode);
  assert.equal(codes.filter((c) => c === 401).length, 5, `statuses: ${codes.join(',')}`);
  assert.equal(codes.filter((c) => c === 429).length, 25);
  const counted = await testDb()
    .db.selectFrom('login_failures')
    .select('id')
    .where('email', '=', address.toLowerCase())
    .execute();
  assert.equal(counted.length, 5, 'refused attempts are not counted');
  const locked = await app.inject({
    method: 'POST',
    url: '/login',
    payload: { email: address, password: PASSWORD },
  });
  assert.equal(locked.statusCode, 429, 'the right password is refused while locked');
});

test('email verification: token from the outbox, single use, expires', async (t) => {
  const { app } = await buildApp(t, OPEN);
  const b = browser(app);
  const address = email('verify');
  await signup(b, address);
  const mail = await lastMail(address);
  assert.match(mail.subject, /Confirm your email/);
  assert.ok(mail.html.includes('<a href='));
  const bad = await app.inject({ method: 'POST', url: '/verify_email', payload: { token: 'a'.repeat(43) } });
  assert.equal(bad.statusCode, 400);
  assert.equal(bad.json().error.code, 'invalid_token');
  const ok = await app.inject({ method: 'POST', url: '/verify_email', payload: { token: mail.token } });
  assert.equal(ok.statusCode, 200, ok.body);
  assert.ok((await b.call('GET', '/session')).json().user.email_verified_at);
  const twice = await app.inject({ method: 'POST', url: '/verify_email', payload: { token: mail.token } });
  assert.equal(twice.statusCode, 400);

  const other = email('late');
  await signup(browser(app), other);
  const late = await lastMail(other);
  await testDb()
    .db.updateTable('user_tokens')
    .set({ expires_at: new Date(Date.now() - 1000) })
    .where('purpose', '=', 'email_verification')
    .where('user_id', 'in', (eb) => eb.selectFrom('users').select('id').where('email', '=', other))
    .execute();
  const expired = await app.inject({ method: 'POST', url: '/verify_email', payload: { token: late.token } });
  assert.equal(expired.statusCode, 400);
  const events = await testDb()
    .db.selectFrom('audit_events')
    .select('action')
    .where('action', '=', 'email_verified')
    .execute();
  assert.ok(events.length >= 1);
});

test('password reset: always 202, single-use 30-minute token, ends every session', async (t) => {
  const { app, services } = await buildApp(t, OPEN);
  const address = email('reset');
  const b1 = browser(app);
  const b2 = browser(app);
  await signup(b1, address);
  await b2.call('POST', '/login', { email: address, password: PASSWORD });
  assert.equal((await b2.call('GET', '/session')).statusCode, 200);

  const unknown = await app.inject({
    method: 'POST',
    url: '/password_reset',
    payload: { email: email('nobody') },
  });
  const known = await app.inject({ method: 'POST', url: '/password_reset', payload: { email: address } });
  assert.equal(unknown.statusCode, 202);
  assert.equal(known.statusCode, 202);
  assert.equal(unknown.body, known.body);
  await services.people.flush();
  const mail = await lastMail(address);
  assert.match(mail.subject, /Reset your/);

  const short = await app.inject({
    method: 'POST',
    url: '/password_reset/complete',
    payload: { token: mail.token, password: 'short' },
  });
  assert.equal(short.statusCode, 400);
  assert.equal(short.json().error.details[0].field, 'password');

  const newPassword = 'A brand new passphrase 2';
  const done = await app.inject({
    method: 'POST',
    url: '/password_reset/complete',
    payload: { token: mail.token, password: newPassword },
  });
  assert.equal(done.statusCode, 200, done.body);
  assert.equal((await b1.call('GET', '/session')).statusCode, 401, 'sessions end');
  assert.equal((await b2.call('GET', '/api/users')).statusCode, 401, 'every session');
  const reuse = await app.inject({
    method: 'POST',
    url: '/password_reset/complete',
    payload: { token: mail.token, password: 'yet another passphrase' },
  });
  assert.equal(reuse.statusCode, 400);
  assert.equal(reuse.json().error.code, 'invalid_token');
  const oldPw = await app.inject({
    method: 'POST',
    url: '/login',
    payload: { email: address, password: PASSWORD },
  });
  assert.equal(oldPw.statusCode, 401);
  const newPw = await app.inject({
    method: 'POST',
    url: '/login',
    payload: { email: address, password: newPassword },
  });
  assert.equal(newPw.statusCode, 200);

  // Expiry (30 minutes), simulated by moving the token's clock.
  await app.inject({ method: 'POST', url: '/password_reset', payload: { email: address } });
  await services.people.flush();
  const second = await lastMail(address);
  assert.notEqual(second.token, mail.token);
  const row = await testDb()
    .db.selectFrom('user_tokens')
    .select(['created_at', 'expires_at'])
    .where('purpose', '=', 'password_reset')
    .where('used_at', 'is', null)
    .where('user_id', '=', newPw.json().user.id)
    .executeTakeFirstOrThrow();
  assert.equal(row.expires_at.getTime() - row.created_at.getTime() <= 30 * 60_000 + 5000, true);
  await testDb()
    .db.updateTable('user_tokens')
    .set({ expires_at: new Date(Date.now() - 1000) })
    .where('user_id', '=', newPw.json().user.id)
    .where('purpose', '=', 'password_reset')
    .execute();
  const expired = await app.inject({
    method: 'POST',
    url: '/password_reset/complete',
    payload: { token: second.token, password: 'too late passphrase' },
  });
  assert.equal(expired.statusCode, 400);

  const actions = (
    await testDb()
      .db.selectFrom('audit_events')
      .select(['action', 'changes'])
      .where('organization_id', '=', newPw.json().organization.id)
      .execute()
  ).map((e) => e.action);
  assert.ok(actions.includes('password_reset.requested'));
  assert.ok(actions.includes('password_reset.completed'));
  assert.ok(actions.includes('login'));
});

test('admin-triggered reset: mails the user; a user of another organization is 404', async (t) => {
  const { app, services, config } = await buildApp(t, OPEN);
  const a = await createTenant(services, config);
  const b = await createTenant(services, config);
  const api = as(app, a.key);
  const target = email('target');
  const created = await api('POST', '/api/users', { email: target });
  const id = created.json().id;
  const reset = await api('POST', `/api/users/${id}/password_reset`);
  assert.equal(reset.statusCode, 202, reset.body);
  const mail = await lastMail(target);
  assert.match(mail.text, /administrator/);
  // The user had no password; the link sets one.
  const set = await app.inject({
    method: 'POST',
    url: '/password_reset/complete',
    payload: { token: mail.token, password: 'First password ever 3' },
  });
  assert.equal(set.statusCode, 200);
  assert.equal(
    (
      await app.inject({
        method: 'POST',
        url: '/login',
        payload: { email: target, password: 'First password ever 3' },
      })
    ).statusCode,
    200,
  );

  const foreign = await as(app, b.key)('POST', `/api/users/${id}/password_reset`);
  assert.equal(foreign.statusCode, 404);
  assert.equal(foreign.json().error.code, 'not_found');
});

test('Signet-Account picks another account the user is an active member of; others are refused', async (t) => {
  const { app } = await buildApp(t, OPEN);
  const b = browser(app);
  const res = await signup(b, email('multi'));
  const userId = res.json().user.id;
  const second = await b.call('POST', '/api/accounts', { name: 'Second' });
  assert.equal(second.statusCode, 201, second.body);
  const acct2 = second.json().id;
  const notMember = await b.call('GET', '/session', undefined, { headers: { 'signet-account': acct2 } });
  assert.equal(notMember.statusCode, 403);
  const m = await b.call('POST', `/api/users/${userId}/memberships`, { account_id: acct2 });
  assert.equal(m.statusCode, 201, m.body);
  const inSecond = await b.call('GET', '/session', undefined, { headers: { 'signet-account': acct2 } });
  assert.equal(inSecond.statusCode, 200);
  assert.equal(inSecond.json().account.id, acct2);
  const garbage = await b.call('GET', '/api/users', undefined, { headers: { 'signet-account': 'nope' } });
  assert.equal(garbage.statusCode, 400); // malformed: the caller's mistake, not a refusal
});

test('signet mail list --json prints the outbox', async (t) => {
  const { app } = await buildApp(t, OPEN);
  const address = email('cli');
  await signup(browser(app), address);
  const out = await runSignet(['mail', 'list', '--to', address, '--json'], { DATABASE_URL: testDbUrl() });
  assert.equal(out.code, 0, out.stderr);
  const mails = JSON.parse(out.stdout);
  assert.equal(mails.length, 1);
  assert.equal(mails[0].to, address);
  assert.match(mails[0].subject, /Confirm your email/);
  assert.equal(mails[0].sent_at, null);
  assert.ok(mails[0].html.includes('<html>'));
});

test('per-IP limit on the credential endpoints: 429 rate_limited with Retry-After', async (t) => {
  const { app } = await buildApp(t, { authRateLimitPerMinute: 3 });
  const codes: number[] = [];
  let last: Awaited<ReturnType<typeof app.inject>> | null = null;
  for (let i = 0; i < 4; i++) {
    last = await app.inject({
      method: 'POST',
      url: '/login',
      payload: { email: email(`ip${i}`), password: 'whatever password' },
    });
    codes.push(last.statusCode);
  }
  assert.deepEqual(codes, [401, 401, 401, 429]);
  assert.equal(last!.json().error.code, 'rate_limited');
  assert.ok(Number(last!.headers['retry-after']) > 0);
  const reset = await app.inject({ method: 'POST', url: '/password_reset', payload: { email: email() } });
  assert.equal(reset.statusCode, 429, 'one budget per IP across the credential endpoints');
});

test('with SMTP_URL, mail goes to the SMTP server and the outbox row records sent_at', async (t) => {
  const smtp = await fakeSmtp(t);
  const { app, services } = await buildApp(t, { ...OPEN, smtpUrl: smtp.url });
  const address = email('smtp');
  assert.equal((await signup(browser(app), address)).statusCode, 201);
  await services.mailer.flush();
  const row = await testDb()
    .db.selectFrom('outbox_mail')
    .selectAll()
    .where('to', '=', address)
    .executeTakeFirstOrThrow();
  assert.ok(row.sent_at, 'sent_at is set once the server accepted the message');
  assert.equal(row.secret, null, 'once SMTP has the mail, the outbox keeps no copy of its link token');
  assert.ok(!smtp.received().includes('signet-link-token'), 'the mail went out with its token put in');
  assert.ok(smtp.received().includes(`RCPT TO:<${address}>`), smtp.received());
  assert.ok(smtp.received().includes('Confirm your email'));
});
