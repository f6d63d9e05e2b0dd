// Webhooks per connected account (issue 13, docs/webhooks.md "Connected accounts"): a platform key acting
// through Atlas-Account registers an endpoint in each connected account; each hears its own account's events
// only, never a sibling's nor the platform's, verified with the `standardwebhooks` package at a real receiver.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { as, buildApp, type Caller, createTenant, testDb, unique } from './helper.ts';
import { runWorker } from './imports-helper.ts';
import { receiver } from './webhooks-helper.ts';

test('connected accounts: an endpoint made through Atlas-Account hears its own account, never a sibling', async (t) => {
  const { app, services, config } = await buildApp(t, {
    outboundAllowHttp: true,
    outboundAllow: ['127.0.0.1'],
    webhookDelivery: true,
  });
  const tenant = await createTenant(services, config);
  const owner = as(app, tenant.key);
  assert.equal((await owner('POST', '/api/platform', { enabled: true })).statusCode, 200);
  const key = await owner('POST', '/api/api_keys', { name: 'platform', kind: 'platform' });
  assert.equal(key.statusCode, 201, key.body);
  const platform = as(app, key.json().key as string);
  const actingFor =
    (ref: string): Caller =>
    (method, url, body, headers = {}) =>
      platform(method, url, body, { 'atlas-account': ref, ...headers });
  const connected = async () => {
    const res = await platform('POST', '/api/platform/connected-accounts', {
      external_id: unique('cust'),
      name: unique('Customer'),
    });
    assert.equal(res.statusCode, 201, res.body);
    const c = res.json() as { external_id: string; account_id: string; connected_org_id: string };
    return { ...c, api: actingFor(`ext_${c.external_id}`) };
  };
  const one = await connected();
  const two = await connected();
  // This runner sends these three organizations' webhooks only (other test files share the database).
  await runWorker(t, {
    ...config,
    webhookOrganizations: [tenant.organizationId, one.connected_org_id, two.connected_org_id],
  });
  const rx = await receiver(t);

  const register = async (api: Caller, accountId: string, path: string) => {
    const res = await api('POST', '/api/webhook_endpoints', {
      account_id: accountId,
      url: rx.url(path),
      events: ['user.created'],
    });
    assert.equal(res.statusCode, 201, res.body);
    return res.json() as { id: string; secret: string; account_id: string };
  };
  const hookOne = await register(one.api, one.account_id, '/one');
  const hookTwo = await register(two.api, two.account_id, '/two');
  const hookPlatform = await register(owner, tenant.accountId, '/platform');
  assert.equal(hookOne.account_id, one.account_id);

  // Acting for one connected account, a sibling's account is not a reference it can make, nor its endpoint
  // one it can see; the platform itself (no header) does not see the connected account's either.
  const foreign = await one.api('POST', '/api/webhook_endpoints', {
    account_id: two.account_id,
    url: rx.url('/stolen'),
    events: ['*'],
  });
  assert.equal(foreign.statusCode, 422, foreign.body);
  assert.equal(foreign.json().error.code, 'invalid_reference');
  assert.equal((await one.api('GET', `/api/webhook_endpoints/${hookTwo.id}`)).statusCode, 404);
  assert.equal((await platform('GET', `/api/webhook_endpoints/${hookOne.id}`)).statusCode, 404);
  assert.deepEqual(
    (await one.api('GET', '/api/webhook_endpoints')).json().data.map((e: { id: string }) => e.id),
    [hookOne.id],
  );

  // One user in each organization.
  const user = async (api: Caller, accountId: string) => {
    const res = await api('POST', '/api/users', {
      email: `${unique('u')}@example.test`,
      account_id: accountId,
    });
    assert.equal(res.statusCode, 201, res.body);
    return res.json().id as string;
  };
  const userOne = await user(one.api, one.account_id);
  const userTwo = await user(two.api, two.account_id);
  const userPlatform = await user(owner, tenant.accountId);

  // The deliveries are written with the changes, so these are all each endpoint will ever be owed.
  const owed = async (endpointId: string) =>
    (
      await testDb()
        .db.selectFrom('webhook_deliveries as d')
        .innerJoin('webhook_events as e', 'e.id', 'd.event_id')
        .select(['e.type', 'e.payload', 'e.organization_id'])
        .where('d.endpoint_id', '=', endpointId)
        .execute()
    ).map((r) => [r.type, (r.payload as { id: string }).id, r.organization_id]);
  assert.deepEqual(await owed(hookOne.id), [['user.created', userOne, one.connected_org_id]]);
  assert.deepEqual(await owed(hookTwo.id), [['user.created', userTwo, two.connected_org_id]]);
  assert.deepEqual(await owed(hookPlatform.id), [['user.created', userPlatform, tenant.organizationId]]);

  // And they arrive, each verifiable with its own endpoint's secret only.
  for (const [path, hook, id, other] of [
    ['/one', hookOne, userOne, hookTwo],
    ['/two', hookTwo, userTwo, hookOne],
    ['/platform', hookPlatform, userPlatform, hookOne],
  ] as const) {
    const [got] = await rx.wait(path, 1);
    const headers = got!.headers as Record<string, string>;
    const event = new Webhook(hook.secret).verify(got!.body, headers) as { data: { id: string } };
    assert.equal(event.data.id, id, `${path} hears its own user`);
    assert.throws(() => new Webhook(other.secret).verify(got!.body, headers), `${path}: another's secret`);
  }
  assert.equal(rx.got.filter((r) => r.path === '/stolen').length, 0, 'nothing for the refused registration');
});
