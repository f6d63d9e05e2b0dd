// The authorization code grant with PKCE and refresh, run by openid-client (a certified OpenID relying party)
// against Signet over HTTP, a person signing in and consenting on Signet's pages; then the RFC 9700 checks of
// shared/reference/security.md section 12 (tests 1-12): PKCE, exact redirect URIs, single-use codes, refresh
// rotation and reuse, scope on refresh, revocation, protocol hygiene, unsupported grants.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'kysely';
import * as client from 'openid-client';
import { as, type LiveApp, type Tenant } from './helper.ts';
import {
  authorize,
  Browser,
  FORM,
  form,
  location,
  PASSWORD,
  startOAuthApp,
  tenantWithPassword,
} from './oauth-helper.ts';

const REDIRECT = 'https://app.example/cb';
const SCOPE = 'openid signature';

interface Flow extends LiveApp {
  tenant: Tenant;
  integration: { id: string; client_id: string; client_secret: string | null };
  config: LiveApp['config'];
  rp: client.Configuration;
}

async function flow(
  t: Parameters<typeof startOAuthApp>[0],
  opts: { clientType?: 'confidential' | 'public'; grants?: string[]; overrides?: object } = {},
): Promise<Flow> {
  const live = await startOAuthApp(t, opts.overrides);
  const tenant = await tenantWithPassword(live.services, live.config);
  const created = await as(live.app, tenant.key)('POST', '/api/integrations', {
    name: 'HR sync',
    client_type: opts.clientType ?? 'confidential',
    redirect_uris: [REDIRECT],
    allowed_grants: opts.grants ?? ['authorization_code', 'refresh_token'],
  });
  assert.equal(created.statusCode, 201, created.body);
  const integration = created.json();
  const auth =
    integration.client_secret === null ? client.None() : client.ClientSecretBasic(integration.client_secret);
  const rp = await client.discovery(new URL(live.base), integration.client_id, undefined, auth, {
    execute: [client.allowInsecureRequests],
  });
  return { ...live, tenant, integration, rp };
}

/** An authorization request with PKCE (S256) and state, driven through sign-in and consent. */
async function authorizeWithPkce(f: Flow, browser: Browser, extra: Record<string, string> = {}) {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const authUrl = client.buildAuthorizationUrl(f.rp, {
    redirect_uri: REDIRECT,
    scope: SCOPE,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    ...extra,
  });
  const { redirect, pages } = await authorize(browser, f.base, authUrl, { email: f.tenant.email });
  return { redirect, pages, verifier, state };
}

async function codeFlowTokens(f: Flow, browser = new Browser()) {
  const { redirect, verifier, state } = await authorizeWithPkce(f, browser);
  return client.authorizationCodeGrant(f.rp, redirect, { pkceCodeVerifier: verifier, expectedState: state });
}

async function token(f: Flow, fields: Record<string, string>, auth = true) {
  const res = await fetch(`${f.base}/oauth/token`, {
    method: 'POST',
    headers: {
      ...FORM,
      ...(auth && f.integration.client_secret
        ? {
            authorization: `Basic ${Buffer.from(`${f.integration.client_id}:${f.integration.client_secret}`).toString('base64')}`,
          }
        : {}),
    },
    body: form(fields),
  });
  return { status: res.status, body: (await res.json()) as any, headers: res.headers };
}

async function introspect(f: Flow, value: string): Promise<any> {
  return client.tokenIntrospection(f.rp, value);
}

test('openid-client: code with PKCE, sign-in and consent pages, tokens with DocuSign lifetimes, userinfo, refresh', async (t) => {
  const f = await flow(t);
  const browser = new Browser();
  const { redirect, pages, verifier, state } = await authorizeWithPkce(f, browser);
  assert.deepEqual(pages, ['login', 'consent']);
  // RFC 9207: the response names the issuer; the state comes back unchanged.
  assert.equal(redirect.searchParams.get('iss'), f.base);
  assert.equal(redirect.searchParams.get('state'), state);
  const tokens = await client.authorizationCodeGrant(f.rp, redirect, {
    pkceCodeVerifier: verifier,
    expectedState: state,
  });
  assert.equal(tokens.token_type.toLowerCase(), 'bearer');
  assert.equal(tokens.expires_in, 28800);
  assert.match(tokens.access_token, /^sat_test_/);
  assert.match(tokens.refresh_token!, /^srt_test_/);
  assert.equal(tokens.claims()!.sub, f.tenant.ownerId);
  assert.equal(tokens.claims()!.email, f.tenant.email);

  // The refresh token lives 30 days.
  const rt = await introspect(f, tokens.refresh_token!);
  assert.equal(rt.active, true);
  assert.ok(Math.abs((rt.exp as number) - (Math.floor(Date.now() / 1000) + 30 * 86400)) < 60);

  // The consent is recorded as the user's own, and audited.
  const consents = (
    await as(f.app, f.tenant.key)('GET', `/api/integrations/${f.integration.id}/consents`)
  ).json();
  assert.deepEqual(
    consents.data.map((c: any) => [c.user_id, c.scopes]),
    [[f.tenant.ownerId, ['openid', 'signature']]],
  );

  // userinfo in DocuSign's shape.
  const info = await fetch(`${f.base}/oauth/userinfo`, {
    headers: { authorization: `Bearer ${tokens.access_token}` },
  });
  assert.equal(info.status, 200);
  const body = (await info.json()) as any;
  assert.equal(body.sub, f.tenant.ownerId);
  assert.equal(body.email, f.tenant.email);
  assert.deepEqual(body.accounts, [
    {
      account_id: f.tenant.accountId,
      is_default: true,
      account_name: 'Main',
      base_uri: f.base,
      organization: {
        organization_id: f.tenant.organizationId,
        links: [{ rel: 'self', href: `${f.base}/management/v2/organizations/${f.tenant.organizationId}` }],
      },
    },
  ]);

  // The access token works on the Admin API.
  const users = await fetch(
    `${f.base}/management/v2/organizations/${f.tenant.organizationId}/users?account_id=${f.tenant.accountId}`,
    {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    },
  );
  assert.equal(users.status, 200, await users.clone().text());

  // A refresh rotates the refresh token; without `extended` the new one keeps the first one's expiry.
  const refreshed = await client.refreshTokenGrant(f.rp, tokens.refresh_token!);
  assert.notEqual(refreshed.refresh_token, tokens.refresh_token);
  assert.notEqual(refreshed.access_token, tokens.access_token);
  const rt2 = await introspect(f, refreshed.refresh_token!);
  assert.ok(Math.abs((rt2.exp as number) - (rt.exp as number)) <= 2);

  // A second authorization: signed in already (the session cookie) and consented already: no page at all.
  const again = await authorizeWithPkce(f, browser);
  assert.deepEqual(again.pages, []);
  assert.ok(again.redirect.searchParams.get('code'));
  // prompt=consent asks again.
  const asked = await authorizeWithPkce(f, browser, { prompt: 'consent' });
  assert.deepEqual(asked.pages, ['consent']);
});

test('a dashboard session signs the person in; the password is not asked again', async (t) => {
  const f = await flow(t);
  const browser = new Browser();
  const login = await browser.fetch(`${f.base}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: f.tenant.email, password: PASSWORD }),
  });
  assert.equal(login.status, 200);
  const { pages } = await authorizeWithPkce(f, browser);
  assert.deepEqual(pages, ['signed-in-by-session', 'consent']);
});

test('a wrong password shows the sign-in page again with the reason; denying gives access_denied', async (t) => {
  const f = await flow(t);
  const browser = new Browser();
  const authUrl = client.buildAuthorizationUrl(f.rp, {
    redirect_uri: REDIRECT,
    scope: SCOPE,
    code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
    code_challenge_method: 'S256',
    state: 'st',
  });
  const interaction = location(await browser.fetch(authUrl), f.base);
  const page = await browser.fetch(interaction);
  assert.equal(page.headers.get('x-frame-options'), 'DENY');
  assert.match(page.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
  const wrong = await browser.post(`${f.base}${interaction.pathname}/login`, {
    email: f.tenant.email,
    password: 'nope',
  });
  assert.equal(wrong.status, 401);
  assert.match(await wrong.text(), /the email or the password is wrong/);
  const denied = location(await browser.post(`${f.base}${interaction.pathname}/abort`, {}), f.base);
  const back = location(await browser.fetch(denied), f.base);
  assert.equal(back.origin + back.pathname, REDIRECT);
  assert.equal(back.searchParams.get('error'), 'access_denied');
  assert.equal(back.searchParams.get('state'), 'st');
});

test('PKCE: required of public clients, S256 only, no downgrade, the verifier must match', async (t) => {
  const pub = await flow(t, { clientType: 'public' });
  const browser = new Browser();
  const plainAuth = (extra: Record<string, string>) =>
    new URL(
      `${pub.base}/oauth/auth?${new URLSearchParams({ response_type: 'code', client_id: pub.integration.client_id, redirect_uri: REDIRECT, scope: SCOPE, state: 's', ...extra })}`,
    );
  const missing = location(await browser.fetch(plainAuth({})), pub.base);
  assert.equal(missing.origin + missing.pathname, REDIRECT);
  assert.equal(missing.searchParams.get('error'), 'invalid_request');
  assert.match(missing.searchParams.get('error_description')!, /PKCE/);
  const plain = location(
    await browser.fetch(plainAuth({ code_challenge: 'x'.repeat(43), code_challenge_method: 'plain' })),
    pub.base,
  );
  assert.equal(plain.searchParams.get('error'), 'invalid_request');
  // Public client, with PKCE: the whole flow works with no secret.
  const tokens = await codeFlowTokens(pub);
  assert.ok(tokens.access_token);

  // A confidential client's code issued without a challenge cannot be redeemed with a verifier (downgrade).
  const conf = await flow(t);
  const b2 = new Browser();
  const { redirect } = await authorize(
    b2,
    conf.base,
    new URL(
      `${conf.base}/oauth/auth?${new URLSearchParams({ response_type: 'code', client_id: conf.integration.client_id, redirect_uri: REDIRECT, scope: SCOPE, state: 's' })}`,
    ),
    { email: conf.tenant.email },
  );
  const downgrade = await token(conf, {
    grant_type: 'authorization_code',
    code: redirect.searchParams.get('code')!,
    redirect_uri: REDIRECT,
    code_verifier: client.randomPKCECodeVerifier(),
  });
  assert.equal(downgrade.body.error, 'invalid_grant');
  // A wrong verifier for a code issued with a challenge.
  const { redirect: r2 } = await authorizeWithPkce(conf, b2);
  const wrong = await token(conf, {
    grant_type: 'authorization_code',
    code: r2.searchParams.get('code')!,
    redirect_uri: REDIRECT,
    code_verifier: client.randomPKCECodeVerifier(),
  });
  assert.equal(wrong.body.error, 'invalid_grant');
  assert.match(wrong.body.error_description, /code_verifier does not match code_challenge/);
});

test('redirect URIs match exactly; a mismatch shows an error page and redirects nowhere', async (t) => {
  const f = await flow(t);
  const browser = new Browser();
  const variants = [
    `${REDIRECT}/`,
    'https://APP.example/cb',
    `${REDIRECT}?x=1`,
    'http://app.example/cb',
    'https://app.example@evil.test/cb',
    'https://app.example/cb/../cb',
    'https://app.example%2Fcb',
    `${REDIRECT}#frag`,
  ];
  for (const uri of variants) {
    const res = await browser.fetch(
      `${f.base}/oauth/auth?${new URLSearchParams({ response_type: 'code', client_id: f.integration.client_id, redirect_uri: uri, scope: SCOPE, code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' })}`,
    );
    assert.equal(res.headers.get('location'), null, uri);
    assert.equal(res.status, 400, uri);
    assert.match(res.headers.get('content-type') ?? '', /text\/html/, uri);
    assert.match(await res.text(), /redirect_uri/, uri);
  }
});

test('a code is single use: the second redemption fails and revokes what the first one issued', async (t) => {
  const f = await flow(t, { overrides: { keyCacheTtlMs: 0 } });
  const { redirect, verifier } = await authorizeWithPkce(f, new Browser());
  const fields = {
    grant_type: 'authorization_code',
    code: redirect.searchParams.get('code')!,
    redirect_uri: REDIRECT,
    code_verifier: verifier,
  };
  const first = await token(f, fields);
  assert.equal(first.status, 200);
  const second = await token(f, fields);
  assert.equal(second.body.error, 'invalid_grant');
  assert.equal((await introspect(f, first.body.access_token)).active, false);
  assert.equal((await introspect(f, first.body.refresh_token)).active, false);
  const api = await as(f.app, first.body.access_token)('GET', '/api/me');
  assert.equal(api.statusCode, 401);
  assert.equal(api.json().error.code, 'access_token_revoked');
  // Another client, or another redirect URI, cannot redeem a code.
  const { redirect: r2, verifier: v2 } = await authorizeWithPkce(f, new Browser());
  const other = await token(f, {
    ...fields,
    code: r2.searchParams.get('code')!,
    code_verifier: v2,
    redirect_uri: `${REDIRECT}/other`,
  });
  assert.equal(other.body.error, 'invalid_grant');
});

test('refresh rotation: reusing a rotated refresh token revokes the whole family, and is audited', async (t) => {
  const f = await flow(t, { overrides: { keyCacheTtlMs: 0 } });
  const tokens = await codeFlowTokens(f);
  const next = await token(f, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! });
  assert.equal(next.status, 200);
  assert.equal((await as(f.app, next.body.access_token)('GET', '/api/me')).statusCode, 200);
  const reused = await token(f, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! });
  assert.equal(reused.body.error, 'invalid_grant');
  // The newest refresh token and every access token of the grant are dead.
  assert.equal(
    (await token(f, { grant_type: 'refresh_token', refresh_token: next.body.refresh_token })).body.error,
    'invalid_grant',
  );
  const api = await as(f.app, next.body.access_token)('GET', '/api/me');
  assert.equal(api.statusCode, 401);
  assert.equal(api.json().error.code, 'access_token_revoked');
  await f.services.oauth.audit.flush();
  const actions = await f.services.db
    .selectFrom('audit_events')
    .select('action')
    .where('organization_id', '=', f.tenant.organizationId)
    .where('action', '=', 'oauth.refresh_token_reused')
    .execute();
  assert.equal(actions.length, 1);
});

test('ten refreshes at once with one refresh token: at most one succeeds, and the family is revoked', async (t) => {
  const f = await flow(t, { overrides: { keyCacheTtlMs: 0 } });
  const tokens = await codeFlowTokens(f);
  const results = await Promise.all(
    Array.from({ length: 10 }, () =>
      token(f, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! }),
    ),
  );
  const ok = results.filter((r) => r.status === 200);
  assert.ok(ok.length <= 1, `${ok.length} refreshes succeeded`);
  assert.equal(results.filter((r) => r.body.error === 'invalid_grant').length, 10 - ok.length);
  for (const r of ok) {
    assert.equal(
      (await token(f, { grant_type: 'refresh_token', refresh_token: r.body.refresh_token })).body.error,
      'invalid_grant',
    );
    assert.equal((await as(f.app, r.body.access_token)('GET', '/api/me')).statusCode, 401);
  }
  assert.equal((await as(f.app, tokens.access_token)('GET', '/api/me')).statusCode, 401);
});

test('scope on refresh: more is refused, less narrows the access token and keeps the refresh token whole', async (t) => {
  const f = await flow(t);
  const tokens = await codeFlowTokens(f);
  const more = await token(f, {
    grant_type: 'refresh_token',
    refresh_token: tokens.refresh_token!,
    scope: 'openid signature user_write',
  });
  assert.equal(more.body.error, 'invalid_scope');
  const less = await token(f, {
    grant_type: 'refresh_token',
    refresh_token: tokens.refresh_token!,
    scope: 'openid',
  });
  assert.equal(less.status, 200);
  assert.equal(less.body.scope, 'openid');
  const me = (await as(f.app, less.body.access_token)('GET', '/api/me')).json();
  assert.deepEqual(me.permissions, []);
  assert.equal((await introspect(f, less.body.refresh_token)).scope, 'openid signature');
});

test("a refresh keeps the refresh token's expiry, unless the grant holds extended: then it renews 30 days", async (t) => {
  const f = await flow(t);
  const browser = new Browser();
  const tokensFor = async (scope: string) => {
    const verifier = client.randomPKCECodeVerifier();
    const { redirect } = await authorize(
      browser,
      f.base,
      client.buildAuthorizationUrl(f.rp, {
        redirect_uri: REDIRECT,
        scope,
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      }),
      { email: f.tenant.email },
    );
    const res = await token(f, {
      grant_type: 'authorization_code',
      code: redirect.searchParams.get('code')!,
      redirect_uri: REDIRECT,
      code_verifier: verifier,
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.refresh_token as string;
  };
  const plain = await tokensFor('signature');
  const extended = await tokensFor('signature extended');
  // Both refresh tokens were issued a day ago, as far as their payloads say.
  await sql`
    UPDATE oauth_payloads SET payload = payload
      || jsonb_build_object('iat', (payload->>'iat')::bigint - 86400, 'exp', (payload->>'exp')::bigint - 86400)
    WHERE model = 'RefreshToken'`.execute(f.services.db);
  const in30Days = Math.floor(Date.now() / 1000) + 30 * 86400;
  for (const [rt, renews] of [
    [plain, false],
    [extended, true],
  ] as const) {
    const before = (await introspect(f, rt)).exp as number;
    assert.ok(Math.abs(before - (in30Days - 86400)) < 60);
    const next = await token(f, { grant_type: 'refresh_token', refresh_token: rt });
    assert.equal(next.status, 200, JSON.stringify(next.body));
    const after = (await introspect(f, next.body.refresh_token)).exp as number;
    if (renews) assert.ok(Math.abs(after - in30Days) < 60, 'extended: a full 30 days from the refresh');
    else assert.ok(Math.abs(after - before) <= 2, 'without extended: the first expiry stands');
  }
});

test('revocation (RFC 7009): a revoked refresh token takes its access tokens with it; a client revokes only its own', async (t) => {
  const f = await flow(t);
  const tokens = await codeFlowTokens(f);
  // With the default 5 s cache: the revocation happened in this process, so the cache is dropped at once.
  assert.equal((await as(f.app, tokens.access_token)('GET', '/api/me')).statusCode, 200);
  const other = await flow(t);
  const otherTokens = await codeFlowTokens(other);
  // Revoking another client's token does nothing (and says nothing: RFC 7009 answers 200).
  await client.tokenRevocation(f.rp, otherTokens.refresh_token!);
  assert.equal((await introspect(other, otherTokens.refresh_token!)).active, true);
  assert.equal(
    (await introspect(f, otherTokens.access_token)).active,
    false,
    'no introspection across clients',
  );

  await client.tokenRevocation(f.rp, tokens.refresh_token!);
  assert.equal((await introspect(f, tokens.refresh_token!)).active, false);
  assert.equal((await introspect(f, tokens.access_token)).active, false);
  const api = await as(f.app, tokens.access_token)('GET', '/api/me');
  assert.equal(api.statusCode, 401);
  assert.equal(api.json().error.code, 'access_token_revoked');
});

test('protocol hygiene: duplicate parameters, tokens in the query string, no-store, unsupported grants', async (t) => {
  const f = await flow(t);
  const tokens = await codeFlowTokens(f);
  const dup = await fetch(`${f.base}/oauth/token`, {
    method: 'POST',
    headers: {
      ...FORM,
      authorization: `Basic ${Buffer.from(`${f.integration.client_id}:${f.integration.client_secret}`).toString('base64')}`,
    },
    body: `grant_type=refresh_token&grant_type=refresh_token&refresh_token=${tokens.refresh_token}`,
  });
  assert.equal(((await dup.json()) as any).error, 'invalid_request');
  // An access token in the query string is ignored (OAuth 2.1): no credentials.
  const query = await fetch(`${f.base}/api/me?access_token=${tokens.access_token}`);
  assert.equal(query.status, 401);
  const ok = await token(f, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! });
  assert.equal(ok.headers.get('cache-control'), 'no-store');
  assert.equal(
    (await token(f, { grant_type: 'password', username: 'a', password: 'b' })).body.error,
    'unsupported_grant_type',
  );
  const implicit = location(
    await new Browser().fetch(
      `${f.base}/oauth/auth?${new URLSearchParams({ response_type: 'token', client_id: f.integration.client_id, redirect_uri: REDIRECT, scope: SCOPE, state: 's' })}`,
    ),
    f.base,
  );
  // An implicit request's answer is in the fragment, where that response type puts it.
  assert.equal(new URLSearchParams(implicit.hash.slice(1)).get('error'), 'unsupported_response_type');
});

test('a refresh token of the other environment is refused by name', async (t) => {
  const f = await flow(t);
  const res = await token(f, { grant_type: 'refresh_token', refresh_token: `srt_live_${'a'.repeat(43)}` });
  assert.equal(res.status, 400);
  assert.equal(res.body.error, 'invalid_grant');
  assert.match(
    res.body.error_description,
    /live refresh token, but this server runs in the test environment/,
  );
});
