// Sign-in (docs/people-and-sessions.md): the password policy at every place a password is chosen, TOTP
// two-step verification (RFC 6238 vectors, enrolment, login, replay, recovery codes, admin reset),
// mfa_required, the session list, password change and activation (API, bulk resend, import).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'kysely';
import { Secret } from 'otpauth';
import { TOTP_PERIOD, totpAt, totpStep } from '../src/core/auth/mfa.ts';
import { isCommonPassword, strictest, unmetRules } from '../src/core/auth/password-policy.ts';
import { systemPrincipal } from '../src/core/principal.ts';
import { as, buildApp, createTenant, testDb, unique } from './helper.ts';
import { importCsv, runWorker } from './imports-helper.ts';
import { type Browser, browser, lastMail, PASSWORD } from './people-helper.ts';

const OPEN = { authRateLimitPerMinute: 0 };
const email = (p = 'person') => `${unique(p)}@example.test`;

/** The code an authenticator app shows for `base32` at `at` (ms). */
const codeAt = (base32: string, at = Date.now()) => totpAt(Secret.fromBase32(base32).bytes, at);

async function signup(b: Browser, address: string, password = PASSWORD) {
  return b.call('POST', '/signup', {
    email: address,
    password,
    name: 'Ada Lovelace',
    organization_name: unique('Org'),
  });
}

function rules(res: { json(): any }): string[] {
  return res.json().error.details.map((d: { rule: string }) => d.rule);
}

test('TOTP: the RFC 6238 appendix B test vectors, and the drift window', () => {
  // RFC 6238 appendix B: the seeds are the ASCII of "1234567890" repeated to the hash's size.
  const seed = (n: number) => Buffer.from('1234567890'.repeat(7).slice(0, n), 'ascii');
  const vectors: [number, string, string, string][] = [
    [59, '94287082', '46119246', '90693936'],
    [1111111109, '07081804', '68084774', '25091201'],
    [1111111111, '14050471', '67062674', '99943326'],
    [1234567890, '89005924', '91819424', '93441116'],
    [2000000000, '69279037', '90698825', '38618901'],
    [20000000000, '65353130', '77737706', '47863826'],
  ];
  for (const [seconds, sha1, sha256, sha512] of vectors) {
    const at = seconds * 1000;
    assert.equal(totpAt(seed(20), at, { digits: 8 }), sha1, `SHA1 at ${seconds}`);
    assert.equal(totpAt(seed(32), at, { digits: 8, algorithm: 'SHA256' }), sha256, `SHA256 at ${seconds}`);
    assert.equal(totpAt(seed(64), at, { digits: 8, algorithm: 'SHA512' }), sha512, `SHA512 at ${seconds}`);
  }
  // Signet's codes: 6 digits (the last 6 of the 8-digit value, RFC 4226's truncation modulo 10^6).
  assert.equal(totpAt(seed(20), 59_000), '287082');
  // One step of drift either way is accepted, two are not; the step returned is the code's.
  const secret = new Secret({ size: 20 }).base32;
  const now = 1_700_000_015_000;
  const step = Math.floor(now / 1000 / TOTP_PERIOD);
  for (const d of [-1, 0, 1]) {
    assert.equal(totpStep(secret, codeAt(secret, now + d * TOTP_PERIOD * 1000), now), step + d);
  }
  for (const d of [-2, 2]) {
    assert.equal(totpStep(secret, codeAt(secret, now + d * TOTP_PERIOD * 1000), now), null);
  }
  assert.equal(totpStep(secret, 'abcdef', now), null);
});

test('password policy: each rule in words, the strictest of several accounts, the common-password list', () => {
  const policy = { min_length: 14, require_mixed_case: true, require_digit: true, require_symbol: true };
  const details = unmetRules(policy, 'short');
  assert.deepEqual(
    details.map((d) => d.rule),
    ['min_length', 'require_mixed_case', 'require_digit', 'require_symbol'],
  );
  assert.equal(details[0]!.message, 'at least 14 characters');
  assert.ok(details.every((d) => d.field === 'password' && d.message.length > 5));
  assert.deepEqual(unmetRules(policy, 'Long enough pass 1!'), []);
  assert.ok(isCommonPassword('Password1234') && isCommonPassword('QWERTY123456'));
  assert.ok(!isCommonPassword('Correct horse battery staple 1'));
  assert.deepEqual(
    unmetRules({ ...policy, require_symbol: false }, 'Qwerty123456').map((d) => d.rule),
    ['min_length', 'common_password'],
  );
  assert.deepEqual(
    unmetRules({ ...policy, min_length: 8 }, 'Ada@example.test1', 'ada@example.test1').map((d) => d.rule),
    ['not_email'],
  );
  assert.deepEqual(
    strictest([
      { min_length: 10, require_mixed_case: false, require_digit: true, require_symbol: false },
      { min_length: 16, require_mixed_case: true, require_digit: false, require_symbol: false },
    ]),
    { min_length: 16, require_mixed_case: true, require_digit: true, require_symbol: false },
  );
});

test('password policy at sign-up, reset completion, invite acceptance and password change', async (t) => {
  const { app, services } = await buildApp(t, OPEN);
  // Sign-up: the default policy (12, mixed case, digit) and the common list.
  const common = await signup(browser(app), email(), 'Qwerty123456');
  assert.equal(common.statusCode, 400);
  assert.equal(common.json().error.code, 'password_policy');
  assert.deepEqual(rules(common), ['common_password']);
  assert.deepEqual(rules(await signup(browser(app), email(), 'all lower case and long')), [
    'require_mixed_case',
    'require_digit',
  ]);

  const owner = browser(app);
  const address = email('owner');
  const s = (await signup(owner, address)).json();
  // The account asks for more: 16 characters and a symbol.
  const patched = await owner.call('PATCH', `/api/accounts/${s.account.id}/settings`, {
    password_policy: { min_length: 16, require_symbol: true },
  });
  assert.equal(patched.statusCode, 200, patched.body);
  assert.deepEqual((await owner.call('GET', '/api/me/password_policy')).json(), {
    min_length: 16,
    require_mixed_case: true,
    require_digit: true,
    require_symbol: true,
  });

  // Password change: the current password proves it is you, the new one meets the account's policy.
  const wrongCurrent = await owner.call('POST', '/api/me/password', {
    current_password: 'Not my password 1',
    password: 'A much longer one 1!',
  });
  assert.equal(wrongCurrent.statusCode, 400);
  assert.equal(wrongCurrent.json().error.code, 'invalid_current_password');
  const weak = await owner.call('POST', '/api/me/password', {
    current_password: PASSWORD,
    password: 'Short one 1',
  });
  assert.equal(weak.statusCode, 400);
  assert.deepEqual(rules(weak), ['min_length', 'require_symbol']);
  const other = browser(app);
  assert.equal((await other.call('POST', '/login', { email: address, password: PASSWORD })).statusCode, 200);
  const changed = await owner.call('POST', '/api/me/password', {
    current_password: PASSWORD,
    password: 'A much longer one 1!',
  });
  assert.equal(changed.statusCode, 204, changed.body);
  assert.equal((await other.call('GET', '/session')).statusCode, 401, 'the other session ended');
  assert.equal((await owner.call('GET', '/session')).statusCode, 200, 'this one stays');
  const relogin = await browser(app).call('POST', '/login', {
    email: address,
    password: 'A much longer one 1!',
  });
  assert.equal(relogin.statusCode, 200);

  // Reset completion: the same policy.
  services.people.requestPasswordReset(address, {});
  await services.people.flush();
  const reset = await lastMail(address);
  const weakReset = await app.inject({
    method: 'POST',
    url: '/password_reset/complete',
    payload: { token: reset.token, password: 'Only12chars1' },
  });
  assert.equal(weakReset.statusCode, 400);
  assert.deepEqual(rules(weakReset), ['min_length', 'require_symbol']);
  const goodReset = await app.inject({
    method: 'POST',
    url: '/password_reset/complete',
    payload: { token: reset.token, password: 'Reset to something 2#' },
  });
  assert.equal(goodReset.statusCode, 200, goodReset.body);

  // Invite acceptance by a new person: the invite's account's policy.
  const invitee = email('invitee');
  assert.equal(
    (await owner.call('POST', '/api/invites', { email: invitee, role: 'member', account_id: s.account.id }))
      .statusCode,
    401,
    'the reset ended the owner session',
  );
  const again = browser(app);
  await again.call('POST', '/login', { email: address, password: 'Reset to something 2#' });
  const invite = await again.call('POST', '/api/invites', {
    email: invitee,
    role: 'member',
    account_id: s.account.id,
  });
  assert.equal(invite.statusCode, 201, invite.body);
  const inviteMail = await lastMail(invitee);
  const weakAccept = await app.inject({
    method: 'POST',
    url: '/invites/accept',
    payload: { token: inviteMail.token, password: PASSWORD },
  });
  assert.equal(weakAccept.statusCode, 400);
  assert.deepEqual(rules(weakAccept), ['require_symbol']);
  const accepted = await app.inject({
    method: 'POST',
    url: '/invites/accept',
    payload: { token: inviteMail.token, password: `${PASSWORD}!xyz` },
  });
  assert.equal(accepted.statusCode, 201, accepted.body);

  const actions = await auditActions(s.organization.id);
  assert.ok(actions.includes('password.changed'));
  assert.ok(actions.includes('session.revoked'));
});

async function auditActions(orgId: string): Promise<string[]> {
  const rows = await testDb()
    .db.selectFrom('audit_events')
    .select('action')
    .where('organization_id', '=', orgId)
    .execute();
  return rows.map((r) => r.action);
}

/** Signs up and enrols TOTP; returns the browser, the secret, the recovery codes and the signup answer. */
async function enrolled(app: Parameters<typeof browser>[0]) {
  const b = browser(app);
  const address = email('mfa');
  const s = (await signup(b, address)).json();
  const start = await b.call('POST', '/api/me/mfa/totp');
  assert.equal(start.statusCode, 200, start.body);
  const { secret, otpauth_uri } = start.json();
  assert.match(otpauth_uri, /^otpauth:\/\/totp\/Signet:.+\?.*secret=[A-Z2-7]+/);
  assert.match(otpauth_uri, /issuer=Signet/);
  const wrong = await b.call('POST', '/api/me/mfa/totp/confirm', {
    code: codeAt(secret, Date.now() - 5 * 60_000),
  });
  assert.equal(wrong.statusCode, 400);
  assert.equal(wrong.json().error.code, 'invalid_mfa_code');
  // The code of the previous step: later logins use the current one (no code is accepted twice).
  const confirm = await b.call('POST', '/api/me/mfa/totp/confirm', {
    code: codeAt(secret, Date.now() - TOTP_PERIOD * 1000),
  });
  assert.equal(confirm.statusCode, 200, confirm.body);
  const codes: string[] = confirm.json().recovery_codes;
  return { b, address, secret, codes, s };
}

test('TOTP: enrolment, login in two steps, replay refused, recovery codes single use, turning it off', async (t) => {
  const { app } = await buildApp(t, OPEN);
  const { b, address, secret, codes, s } = await enrolled(app);
  assert.equal(codes.length, 10);
  assert.equal(new Set(codes).size, 10);
  assert.ok(codes.every((c) => /^[a-z2-9]{5}-[a-z2-9]{5}$/.test(c)));
  const status = (await b.call('GET', '/api/me/mfa')).json();
  assert.equal(status.enabled, true);
  assert.equal(status.recovery_codes_remaining, 10);
  assert.equal((await b.call('POST', '/api/me/mfa/totp')).json().error.code, 'mfa_already_enabled');
  // The secret is not kept in the clear anywhere an API answer reads it.
  const me = await b.call('GET', `/api/users/${s.user.id}`);
  assert.equal(me.json().mfa_enabled, true);
  assert.ok(!me.body.includes(secret));

  // Login: the password gives an mfa_token and no cookie.
  const c = browser(app);
  const first = await c.call('POST', '/login', { email: address, password: PASSWORD });
  assert.equal(first.statusCode, 200, first.body);
  assert.equal(first.json().mfa_required, true);
  assert.equal(first.cookies.length, 0);
  assert.equal(c.cookie, null);
  const token = first.json().mfa_token;
  const bad = await c.call('POST', '/login/mfa', { mfa_token: token, code: '000000' });
  assert.equal(bad.statusCode, 400);
  assert.equal(bad.json().error.code, 'invalid_mfa_code');
  const code = codeAt(secret);
  const ok = await c.call('POST', '/login/mfa', { mfa_token: token, code });
  assert.equal(ok.statusCode, 200, ok.body);
  assert.equal(ok.json().user.email, address);
  assert.equal(ok.json().mfa_enrollment_required, false);
  assert.ok(c.cookie);
  assert.equal((await c.call('GET', '/api/users')).statusCode, 200);
  // The token is spent; the same code on a fresh token is a replay.
  assert.equal(
    (await c.call('POST', '/login/mfa', { mfa_token: token, code })).json().error.code,
    'invalid_token',
  );
  const d = browser(app);
  const second = (await d.call('POST', '/login', { email: address, password: PASSWORD })).json();
  const replay = await d.call('POST', '/login/mfa', { mfa_token: second.mfa_token, code });
  assert.equal(replay.statusCode, 400);
  assert.equal(replay.json().error.code, 'invalid_mfa_code');

  // A recovery code works once (any case, dashes optional).
  const viaRecovery = await d.call('POST', '/login/mfa', {
    mfa_token: second.mfa_token,
    code: codes[0]!.toUpperCase().replace('-', ''),
  });
  assert.equal(viaRecovery.statusCode, 200, viaRecovery.body);
  const e = browser(app);
  const third = (await e.call('POST', '/login', { email: address, password: PASSWORD })).json();
  const reused = await e.call('POST', '/login/mfa', { mfa_token: third.mfa_token, code: codes[0] });
  assert.equal(reused.json().error.code, 'invalid_mfa_code');
  assert.equal((await b.call('GET', '/api/me/mfa')).json().recovery_codes_remaining, 9);

  // New recovery codes: the old ones stop working.
  const regen = await b.call('POST', '/api/me/mfa/recovery_codes', { code: codes[1] });
  assert.equal(regen.statusCode, 200, regen.body);
  const fresh: string[] = regen.json().recovery_codes;
  assert.equal(
    (await e.call('POST', '/login/mfa', { mfa_token: third.mfa_token, code: codes[2] })).statusCode,
    400,
  );
  assert.equal(
    (await e.call('POST', '/login/mfa', { mfa_token: third.mfa_token, code: fresh[0] })).statusCode,
    200,
  );

  // Turning it off needs a code; then the password alone signs in.
  assert.equal((await b.call('DELETE', '/api/me/mfa', { code: '123456' })).statusCode, 400);
  assert.equal((await b.call('DELETE', '/api/me/mfa', { code: fresh[1] })).statusCode, 204);
  const plain = await browser(app).call('POST', '/login', { email: address, password: PASSWORD });
  assert.equal(plain.json().user.email, address);
  const actions = await auditActions(s.organization.id);
  for (const a of [
    'mfa.enrolled',
    'mfa.recovery_code_used',
    'mfa.recovery_codes_regenerated',
    'mfa.disabled',
  ])
    assert.ok(actions.includes(a), a);
});

test('TOTP: wrong codes count like wrong passwords (5 lock the email)', async (t) => {
  const { app } = await buildApp(t, OPEN);
  const { address } = await enrolled(app);
  const c = browser(app);
  const { mfa_token } = (await c.call('POST', '/login', { email: address, password: PASSWORD })).json();
  const answers: number[] = [];
  for (let i = 0; i < 5; i++)
    answers.push((await c.call('POST', '/login/mfa', { mfa_token, code: '000000' })).statusCode);
  // The password step counted once, so the fifth attempt is the one refused.
  assert.deepEqual(answers, [400, 400, 400, 400, 429]);
  const locked = await browser(app).call('POST', '/login', { email: address, password: PASSWORD });
  assert.equal(locked.statusCode, 429);
});

test('an admin resets a user’s two-step verification, within the reach rule', async (t) => {
  const { app, services, config } = await buildApp(t, OPEN);
  const tenant = await createTenant(services, config);
  const api = as(app, tenant.key);
  // The owner signs in with a password set for the test, and enrols.
  const ownerEmail = (await api('GET', `/api/users/${tenant.ownerId}`)).json().email;
  services.people.requestPasswordReset(ownerEmail, {});
  await services.people.flush();
  const reset = await lastMail(ownerEmail);
  await app.inject({
    method: 'POST',
    url: '/password_reset/complete',
    payload: { token: reset.token, password: PASSWORD },
  });
  const owner = browser(app);
  assert.equal(
    (await owner.call('POST', '/login', { email: ownerEmail, password: PASSWORD })).statusCode,
    200,
  );
  const { secret } = (await owner.call('POST', '/api/me/mfa/totp')).json();
  assert.equal(
    (await owner.call('POST', '/api/me/mfa/totp/confirm', { code: codeAt(secret) })).statusCode,
    200,
  );

  // An admin may not reset an owner; a member key with users:write neither.
  const admin = await api('POST', '/api/users', { email: email('admin'), role: 'admin' });
  const adminKey = await services.apiKeys.create(
    { principal: systemPrincipal(tenant.organizationId, 'test'), meta: {} },
    { name: 'admin', account_id: tenant.accountId, created_by: admin.json().id, role: 'admin' },
  );
  const asAdmin = as(app, adminKey.key);
  const refused = await asAdmin('DELETE', `/api/users/${tenant.ownerId}/mfa`);
  assert.equal(refused.statusCode, 403, refused.body);
  // Another organization: 404.
  const other = await createTenant(services, config);
  assert.equal((await as(app, other.key)('DELETE', `/api/users/${tenant.ownerId}/mfa`)).statusCode, 404);
  // The owner's key may.
  assert.equal((await api('DELETE', `/api/users/${tenant.ownerId}/mfa`)).statusCode, 204);
  assert.equal((await api('GET', `/api/users/${tenant.ownerId}`)).json().mfa_enabled, false);
  const plain = await browser(app).call('POST', '/login', { email: ownerEmail, password: PASSWORD });
  assert.equal(plain.json().mfa_required, undefined);
  assert.ok((await auditActions(tenant.organizationId)).includes('mfa.reset'));
});

test('mfa_required: a session without MFA reaches only /session, /logout and /api/me/mfa until it enrols', async (t) => {
  const { app } = await buildApp(t, OPEN);
  const owner = browser(app);
  const address = email('strict');
  const s = (await signup(owner, address)).json();
  assert.equal(s.mfa_enrollment_required, false);
  assert.equal(
    (await owner.call('PATCH', `/api/accounts/${s.account.id}/settings`, { mfa_required: true })).statusCode,
    200,
  );
  // Applies at once to the open session, and to a new login.
  const blocked = await owner.call('GET', '/api/users');
  assert.equal(blocked.statusCode, 403);
  assert.equal(blocked.json().error.code, 'mfa_enrollment_required');
  const b = browser(app);
  const login = await b.call('POST', '/login', { email: address, password: PASSWORD });
  assert.equal(login.statusCode, 200);
  assert.equal(login.json().mfa_enrollment_required, true);
  assert.ok(b.cookie, 'the session is set');
  assert.equal((await b.call('GET', '/session')).json().mfa_enrollment_required, true);
  for (const [method, url] of [
    ['GET', '/api/me'],
    ['GET', '/api/me/sessions'],
    ['GET', `/api/accounts/${s.account.id}/settings`],
  ] as const) {
    const res = await b.call(method, url);
    assert.equal(res.json().error?.code, 'mfa_enrollment_required', url);
  }
  assert.equal((await b.call('GET', '/api/me/mfa')).statusCode, 200);
  const { secret } = (await b.call('POST', '/api/me/mfa/totp')).json();
  assert.equal((await b.call('POST', '/api/me/mfa/totp/confirm', { code: codeAt(secret) })).statusCode, 200);
  assert.equal((await b.call('GET', '/session')).json().mfa_enrollment_required, false);
  assert.equal((await b.call('GET', '/api/users')).statusCode, 200);
  // API keys are not a person signing in: unaffected.
  assert.equal((await b.call('POST', '/logout')).statusCode, 204);
});

test('password_policy.max_age_days: an expired password holds the session to the change, at sign-in and in open sessions', async (t) => {
  const { app } = await buildApp(t, OPEN);
  const owner = browser(app);
  const address = email('aged');
  const s = (await signup(owner, address)).json();
  assert.equal(s.password_change_required, false);
  const changedAt = async () =>
    (
      await testDb()
        .db.selectFrom('users')
        .select('password_changed_at')
        .where('id', '=', s.user.id)
        .executeTakeFirstOrThrow()
    ).password_changed_at;
  const setAt = (await changedAt())!;
  assert.ok(Date.now() - setAt.getTime() < 60_000, 'the database records when the password was set');
  const patched = await owner.call('PATCH', `/api/accounts/${s.account.id}/settings`, {
    password_policy: { max_age_days: 90 },
  });
  assert.equal(patched.statusCode, 200, patched.body);
  assert.equal((await owner.call('GET', '/api/users')).statusCode, 200, 'a fresh password is not expired');

  // 91 days later (the clock moved by moving the date back).
  await testDb()
    .db.updateTable('users')
    .set({ password_changed_at: new Date(Date.now() - 91 * 86_400_000) } as never)
    .where('id', '=', s.user.id)
    .execute();
  const open = await owner.call('GET', '/api/users');
  assert.equal(open.statusCode, 403, 'the open session is held to the change too');
  assert.equal(open.json().error.code, 'password_expired');

  // Signing in still works (the password is right) and says what to do.
  const b = browser(app);
  const login = await b.call('POST', '/login', { email: address, password: PASSWORD });
  assert.equal(login.statusCode, 200, login.body);
  assert.equal(login.json().password_change_required, true);
  assert.equal((await b.call('GET', '/session')).json().password_change_required, true);
  for (const url of [
    '/api/me',
    '/api/me/sessions',
    '/api/me/mfa',
    `/api/accounts/${s.account.id}/settings`,
  ]) {
    const res = await b.call('GET', url);
    assert.equal(res.statusCode, 403, url);
    assert.equal(res.json().error.code, 'password_expired', url);
    assert.match(res.json().error.message, /POST \/api\/me\/password/, url);
  }
  assert.equal((await b.call('GET', '/api/me/password_policy')).statusCode, 200);
  // mfa_required as well: the password comes first, the enrolment after.
  await testDb()
    .db.updateTable('account_settings')
    .set({ values: sql`values || '{"mfa_required": true}'::jsonb` })
    .where('account_id', '=', s.account.id)
    .execute();
  const same = await b.call('POST', '/api/me/password', { current_password: PASSWORD, password: PASSWORD });
  assert.equal(same.statusCode, 400);
  assert.deepEqual(rules(same), ['not_current']);
  const fresh = 'A brand new passphrase 2027';
  const changed = await b.call('POST', '/api/me/password', { current_password: PASSWORD, password: fresh });
  assert.equal(changed.statusCode, 204, changed.body);
  assert.ok((await changedAt())!.getTime() > Date.now() - 60_000, 'the change resets the age');
  const after = (await b.call('GET', '/session')).json();
  assert.equal(after.password_change_required, false);
  assert.equal(after.mfa_enrollment_required, true);
  assert.equal((await b.call('GET', '/api/users')).json().error.code, 'mfa_enrollment_required');

  // 0 means never: an old password with max_age_days 0 is not expired.
  await testDb()
    .db.updateTable('account_settings')
    .set({ values: sql`values || '{"mfa_required": false, "password_policy": {"max_age_days": 0}}'::jsonb` })
    .where('account_id', '=', s.account.id)
    .execute();
  await testDb()
    .db.updateTable('users')
    .set({ password_changed_at: new Date(Date.now() - 5000 * 86_400_000) } as never)
    .where('id', '=', s.user.id)
    .execute();
  assert.equal((await b.call('GET', '/api/users')).statusCode, 200);
});

test('sessions: list with the current one marked, end one, end the others; only a session may', async (t) => {
  const { app, services, config } = await buildApp(t, OPEN);
  const a = browser(app);
  const address = email('multi');
  await signup(a, address);
  const b = browser(app);
  const c = browser(app);
  for (const x of [b, c])
    await x.call(
      'POST',
      '/login',
      { email: address, password: PASSWORD },
      { headers: { 'user-agent': 'Phone/1' } },
    );
  const list = (await a.call('GET', '/api/me/sessions')).json().data;
  assert.equal(list.length, 3);
  assert.equal(list.filter((x: { current: boolean }) => x.current).length, 1);
  assert.ok(list.some((x: { user_agent: string | null }) => x.user_agent === 'Phone/1'));
  for (const key of ['id', 'created_at', 'last_seen_at', 'expires_at', 'ip', 'user_agent', 'current'])
    assert.ok(key in list[0], key);
  const bId = (await b.call('GET', '/api/me/sessions'))
    .json()
    .data.find((x: { current: boolean }) => x.current).id;
  assert.equal((await a.call('DELETE', `/api/me/sessions/${bId}`)).statusCode, 204);
  assert.equal((await b.call('GET', '/session')).statusCode, 401);
  assert.equal((await a.call('DELETE', `/api/me/sessions/${bId}`)).statusCode, 404, 'ended already');
  const ended = await a.call('POST', '/api/me/sessions/revoke_others');
  assert.deepEqual(ended.json(), { ended: 1 });
  assert.equal((await c.call('GET', '/session')).statusCode, 401);
  assert.equal((await a.call('GET', '/api/me/sessions')).json().data.length, 1);
  // Another person's session is not yours to end.
  const other = browser(app);
  await signup(other, email('other'));
  const otherId = (await other.call('GET', '/api/me/sessions')).json().data[0].id;
  assert.equal((await a.call('DELETE', `/api/me/sessions/${otherId}`)).statusCode, 404);
  // An API key does not reach a person's own routes.
  const tenant = await createTenant(services, config);
  const res = await as(app, tenant.key)('GET', '/api/me/sessions');
  assert.equal(res.statusCode, 403);
  assert.equal(res.json().error.code, 'permission_denied');
});

test('activation: POST /api/users send_activation, the link, the policy, bulk resend, and an import', async (t) => {
  const { app, services, config } = await buildApp(t, OPEN);
  await runWorker(t, config);
  const tenant = await createTenant(services, config);
  const api = as(app, tenant.key);
  const address = email('new');
  const created = await api('POST', '/api/users', {
    email: address,
    first_name: 'Nia',
    send_activation: true,
    membership_status: 'pending',
  });
  assert.equal(created.statusCode, 201, created.body);
  const userId = created.json().id;
  const mail = await lastMail(address);
  assert.match(mail.subject, /Activate your/);
  assert.match(mail.text, /\/activate#token=/);
  assert.match(mail.text, /expires in 7 days/);

  const weak = await app.inject({
    method: 'POST',
    url: '/activate',
    payload: { token: mail.token, password: 'weak' },
  });
  assert.equal(weak.statusCode, 400);
  assert.equal(weak.json().error.code, 'password_policy');
  const b = browser(app);
  const done = await b.call('POST', '/activate', { token: mail.token, password: PASSWORD });
  assert.equal(done.statusCode, 200, done.body);
  assert.ok(b.cookie);
  assert.equal(done.json().user.id, userId);
  assert.ok(done.json().user.email_verified_at);
  assert.equal(done.json().user.memberships[0].status, 'active', 'the pending membership is active');
  const again = await app.inject({
    method: 'POST',
    url: '/activate',
    payload: { token: mail.token, password: PASSWORD },
  });
  assert.equal(again.json().error.code, 'invalid_token');

  // Bulk resend: users with a password are skipped; a new mail ends the earlier link.
  const waiting = (await api('POST', '/api/users', { email: email('wait'), send_activation: true })).json();
  const firstLink = await lastMail(waiting.email);
  const resent = await api('POST', '/api/users/activation_mails', { user_ids: [userId, waiting.id] });
  assert.equal(resent.statusCode, 200, resent.body);
  assert.deepEqual(resent.json(), {
    sent: [waiting.id],
    skipped: [{ user_id: userId, reason: 'already_activated' }],
  });
  const stale = await app.inject({
    method: 'POST',
    url: '/activate',
    payload: { token: firstLink.token, password: PASSWORD },
  });
  assert.equal(stale.json().error.code, 'invalid_token');
  const other = await createTenant(services, config);
  assert.equal(
    (await as(app, other.key)('POST', '/api/users/activation_mails', { user_ids: [waiting.id] })).statusCode,
    404,
  );

  // An import: SendActivationEmail true mails the new user, false does not.
  const yes = email('imported');
  const no = email('quiet');
  const finished = await importCsv(
    api,
    `account_id=${tenant.accountId}&operation=add`,
    `UserEmail,UserName,PermissionSet,SendActivationEmail\n${yes},Imp Orted,DS Viewer,true\n${no},Qui Et,DS Viewer,false\n`,
  );
  assert.equal(finished.status, 'completed', JSON.stringify(finished));
  const importedMail = await lastMail(yes);
  assert.match(importedMail.subject, /Activate your/);
  const quiet = await testDb().db.selectFrom('outbox_mail').select('id').where('to', '=', no).execute();
  assert.equal(quiet.length, 0);
  const activated = await browser(app).call('POST', '/activate', {
    token: importedMail.token,
    password: PASSWORD,
  });
  assert.equal(activated.statusCode, 200, activated.body);
  assert.equal(activated.json().user.email, yes);
  // eSignature's UsersApi.create with sendActivationEmail ("true", a string there).
  const viaEsign = email('esign');
  const esign = await api('POST', `/restapi/v2.1/accounts/${tenant.accountId}/users`, {
    newUsers: [{ email: viaEsign, userName: 'E Sign', sendActivationEmail: 'true' }],
  });
  assert.equal(esign.statusCode, 201, esign.body);
  assert.match((await lastMail(viaEsign)).subject, /Activate your/);
  const actions = await auditActions(tenant.organizationId);
  assert.ok(actions.includes('user.activation_sent'));
  assert.ok(actions.includes('user.activated'));
});
