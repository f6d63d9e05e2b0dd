// Access tokens are the one principal model (src/core/oauth/tokens.ts): the user's role, membership and profile
// in the account the request acts in, cut down to the token's scopes; a client_credentials token acts as its
// integration with its creator's powers; writes are audited as whoever acted, through which integration.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { as, buildApp, createTenant, unique } from './helper.ts';
import { assertion, basic, consent, FORM, form, JWT_BEARER, makeIntegration } from './oauth-helper.ts';

async function setup(t: Parameters<typeof buildApp>[0]) {
  const built = await buildApp(t);
  const tenant = await createTenant(built.services, built.config);
  const integration = await makeIntegration(built.app, tenant);
  const owner = as(built.app, tenant.key);
  const jwtToken = async (userId: string, scope = 'signature impersonation') => {
    const res = await built.app.inject({
      method: 'POST',
      url: '/oauth/token',
      headers: FORM,
      payload: form({
        grant_type: JWT_BEARER,
        assertion: await assertion(integration, { sub: userId, aud: built.config.oauthAudience, scope }),
      }),
    });
    assert.equal(res.statusCode, 200, res.body);
    return res.json().access_token as string;
  };
  return { ...built, tenant, integration, owner, jwtToken };
}

test('a client_credentials token acts as its integration, with its creator\u2019s powers cut to its scopes', async (t) => {
  const s = await setup(t);
  const res = await s.app.inject({
    method: 'POST',
    url: '/oauth/token',
    headers: { ...FORM, authorization: basic(s.integration) },
    payload: form({ grant_type: 'client_credentials', scope: 'user_read user_write' }),
  });
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(res.json().expires_in, 3600);
  assert.equal(res.json().refresh_token, undefined);
  const call = as(s.app, res.json().access_token);
  const me = (await call('GET', '/api/me')).json();
  assert.equal(me.type, 'integration');
  assert.equal(me.id, s.integration.id);
  assert.equal(me.role, 'owner');
  assert.deepEqual(me.permissions, ['users:read', 'users:write']);
  const created = await call('POST', '/api/users', {
    email: `${unique('cc')}@example.test`,
    account_id: s.tenant.accountId,
  });
  assert.equal(created.statusCode, 201, created.body);
  const event = await s.services.db
    .selectFrom('audit_events')
    .selectAll()
    .where('action', '=', 'user.created')
    .where('target_id', '=', created.json().id)
    .executeTakeFirstOrThrow();
  assert.equal(event.actor_type, 'integration');
  assert.equal(event.actor_id, s.integration.id);
  // Twenty at once: written together (one INSERT for the tokens of one event-loop turn), each stored before
  // it is answered, each its own.
  const many = await Promise.all(
    Array.from({ length: 20 }, () =>
      s.app.inject({
        method: 'POST',
        url: '/oauth/token',
        headers: { ...FORM, authorization: basic(s.integration) },
        payload: form({ grant_type: 'client_credentials', scope: 'user_read' }),
      }),
    ),
  );
  const values = many.map((r) => r.json().access_token as string);
  assert.equal(new Set(values).size, 20);
  for (const value of values) assert.equal((await as(s.app, value)('GET', '/api/me')).statusCode, 200);
  // A wrong secret: invalid_client, audited as a refusal.
  const wrong = await s.app.inject({
    method: 'POST',
    url: '/oauth/token',
    headers: {
      ...FORM,
      authorization: `Basic ${Buffer.from(`${s.integration.clientId}:wrong`).toString('base64')}`,
    },
    payload: form({ grant_type: 'client_credentials' }),
  });
  assert.equal(wrong.statusCode, 401);
  assert.equal(wrong.json().error, 'invalid_client');
});

test("a member's token holds the member's profile in the account the request names, never more", async (t) => {
  const s = await setup(t);
  // A second account, and a member of both: a user manager in the first, a plain sender in the second.
  const second = (await s.owner('POST', '/api/accounts', { name: unique('Second') })).json();
  const profiles = (await s.owner('GET', `/api/accounts/${s.tenant.accountId}/permission_profiles`)).json();
  const manager = profiles.data.find((p: any) => p.permissions.includes('manage_users'));
  assert.ok(manager, 'a built-in profile that manages users');
  const member = (
    await s.owner('POST', '/api/users', {
      email: `${unique('m')}@example.test`,
      account_id: s.tenant.accountId,
      permission_profile_id: manager.id,
    })
  ).json();
  const joined = await s.owner('POST', `/api/users/${member.id}/memberships`, { account_id: second.id });
  assert.ok(joined.statusCode < 300, joined.body);
  await consent(s.app, s.tenant, s.integration, ['signature', 'impersonation', 'user_read'], null);
  const token = await s.jwtToken(member.id);
  const call = as(s.app, token);

  const me = (await call('GET', '/api/me')).json();
  assert.equal(me.role, 'member');
  assert.equal(me.account_id, s.tenant.accountId);
  assert.ok(me.permissions.includes('users:write'));
  // In the second account (Signet-Account, as for a session) the member manages nobody.
  const there = (await call('GET', '/api/me', undefined, { 'signet-account': second.id })).json();
  assert.equal(there.account_id, second.id);
  assert.ok(!there.permissions.includes('users:write'));
  // An account the user does not belong to: 403, as for a session.
  const stranger = (await s.owner('POST', '/api/accounts', { name: unique('Third') })).json();
  const refused = await call('GET', '/api/me', undefined, { 'signet-account': stranger.id });
  assert.equal(refused.statusCode, 403);
  // On /restapi the path's account is where the token acts.
  const esign = await call('GET', `/restapi/v2.1/accounts/${second.id}/users`);
  assert.equal(esign.statusCode, 200, esign.body);
  const add = await call('POST', `/restapi/v2.1/accounts/${second.id}/users`, {
    newUsers: [{ email: `${unique('x')}@example.test`, userName: 'X Y' }],
  });
  assert.equal(add.statusCode, 403, add.body);
  // Scopes cut it further: user_read only reads, even where the profile manages users.
  const reader = as(s.app, await s.jwtToken(member.id, 'user_read impersonation'));
  const write = await reader('POST', '/api/users', {
    email: `${unique('y')}@example.test`,
    account_id: s.tenant.accountId,
  });
  assert.equal(write.statusCode, 403);
});

test('writes through a user token are audited as the user, through the integration', async (t) => {
  const s = await setup(t);
  await consent(s.app, s.tenant, s.integration, ['signature', 'impersonation'], null);
  const call = as(s.app, await s.jwtToken(s.tenant.ownerId));
  const created = await call('POST', '/api/users', {
    email: `${unique('u')}@example.test`,
    account_id: s.tenant.accountId,
  });
  assert.equal(created.statusCode, 201, created.body);
  const event = await s.services.db
    .selectFrom('audit_events')
    .selectAll()
    .where('action', '=', 'user.created')
    .where('target_id', '=', created.json().id)
    .executeTakeFirstOrThrow();
  assert.equal(event.actor_type, 'user');
  assert.equal(event.actor_id, s.tenant.ownerId);
  assert.match(event.actor_label ?? '', /\(via .+\)$/);
});

test('an access token is not an API key, nor a refresh token: each is told so', async (t) => {
  const s = await setup(t);
  await consent(s.app, s.tenant, s.integration, ['signature', 'impersonation'], null);
  const cases: [string, string, RegExp][] = [
    [`sat_test_${'A'.repeat(43)}`, 'invalid_access_token', /unknown access token/],
    [`srt_test_${'A'.repeat(43)}`, 'invalid_access_token', /refresh token/],
    ['sat_test_short', 'invalid_access_token', /not a Signet access token/],
  ];
  for (const [value, code, why] of cases) {
    const res = await as(s.app, value)('GET', '/api/me');
    assert.equal(res.statusCode, 401);
    assert.equal(res.json().error.code, code);
    assert.match(res.json().error.message, why);
  }
  // userinfo takes an access token, not an API key.
  const info = await s.app.inject({
    method: 'GET',
    url: '/oauth/userinfo',
    headers: { authorization: `Bearer ${s.tenant.key}` },
  });
  assert.equal(info.statusCode, 401);
  assert.equal(info.json().error, 'invalid_token');
});
