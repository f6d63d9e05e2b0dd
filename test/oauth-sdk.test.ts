// The official docusign-admin SDK against Signet over HTTPS with a self-signed certificate, as docs/oauth.md
// tells users to run it: the JWT grant with requestJWTUserToken, getUserInfo, then users, DS groups and a
// bulk import with the token. The SDK's OAuth helpers hard-code https://, and the JWT they sign names the
// host they were given as its audience; the script runs in its own process with NODE_EXTRA_CA_CERTS.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { as, createTenant, unique } from './helper.ts';
import { runWorker } from './imports-helper.ts';
import { consent, makeIntegration, startOAuthApp } from './oauth-helper.ts';
import { selfSignedCertificate } from './tls-helper.ts';

test('docusign-admin over HTTPS: requestJWTUserToken, getUserInfo, then users, groups and an import', async (t) => {
  const certificate = await selfSignedCertificate();
  const live = await startOAuthApp(t, { tls: certificate, importBatchSize: 10 });
  await runWorker(t, live.config);
  const tenant = await createTenant(live.services, live.config);
  const integration = await makeIntegration(live.app, tenant);
  await consent(
    live.app,
    tenant,
    integration,
    ['signature', 'impersonation', 'organization_read', 'user_read', 'user_write', 'group_read'],
    tenant.ownerId,
  );
  const stranger = (
    await as(live.app, tenant.key)('POST', '/api/users', {
      email: `${unique('stranger')}@example.test`,
      account_id: tenant.accountId,
    })
  ).json();

  const dir = await mkdtemp(path.join(os.tmpdir(), 'signet-sdk-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const certFile = path.join(dir, 'signet.pem');
  await writeFile(certFile, certificate.cert);
  const input = {
    base: live.base,
    clientId: integration.clientId,
    userId: tenant.ownerId,
    strangerId: stranger.id,
    privateKey: integration.privateKey,
    orgId: tenant.organizationId,
    accountId: tenant.accountId,
    csv: `AccountID,FirstName,LastName,UserEmail,PermissionSet\n${tenant.accountId},Grace,Hopper,${unique('grace')}@example.test,DS Sender\n`,
  };
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'test/oauth-sdk-client.ts', JSON.stringify(input)],
    {
      env: { ...process.env, NODE_EXTRA_CA_CERTS: certFile },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let stdout = '';
  child.stdout.on('data', (c) => {
    stdout += c;
  });
  const code = await new Promise((resolve) => child.on('exit', resolve));
  assert.equal(code, 0);
  const out = JSON.parse(stdout);
  assert.equal(out.error, undefined, JSON.stringify(out));

  assert.equal(out.consentRequired.statusCode, 400);
  assert.equal(out.consentRequired.body.error, 'consent_required');
  assert.deepEqual(out.token, { status: 200, expires_in: 3600, refresh: null });
  assert.equal(out.userInfo.sub, tenant.ownerId);
  assert.equal(out.userInfo.email, tenant.email);
  assert.deepEqual(out.userInfo.accounts, [
    {
      accountId: tenant.accountId,
      // The SDK's model declares is_default a String; Signet sends DocuSign's JSON boolean.
      isDefault: 'true',
      accountName: 'Main',
      baseUri: live.base,
      organizationId: tenant.organizationId,
    },
  ]);
  assert.ok(out.users.includes(tenant.email));
  assert.match(out.createdUser.id, /^[0-9a-f-]{36}$/);
  assert.equal(out.groups.created, 'OAuth group');
  assert.ok(out.groups.listed.includes('OAuth group'));
  assert.equal(out.import.status, 'completed');

  // What the token did is in the audit log as the user, through the integration.
  const created = await live.services.db
    .selectFrom('audit_events')
    .select(['actor_type', 'actor_id', 'actor_label'])
    .where('action', '=', 'user.created')
    .where('target_id', '=', out.createdUser.id)
    .executeTakeFirstOrThrow();
  assert.equal(created.actor_type, 'user');
  assert.equal(created.actor_id, tenant.ownerId);
});
