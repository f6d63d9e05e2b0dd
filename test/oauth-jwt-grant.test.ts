// The JWT bearer grant as DocuSign runs it (docs/oauth.md), and the JWT-grant checks of
// shared/reference/security.md section 12 (tests 13-18): aud, time claims, jti replay, signature and
// algorithm, consent and scope. Each assertion is signed with a real RSA key registered on the integration.
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { test } from 'node:test';
import { SignJWT } from 'jose';
import { loadConfig } from '../src/config.ts';
import { as, buildApp, createTenant, type Tenant, type TestApp } from './helper.ts';
import {
  assertion,
  basic,
  consent,
  FORM,
  form,
  JWT_BEARER,
  makeIntegration,
  revokeConsent,
  type TestIntegration,
} from './oauth-helper.ts';

interface World extends TestApp {
  tenant: Tenant;
  integration: TestIntegration;
  /** POST /oauth/token with the assertion, as DocuSign's SDK sends it (no client authentication). */
  grant(jwt: string): Promise<{ status: number; body: any; headers: Record<string, unknown> }>;
  /** An assertion for the tenant's owner with this server's audience, claims overridden. */
  jwt(claims?: Record<string, unknown>, header?: Record<string, unknown>): Promise<string>;
}

async function world(t: Parameters<typeof buildApp>[0], overrides = {}): Promise<World> {
  const built = await buildApp(t, overrides);
  const tenant = await createTenant(built.services, built.config);
  const integration = await makeIntegration(built.app, tenant);
  await consent(built.app, tenant, integration, ['signature', 'impersonation'], tenant.ownerId);
  const grant = async (jwt: string) => {
    const res = await built.app.inject({
      method: 'POST',
      url: '/oauth/token',
      headers: FORM,
      payload: form({ grant_type: JWT_BEARER, assertion: jwt }),
    });
    return { status: res.statusCode, body: res.json(), headers: res.headers };
  };
  const jwt = (claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}) =>
    assertion(integration, { sub: tenant.ownerId, aud: built.config.oauthAudience, ...claims }, header);
  return { ...built, tenant, integration, grant, jwt };
}

const now = () => Math.floor(Date.now() / 1000);

test('a consented JWT grant: a one-hour token, no refresh token, usable on /api, /management and /restapi', async (t) => {
  const w = await world(t);
  const res = await w.grant(await w.jwt());
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.headers['cache-control'], 'no-store');
  assert.equal(res.body.token_type, 'Bearer');
  assert.equal(res.body.expires_in, 3600);
  assert.equal(res.body.refresh_token, undefined);
  assert.match(res.body.access_token, /^sat_test_[A-Za-z0-9_-]{43}$/);
  const call = as(w.app, res.body.access_token);

  const me = (await call('GET', '/api/me')).json();
  assert.equal(me.type, 'user');
  assert.equal(me.user_id, w.tenant.ownerId);
  assert.equal(me.account_id, w.tenant.accountId);
  assert.deepEqual(me.oauth, {
    integration_id: w.integration.id,
    client_id: w.integration.clientId,
    scopes: ['signature', 'impersonation'],
  });
  // signature grants account administration, not the audit log or API keys.
  assert.ok(me.permissions.includes('users:write'));
  assert.ok(!me.permissions.includes('audit:read'));
  assert.ok(!me.permissions.includes('keys:write'));

  assert.equal((await call('GET', `/api/users/${w.tenant.ownerId}`)).statusCode, 200);
  const esign = await call('GET', `/restapi/v2.1/accounts/${w.tenant.accountId}/users`);
  assert.equal(esign.statusCode, 200, esign.body);
  const audit = await call('GET', '/api/audit_events');
  assert.equal(audit.statusCode, 403);
  assert.match(
    audit.json().error.message,
    /access token's scopes \(signature impersonation\) do not grant audit:read/,
  );
});

test("the token's scopes narrow the user, and a missing scope is a 403 naming it", async (t) => {
  const w = await world(t);
  await consent(w.app, w.tenant, w.integration, ['user_read', 'impersonation', 'organization_read'], null);
  const res = await w.grant(await w.jwt({ scope: 'user_read impersonation' }));
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const call = as(w.app, res.body.access_token);
  const me = (await call('GET', '/api/me')).json();
  assert.deepEqual(me.permissions, ['users:read']);
  assert.equal((await call('GET', `/api/users/${w.tenant.ownerId}`)).statusCode, 200);
  const write = await call('POST', '/api/users', { email: 'x@example.test', account_id: w.tenant.accountId });
  assert.equal(write.statusCode, 403);
  assert.match(write.json().error.message, /scopes \(user_read impersonation\) do not grant users:write/);
  // The Admin API names the scope the operation needs.
  const orgs = await call('GET', `/management/v2/organizations/${w.tenant.organizationId}/reserved_domains`);
  assert.equal(orgs.statusCode, 403, orgs.body);
  assert.match(
    orgs.json().error_description,
    /needs the domain_read scope; the access token's scopes \(user_read impersonation\)/,
  );
});

test('without consent: consent_required, as DocuSign answers; an organization-wide consent serves every user', async (t) => {
  const w = await world(t);
  const other = (
    await as(w.app, w.tenant.key)('POST', '/api/users', {
      email: `member-${Date.now()}@example.test`,
      account_id: w.tenant.accountId,
    })
  ).json();
  const refused = await w.grant(await w.jwt({ sub: other.id }));
  assert.equal(refused.status, 400);
  assert.equal(refused.body.error, 'consent_required');
  assert.match(refused.body.error_description, /has not consented to signature impersonation/);
  // More scopes than the owner consented to: consent_required too, naming what is missing.
  const more = await w.grant(await w.jwt({ scope: 'signature impersonation user_write' }));
  assert.equal(more.body.error, 'consent_required');
  assert.match(more.body.error_description, /user_write/);

  await consent(w.app, w.tenant, w.integration, ['signature', 'impersonation'], null);
  const ok = await w.grant(await w.jwt({ sub: other.id }));
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  const me = (await as(w.app, ok.body.access_token)('GET', '/api/me')).json();
  assert.equal(me.user_id, other.id);
  assert.equal(me.role, 'member');
});

test('revoking consent stops new tokens at once and existing ones at their next verification', async (t) => {
  // A cache lifetime of 0: every request verifies the token again (the default bound is 5 s).
  const w = await world(t, { keyCacheTtlMs: 0 });
  const orgWide = await consent(w.app, w.tenant, w.integration, ['signature', 'impersonation'], null);
  const own = (
    await w.services.db
      .selectFrom('oauth_consents')
      .select('id')
      .where('user_id', '=', w.tenant.ownerId)
      .executeTakeFirstOrThrow()
  ).id;
  const token = (await w.grant(await w.jwt())).body.access_token;
  assert.equal((await as(w.app, token)('GET', '/api/me')).statusCode, 200);
  const active = await w.app.inject({
    method: 'POST',
    url: '/oauth/introspect',
    headers: { ...FORM, authorization: basic(w.integration) },
    payload: form({ token }),
  });
  assert.equal(active.json().active, true);
  assert.equal(active.json().sub, w.tenant.ownerId);
  await revokeConsent(w.app, w.tenant, w.integration, own);
  // The organization's consent still covers it.
  assert.equal((await as(w.app, token)('GET', '/api/me')).statusCode, 200);
  await revokeConsent(w.app, w.tenant, w.integration, orgWide);
  const refused = await w.grant(await w.jwt());
  assert.equal(refused.body.error, 'consent_required');
  const stale = await as(w.app, token)('GET', '/api/me');
  assert.equal(stale.statusCode, 401);
  assert.equal(stale.json().error.code, 'access_token_revoked');
  assert.match(stale.json().error.message, /consent .* was revoked/);
  // Introspection agrees with the API.
  const introspected = await w.app.inject({
    method: 'POST',
    url: '/oauth/introspect',
    headers: { ...FORM, authorization: basic(w.integration) },
    payload: form({ token }),
  });
  assert.deepEqual(introspected.json(), { active: false });
});

test('a deactivated user gets no token, and their tokens stop', async (t) => {
  const w = await world(t, { keyCacheTtlMs: 0 });
  const member = (
    await as(w.app, w.tenant.key)('POST', '/api/users', {
      email: `m-${Date.now()}@example.test`,
      account_id: w.tenant.accountId,
    })
  ).json();
  await consent(w.app, w.tenant, w.integration, ['signature', 'impersonation'], null);
  const token = (await w.grant(await w.jwt({ sub: member.id }))).body.access_token;
  assert.equal((await as(w.app, token)('GET', '/api/me')).statusCode, 200);
  await w.services.db
    .updateTable('users')
    .set({ status: 'deactivated' })
    .where('id', '=', member.id)
    .execute();
  const refused = await w.grant(await w.jwt({ sub: member.id }));
  assert.equal(refused.body.error, 'invalid_grant');
  assert.match(refused.body.error_description, /deactivated/);
  const stale = await as(w.app, token)('GET', '/api/me');
  assert.equal(stale.statusCode, 401);
  assert.equal(stale.json().error.code, 'invalid_access_token');
});

test('aud must be exactly this server (its host[:port], one string)', async (t) => {
  const w = await world(t);
  const cases: [string, unknown][] = [
    ['another authorization server', 'account-d.docusign.com'],
    ['the token endpoint of another host', 'https://evil.example/oauth/token'],
    ['this server in a list', [w.config.oauthAudience, 'account-d.docusign.com']],
    ['missing', undefined],
  ];
  for (const [name, aud] of cases) {
    const res = await w.grant(await w.jwt({ aud }));
    assert.equal(res.status, 400, name);
    assert.equal(res.body.error, 'invalid_grant', name);
    assert.match(res.body.error_description, /aud must be/, name);
  }
  // By default the host[:port] of SIGNET_PUBLIC_URL (what the SDKs put there); SIGNET_OAUTH_AUDIENCE overrides it.
  assert.equal(
    loadConfig({ SIGNET_PUBLIC_URL: 'https://signet.example:8443/' }).oauthAudience,
    'signet.example:8443',
  );
  assert.equal(
    loadConfig({ SIGNET_PUBLIC_URL: 'https://signet.example', SIGNET_OAUTH_AUDIENCE: 'account.example' })
      .oauthAudience,
    'account.example',
  );
  const other = await world(t, { oauthAudience: 'signet.example.com' });
  assert.equal((await other.grant(await other.jwt({ aud: 'signet.example.com' }))).status, 200);
  assert.equal((await other.grant(await other.jwt({ aud: 'localhost:8080' }))).body.error, 'invalid_grant');
});

test('time claims: expired, too long, issued in the future or too long ago, not yet valid; small skew is fine', async (t) => {
  const w = await world(t);
  const n = now();
  const refused: [string, Record<string, unknown>, RegExp][] = [
    ['expired beyond the skew', { iat: n - 600, exp: n - 60 }, /expired/],
    ['no exp', { exp: undefined }, /exp claim/],
    ['no iat', { iat: undefined }, /iat claim/],
    ['lives longer than an hour', { iat: n, exp: n + 3601 }, /at most 3600 s/],
    ['issued in the future', { iat: n + 120, exp: n + 600 }, /in the future/],
    ['issued more than an hour ago', { iat: n - 3700, exp: n + 60 }, /at most 3600 s|more than an hour ago/],
    ['not valid yet', { nbf: n + 120 }, /not valid yet/],
  ];
  for (const [name, claims, why] of refused) {
    const res = await w.grant(await w.jwt(claims));
    assert.equal(res.body.error, 'invalid_grant', name);
    assert.match(res.body.error_description, why, name);
  }
  // Clocks a little apart are tolerated (30 s).
  assert.equal((await w.grant(await w.jwt({ iat: n + 20, exp: n + 600 }))).status, 200);
  assert.equal((await w.grant(await w.jwt({ iat: n - 600, exp: n - 10 }))).status, 200);
});

test('an assertion with a jti is accepted once, also when sent ten times at once', async (t) => {
  const w = await world(t);
  const jwt = await w.jwt({ jti: 'assertion-1' });
  assert.equal((await w.grant(jwt)).status, 200);
  const again = await w.grant(jwt);
  assert.equal(again.body.error, 'invalid_grant');
  assert.match(again.body.error_description, /used already/);

  const parallel = await w.jwt({ jti: 'assertion-2' });
  const results = await Promise.all(Array.from({ length: 10 }, () => w.grant(parallel)));
  assert.equal(results.filter((r) => r.status === 200).length, 1);
  assert.equal(results.filter((r) => r.body.error === 'invalid_grant').length, 9);
});

test("signature and algorithm: only RS256 by the integration's registered keys", async (t) => {
  const w = await world(t);
  const n = now();
  const claims = {
    iss: w.integration.clientId,
    sub: w.tenant.ownerId,
    aud: w.config.oauthAudience,
    iat: n,
    exp: n + 600,
    scope: 'signature impersonation',
  };
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const unsigned = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`;
  const publicPem = createPublicKey(createPrivateKey(w.integration.privateKey)).export({
    type: 'spki',
    format: 'pem',
  });
  const hs256 = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(Buffer.from(publicPem));
  const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const otherKey = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256' }).sign(stranger.privateKey);
  const withJwk = await new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', jwk: stranger.publicKey.export({ format: 'jwk' }) as never })
    .sign(stranger.privateKey);
  const good = await w.jwt();
  const [h, , s] = good.split('.');
  const tampered = `${h}.${b64({ ...claims, sub: '00000000-0000-4000-8000-000000000000' })}.${s}`;
  const cases: [string, string, RegExp][] = [
    ['alg none', unsigned, /RS256, not none/],
    ['HS256 keyed with the public key', hs256, /RS256, not HS256/],
    ['unknown kid', await w.jwt({}, { kid: 'no-such-key' }), /unknown key id/],
    ['a key the integration does not have', otherKey, /does not verify/],
    ['a key carried in the header', withJwk, /must not carry a key \(jwk\)/],
    ['a tampered payload', tampered, /does not verify/],
    ['not a JWT', 'not.a-jwt', /not a signed JWT/],
    [
      'no iss',
      `${b64({ alg: 'RS256' })}.${b64({ ...claims, iss: undefined })}.${s}`,
      /not a signed JWT whose iss/,
    ],
  ];
  for (const [name, jwt, why] of cases) {
    const res = await w.grant(jwt);
    assert.equal(res.body.error, 'invalid_grant', `${name}: ${JSON.stringify(res.body)}`);
    assert.match(res.body.error_description, why, name);
  }
  // Its own kid names the key: accepted.
  assert.equal((await w.grant(await w.jwt({}, { kid: w.integration.kid }))).status, 200);
});

test('scope: impersonation is required, unknown scopes are refused', async (t) => {
  const w = await world(t);
  const noImpersonation = await w.grant(await w.jwt({ scope: 'signature' }));
  assert.equal(noImpersonation.body.error, 'invalid_scope');
  const unknown = await w.grant(await w.jwt({ scope: 'signature impersonation launch_missiles' }));
  assert.equal(unknown.body.error, 'invalid_scope');
  assert.match(unknown.body.scope ?? unknown.body.error_description, /launch_missiles|unknown scope/);
});

test('iss must be the integration, and the integration must allow the grant', async (t) => {
  const w = await world(t);
  const other = await makeIntegration(w.app, w.tenant, { grants: ['client_credentials'] });
  const res = await w.grant(await assertion(other, { sub: w.tenant.ownerId, aud: w.config.oauthAudience }));
  assert.equal(res.status, 400);
  assert.match(JSON.stringify(res.body), /grant type is not allowed|unauthorized_client/);
  const unknown = await w.grant(await w.jwt({ iss: '00000000-0000-4000-8000-000000000000' }));
  assert.equal(unknown.body.error, 'invalid_client');
});

test("a test server's token on a live server: environment_mismatch naming both", async (t) => {
  const w = await world(t);
  const token = (await w.grant(await w.jwt())).body.access_token;
  const live = await buildApp(t, { environment: 'live' });
  const res = await as(live.app, token)('GET', '/api/me');
  assert.equal(res.statusCode, 401);
  assert.equal(res.json().error.code, 'environment_mismatch');
  assert.match(res.json().error.message, /test access token, but this server runs in the live environment/);
  const mgmt = await as(live.app, token)('GET', '/management/v2/organizations');
  assert.equal(mgmt.statusCode, 401);
  assert.match(mgmt.body, /live environment/);
});

test('grants are audited, refused ones too, without the token', async (t) => {
  const w = await world(t);
  const token = (await w.grant(await w.jwt())).body.access_token;
  await w.grant(await w.jwt({ aud: 'elsewhere.example' }));
  await w.services.oauth.audit.flush();
  const rows = await w.services.db
    .selectFrom('audit_events')
    .selectAll()
    .where('organization_id', '=', w.tenant.organizationId)
    .where('action', 'like', 'oauth.%')
    .orderBy('seq')
    .execute();
  assert.deepEqual(
    rows.map((r) => r.action),
    ['oauth.token_granted', 'oauth.token_refused'],
  );
  const [granted, refused] = rows;
  assert.equal(granted!.actor_type, 'integration');
  assert.equal(granted!.actor_id, w.integration.id);
  assert.equal(granted!.target_id, w.integration.id);
  const meta = (e: typeof granted) => (e!.changes as { _meta: Record<string, unknown> })._meta;
  assert.equal(meta(granted).grant_type, JWT_BEARER);
  assert.equal(meta(granted).user_id, w.tenant.ownerId);
  assert.equal(meta(granted).scope, 'signature impersonation');
  assert.equal(meta(refused).error, 'invalid_grant');
  assert.ok(!JSON.stringify(rows).includes(token), 'the token is never in the audit log');
  // Written later, in one batch, each event keeps its own request and time, and the chain holds.
  assert.equal(granted!.ip, '127.0.0.1');
  assert.ok(granted!.request_id && refused!.request_id && granted!.request_id !== refused!.request_id);
  assert.ok(granted!.occurred_at <= refused!.occurred_at);
  const verified = await w.services.audit.verify(w.tenant.organizationId);
  assert.equal(verified.ok, true, JSON.stringify(verified));
});
