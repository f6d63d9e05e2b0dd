import assert from 'node:assert/strict';
import { test } from 'node:test';
import { admin, adminClient, liveTenant, sdkError, startApp } from './docusign-helper.ts';

test('AccountsApi.getOrganizations lists the caller’s organization with its accounts', async (t) => {
  const live = await startApp(t);
  const tenant = await liveTenant(live);
  const other = await liveTenant(live);
  const result = await new admin.AccountsApi(adminClient(live, tenant.key)).getOrganizations();
  assert.equal(result.organizations.length, 1);
  const [org] = result.organizations;
  assert.equal(org.id, tenant.organizationId);
  assert.deepEqual(
    org.accounts.map((a: { id: string }) => a.id),
    [tenant.accountId],
  );
  assert.equal(typeof org.accounts[0].external_account_id, 'number');
  assert.ok(!JSON.stringify(result).includes(other.organizationId), 'another organization leaked');
});

test('the /management prefix is matched case-insensitively, as the spec says /Management', async (t) => {
  const live = await startApp(t);
  const tenant = await liveTenant(live);
  const res = await fetch(`${live.base}/Management/v2/organizations`, {
    headers: { authorization: `Bearer ${tenant.key}` },
  });
  assert.equal(res.status, 200);
  const body = (await res.json()) as { organizations: { id: string }[] };
  assert.equal(body.organizations[0]!.id, tenant.organizationId);
});

test('a bad token gets 401 and a missing route 404, both as {error, error_description}', async (t) => {
  const live = await startApp(t);
  const bad = await sdkError(new admin.AccountsApi(adminClient(live, 'sk_test_nope')).getOrganizations());
  assert.equal(bad.statusCode, 401);
  assert.equal(typeof bad.body.error, 'string');
  assert.equal(typeof bad.body.error_description, 'string');
  const tenant = await liveTenant(live);
  const res = await fetch(`${live.base}/management/v2/nothing-here`, {
    headers: { authorization: `Bearer ${tenant.key}` },
  });
  assert.equal(res.status, 404);
  assert.deepEqual(Object.keys((await res.json()) as object).sort(), ['error', 'error_description']);
});
