// Platform mode (docs/platform.md): enabling it, platform keys, connected accounts (idempotent on
// external_id, under concurrency too), the Atlas-Account header (ext_<external_id> or the raw id; a profile
// key's 400, a foreign or unknown account's 404), suspension and who pays (src/core/platform/billing.ts), and
// the audit entries each change leaves in the platform's chain and in the connected account's own.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertConnectedActive, payerOf } from '../src/core/platform/billing.ts';
import { systemPrincipal } from '../src/core/principal.ts';
import { as, buildApp, createTenant, testDb, unique } from './helper.ts';
import { auditActions, connect, platformOf } from './platform-helper.ts';

test('platform mode: owners turn it on (audited); platform keys only in a platform organization', async (t) => {
  const { app, services, config } = await buildApp(t);
  const tenant = await createTenant(services, config);
  const owner = as(app, tenant.key);

  assert.deepEqual((await owner('GET', '/api/platform')).json(), {
    organization_id: tenant.organizationId,
    enabled: false,
    connected_account: null,
  });
  const early = await owner('POST', '/api/platform/connected-accounts', { external_id: 'x', name: 'X' });
  assert.equal(early.statusCode, 403);
  assert.equal(early.json().error.code, 'platform_not_enabled');
  assert.match(early.json().error.message, /POST \/api\/platform \{"enabled": true\}/);

  // An admin's key may use platform mode but not turn it on.
  const admin = await owner('POST', '/api/users', { email: `${unique('a')}@example.test`, role: 'admin' });
  const adminKey = await services.apiKeys.create(
    { principal: systemPrincipal(tenant.organizationId, 'test'), meta: {} },
    { name: 'admin', account_id: tenant.accountId, created_by: admin.json().id, role: 'admin' },
  );
  const byAdmin = await as(app, adminKey.key)('POST', '/api/platform', { enabled: true });
  assert.equal(byAdmin.statusCode, 403);
  assert.equal(byAdmin.json().error.code, 'permission_denied');

  const on = await owner('POST', '/api/platform', { enabled: true });
  assert.equal(on.statusCode, 200);
  assert.equal(on.json().enabled, true);
  assert.equal((await owner('POST', '/api/platform', { enabled: true })).statusCode, 200, 'a repeat');
  const events = await auditActions(tenant.organizationId);
  assert.equal(events.filter((a) => a === 'platform.enabled').length, 1, 'a repeat changes nothing');

  const pk = await as(app, adminKey.key)('POST', '/api/api_keys', { name: 'p', kind: 'platform' });
  assert.equal(pk.statusCode, 201, pk.body);
  const listed = await as(app, pk.json().key)('GET', '/api/platform/connected-accounts');
  assert.equal(listed.statusCode, 200);
  assert.deepEqual(listed.json(), { data: [], next_cursor: null });

  // A member lacks the platform permissions.
  const member = await owner('POST', '/api/users', { email: `${unique('m')}@example.test` });
  const memberKey = await services.apiKeys.create(
    { principal: systemPrincipal(tenant.organizationId, 'test'), meta: {} },
    { name: 'member', account_id: tenant.accountId, created_by: member.json().id, role: 'member' },
  );
  const byMember = await as(app, memberKey.key)('GET', '/api/platform/connected-accounts');
  assert.equal(byMember.statusCode, 403);
  assert.equal(byMember.json().error.code, 'permission_denied');

  const off = await owner('POST', '/api/platform', { enabled: false });
  assert.equal(off.json().enabled, false);
  assert.deepEqual((await auditActions(tenant.organizationId)).slice(-1), ['platform.disabled']);
});

test('connected accounts: created with Atlas’s fields, idempotent on external_id, listed, filtered, patched', async (t) => {
  const { app, services, config } = await buildApp(t);
  const tenant = await createTenant(services, config);
  const p = await platformOf(app, services, tenant);

  const first = await p.caller('POST', '/api/platform/connected-accounts', {
    external_id: 'acme-corp-42',
    name: 'Acme Corp',
  });
  assert.equal(first.statusCode, 201, first.body);
  const acme = first.json();
  assert.equal(acme.success, true);
  assert.equal(acme.created, true);
  assert.equal(acme.connected_org_id, acme.id);
  assert.equal(acme.external_id, 'acme-corp-42');
  assert.equal(acme.status, 'active');
  assert.equal(acme.billing_mode, 'platform_pays');
  assert.equal(acme.platform_organization_id, tenant.organizationId);
  assert.match(acme.next_step, /Atlas-Account: ext_acme-corp-42/);

  // The same external id again: the existing account, unchanged, 200.
  const again = await p.caller('POST', '/api/platform/connected-accounts', {
    external_id: 'acme-corp-42',
    name: 'Another name',
    billing_mode: 'child_pays',
  });
  assert.equal(again.statusCode, 200);
  assert.equal(again.json().created, false);
  assert.equal(again.json().connected_org_id, acme.id);
  assert.equal(again.json().name, 'Acme Corp');
  assert.equal(again.json().billing_mode, 'platform_pays');

  // The connected account is an organization of its own with a seeded first account and no people.
  const db = testDb().db;
  const org = await db
    .selectFrom('organizations')
    .selectAll()
    .where('id', '=', acme.id)
    .executeTakeFirstOrThrow();
  assert.equal(org.platform_organization_id, tenant.organizationId);
  const people = await db.selectFrom('users').select('id').where('organization_id', '=', acme.id).execute();
  assert.equal(people.length, 0, 'API-scoped: nobody signs in until the platform invites someone');
  const profiles = await db
    .selectFrom('permission_profiles')
    .select('name')
    .where('account_id', '=', acme.account_id)
    .execute();
  assert.ok(
    profiles.some((r) => r.name === 'DS Admin'),
    'seeded profiles',
  );

  const beta = await connect(p.caller, 'beta-7', { billing_mode: 'child_pays' });
  const gamma = await connect(p.caller, 'gamma-9');
  const bad = await p.caller('POST', '/api/platform/connected-accounts', {
    external_id: 'has space',
    name: 'x',
  });
  assert.equal(bad.statusCode, 400);
  const credits = await p.caller('POST', '/api/platform/connected-accounts', {
    external_id: unique('c'),
    name: 'x',
    initial_credits: 5,
  });
  assert.equal(credits.statusCode, 201, credits.body);

  // Reads: by id, by ext_, the list with its filters and cursor.
  assert.equal(
    (await p.caller('GET', `/api/platform/connected-accounts/${beta.id}`)).json().external_id,
    'beta-7',
  );
  assert.equal((await p.caller('GET', '/api/platform/connected-accounts/ext_beta-7')).json().id, beta.id);
  assert.equal((await p.caller('GET', '/api/platform/connected-accounts/ext_nope')).statusCode, 404);
  const page1 = (await p.caller('GET', '/api/platform/connected-accounts?limit=2')).json();
  assert.deepEqual(
    page1.data.map((a: { id: string }) => a.id),
    [acme.id, beta.id],
  );
  const page2 = (
    await p.caller('GET', `/api/platform/connected-accounts?limit=2&cursor=${page1.next_cursor}`)
  ).json();
  assert.equal(page2.data[0].id, gamma.id);
  const byExt = (await p.caller('GET', '/api/platform/connected-accounts?external_id=gamma-9')).json();
  assert.deepEqual(
    byExt.data.map((a: { id: string }) => a.id),
    [gamma.id],
  );
  const byQ = (await p.caller('GET', '/api/platform/connected-accounts?q=ACME')).json();
  assert.deepEqual(
    byQ.data.map((a: { id: string }) => a.id),
    [acme.id],
  );
  const pct = (await p.caller('GET', '/api/platform/connected-accounts?q=%25')).json();
  assert.equal(pct.data.length, 0, 'q matches % literally');

  // PATCH: suspend, rename, billing mode; recorded in both chains.
  const suspended = await p.caller('PATCH', `/api/platform/connected-accounts/${beta.id}`, {
    status: 'suspended',
  });
  assert.equal(suspended.statusCode, 200, suspended.body);
  assert.equal(suspended.json().status, 'suspended');
  const onlySuspended = (await p.caller('GET', '/api/platform/connected-accounts?status=suspended')).json();
  assert.deepEqual(
    onlySuspended.data.map((a: { id: string }) => a.id),
    [beta.id],
  );
  const renamed = await p.caller('PATCH', '/api/platform/connected-accounts/ext_gamma-9', {
    name: 'Gamma GmbH',
    billing_mode: 'child_pays',
  });
  assert.equal(renamed.json().name, 'Gamma GmbH');
  assert.equal(renamed.json().billing_mode, 'child_pays');
  assert.equal(
    (await p.caller('PATCH', `/api/platform/connected-accounts/${beta.id}`, { status: 'paused' })).statusCode,
    400,
  );

  const platformEvents = await auditActions(tenant.organizationId);
  for (const a of ['connected_account.created', 'connected_account.suspended', 'connected_account.updated'])
    assert.ok(platformEvents.includes(a), a);
  assert.equal(
    platformEvents.filter((a) => a === 'connected_account.created').length,
    credits.statusCode === 201 ? 4 : 3,
  );
  const betaEvents = await auditActions(beta.id);
  assert.deepEqual(betaEvents.slice(0, 2), ['organization.created', 'account.created']);
  assert.equal(betaEvents.at(-1), 'connected_account.suspended');
  // The connected account's chain names the platform key that acted.
  const actor = await db
    .selectFrom('audit_events')
    .select(['actor_type', 'actor_label'])
    .where('organization_id', '=', beta.id)
    .where('action', '=', 'connected_account.suspended')
    .executeTakeFirstOrThrow();
  assert.equal(actor.actor_type, 'api_key');
  assert.match(actor.actor_label ?? '', new RegExp(`platform ${tenant.organizationId}`));
  // The audit API shows them too: the platform's own, and the connected account's through the header.
  const own = (await p.caller('GET', '/api/audit_events?action=connected_account.*')).json();
  // acme, beta and gamma created (and the one with credits, where the ledger exists), beta suspended, gamma updated.
  assert.equal(own.data.length, credits.statusCode === 201 ? 6 : 5, JSON.stringify(own));
  const theirs = (await p.actingFor('ext_beta-7')('GET', '/api/audit_events?order=asc')).json();
  assert.equal(theirs.data[0].action, 'organization.created');
});

test('20 creates at once with one external_id make exactly one connected account', async (t) => {
  const { app, services, config } = await buildApp(t);
  const tenant = await createTenant(services, config);
  const p = await platformOf(app, services, tenant);
  const externalId = unique('race');
  const answers = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      p.caller('POST', '/api/platform/connected-accounts', { external_id: externalId, name: `Race ${i}` }),
    ),
  );
  for (const res of answers) assert.ok([200, 201].includes(res.statusCode), `${res.statusCode} ${res.body}`);
  assert.equal(answers.filter((r) => r.json().created === true).length, 1, 'one created');
  assert.equal(answers.filter((r) => r.statusCode === 201).length, 1);
  const ids = new Set(answers.map((r) => r.json().connected_org_id));
  assert.equal(ids.size, 1, 'every answer names the same account');
  const rows = await testDb()
    .db.selectFrom('organizations')
    .select('id')
    .where('platform_organization_id', '=', tenant.organizationId)
    .where('external_id', '=', externalId)
    .execute();
  assert.equal(rows.length, 1);
  const accounts = await testDb()
    .db.selectFrom('accounts')
    .select('id')
    .where('organization_id', '=', rows[0]!.id)
    .execute();
  assert.equal(accounts.length, 1, 'one seeded account');
  assert.equal(
    (await auditActions(tenant.organizationId)).filter((a) => a === 'connected_account.created').length,
    1,
  );
});

test('Atlas-Account: a platform key acts in its connected accounts, and only there', async (t) => {
  const { app, services, config } = await buildApp(t);
  const tp = await createTenant(services, config);
  const tq = await createTenant(services, config);
  const P = await platformOf(app, services, tp);
  const Q = await platformOf(app, services, tq);
  const c1 = await connect(P.caller, 'one');
  const c2 = await connect(P.caller, 'two');
  const d = await connect(Q.caller, 'one'); // the same external id, another platform

  // By ext_<external_id> and by the raw id (any case of the header name; UUID in upper case too).
  const asC1 = P.actingFor('ext_one');
  const org = await asC1('GET', '/api/organization');
  assert.equal(org.statusCode, 200, org.body);
  assert.equal(org.json().id, c1.id);
  const raw = await P.caller('GET', '/api/organization', undefined, { 'Atlas-Account': c1.id.toUpperCase() });
  assert.equal(raw.json().id, c1.id);
  const me = (await asC1('GET', '/api/me')).json();
  assert.equal(me.organization_id, c1.id);
  assert.equal(me.account_id, c1.account_id);
  assert.equal(me.platform_organization_id, tp.organizationId);
  assert.equal(me.key_kind, 'platform');
  assert.equal(me.user_id, null);
  // Without the header: the platform organization itself.
  assert.equal((await P.caller('GET', '/api/organization')).json().id, tp.organizationId);

  // Writes land in the connected account, audited in its chain.
  const user = await asC1('POST', '/api/users', { email: `${unique('c1')}@example.test` });
  assert.equal(user.statusCode, 201, user.body);
  assert.equal(user.json().organization_id ?? c1.id, c1.id);
  const brand = await asC1('POST', `/api/accounts/${c1.account_id}/brands`, { name: 'C1 brand' });
  assert.equal(brand.statusCode, 201, brand.body);
  const setting = await asC1('GET', `/api/accounts/${c1.account_id}/settings`);
  assert.equal(setting.statusCode, 200, setting.body);
  const c1Users = (await asC1('GET', '/api/users')).json().data.map((u: { id: string }) => u.id);
  assert.deepEqual(c1Users, [user.json().id]);
  assert.ok(!(await P.caller('GET', '/api/users')).body.includes(user.json().id), 'not in the platform');
  const c1Events = await auditActions(c1.id);
  assert.ok(c1Events.includes('user.created') && c1Events.includes('brand.created'), c1Events.join());

  // Siblings and the platform are out of reach: their ids answer 404.
  const asC2 = P.actingFor(`ext_two`);
  assert.equal((await asC2('GET', `/api/users/${user.json().id}`)).statusCode, 404);
  assert.equal(
    (await asC2('GET', `/api/accounts/${c1.account_id}/brands/${brand.json().id}`)).statusCode,
    404,
  );
  assert.equal((await asC1('GET', `/api/users/${tp.ownerId}`)).statusCode, 404);
  assert.equal((await asC1('GET', `/api/organizations/${tp.organizationId}`)).statusCode, 404);
  assert.equal((await asC1('GET', `/api/accounts/${tp.accountId}`)).statusCode, 404);

  // Another platform's account (by id, and by an external id only it has), or an unknown one: 404.
  for (const ref of [d.id, 'ext_nobody', '0190e6d2-8a4e-7000-8000-000000000000']) {
    const res = await P.caller('GET', '/api/users', undefined, { 'atlas-account': ref });
    assert.equal(res.statusCode, 404, `${ref}: ${res.body}`);
    assert.equal(res.json().error.code, 'not_found');
    assert.ok(!res.body.includes(tq.organizationId), 'names no other platform');
  }
  // ext_one names each platform's own account.
  assert.equal((await Q.actingFor('ext_one')('GET', '/api/organization')).json().id, d.id);
  // Neither a connected account's own id under another platform, nor a platform itself.
  assert.equal((await P.actingFor(tq.organizationId)('GET', '/api/users')).statusCode, 404);
  assert.equal((await P.actingFor(tp.organizationId)('GET', '/api/users')).statusCode, 404);
  // A malformed value: 400, naming both forms.
  const malformed = await P.actingFor('acme')('GET', '/api/users');
  assert.equal(malformed.statusCode, 400);
  assert.match(malformed.json().error.message, /ext_<external_id> or the connected_org_id/);

  // A profile key (the platform owner's own) sending the header: 400 platform_key_required.
  const profile = await as(app, tp.key)('GET', '/api/users', undefined, { 'atlas-account': 'ext_one' });
  assert.equal(profile.statusCode, 400);
  const err = profile.json().error;
  assert.equal(err.code, 'platform_key_required');
  assert.match(err.message, /needs a platform key/);
  assert.match(err.message, /POST \/api\/api_keys \{"kind": "platform"\}/);
  assert.match(err.message, /drop Atlas-Account/);
  assert.deepEqual(err.details[0], {
    field: 'Atlas-Account',
    message: 'only a platform key may send this header',
    key_kind: 'profile',
  });

  // Platform routes act for the platform itself: the header is refused there.
  const onPlatform = await asC1('GET', '/api/platform/connected-accounts');
  assert.equal(onPlatform.statusCode, 400);
  assert.equal(onPlatform.json().error.code, 'invalid_request');
  // No keys made in a connected account by the platform key (nobody there to own them).
  const keyThere = await asC1('POST', '/api/api_keys', { name: 'k' });
  assert.equal(keyThere.statusCode, 403);
  assert.match(keyThere.json().error.message, /Invite a person/);
  // A connected account reads its own platform facts through the header.
  const facts = (await asC1('GET', '/api/platform')).json();
  assert.equal(facts.connected_account.platform_organization_id, tp.organizationId);
  assert.equal(facts.connected_account.external_id, 'one');

  // Platform mode off: the header stops working (403), the key still works in its own organization.
  await P.owner('POST', '/api/platform', { enabled: false });
  const off = await asC1('GET', '/api/users');
  assert.equal(off.statusCode, 403);
  assert.equal(off.json().error.code, 'platform_not_enabled');
  assert.equal((await P.caller('GET', '/api/users')).statusCode, 200);
  void c2;
});

test("a connected account's own keys reach neither its siblings nor its platform, nor send the header", async (t) => {
  const { app, services, config } = await buildApp(t);
  const tp = await createTenant(services, config);
  const P = await platformOf(app, services, tp);
  const c1 = await connect(P.caller);
  const c2 = await connect(P.caller);
  // The platform invites an owner into c1 (written directly: the invite's acceptance is tested elsewhere).
  const owner = await P.actingFor(c1.id)('POST', '/api/users', {
    email: `${unique('own')}@example.test`,
    role: 'owner',
  });
  assert.equal(owner.statusCode, 201, owner.body);
  const key = await services.apiKeys.create(
    { principal: systemPrincipal(c1.id, 'test'), meta: {} },
    { name: 'c1 own', account_id: c1.account_id, created_by: owner.json().id },
  );
  const own = as(app, key.key);
  const c2User = await P.actingFor(c2.id)('POST', '/api/users', { email: `${unique('c2')}@example.test` });
  assert.equal((await own('GET', '/api/organization')).json().id, c1.id);
  assert.equal((await own('GET', `/api/users/${c2User.json().id}`)).statusCode, 404);
  assert.equal((await own('GET', `/api/users/${tp.ownerId}`)).statusCode, 404);
  assert.equal((await own('GET', `/api/organizations/${tp.organizationId}`)).statusCode, 404);
  assert.equal((await own('GET', `/api/accounts/${c2.account_id}`)).statusCode, 404);
  for (const ref of [c2.id, `ext_${c2.external_id}`, c1.id, tp.organizationId]) {
    const res = await own('GET', '/api/users', undefined, { 'atlas-account': ref });
    assert.equal(res.statusCode, 400, ref);
    assert.equal(res.json().error.code, 'platform_key_required');
  }
  // A connected account cannot become a platform, so it has no platform keys.
  const become = await own('POST', '/api/platform', { enabled: true });
  assert.equal(become.statusCode, 409);
  assert.match(become.json().error.message, /cannot itself be a platform/);
  const pk = await own('POST', '/api/api_keys', { name: 'p', kind: 'platform' });
  assert.equal(pk.statusCode, 403);
  assert.equal(pk.json().error.code, 'platform_not_enabled');
});

test('who pays and suspension: payerOf and assertConnectedActive', async (t) => {
  const { app, services, config } = await buildApp(t);
  const tp = await createTenant(services, config);
  const P = await platformOf(app, services, tp);
  const pays = await connect(P.caller);
  const own = await connect(P.caller, unique('child'), { billing_mode: 'child_pays' });
  const db = testDb().db;

  assert.deepEqual(await payerOf(db, tp.organizationId), {
    payerOrganizationId: tp.organizationId,
    suspended: false,
  });
  assert.deepEqual(await payerOf(db, pays.id), { payerOrganizationId: tp.organizationId, suspended: false });
  assert.deepEqual(await payerOf(db, own.id), { payerOrganizationId: own.id, suspended: false });

  await P.caller('PATCH', `/api/platform/connected-accounts/${own.id}`, { status: 'suspended' });
  await P.caller('PATCH', `/api/platform/connected-accounts/${pays.id}`, { billing_mode: 'child_pays' });
  assert.deepEqual(await payerOf(db, own.id), { payerOrganizationId: own.id, suspended: true });
  assert.deepEqual(await payerOf(db, pays.id), { payerOrganizationId: pays.id, suspended: false });

  await assert.rejects(
    db.transaction().execute((trx) => assertConnectedActive(trx, own.id, 'send an envelope')),
    (e: any) =>
      e.code === 'connected_account_suspended' &&
      e.status === 403 &&
      /cannot send an envelope; drafts and reads still work/.test(e.message),
  );
  const active = await db.transaction().execute((trx) => assertConnectedActive(trx, pays.id));
  assert.equal(active.payerOrganizationId, pays.id);
  // Suspended, the account's reads and free writes still work.
  const asOwn = P.actingFor(own.id);
  assert.equal((await asOwn('GET', '/api/users')).statusCode, 200);
  assert.equal(
    (await asOwn('POST', `/api/accounts/${own.account_id}/brands`, { name: 'b' })).statusCode,
    201,
  );
  // Reactivated, it may send again.
  await P.caller('PATCH', `/api/platform/connected-accounts/${own.id}`, { status: 'active' });
  assert.equal((await payerOf(db, own.id)).suspended, false);
  assert.ok((await auditActions(own.id)).includes('connected_account.reactivated'), 'reactivation audited');
});
