// /api/integrations over HTTP: integration keys (OAuth clients), secrets shown once and hashed at rest with a
// dual-run window, RSA keys (PEM checked, or a pair generated), consents, who may do what, tenancy, and the
// audit trail. What the OAuth endpoints then see is read through services.integrationLookup.
import assert from 'node:assert/strict';
import { createPublicKey, createSign, createVerify, generateKeyPairSync } from 'node:crypto';
import { test } from 'node:test';
import { sql } from 'kysely';
import { hashKey } from '../src/core/api-keys/format.ts';
import { isUuid } from '../src/core/ids.ts';
import { systemPrincipal } from '../src/core/principal.ts';
import {
  as,
  buildApp,
  type Caller,
  createTenant,
  type Tenant,
  type TestApp,
  testDb,
  unique,
} from './helper.ts';

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

async function created(res: Awaited<ReturnType<Caller>>, status = 201): Promise<any> {
  assert.equal(res.statusCode, status, res.body);
  return res.json();
}

function confidential(name = unique('Integration')) {
  return {
    name,
    client_type: 'confidential',
    redirect_uris: ['https://app.example/callback', 'http://localhost:3000/ds/callback'],
    allowed_grants: ['authorization_code', 'refresh_token', JWT_BEARER, 'client_credentials'],
  };
}

/** A key of a new user of the tenant with this role (and for members, this profile of the main account). */
async function keyFor(built: TestApp, tenant: Tenant, role: 'admin' | 'member', profile = 'DS Admin') {
  const owner = as(built.app, tenant.key);
  const p = await testDb()
    .db.selectFrom('permission_profiles')
    .select('id')
    .where('account_id', '=', tenant.accountId)
    .where('name', '=', profile)
    .executeTakeFirstOrThrow();
  const user = await created(
    await owner('POST', '/api/users', {
      email: `${unique(role)}@example.test`,
      role,
      permission_profile_id: p.id,
    }),
  );
  const key = await built.services.apiKeys.create(
    { principal: systemPrincipal(tenant.organizationId, 'test'), meta: {} },
    { name: `${role} key`, account_id: tenant.accountId, created_by: user.id, role },
  );
  return { key: key.key, userId: user.id as string };
}

/** The organization's audit events about one target (by id) or one kind of target, in chain order. */
async function auditEvents(orgId: string, by: 'target_id' | 'target_type', value: string) {
  return testDb()
    .db.selectFrom('audit_events')
    .select(['action', 'changes'])
    .where('organization_id', '=', orgId)
    .where(by, '=', value)
    .orderBy('seq')
    .execute();
}

async function auditActions(orgId: string, targetId: string): Promise<string[]> {
  return (await auditEvents(orgId, 'target_id', targetId)).map((e) => e.action);
}

test('integrations: create, read, change, delete; the secret is shown once and kept only as a hash', async (t) => {
  const built = await buildApp(t);
  const { app, services, config } = built;
  const A = await createTenant(services, config);
  const owner = as(app, A.key);

  const made = await created(await owner('POST', '/api/integrations', confidential('HR sync')));
  assert.ok(isUuid(made.id) && isUuid(made.client_id), 'ids and the integration key are UUIDs');
  assert.ok(isUuid(made.client_secret), 'the secret has DocuSign’s secret key shape');
  assert.equal(made.name, 'HR sync');
  assert.equal(made.created_by, A.ownerId);
  assert.deepEqual(made.allowed_grants, [
    'authorization_code',
    'refresh_token',
    JWT_BEARER,
    'client_credentials',
  ]);
  assert.equal(made.secrets.length, 1);
  assert.equal(made.secrets[0].last4, made.client_secret.slice(-4));
  assert.deepEqual(made.rsa_keys, []);

  await t.test('the secret is never shown again and is stored as its SHA-256 only', async () => {
    const got = await created(await owner('GET', `/api/integrations/${made.id}`), 200);
    assert.ok(!JSON.stringify(got).includes(made.client_secret));
    assert.equal(got.client_secret, undefined);
    const row = await testDb()
      .db.selectFrom('integration_secrets')
      .selectAll()
      .where('integration_id', '=', made.id)
      .executeTakeFirstOrThrow();
    assert.deepEqual(row.secret_hash, hashKey(made.client_secret));
    // Nowhere in the database: neither the secrets table's text columns nor the audit log carry it.
    const dump = await sql<{ t: string }>`
      SELECT (SELECT coalesce(string_agg(to_jsonb(s)::text, ''), '') FROM integration_secrets s)
        || (SELECT string_agg(changes::text, '') FROM audit_events WHERE organization_id = ${A.organizationId})
        || (SELECT string_agg(to_jsonb(i)::text, '') FROM integrations i) AS t`.execute(testDb().db);
    assert.ok(!dump.rows[0]!.t.includes(made.client_secret), 'the secret is nowhere at rest');
    const lookup = services.integrationLookup;
    const client = await lookup.findClient(made.client_id);
    assert.equal(client?.id, made.id);
    assert.equal(await lookup.verifyClientSecret(client!, made.client_secret), true);
    assert.equal(await lookup.verifyClientSecret(client!, `${made.client_secret}x`), false);
  });

  await t.test('list, get, change', async () => {
    await created(await owner('POST', '/api/integrations', confidential()));
    const list = await created(await owner('GET', '/api/integrations?limit=1'), 200);
    assert.equal(list.data.length, 1);
    assert.equal(list.data[0].id, made.id);
    assert.ok(list.next_cursor);
    const rest = await created(await owner('GET', `/api/integrations?cursor=${list.next_cursor}`), 200);
    assert.equal(rest.data.length, 1);
    assert.notEqual(rest.data[0].id, made.id);

    const patched = await created(
      await owner('PATCH', `/api/integrations/${made.id}`, {
        name: 'HR sync (prod)',
        redirect_uris: ['https://app.example/cb2'],
        allowed_grants: [JWT_BEARER, 'authorization_code'],
      }),
      200,
    );
    assert.equal(patched.name, 'HR sync (prod)');
    assert.deepEqual(patched.redirect_uris, ['https://app.example/cb2']);
    assert.deepEqual(patched.allowed_grants, ['authorization_code', JWT_BEARER], 'catalogue order');
    assert.equal(patched.client_id, made.client_id, 'the integration key never changes');
    // The same change again writes nothing.
    await created(await owner('PATCH', `/api/integrations/${made.id}`, { name: 'HR sync (prod)' }), 200);
    assert.deepEqual(await auditActions(A.organizationId, made.id), [
      'integration.created',
      'integration.updated',
    ]);
  });

  await t.test('bad input is a 400 naming the field, and nothing is written', async () => {
    const before = await testDb()
      .db.selectFrom('integrations')
      .select(sql<number>`count(*)::int`.as('n'))
      .where('organization_id', '=', A.organizationId)
      .executeTakeFirstOrThrow();
    const cases: [unknown, string][] = [
      [{ ...confidential(), redirect_uris: ['http://evil.example/cb'] }, 'redirect_uris[0]'],
      [{ ...confidential(), redirect_uris: ['https://app.example/cb#frag'] }, 'redirect_uris[0]'],
      [
        { ...confidential(), redirect_uris: ['https://a.example/cb', 'javascript:alert(1)'] },
        'redirect_uris[1]',
      ],
      [{ ...confidential(), redirect_uris: ['https://user:pw@app.example/cb'] }, 'redirect_uris[0]'],
      [{ ...confidential(), redirect_uris: ['https://*.example/cb'] }, 'redirect_uris[0]'],
      [{ ...confidential(), redirect_uris: ['/relative'] }, 'redirect_uris[0]'],
      [{ ...confidential(), redirect_uris: [] }, 'redirect_uris'],
      [{ ...confidential(), allowed_grants: ['refresh_token'] }, 'allowed_grants'],
      [{ ...confidential(), allowed_grants: ['password'] }, 'allowed_grants'],
      [{ ...confidential(), client_type: 'public' }, 'allowed_grants'],
      [{ ...confidential(), name: '   ' }, 'name'],
      [{ ...confidential(), client_secret: 'mine' }, 'client_secret'],
    ];
    for (const [body, field] of cases) {
      const res = await owner('POST', '/api/integrations', body);
      assert.equal(res.statusCode, 400, `${JSON.stringify(body)}: ${res.body}`);
      assert.equal(res.json().error.code, 'validation_failed');
      assert.ok(
        res.json().error.details.some((d: { field?: string }) => d.field?.startsWith(field)),
        `${field}: ${res.body}`,
      );
    }
    const after = await testDb()
      .db.selectFrom('integrations')
      .select(sql<number>`count(*)::int`.as('n'))
      .where('organization_id', '=', A.organizationId)
      .executeTakeFirstOrThrow();
    assert.equal(after.n, before.n);
    // A reverse-domain app scheme and loopback http are a native app's redirect URIs.
    await created(
      await owner('POST', '/api/integrations', {
        name: 'native',
        client_type: 'public',
        redirect_uris: ['com.example.app:/callback', 'http://127.0.0.1:7777/cb', 'http://[::1]/cb'],
      }),
    );
  });

  await t.test('a public integration has no secret, and cannot get one', async () => {
    const pub = await created(
      await owner('POST', '/api/integrations', {
        name: 'SPA',
        client_type: 'public',
        redirect_uris: ['https://spa.example/cb'],
      }),
    );
    assert.equal(pub.client_secret, null);
    assert.deepEqual(pub.secrets, []);
    assert.deepEqual(pub.allowed_grants, ['authorization_code', 'refresh_token']);
    const secret = await owner('POST', `/api/integrations/${pub.id}/secrets`, {});
    assert.equal(secret.statusCode, 409, secret.body);
    assert.match(secret.json().error.message, /public/);
    const key = await owner('POST', `/api/integrations/${pub.id}/rsa_keys`, { generate: true });
    assert.equal(key.statusCode, 409, key.body);
  });

  await t.test(
    'delete: the integration stops authenticating; its secrets and consents are revoked',
    async () => {
      const doomed = await created(await owner('POST', '/api/integrations', confidential()));
      await created(
        await owner('POST', `/api/integrations/${doomed.id}/consents`, {
          scopes: ['signature', 'impersonation'],
        }),
      );
      const gone = await created(await owner('DELETE', `/api/integrations/${doomed.id}`), 200);
      assert.ok(gone.deleted_at);
      assert.ok(gone.secrets.every((s: { revoked_at: string | null }) => s.revoked_at));
      assert.equal((await owner('GET', `/api/integrations/${doomed.id}`)).statusCode, 404);
      assert.equal((await owner('PATCH', `/api/integrations/${doomed.id}`, { name: 'x' })).statusCode, 404);
      const again = await created(await owner('DELETE', `/api/integrations/${doomed.id}`), 200);
      assert.equal(again.deleted_at, gone.deleted_at, 'a retried DELETE answers the same');
      const lookup = services.integrationLookup;
      assert.equal(await lookup.findClient(doomed.client_id), undefined);
      assert.equal(await lookup.verifyClientSecret({ id: doomed.id }, doomed.client_secret), false);
      assert.deepEqual(await lookup.consentFor(doomed.id, A.ownerId), []);
      const list = await created(await owner('GET', '/api/integrations?limit=500'), 200);
      assert.ok(!list.data.some((i: { id: string }) => i.id === doomed.id));
      assert.deepEqual(await auditActions(A.organizationId, doomed.id), [
        'integration.created',
        'integration.deleted',
      ]);
    },
  );
});

test('secrets: a new one starts a dual-run window; the old one works until it ends, then not', async (t) => {
  const { app, services, config } = await buildApp(t);
  const A = await createTenant(services, config);
  const owner = as(app, A.key);
  const lookup = services.integrationLookup;
  const made = await created(await owner('POST', '/api/integrations', confidential()));
  const ok = (secret: string) => lookup.verifyClientSecret({ id: made.id }, secret);
  const first = made.client_secret as string;

  const rolled = await created(
    await owner('POST', `/api/integrations/${made.id}/secrets`, { expires_in_seconds: 3600 }),
  );
  const second = rolled.new_secret.client_secret as string;
  assert.notEqual(second, first);
  assert.equal(rolled.new_secret.expires_at, null);
  assert.equal(rolled.superseded.length, 1);
  assert.equal(rolled.superseded[0].id, made.secrets[0].id);
  const windowEnd = Date.parse(rolled.superseded[0].expires_at);
  assert.ok(Math.abs(windowEnd - (Date.now() + 3600_000)) < 60_000, 'the window ends in an hour');
  assert.equal(await ok(first), true, 'the old secret works inside the window');
  assert.equal(await ok(second), true);

  // The clock moves past the window's end: the old secret stops, the new one goes on.
  t.mock.timers.enable({ apis: ['Date'], now: windowEnd + 1000 });
  assert.equal(await ok(first), false, 'the old secret stops once the window ends');
  assert.equal(await ok(second), true);
  t.mock.timers.reset();

  // 0 stops every older live secret now, the first one's window included.
  const third = await created(
    await owner('POST', `/api/integrations/${made.id}/secrets`, { expires_in_seconds: 0 }),
  );
  assert.deepEqual(
    third.superseded.map((s: { id: string }) => s.id),
    [made.secrets[0].id, rolled.new_secret.id],
  );
  assert.equal(await ok(first), false);
  assert.equal(await ok(second), false, '0 stops the previous secret now');
  assert.equal(await ok(third.new_secret.client_secret), true);
  // A bare POST takes the default window (a day); a later roll never extends an earlier end.
  const fourth = await created(await owner('POST', `/api/integrations/${made.id}/secrets`));
  assert.deepEqual(
    fourth.superseded.map((s: { id: string }) => s.id),
    [third.new_secret.id],
    'the secrets already stopped keep their end',
  );
  assert.ok(Date.parse(fourth.superseded[0].expires_at) > Date.now() + 86_000_000);
  const fifth = await created(
    await owner('POST', `/api/integrations/${made.id}/secrets`, { expires_in_seconds: 7 * 86_400 }),
  );
  assert.deepEqual(
    fifth.superseded.map((s: { id: string }) => s.id),
    [fourth.new_secret.id],
    'the third secret keeps its one-day end, not seven days',
  );

  // Revoking stops a secret at once; revoking it again answers the same.
  const revoked = await created(
    await owner('DELETE', `/api/integrations/${made.id}/secrets/${fifth.new_secret.id}`),
    200,
  );
  assert.ok(revoked.revoked_at);
  assert.equal(await ok(fifth.new_secret.client_secret), false);
  assert.equal(await ok(fourth.new_secret.client_secret), true, 'the fourth is still in its window');
  const again = await created(
    await owner('DELETE', `/api/integrations/${made.id}/secrets/${fifth.new_secret.id}`),
    200,
  );
  assert.equal(again.revoked_at, revoked.revoked_at);
  const missing = await owner('DELETE', `/api/integrations/${made.id}/secrets/${made.id}`);
  assert.equal(missing.statusCode, 404, missing.body);
  const tooLong = await owner('POST', `/api/integrations/${made.id}/secrets`, {
    expires_in_seconds: 31 * 86_400,
  });
  assert.equal(tooLong.statusCode, 400, tooLong.body);

  const secretEvents = await auditEvents(A.organizationId, 'target_type', 'integration_secret');
  assert.deepEqual(
    secretEvents.map((e) => e.action),
    [
      ['created'],
      ['created', 'superseded'],
      ['created', 'superseded', 'superseded'],
      ['created', 'superseded'],
      ['created', 'superseded'],
      ['revoked'],
    ].flatMap((step) => step.map((a) => `integration_secret.${a}`)),
  );
});

test('RSA keys: PEM checked (422 invalid_public_key saying why), or a pair generated and shown once', async (t) => {
  const { app, services, config } = await buildApp(t);
  const A = await createTenant(services, config);
  const owner = as(app, A.key);
  const lookup = services.integrationLookup;
  const made = await created(await owner('POST', '/api/integrations', confidential()));
  const url = `/api/integrations/${made.id}/rsa_keys`;

  await t.test('bad keys are refused with a clear code, and nothing is stored', async () => {
    const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const rsa2048 = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const spki = (k: { publicKey: { export(o: object): string | Buffer } }) =>
      k.publicKey.export({ type: 'spki', format: 'pem' }) as string;
    const cases: [string, string, RegExp][] = [
      ['not a PEM', 'hello', /not a PEM public key/],
      ['truncated', spki(rsa2048).replace(/\n[A-Za-z0-9+/=]+\n-----END/, '\n-----END'), /does not decode/],
      [
        'a private key',
        rsa2048.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
        /private key.*exposed/,
      ],
      [
        'a PKCS#1 private key',
        rsa2048.privateKey.export({ type: 'pkcs1', format: 'pem' }) as string,
        /private key/,
      ],
      ['an EC key', spki(ec), /not RSA/],
      ['1024 bits', spki(rsa1024), /1024 bits/],
      ['two blocks', `${spki(rsa2048)}${spki(rsa2048)}`, /not a PEM public key/],
      [
        'a certificate label',
        spki(rsa2048).replaceAll('PUBLIC KEY', 'CERTIFICATE'),
        /"CERTIFICATE" block is not accepted/,
      ],
    ];
    for (const [what, pem, message] of cases) {
      const res = await owner('POST', url, { public_key: pem });
      assert.equal(res.statusCode, 422, `${what}: ${res.body}`);
      const { error } = res.json();
      assert.equal(error.code, 'invalid_public_key', what);
      assert.match(error.message, message, what);
      assert.equal(error.details[0].field, 'public_key');
    }
    for (const body of [{}, { generate: true, public_key: spki(rsa2048) }, { generate: false }]) {
      const res = await owner('POST', url, body);
      assert.equal(res.statusCode, 400, res.body);
    }
    assert.deepEqual(await lookup.rsaKeysFor({ id: made.id }), []);
  });

  await t.test('a PEM key is stored as SPKI; a generated pair’s private key comes back once', async () => {
    const own = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pkcs1 = own.publicKey.export({ type: 'pkcs1', format: 'pem' }) as string;
    const sent = await created(await owner('POST', url, { public_key: pkcs1 }));
    assert.equal(sent.public_key, own.publicKey.export({ type: 'spki', format: 'pem' }));
    assert.equal(sent.private_key, undefined);

    const generated = await created(await owner('POST', url, { generate: true }));
    assert.match(generated.private_key, /^-----BEGIN RSA PRIVATE KEY-----/);
    // The stored public key is the private key's other half: what one signs, the other verifies.
    const derived = createPublicKey(generated.private_key).export({ type: 'spki', format: 'pem' });
    assert.equal(generated.public_key, derived);
    const signature = createSign('RSA-SHA256').update('assertion').sign(generated.private_key);
    assert.ok(createVerify('RSA-SHA256').update('assertion').verify(generated.public_key, signature));

    const detail = await created(await owner('GET', `/api/integrations/${made.id}`), 200);
    assert.ok(!JSON.stringify(detail).includes('PRIVATE'), 'the private key is never shown again');
    const dump = await sql<{ t: string }>`
      SELECT (SELECT string_agg(to_jsonb(k)::text, '') FROM integration_rsa_keys k)
        || (SELECT string_agg(changes::text, '') FROM audit_events WHERE organization_id = ${A.organizationId}) AS t`.execute(
      testDb().db,
    );
    assert.ok(!dump.rows[0]!.t.includes('PRIVATE KEY'), 'no private key at rest');
    assert.deepEqual(await lookup.rsaKeysFor({ id: made.id }), [
      { kid: sent.id, pem: sent.public_key },
      { kid: generated.id, pem: generated.public_key },
    ]);

    const revoked = await created(await owner('DELETE', `${url}/${sent.id}`), 200);
    assert.ok(revoked.revoked_at);
    assert.deepEqual(
      (await lookup.rsaKeysFor({ id: made.id })).map((k) => k.kid),
      [generated.id],
    );
    assert.equal((await owner('DELETE', `${url}/${sent.id}`)).statusCode, 200, 'revoking again: the same');
    assert.equal((await owner('DELETE', `${url}/${made.id}`)).statusCode, 404);
    const events = await auditEvents(A.organizationId, 'target_type', 'integration_rsa_key');
    assert.deepEqual(
      events.map((e) => [e.action, (e.changes._meta as { generated?: boolean })?.generated]),
      [
        ['integration_rsa_key.added', false],
        ['integration_rsa_key.added', true],
        ['integration_rsa_key.revoked', undefined],
      ],
    );
  });
});

test('consents: granted for one user or the organization, united, listed, revoked', async (t) => {
  const built = await buildApp(t);
  const { app, services, config } = built;
  const A = await createTenant(services, config);
  const B = await createTenant(services, config);
  const owner = as(app, A.key);
  const lookup = services.integrationLookup;
  const made = await created(await owner('POST', '/api/integrations', confidential()));
  const url = `/api/integrations/${made.id}/consents`;
  const admin = await keyFor(built, A, 'admin');
  const member = await keyFor(built, A, 'member');
  const asAdmin = as(app, admin.key);

  const orgWide = await created(await owner('POST', url, { scopes: ['signature', 'impersonation'] }));
  assert.equal(orgWide.user_id, null);
  assert.equal(orgWide.granted_by, A.ownerId);
  assert.deepEqual(orgWide.scopes, ['impersonation', 'signature']);
  assert.deepEqual(await lookup.consentFor(made.id, member.userId), ['impersonation', 'signature']);

  // Granting again adds scopes to the consent that is there (200), or changes nothing.
  const grown = await created(
    await owner('POST', url, { scopes: ['user_read', 'signature'], user_id: null }),
    200,
  );
  assert.equal(grown.id, orgWide.id);
  assert.deepEqual(grown.scopes, ['impersonation', 'signature', 'user_read']);
  await created(await owner('POST', url, { scopes: ['signature'] }), 200);

  // An admin consents for a member, not for the whole organization (it covers the owners) nor for an owner.
  const forMember = await created(
    await asAdmin('POST', url, { scopes: ['impersonation', 'group_read'], user_id: member.userId }),
  );
  assert.equal(forMember.granted_by, admin.userId);
  assert.deepEqual(await lookup.consentFor(made.id, member.userId), [
    'group_read',
    'impersonation',
    'signature',
    'user_read',
  ]);
  const adminOrgWide = await asAdmin('POST', url, { scopes: ['signature'] });
  assert.equal(adminOrgWide.statusCode, 403, adminOrgWide.body);
  assert.match(adminOrgWide.json().error.message, /only an owner/);
  const adminForOwner = await asAdmin('POST', url, { scopes: ['signature'], user_id: A.ownerId });
  assert.equal(adminForOwner.statusCode, 403, adminForOwner.body);

  // Bad input: unknown scopes are named; another organization's user is not a user here.
  const unknown = await owner('POST', url, { scopes: ['signature', 'rocket_launch'] });
  assert.equal(unknown.statusCode, 400, unknown.body);
  assert.match(unknown.json().error.message, /"rocket_launch".*known scopes are/);
  const foreign = await owner('POST', url, { scopes: ['signature'], user_id: B.ownerId });
  assert.equal(foreign.statusCode, 422, foreign.body);
  assert.equal(foreign.json().error.code, 'invalid_reference');

  // A key restricted to integrations:write grants no scope reaching beyond it.
  const restricted = (
    await created(await owner('POST', '/api/api_keys', { name: 'consents', scopes: ['integrations:write'] }))
  ).key;
  const beyond = await as(app, restricted)('POST', url, { scopes: ['user_write'], user_id: member.userId });
  assert.equal(beyond.statusCode, 403, beyond.body);
  assert.match(beyond.json().error.message, /users:write/);
  await created(
    await as(app, restricted)('POST', url, { scopes: ['impersonation', 'openid'], user_id: member.userId }),
    200,
  );

  const list = await created(await owner('GET', url), 200);
  assert.deepEqual(
    list.data.map((c: { id: string }) => c.id),
    [orgWide.id, forMember.id],
  );

  // Revoking stops the consent at once.
  const revoked = await created(await owner('DELETE', `${url}/${orgWide.id}`), 200);
  assert.ok(revoked.revoked_at);
  assert.deepEqual(await lookup.consentFor(made.id, member.userId), [
    'group_read',
    'impersonation',
    'openid',
  ]);
  assert.deepEqual(await lookup.consentFor(made.id, A.ownerId), []);
  assert.equal((await owner('DELETE', `${url}/${orgWide.id}`)).statusCode, 200, 'revoking again: the same');
  // A new organization-wide consent can be granted once the old one is revoked.
  const renewed = await created(await owner('POST', url, { scopes: ['signature'] }));
  assert.notEqual(renewed.id, orgWide.id);

  // The user's own consent (the consent page of /oauth/auth) needs no integrations:write.
  const session = {
    principal: {
      ...systemPrincipal(A.organizationId, 'test'),
      kind: 'user' as const,
      id: member.userId,
      userId: member.userId,
      role: 'member' as const,
      permissions: new Set<never>(),
    },
    meta: {},
  };
  const own = await services.consents.recordUserConsent(session, made.id, ['extended', 'impersonation']);
  assert.equal(own.id, forMember.id, 'added to the consent the member has');
  assert.deepEqual(own.scopes, ['extended', 'group_read', 'impersonation', 'openid']);

  const actions = await auditEvents(A.organizationId, 'target_type', 'oauth_consent');
  assert.deepEqual(
    actions.map((a) => a.action),
    [
      'oauth_consent.granted',
      'oauth_consent.granted',
      'oauth_consent.granted',
      'oauth_consent.granted',
      'oauth_consent.revoked',
      'oauth_consent.granted',
      'oauth_consent.granted',
    ],
  );
});

test('integrations are for owners and admins; members and restricted keys are refused', async (t) => {
  const built = await buildApp(t);
  const { app, services, config } = built;
  const A = await createTenant(services, config);
  const owner = as(app, A.key);
  const made = await created(await owner('POST', '/api/integrations', confidential()));
  const admin = as(app, (await keyFor(built, A, 'admin')).key);
  const member = as(app, (await keyFor(built, A, 'member', 'DS Admin')).key);
  const usersOnly = as(
    app,
    (await created(await owner('POST', '/api/api_keys', { name: 'u', scopes: ['users:write'] }))).key,
  );
  const readOnly = as(
    app,
    (await created(await owner('POST', '/api/api_keys', { name: 'r', scopes: ['integrations:read'] }))).key,
  );

  assert.equal((await admin('GET', `/api/integrations/${made.id}`)).statusCode, 200);
  await created(await admin('POST', '/api/integrations', confidential()));
  for (const [who, caller, permission] of [
    ['a member with every profile permission', member, 'integrations:read'],
    ['a key restricted to users:write', usersOnly, 'integrations:read'],
  ] as const) {
    const res = await caller('GET', '/api/integrations');
    assert.equal(res.statusCode, 403, `${who}: ${res.body}`);
    assert.match(res.json().error.message, new RegExp(permission));
    const write = await caller('POST', '/api/integrations', confidential());
    assert.equal(write.statusCode, 403, `${who}: ${write.body}`);
  }
  assert.equal((await readOnly('GET', `/api/integrations/${made.id}`)).statusCode, 200);
  const denied = await readOnly('POST', `/api/integrations/${made.id}/secrets`, {});
  assert.equal(denied.statusCode, 403, denied.body);
  assert.match(denied.json().error.message, /integrations:write/);
});

test("another organization's integration id answers 404 everywhere, and nothing of it changes", async (t) => {
  const { app, services, config } = await buildApp(t);
  const A = await createTenant(services, config);
  const B = await createTenant(services, config);
  const ownerA = as(app, A.key);
  const made = await created(await ownerA('POST', '/api/integrations', confidential()));
  const key = await created(
    await ownerA('POST', `/api/integrations/${made.id}/rsa_keys`, { generate: true }),
  );
  const consent = await created(
    await ownerA('POST', `/api/integrations/${made.id}/consents`, { scopes: ['signature'] }),
  );
  const snapshot = async () =>
    (
      await sql`SELECT to_jsonb(i) || jsonb_build_object(
          's', (SELECT jsonb_agg(to_jsonb(s) ORDER BY s.id) FROM integration_secrets s WHERE s.integration_id = i.id),
          'k', (SELECT jsonb_agg(to_jsonb(k) ORDER BY k.id) FROM integration_rsa_keys k WHERE k.integration_id = i.id),
          'c', (SELECT jsonb_agg(to_jsonb(c) ORDER BY c.id) FROM oauth_consents c WHERE c.integration_id = i.id)) AS r
        FROM integrations i WHERE i.id = ${made.id}`.execute(testDb().db)
    ).rows;
  const before = await snapshot();
  const ownerB = as(app, B.key);
  const base = `/api/integrations/${made.id}`;
  const calls: [string, string, unknown?][] = [
    ['GET', base],
    ['PATCH', base, { name: 'stolen' }],
    ['DELETE', base],
    ['POST', `${base}/secrets`, {}],
    ['DELETE', `${base}/secrets/${made.secrets[0].id}`],
    ['POST', `${base}/rsa_keys`, { generate: true }],
    ['DELETE', `${base}/rsa_keys/${key.id}`],
    ['POST', `${base}/consents`, { scopes: ['signature'] }],
    ['GET', `${base}/consents`],
    ['DELETE', `${base}/consents/${consent.id}`],
  ];
  for (const [method, url, body] of calls) {
    const res = await ownerB(method as never, url, body);
    assert.equal(res.statusCode, 404, `${method} ${url}: ${res.body}`);
    assert.equal(res.json().error.code, 'not_found');
  }
  const list = await created(await ownerB('GET', '/api/integrations'), 200);
  assert.deepEqual(list.data, []);
  assert.deepEqual(await snapshot(), before);
});

test('the OpenAPI document describes /api/integrations', async (t) => {
  const { app } = await buildApp(t);
  const doc = (await app.inject('/openapi.json')).json();
  for (const [path, methods] of Object.entries({
    '/api/integrations': ['get', 'post'],
    '/api/integrations/{id}': ['get', 'patch', 'delete'],
    '/api/integrations/{id}/secrets': ['post'],
    '/api/integrations/{id}/secrets/{secret_id}': ['delete'],
    '/api/integrations/{id}/rsa_keys': ['post'],
    '/api/integrations/{id}/rsa_keys/{key_id}': ['delete'],
    '/api/integrations/{id}/consents': ['get', 'post'],
    '/api/integrations/{id}/consents/{consent_id}': ['delete'],
  })) {
    for (const m of methods) assert.ok(doc.paths[path]?.[m], `OpenAPI lists ${m.toUpperCase()} ${path}`);
  }
  const create = doc.paths['/api/integrations'].post;
  assert.ok(create.requestBody.content['application/json'].schema.properties.allowed_grants);
  assert.ok(create.responses['201'].content['application/json'].schema.properties.client_secret);
});
