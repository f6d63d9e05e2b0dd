// Every query parameter of DocuSign's Admin API whose values form a closed set (booleans, integers, and the
// strings the spec enumerates, such as getOrganizations' mode) is validated by Signet's /management face: a
// value outside the set is a 400 naming the parameter, on every working operation (the list comes from the
// spec, scripts/compatibility.ts), never ignored nor a 500.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { typedQueryParameters, unvalidatedQueryParameters } from '../scripts/compatibility.ts';
import { api, liveTenant, startApp } from './docusign-helper.ts';

const BAD = { boolean: 'maybe', integer: 'ten', enum: 'no_such_value' } as const;

test('every typed query parameter of a working operation is declared with its type or values', async () => {
  assert.deepEqual(await unvalidatedQueryParameters(), []);
});

test('a value outside a query parameter’s set is a 400 naming it, on every working operation', async (t) => {
  const live = await startApp(t);
  const tenant = await liveTenant(live);
  const notSupported = new Set(['OrgConnectApi.getOrganizationConnectConfigs']);
  let checked = 0;
  for (const q of typedQueryParameters()) {
    if (notSupported.has(q.sdkMethod)) continue;
    const path = q.path
      .replace('{organizationId}', tenant.organizationId)
      .replace('{accountId}', tenant.accountId)
      .replace(/\{[^}]+\}/g, () => randomUUID());
    // The one POST with a typed query parameter (updateUser) gets a body its schema accepts.
    const body = q.method === 'POST' ? { users: [{ id: randomUUID() }] } : undefined;
    // The operations that require an email (getUserProfiles, getUserDSProfilesByEmail) get one.
    const required = /\/users\/(profile|dsprofile)$/.test(q.path) ? 'email=nobody@example.test&' : '';
    const url = (value: string) => `/management${path}?${required}${q.name}=${value}`;
    const res = await api(live, tenant.key, q.method, url(BAD[q.kind]), body);
    assert.equal(res.status, 400, `${q.sdkMethod} ${q.name}: ${JSON.stringify(res.body)}`);
    assert.match(res.body.error_description, new RegExp(q.name), `${q.sdkMethod} names ${q.name}`);
    // And a value inside the set passes validation (whatever the operation then answers, never a 400 for it).
    const good = q.kind === 'boolean' ? 'true' : q.kind === 'integer' ? '1' : q.values![0]!;
    const ok = await api(live, tenant.key, q.method, url(good), body);
    assert.ok(
      ok.status < 500 && !(ok.status === 400 && String(ok.body?.error_description).includes(q.name)),
      `${q.sdkMethod} ${q.name}=${good}: ${ok.status} ${JSON.stringify(ok.body)}`,
    );
    checked++;
  }
  assert.ok(checked >= 25, `${checked} parameters checked`);
});
