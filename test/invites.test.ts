// Invites (create, accept, single use, resend, revoke, role ceiling) and claimed email domains (auto-join).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startDnsServer } from './dns-server.ts';
import { as, buildApp, createTenant, everyoneGroupId, testDb, unique } from './helper.ts';
import { browser, lastMail, PASSWORD } from './people-helper.ts';

/** Per-IP limits off: these tests make many logins from one address (the limit has its own test). */
const OPEN = { authRateLimitPerMinute: 0 };

const email = (p = 'invitee') => `${unique(p)}@example.test`;

test('invite → accept creates the user and membership and logs them in; the token works once', async (t) => {
  const { app, services, config } = await buildApp(t, OPEN);
  const tenant = await createTenant(services, config);
  const api = as(app, tenant.key);
  const group = await api('POST', `/api/accounts/${tenant.accountId}/groups`, { name: 'Sales' });
  assert.equal(group.statusCode, 201, group.body);
  const profiles = (await api('GET', `/api/accounts/${tenant.accountId}/permission_profiles`)).json().data;
  const viewer = profiles.find((p: any) => p.name === 'DS Viewer');
  const address = email();
  const inv = await api('POST', '/api/invites', {
    email: address,
    role: 'member',
    account_id: tenant.accountId,
    permission_profile_id: Number(viewer.id),
    group_ids: [Number(group.json().id)],
  });
  assert.equal(inv.statusCode, 201, inv.body);
  assert.equal(inv.json().status, 'pending');
  assert.ok(!('token_hash' in inv.json()));
  const mail = await lastMail(address);
  assert.match(mail.subject, /invited/);

  const noPassword = await app.inject({
    method: 'POST',
    url: '/invites/accept',
    payload: { token: mail.token },
  });
  assert.equal(noPassword.statusCode, 400);
  assert.equal(noPassword.json().error.details[0].field, 'password');

  const b = browser(app);
  const accepted = await b.call('POST', '/invites/accept', {
    token: mail.token,
    password: PASSWORD,
    name: 'New Person',
  });
  assert.equal(accepted.statusCode, 201, accepted.body);
  const body = accepted.json();
  assert.equal(body.created_user, true);
  assert.equal(body.user.email, address);
  assert.equal(body.user.role, 'member');
  assert.ok(body.user.email_verified_at, 'the invite link proves the address');
  assert.equal(body.user.memberships[0].account_id, tenant.accountId);
  assert.equal(Number(body.user.memberships[0].permission_profile_id), Number(viewer.id));
  assert.deepEqual(body.user.memberships[0].group_ids.map(Number), [
    await everyoneGroupId(services, tenant.accountId),
    Number(group.json().id),
  ]);
  assert.equal((await b.call('GET', '/api/users')).statusCode, 200, 'logged in');
  const write = await b.call('POST', '/api/users', { email: email('x') });
  assert.equal(write.statusCode, 403, 'a DS Viewer member cannot write users');
  assert.equal(write.json().error.code, 'permission_denied');

  const again = await app.inject({
    method: 'POST',
    url: '/invites/accept',
    payload: { token: mail.token, password: PASSWORD },
  });
  assert.equal(again.statusCode, 400);
  assert.equal(again.json().error.code, 'invalid_token');

  const listed = await api('GET', '/api/invites?status=accepted');
  assert.ok(
    listed.json().data.some((i: any) => i.id === inv.json().id && i.accepted_user_id === body.user.id),
  );
  const actions = (
    await testDb()
      .db.selectFrom('audit_events')
      .select('action')
      .where('target_id', '=', inv.json().id)
      .execute()
  ).map((e) => e.action);
  assert.deepEqual(actions.sort(), ['invite.accepted', 'invite.created']);
});

test('resend kills the old token; revoke works; statuses list', async (t) => {
  const { app, services, config } = await buildApp(t, OPEN);
  const tenant = await createTenant(services, config);
  const api = as(app, tenant.key);
  const address = email();
  const inv = (
    await api('POST', '/api/invites', { email: address, role: 'admin', account_id: tenant.accountId })
  ).json();
  const dup = await api('POST', '/api/invites', {
    email: address,
    role: 'member',
    account_id: tenant.accountId,
  });
  assert.equal(dup.statusCode, 409);
  const first = await lastMail(address);
  const resent = await api('POST', `/api/invites/${inv.id}/resend`);
  assert.equal(resent.statusCode, 200, resent.body);
  const second = await lastMail(address);
  assert.notEqual(first.token, second.token);
  const old = await app.inject({
    method: 'POST',
    url: '/invites/accept',
    payload: { token: first.token, password: PASSWORD },
  });
  assert.equal(old.statusCode, 400, 'the old token is dead');

  const revoked = await api('DELETE', `/api/invites/${inv.id}`);
  assert.equal(revoked.statusCode, 200);
  assert.equal(revoked.json().status, 'revoked');
  const late = await app.inject({
    method: 'POST',
    url: '/invites/accept',
    payload: { token: second.token, password: PASSWORD },
  });
  assert.equal(late.statusCode, 400);
  assert.equal((await api('POST', `/api/invites/${inv.id}/resend`)).statusCode, 409);

  const exp = (
    await api('POST', '/api/invites', { email: email(), role: 'member', account_id: tenant.accountId })
  ).json();
  await testDb()
    .db.updateTable('invites')
    .set({ expires_at: new Date(Date.now() - 1000) })
    .where('id', '=', exp.id)
    .execute();
  const statuses = new Map((await api('GET', '/api/invites')).json().data.map((i: any) => [i.id, i.status]));
  assert.equal(statuses.get(inv.id), 'revoked');
  assert.equal(statuses.get(exp.id), 'expired');
  assert.deepEqual(
    (await api('GET', '/api/invites?status=expired')).json().data.map((i: any) => i.id),
    [exp.id],
  );

  const other = await createTenant(services, config);
  assert.equal((await as(app, other.key)('DELETE', `/api/invites/${inv.id}`)).statusCode, 404);
});

test('an inviter cannot invite above their own role; an existing user accepts with their password', async (t) => {
  const { app, services, config } = await buildApp(t, OPEN);
  const tenant = await createTenant(services, config);
  const api = as(app, tenant.key);
  const adminEmail = email('admin');
  await api('POST', '/api/invites', { email: adminEmail, role: 'admin', account_id: tenant.accountId });
  const admin = browser(app);
  const acc = await admin.call('POST', '/invites/accept', {
    token: (await lastMail(adminEmail)).token,
    password: PASSWORD,
  });
  assert.equal(acc.statusCode, 201, acc.body);
  assert.equal(acc.json().user.role, 'admin');

  const owner = await admin.call('POST', '/api/invites', {
    email: email(),
    role: 'owner',
    account_id: tenant.accountId,
  });
  assert.equal(owner.statusCode, 403);
  assert.equal(owner.json().error.code, 'permission_denied');
  assert.equal(owner.json().error.details[0].field, 'role');
  const ok = await admin.call('POST', '/api/invites', {
    email: email(),
    role: 'admin',
    account_id: tenant.accountId,
  });
  assert.equal(ok.statusCode, 201, ok.body);

  // An existing user of the organization joins a second account: needs their password (or session).
  const second = (await api('POST', '/api/accounts', { name: 'Second' })).json();
  await api('POST', '/api/invites', { email: adminEmail, role: 'member', account_id: second.id });
  const token = (await lastMail(adminEmail)).token;
  const wrong = await app.inject({
    method: 'POST',
    url: '/invites/accept',
    payload: { token, password: 'wrong password!!' },
  });
  assert.equal(wrong.statusCode, 401);
  assert.equal(wrong.json().error.code, 'invalid_credentials');
  const right = await app.inject({
    method: 'POST',
    url: '/invites/accept',
    payload: { token, password: PASSWORD },
  });
  assert.equal(right.statusCode, 200, right.body);
  assert.equal(right.json().created_user, false);
  assert.equal(right.json().user.role, 'admin', 'an invite never lowers a role');
  assert.deepEqual(
    right
      .json()
      .user.memberships.map((m: any) => m.account_id)
      .sort(),
    [tenant.accountId, second.id].sort(),
  );
});

test('claimed domains: a claim counts once its DNS TXT record is found; unproven claims block and admit nobody', async (t) => {
  const dns = await startDnsServer();
  t.after(() => dns.close());
  const { app, services, config } = await buildApp(t, { ...OPEN, dnsServers: [dns.address] });
  const tenant = await createTenant(services, config);
  const api = as(app, tenant.key);
  const domain = `${unique('acme')}.test`;
  const bad = await api('POST', `/api/organizations/${tenant.organizationId}/domains`, {
    domain: 'gmail.com',
    auto_join: true,
    account_id: tenant.accountId,
  });
  assert.equal(bad.statusCode, 400);
  const claim = await api('POST', `/api/organizations/${tenant.organizationId}/domains`, {
    domain: domain.toUpperCase(),
    auto_join: true,
    account_id: tenant.accountId,
  });
  assert.equal(claim.statusCode, 201, claim.body);
  assert.equal(claim.json().domain, domain);
  assert.equal(claim.json().verified_at, null);
  const token = claim.json().verification_token;
  assert.match(token, /^[0-9a-f]{32}$/);
  assert.deepEqual(claim.json().verification, {
    type: 'TXT',
    name: `_signet-challenge.${domain}`,
    value: `signet-domain-verification=${token}`,
  });
  const again = await api('POST', `/api/organizations/${tenant.organizationId}/domains`, {
    domain,
    auto_join: false,
    account_id: tenant.accountId,
  });
  assert.equal(again.statusCode, 409, 'one claim per domain per organization');

  // An unproven claim blocks nobody: another organization claims the same domain.
  const other = await createTenant(services, config);
  const rival = await as(app, other.key)('POST', `/api/organizations/${other.organizationId}/domains`, {
    domain,
    auto_join: true,
    account_id: other.accountId,
  });
  assert.equal(rival.statusCode, 201, rival.body);
  const foreign = await as(app, other.key)('GET', `/api/organizations/${tenant.organizationId}/domains`);
  assert.equal(foreign.statusCode, 404);

  // ... and admits nobody: a sign-up at the domain makes its own organization.
  const early = await browser(app).call('POST', '/signup', {
    email: `early@${domain}`,
    password: PASSWORD,
    name: 'Early Bird',
    organization_name: unique('Early'),
  });
  assert.equal(early.statusCode, 201, early.body);
  assert.equal(early.json().joined_existing_organization, false, 'an unproven claim auto-joins nobody');

  // Verification asks the configured DNS server, now.
  const verifyUrl = `/api/organizations/${tenant.organizationId}/domains/${claim.json().id}/verify`;
  const missing = await api('POST', verifyUrl);
  assert.equal(missing.statusCode, 422, missing.body);
  assert.equal(missing.json().error.code, 'domain_not_verified');
  assert.ok(missing.json().error.message.includes(`_signet-challenge.${domain}`));
  assert.ok(dns.queries.includes(`_signet-challenge.${domain}`), 'the loopback server was asked');
  dns.records.set(`_signet-challenge.${domain}`, 'servfail');
  const failing = await api('POST', verifyUrl);
  assert.equal(failing.statusCode, 502, failing.body);
  assert.equal(failing.json().error.code, 'dns_lookup_failed');
  // The wrong token (the rival's) does not prove this claim; the right one, among other records, does.
  dns.records.set(`_signet-challenge.${domain}`, [
    [`signet-domain-verification=${rival.json().verification_token}`],
  ]);
  assert.equal((await api('POST', verifyUrl)).statusCode, 422);
  dns.records.set(`_signet-challenge.${domain}`, [
    ['v=spf1 -all'],
    // Split across character-strings, as long TXT records are: one value.
    ['signet-domain-verification=', token],
  ]);
  const verified = await api('POST', verifyUrl);
  assert.equal(verified.statusCode, 200, verified.body);
  assert.ok(verified.json().verified_at);

  // A verified claim is unique: the rival cannot prove its claim, and nobody can claim the domain anew.
  dns.records.set(`_signet-challenge.${domain}`, [
    [`signet-domain-verification=${token}`],
    [`signet-domain-verification=${rival.json().verification_token}`],
  ]);
  const lost = await as(app, other.key)(
    'POST',
    `/api/organizations/${other.organizationId}/domains/${rival.json().id}/verify`,
  );
  assert.equal(lost.statusCode, 409, lost.body);
  assert.equal(lost.json().error.code, 'domain_taken');
  const third = await createTenant(services, config);
  const taken = await as(app, third.key)('POST', `/api/organizations/${third.organizationId}/domains`, {
    domain,
    auto_join: false,
    account_id: third.accountId,
  });
  assert.equal(taken.statusCode, 409);
  assert.equal(taken.json().error.code, 'domain_taken');
  assert.equal(
    (await api('GET', `/api/organizations/${tenant.organizationId}/domains`)).json().data.length,
    1,
  );

  const b = browser(app);
  const address = `someone@${domain}`;
  const res = await b.call('POST', '/signup', {
    email: address,
    password: PASSWORD,
    name: 'Some One',
    organization_name: 'Ignored Inc',
  });
  assert.equal(res.statusCode, 202, res.body);
  assert.equal(res.json().status, 'check_your_mail');
  assert.equal(res.cookies.length, 0, 'no session before the address is proven');
  const joined = await testDb()
    .db.selectFrom('users')
    .selectAll()
    .where('email', '=', address)
    .executeTakeFirstOrThrow();
  assert.equal(joined.organization_id, tenant.organizationId);
  assert.equal(joined.role, 'member');

  const verify = await app.inject({
    method: 'POST',
    url: '/verify_email',
    payload: { token: (await lastMail(address)).token },
  });
  assert.equal(verify.statusCode, 200, verify.body);
  assert.deepEqual(verify.json().activated_accounts, [tenant.accountId]);
  const login = await b.call('POST', '/login', { email: address, password: PASSWORD });
  assert.equal(login.statusCode, 200, login.body);
  const after = await b.call('GET', '/api/users');
  assert.equal(after.statusCode, 200, after.body);

  // Signing up again with the same address answers exactly as for a new one: the person gets a mail.
  const dup = await browser(app).call('POST', '/signup', {
    email: address.toUpperCase(),
    password: `${PASSWORD} other`,
    name: 'Again',
    organization_name: 'Ignored',
  });
  assert.equal(dup.statusCode, res.statusCode, dup.body);
  assert.deepEqual(dup.json(), res.json());
  assert.deepEqual(Object.keys(dup.headers).sort(), Object.keys(res.headers).sort());
  assert.match(
    (await lastMail(address, false)).subject,
    /already have an account/,
    'sent to the stored address',
  );

  const del = await api('DELETE', `/api/organizations/${tenant.organizationId}/domains/${claim.json().id}`);
  assert.equal(del.statusCode, 200);
  const fresh = await browser(app).call('POST', '/signup', {
    email: `another@${domain}`,
    password: PASSWORD,
    name: 'Another',
    organization_name: unique('Own Org'),
  });
  assert.equal(
    fresh.json().joined_existing_organization,
    false,
    'released: sign-up makes a new organization',
  );
  const domainEvents = await testDb()
    .db.selectFrom('audit_events')
    .select('action')
    .where('organization_id', '=', tenant.organizationId)
    .where('action', 'like', 'domain.%')
    .execute();
  assert.deepEqual(domainEvents.map((e) => e.action).sort(), [
    'domain.created',
    'domain.deleted',
    'domain.verified',
  ]);
});

test('SIGNET_DNS_SERVERS: comma-separated IP addresses with optional ports; anything else is refused by name', async () => {
  const { loadConfig, ConfigError } = await import('../src/config.ts');
  assert.deepEqual(loadConfig({}).dnsServers, []);
  assert.deepEqual(
    loadConfig({ SIGNET_DNS_SERVERS: ' 192.0.2.53, 127.0.0.1:5353 ,[::1]:53,2001:db8::53 ' }).dnsServers,
    ['192.0.2.53', '127.0.0.1:5353', '[::1]:53', '2001:db8::53'],
  );
  for (const bad of [
    'dns.example.com',
    '127.0.0.1:99999',
    '127.0.0.1:',
    '[127.0.0.1]:53',
    '1.2.3.4,',
    'udp://1.1.1.1',
  ]) {
    assert.throws(
      () => loadConfig({ SIGNET_DNS_SERVERS: bad }),
      (err: unknown) => err instanceof ConfigError && err.message.startsWith('SIGNET_DNS_SERVERS'),
      bad,
    );
  }
});
