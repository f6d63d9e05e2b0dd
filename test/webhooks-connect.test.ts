// The Connect operations of /management through the official docusign-admin SDK (OrgConnectApi, all 12):
// an organization-level Connect configuration is a webhook endpoint that a real receiver on loopback gets
// events from, signed with the organization's Connect HMAC secrets (one X-DocuSign-Signature-N each) and sent
// with a Bearer token Signet obtained from the configured token endpoint (client credentials).
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import { type TestContext, test } from 'node:test';
import { admin, adminClient, api, liveTenant, restrictedKey, sdkError, startApp } from './docusign-helper.ts';
import { unique } from './helper.ts';
import { runWorker } from './imports-helper.ts';
import { receiver, until } from './webhooks-helper.ts';

/** A client-credentials token endpoint on loopback: checks the client, hands out numbered tokens. */
async function tokenServer(t: TestContext) {
  const requests: { authorization: string; form: URLSearchParams }[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString('utf8');
    });
    req.on('end', () => {
      const form = new URLSearchParams(body);
      requests.push({ authorization: String(req.headers.authorization), form });
      const expected = `Basic ${Buffer.from('crm-client:crm-secret').toString('base64')}`;
      if (req.headers.authorization !== expected || form.get('grant_type') !== 'client_credentials') {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end('{"error":"invalid_client"}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ access_token: `tok-${requests.length}`, token_type: 'Bearer', expires_in: 3600 }),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/oauth/token`, requests };
}

test('OrgConnectApi through the SDK: configurations, HMAC secrets and OAuth; deliveries signed with every secret and sent with a Bearer token', async (t) => {
  const live = await startApp(t, {
    outboundAllowHttp: true,
    outboundAllow: ['127.0.0.1'],
    webhookDelivery: true,
  });
  const tenant = await liveTenant(live);
  await runWorker(t, { ...live.config, webhookOrganizations: [tenant.organizationId] });
  const org = tenant.organizationId;
  const connect = new admin.OrgConnectApi(adminClient(live, tenant.key));
  const rx = await receiver(t);
  const tokens = await tokenServer(t);

  assert.deepEqual((await connect.getOrganizationConnectConfigs(org)).configurations, []);

  // Two HMAC secrets: each shown once, listed by key id after.
  const s1 = (await connect.postConnectHmacSecret(org)).secrets[0];
  const s2 = (await connect.postConnectHmacSecret(org)).secrets[0];
  assert.ok(s1 && s2 && s1 !== s2);
  const keys = (await connect.getConnectHmacSecrets(org)).secrets;
  assert.equal(keys.length, 2);
  assert.ok(!JSON.stringify(keys).includes(s1), 'a secret is never listed');

  // The OAuth configuration: the client secret is write-only.
  const oauth = await connect.postOrganizationConnectOAuthConfiguration(
    {
      authorizationServerUrl: tokens.url,
      clientId: 'crm-client',
      clientSecret: 'crm-secret',
      scope: 'hooks',
    },
    org,
  );
  assert.equal(oauth.clientId, 'crm-client');
  assert.equal(oauth.clientSecret, undefined);
  assert.equal(
    (await connect.getOrganizationConnectOAuthConfiguration(org)).authorizationServerUrl,
    tokens.url,
  );
  // POST takes a whole configuration (a missing field is a 400), PUT changes the fields it sends.
  const partial = await sdkError(
    connect.postOrganizationConnectOAuthConfiguration(
      { authorizationServerUrl: tokens.url, clientId: 'x' },
      org,
    ),
  );
  assert.equal(partial.statusCode, 400);
  assert.match(partial.body.error_description, /clientSecret/);
  const put = await connect.putOrganizationConnectOAuthConfiguration({ scope: 'hooks.write' }, org);
  assert.equal(put.scope, 'hooks.write');
  assert.equal(put.clientId, 'crm-client', 'fields not sent keep their values');

  // A configuration for the organization's account, HMAC and OAuth on, with a Connect event name.
  const created = await connect.createOrganizationConnectConfig(
    {
      urlToPublishTo: rx.url('/connect'),
      name: 'CRM',
      configurationType: 'custom',
      allowEnvelopePublish: 'true',
      includeHMAC: 'true',
      includeOAuth: 'true',
      events: ['user-created'],
      accountIds: [tenant.accountId],
    },
    org,
  );
  const id = created.connectId;
  assert.match(id, /^[0-9a-f-]{36}$/);
  assert.equal(created.urlToPublishTo, rx.url('/connect'));
  assert.deepEqual(created.events, ['user-created']);
  assert.equal(created.includeHMAC, 'true');
  assert.equal((await connect.getOrganizationConnectConfig(org, id)).name, 'CRM');
  const listed = (await connect.getOrganizationConnectConfigs(org)).configurations;
  assert.deepEqual(
    listed.map((c: any) => [c.connectId, c.name, c.accountId]),
    [[id, 'CRM', tenant.accountId]],
  );
  // The same endpoint in /api (an organization-level one: no account of its own).
  const viaApi = await api(live, tenant.key, 'GET', `/api/webhook_endpoints/${id}`);
  assert.equal(viaApi.status, 200);
  assert.equal(viaApi.body.account_id, null);
  assert.deepEqual(viaApi.body.account_ids, [tenant.accountId]);
  assert.equal(viaApi.body.format, 'connect');

  const user = await api(live, tenant.key, 'POST', '/api/users', {
    email: `${unique('c')}@example.test`,
    account_id: tenant.accountId,
  });
  assert.equal(user.status, 201);
  const [first] = await rx.wait('/connect', 1);
  const mac = (key: string, body: string) => createHmac('sha256', key).update(body).digest('base64');
  assert.equal(first!.headers['x-docusign-signature-1'], mac(s1, first!.body));
  assert.equal(first!.headers['x-docusign-signature-2'], mac(s2, first!.body));
  assert.equal(first!.headers.authorization, 'Bearer tok-1');
  const body = JSON.parse(first!.body);
  assert.equal(body.event, 'user.created');
  assert.equal(body.configurationId, id);
  assert.equal(body.data.id, user.body.id);
  assert.equal(tokens.requests.length, 1);
  assert.equal(tokens.requests[0]!.form.get('scope'), 'hooks.write');

  // A key deleted: its signature goes; OAuth off: no Bearer.
  const left = await connect.deleteConnectHmacSecret(org, keys[0]);
  assert.deepEqual(left.secrets, [keys[1]]);
  const updated = await connect.updateOrganizationConnectConfig(
    { name: 'CRM 2', includeOAuth: 'false' },
    org,
    id,
  );
  assert.equal(updated.name, 'CRM 2');
  assert.equal(updated.includeOAuth, 'false');
  assert.equal(updated.urlToPublishTo, rx.url('/connect'));
  await api(live, tenant.key, 'POST', '/api/users', {
    email: `${unique('c')}@example.test`,
    account_id: tenant.accountId,
  });
  const [, second] = await rx.wait('/connect', 2);
  assert.equal(second!.headers['x-docusign-signature-1'], mac(s2, second!.body));
  assert.equal(second!.headers['x-docusign-signature-2'], undefined);
  assert.equal(second!.headers.authorization, undefined);

  // The delivery log has both, delivered.
  const log = await until(
    async () => (await api(live, tenant.key, 'GET', `/api/webhook_endpoints/${id}/deliveries`)).body.data,
    (d: any[]) => d.length === 2 && d.every((x) => x.status === 'delivered'),
  );
  assert.equal(log.length, 2);

  // Audit: every change, never a secret.
  const audit = await api(live, tenant.key, 'GET', '/api/audit_events?order=asc&limit=200');
  const actions = audit.body.data.map((e: any) => e.action);
  for (const a of [
    'connect_hmac_secret.created',
    'connect_oauth.created',
    'connect_oauth.updated',
    'webhook_endpoint.created',
    'connect_hmac_secret.deleted',
    'webhook_endpoint.updated',
  ]) {
    assert.ok(actions.includes(a), a);
  }
  for (const secret of [s1, s2, 'crm-secret']) assert.ok(!audit.bytes.toString('utf8').includes(secret));

  // Deleted: gone; the OAuth configuration too.
  assert.deepEqual(await connect.deleteOrganizationConnectConfig(org, id), {});
  assert.equal((await sdkError(connect.getOrganizationConnectConfig(org, id))).statusCode, 404);
  await connect.deleteOrganizationConnectOAuthConfiguration(org);
  assert.deepEqual({ ...(await connect.getOrganizationConnectOAuthConfiguration(org)) }, {});
});

test('Connect operations: bad input is a 400 naming the field; another organization’s ids are not found; owners and admins only', async (t) => {
  const live = await startApp(t);
  const a = await liveTenant(live);
  const b = await liveTenant(live);
  const connect = new admin.OrgConnectApi(adminClient(live, a.key));
  const bad = async (body: Record<string, unknown>, field: string) => {
    const res = await sdkError(connect.createOrganizationConnectConfig(body, a.organizationId));
    assert.equal(res.statusCode, 400, JSON.stringify(res.body));
    assert.match(res.body.error_description, new RegExp(field));
  };
  await bad({ name: 'no url' }, 'urlToPublishTo');
  await bad({ urlToPublishTo: 'http://hooks.example/x' }, 'urlToPublishTo');
  await bad({ urlToPublishTo: 'https://127.0.0.1/x' }, 'urlToPublishTo');
  await bad({ urlToPublishTo: 'https://hooks.example/x', events: ['envelope-exploded'] }, 'events');
  await bad({ urlToPublishTo: 'https://hooks.example/x', includeHMAC: 'maybe' }, 'includeHMAC');
  await bad({ urlToPublishTo: 'https://hooks.example/x', accountIds: [b.accountId] }, 'accountIds');
  const oauthBad = await sdkError(
    connect.postOrganizationConnectOAuthConfiguration({ clientId: 'x', clientSecret: 'y' }, a.organizationId),
  );
  assert.equal(oauthBad.statusCode, 400);
  assert.match(oauthBad.body.error_description, /authorizationServerUrl/);

  // B's configuration and key are not A's to see or delete.
  const other = new admin.OrgConnectApi(adminClient(live, b.key));
  const cfg = await other.createOrganizationConnectConfig(
    { urlToPublishTo: 'https://hooks.example/b', name: 'B' },
    b.organizationId,
  );
  await other.postConnectHmacSecret(b.organizationId);
  const [bKey] = (await other.getConnectHmacSecrets(b.organizationId)).secrets;
  assert.equal(
    (await sdkError(connect.getOrganizationConnectConfig(a.organizationId, cfg.connectId))).statusCode,
    404,
  );
  assert.equal(
    (await sdkError(connect.deleteOrganizationConnectConfig(a.organizationId, cfg.connectId))).statusCode,
    404,
  );
  assert.equal((await sdkError(connect.deleteConnectHmacSecret(a.organizationId, bKey))).statusCode, 404);
  assert.equal((await sdkError(connect.getOrganizationConnectConfigs(b.organizationId))).statusCode, 404);
  assert.equal((await connect.getOrganizationConnectConfigs(a.organizationId)).configurations.length, 0);

  // A key restricted to webhooks:* reaches no organization-level configuration: they are integrations:*.
  const hooksOnly = await restrictedKey(live, a, ['webhooks:read', 'webhooks:write']);
  const refused = await sdkError(
    new admin.OrgConnectApi(adminClient(live, hooksOnly)).getOrganizationConnectConfigs(a.organizationId),
  );
  assert.equal(refused.statusCode, 403);
});
