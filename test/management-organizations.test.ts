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

test('both DocuSign faces send the rate-limit headers DocuSign clients read, and a 429 in their own dialect', async (t) => {
  const live = await startApp(t, { rateLimitPerMinute: 3 });
  const tenant = await liveTenant(live);
  const auth = { authorization: `Bearer ${tenant.key}` };
  const urls = [
    `${live.base}/management/v2/organizations`,
    `${live.base}/restapi/v2.1/accounts/${tenant.accountId}`,
  ];
  const now = Math.floor(Date.now() / 1000);
  const remaining: number[] = [];
  for (const url of urls) {
    const res = await fetch(url, { headers: auth });
    assert.equal(res.status, 200, url);
    remaining.push(Number(res.headers.get('x-ratelimit-remaining')));
    const reset = Number(res.headers.get('x-ratelimit-reset'));
    assert.ok(
      reset >= now && reset <= now + 61,
      `X-RateLimit-Reset is an epoch second within the window: ${reset}`,
    );
  }
  // One budget per key across faces: 3 a minute, two spent.
  assert.deepEqual(remaining, [2, 1]);
  await fetch(urls[0]!, { headers: auth });

  const admin429 = await fetch(urls[0]!, { headers: auth });
  assert.equal(admin429.status, 429);
  assert.ok(Number(admin429.headers.get('retry-after')) >= 1);
  const adminBody = (await admin429.json()) as { error: string; error_description: string };
  assert.equal(adminBody.error, 'rate_limited');
  assert.match(adminBody.error_description, /retry after/);

  const esign429 = await fetch(urls[1]!, { headers: auth });
  assert.equal(esign429.status, 429);
  const esignBody = (await esign429.json()) as { errorCode: string; message: string };
  assert.equal(typeof esignBody.errorCode, 'string');
  assert.match(esignBody.message, /retry after/);
});
