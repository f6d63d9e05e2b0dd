// Bulk exports and account-settings imports through DocuSign's /management face, driven by the official
// docusign-admin SDK: the official export example flow (create organization_memberships_export, poll until
// completed, GET results[0].url with the bearer token, parse the CSV, find the users), account-settings
// exports, account-settings imports (applied through the settings service, skipped settings reported),
// deletes, lists, scopes and tenancy (every id-bearing route × a foreign tenant's ids).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { admin, adminClient, api, liveTenant, sdkError, startApp } from './docusign-helper.ts';
import { runWorker } from './imports-helper.ts';

async function setup(t: any) {
  const live = await startApp(t);
  await runWorker(t, live.config);
  const tenant = await liveTenant(live);
  const client = adminClient(live, tenant.key);
  return {
    live,
    tenant,
    exportsApi: new admin.BulkExportsApi(client),
    bulk: new admin.BulkImportsApi(client),
  };
}

async function poll(get: () => Promise<any>): Promise<any> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const exp = await get();
    if (exp.status === 'completed' || exp.status === 'failed') return exp;
    if (Date.now() > deadline) throw new Error(`export still ${exp.status}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('the official example: organization_memberships_export, poll, download results[0].url with the token', async (t) => {
  const { live, tenant, exportsApi } = await setup(t);
  const org = tenant.organizationId;
  for (const email of ['exp-a@example.test', 'exp-b@example.test']) {
    const res = await api(live, tenant.key, 'POST', '/api/users', {
      email,
      first_name: 'Ex',
      last_name: 'Port',
      account_id: tenant.accountId,
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
  }

  const created = await exportsApi.createUserListExport({ type: 'organization_memberships_export' }, org);
  assert.match(created.id, /^[0-9a-f-]{36}$/);
  assert.equal(created.type, 'organization_memberships_export');
  assert.ok(['queued', 'in_process', 'completed'].includes(created.status));
  assert.deepEqual(created.selected_accounts, []);
  assert.ok(Array.isArray(created.results));
  assert.equal(created.requestor.type, 'client_app');

  const done = await poll(() => exportsApi.getUserListExport(org, created.id));
  assert.equal(done.status, 'completed');
  assert.equal(done.success, true);
  assert.equal(done.percent_completed, 100);
  assert.ok(done.completed instanceof Date && done.expires instanceof Date);
  assert.equal(done.results.length, 1);
  const url = done.results[0].url;
  assert.equal(
    url,
    `${live.base}/management/v2/organizations/${org}/exports/user_list/${done.id}/results/${done.id}.csv`,
  );
  assert.equal(done.number_rows, 3, 'the owner and the two users, one row per membership');

  const res = await fetch(url, { headers: { authorization: `Bearer ${tenant.key}` } });
  assert.equal(res.status, 200);
  assert.match(String(res.headers.get('content-type')), /^text\/csv/);
  const rows = parse(await res.text(), { bom: true, columns: true }) as Record<string, string>[];
  const emails = rows.map((r) => r.UserEmail).sort();
  assert.deepEqual(emails, ['exp-a@example.test', 'exp-b@example.test', tenant.email].sort());
  const a = rows.find((r) => r.UserEmail === 'exp-a@example.test')!;
  assert.equal(a.AccountID, tenant.accountId);
  assert.equal(a.FirstName, 'Ex');
  assert.match(a.APIUserName!, /^[0-9a-f-]{36}$/);
  assert.equal(done.results[0].number_rows, 3);

  // Without the token: 401.
  assert.equal((await fetch(url)).status, 401);

  // List, a second export scoped to an account, the domain-users type reads back as asked, delete.
  const scoped = await exportsApi.createUserListExport(
    { type: 'organization_memberships_export', accounts: [{ account_id: tenant.accountId }] },
    org,
  );
  assert.deepEqual(
    scoped.selected_accounts.map((s: any) => s.account_id),
    [tenant.accountId],
  );
  const domain = await exportsApi.createUserListExport({ type: 'organization_domain_users_export' }, org);
  assert.equal(
    (await poll(() => exportsApi.getUserListExport(org, domain.id))).type,
    'organization_domain_users_export',
  );
  await poll(() => exportsApi.getUserListExport(org, scoped.id));
  const list = await exportsApi.getUserListExports(org);
  assert.deepEqual(list.exports.map((e: any) => e.id).sort(), [created.id, scoped.id, domain.id].sort());
  assert.deepEqual({ ...(await exportsApi.deleteUserListExport(org, scoped.id)) }, {});
  assert.equal((await sdkError(exportsApi.getUserListExport(org, scoped.id))).statusCode, 404);
  assert.equal((await exportsApi.getUserListExports(org)).exports.length, 2);

  // Types Signet does not have, and bad input: clear 4xx / 501.
  const external = await sdkError(
    exportsApi.createUserListExport({ type: 'organization_external_memberships_export' }, org),
  );
  assert.equal(external.statusCode, 501);
  assert.equal(external.body.error, 'not_supported');
  const badType = await sdkError(exportsApi.createUserListExport({ type: 'everything' }, org));
  assert.equal(badType.statusCode, 400);
  assert.match(badType.body.error_description, /type/);
  const badAccount = await sdkError(
    exportsApi.createUserListExport(
      { type: 'organization_memberships_export', accounts: [{ account_id: 'x' }] },
      org,
    ),
  );
  assert.equal(badAccount.statusCode, 400);
});

test('account settings: export, edit the CSV, import it back; skipped settings and issues per account', async (t) => {
  const { live, tenant, exportsApi, bulk } = await setup(t);
  const org = tenant.organizationId;
  const created = await exportsApi.createAccountSettingsExport(
    { accounts: [{ account_id: tenant.accountId }] },
    org,
  );
  assert.equal(created.type, 'organization_account_settings_export');
  const done = await poll(() => exportsApi.getAccountSettingsExport(org, created.id));
  assert.equal(done.status, 'completed');
  const url = done.results[0].url;
  assert.match(url, /\/exports\/account_settings\/.+\/results\/.+\.csv$/);
  const res = await fetch(url, { headers: { authorization: `Bearer ${tenant.key}` } });
  assert.equal(res.status, 200);
  const [header, row] = parse(await res.text(), { bom: true }) as string[][];
  assert.equal(header![0], 'AccountID');
  assert.equal(row![0], tenant.accountId);
  const col = (name: string) => header!.indexOf(name);
  assert.equal(row![col('mfa_required')], 'false');

  // Change two settings, add a column Signet does not know, and a row for a missing account.
  const edited = [...row!];
  edited[col('mfa_required')] = 'true';
  edited[col('password_policy.min_length')] = '16';
  const csv =
    `${[...header!, 'enableSomethingElse'].join(',')}\n` +
    `${[...edited, 'true'].map((c) => (c.includes(',') || c.includes('"') ? `"${c.replaceAll('"', '""')}"` : c)).join(',')}\n` +
    `0190c0de-0000-7000-8000-000000000000,Nowhere${','.repeat(header!.length - 1)}\n`;
  const imported = await bulk.addBulkAccountSettingsImport(org, csv);
  assert.match(imported.id, /^[0-9a-f-]{36}$/);
  assert.equal(imported.status, 'completed');
  assert.equal(imported.organization_id, org);
  assert.equal(imported.number_processed_accounts, 1);
  assert.equal(imported.number_unprocessed_accounts, 1);
  assert.equal(imported.success, false);
  assert.deepEqual(imported.skipped_settings_by_account, { [tenant.accountId]: ['enableSomethingElse'] });
  const issues = imported.results[0].processing_issues_by_account;
  assert.deepEqual(
    issues.map((i: any) => [i.account_id, i.error_key]),
    [['0190c0de-0000-7000-8000-000000000000', 'invalid_account_id']],
  );

  // Applied through the settings service: /api reads the new values.
  const settings = await api(live, tenant.key, 'GET', `/api/accounts/${tenant.accountId}/settings`);
  assert.equal(settings.status, 200, JSON.stringify(settings.body));
  const values = settings.body.settings ?? settings.body;
  assert.equal(values.mfa_required, true);
  assert.equal(values.password_policy.min_length, 16);

  // A value the catalogue refuses leaves the account unchanged and is reported.
  const refused = await bulk.addBulkAccountSettingsImport(
    org,
    Buffer.from(`AccountID,mfa_required,session_timeout_minutes\n${tenant.accountId},false,99999\n`),
  );
  assert.equal(refused.number_unprocessed_accounts, 1);
  assert.equal(refused.results[0].processing_issues_by_account[0].error_key, 'invalid_setting_value');
  const unchanged = await api(live, tenant.key, 'GET', `/api/accounts/${tenant.accountId}/settings`);
  assert.equal((unchanged.body.settings ?? unchanged.body).mfa_required, true);

  // A file without AccountID fails as a whole.
  const failed = await bulk.addBulkAccountSettingsImport(org, Buffer.from('mfa_required\ntrue\n'));
  assert.equal(failed.status, 'failed');
  assert.equal(failed.results[0].error_details.error, 'column_headers_missing');

  // Reads: one, and the list as a bare array; delete keeps the applied settings.
  const one = await bulk.getBulkAccountSettingsImport(org, imported.id);
  assert.equal(one.number_processed_accounts, 1);
  const list = await bulk.getBulkAccountSettingsImports(org);
  assert.ok(Array.isArray(list));
  assert.deepEqual(list.map((i: any) => i.id).sort(), [imported.id, refused.id, failed.id].sort());
  assert.deepEqual({ ...(await bulk.deleteBulkAccountSettingsImport(org, imported.id)) }, {});
  assert.equal((await sdkError(bulk.getBulkAccountSettingsImport(org, imported.id))).statusCode, 404);
  const after = await api(live, tenant.key, 'GET', `/api/accounts/${tenant.accountId}/settings`);
  assert.equal((after.body.settings ?? after.body).mfa_required, true);

  // Settings exports: list and delete.
  assert.deepEqual(
    (await exportsApi.getAccountSettingsExports(org)).exports.map((e: any) => e.id),
    [created.id],
  );
  assert.deepEqual({ ...(await exportsApi.deleteAccountSettingsExport(org, created.id)) }, {});
  assert.deepEqual((await exportsApi.getAccountSettingsExports(org)).exports, []);
});

test('tenancy: another organization’s ids answer 404 on every export and settings-import route', async (t) => {
  const { live, tenant, exportsApi, bulk } = await setup(t);
  const other = await liveTenant(live);
  const otherClient = adminClient(live, other.key);
  const otherExports = new admin.BulkExportsApi(otherClient);
  const otherBulk = new admin.BulkImportsApi(otherClient);
  const theirExport = await otherExports.createUserListExport(
    { type: 'organization_memberships_export' },
    other.organizationId,
  );
  const theirList = await poll(() => otherExports.getUserListExport(other.organizationId, theirExport.id));
  const theirSettings = await otherExports.createAccountSettingsExport({}, other.organizationId);
  await poll(() => otherExports.getAccountSettingsExport(other.organizationId, theirSettings.id));
  const theirImport = await otherBulk.addBulkAccountSettingsImport(
    other.organizationId,
    Buffer.from(`AccountID,mfa_required\n${other.accountId},true\n`),
  );
  assert.equal(theirImport.number_processed_accounts, 1);

  const org = tenant.organizationId;
  const foreign = other.organizationId;
  const csv = Buffer.from(`AccountID,mfa_required\n${tenant.accountId},true\n`);
  const cases: [string, () => Promise<unknown>][] = [
    [
      'create user list, foreign org',
      () => exportsApi.createUserListExport({ type: 'organization_memberships_export' }, foreign),
    ],
    ['list user lists, foreign org', () => exportsApi.getUserListExports(foreign)],
    ['get user list, foreign export', () => exportsApi.getUserListExport(org, theirList.id)],
    ['get user list, foreign org', () => exportsApi.getUserListExport(foreign, theirList.id)],
    ['delete user list, foreign export', () => exportsApi.deleteUserListExport(org, theirList.id)],
    ['delete user list, foreign org', () => exportsApi.deleteUserListExport(foreign, theirList.id)],
    ['create settings export, foreign org', () => exportsApi.createAccountSettingsExport({}, foreign)],
    ['list settings exports, foreign org', () => exportsApi.getAccountSettingsExports(foreign)],
    ['get settings export, foreign export', () => exportsApi.getAccountSettingsExport(org, theirSettings.id)],
    [
      'get settings export, foreign org',
      () => exportsApi.getAccountSettingsExport(foreign, theirSettings.id),
    ],
    [
      'delete settings export, foreign export',
      () => exportsApi.deleteAccountSettingsExport(org, theirSettings.id),
    ],
    [
      'delete settings export, foreign org',
      () => exportsApi.deleteAccountSettingsExport(foreign, theirSettings.id),
    ],
    ['settings export of the wrong kind', () => exportsApi.getAccountSettingsExport(foreign, theirList.id)],
    ['create settings import, foreign org', () => bulk.addBulkAccountSettingsImport(foreign, csv)],
    ['list settings imports, foreign org', () => bulk.getBulkAccountSettingsImports(foreign)],
    ['get settings import, foreign import', () => bulk.getBulkAccountSettingsImport(org, theirImport.id)],
    ['get settings import, foreign org', () => bulk.getBulkAccountSettingsImport(foreign, theirImport.id)],
    [
      'delete settings import, foreign import',
      () => bulk.deleteBulkAccountSettingsImport(org, theirImport.id),
    ],
    [
      'delete settings import, foreign org',
      () => bulk.deleteBulkAccountSettingsImport(foreign, theirImport.id),
    ],
    ['get settings import, not a GUID', () => bulk.getBulkAccountSettingsImport(org, 'nope')],
  ];
  for (const [name, call] of cases) {
    const err = await sdkError(call());
    assert.equal(err.statusCode, 404, `${name}: ${JSON.stringify(err.body)}`);
    assert.equal(err.body.error, 'not_found', name);
  }
  // Their downloads, with our token: 404, on both our org path and theirs.
  for (const url of [
    theirList.results[0].url,
    theirList.results[0].url.replace(foreign, org),
    `${live.base}/management/v2/organizations/${foreign}/exports/account_settings/${theirSettings.id}/results/${theirSettings.id}.csv`,
  ]) {
    const res = await fetch(url, { headers: { authorization: `Bearer ${tenant.key}` } });
    assert.equal(res.status, 404, url);
  }
  // A foreign account in an export body is refused like a missing one; in a settings import it is an issue.
  const foreignAccount = await sdkError(
    exportsApi.createUserListExport(
      { type: 'organization_memberships_export', accounts: [{ account_id: other.accountId }] },
      org,
    ),
  );
  assert.equal(foreignAccount.statusCode, 422);
  const crossImport = await bulk.addBulkAccountSettingsImport(
    org,
    Buffer.from(`AccountID,mfa_required\n${other.accountId},false\n`),
  );
  assert.equal(crossImport.number_processed_accounts, 0);
  assert.equal(crossImport.results[0].processing_issues_by_account[0].error_key, 'invalid_account_id');
  const theirsAfter = await api(live, other.key, 'GET', `/api/accounts/${other.accountId}/settings`);
  assert.equal((theirsAfter.body.settings ?? theirsAfter.body).mfa_required, true, 'their setting untouched');
  // Theirs still there.
  assert.equal((await otherExports.getUserListExport(foreign, theirList.id)).status, 'completed');
  assert.equal((await otherBulk.getBulkAccountSettingsImports(foreign)).length, 1);
});

test('scopes: a users:read key exports user lists but gets 403 naming account_read / account_write for settings', async (t) => {
  const { live, tenant } = await setup(t);
  const org = tenant.organizationId;
  const created = await api(live, tenant.key, 'POST', '/api/api_keys', {
    name: 'reader',
    scopes: ['users:read'],
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const client = adminClient(live, created.body.key);
  const exportsApi = new admin.BulkExportsApi(client);
  const bulk = new admin.BulkImportsApi(client);
  const exp = await exportsApi.createUserListExport({ type: 'organization_memberships_export' }, org);
  const done = await poll(() => exportsApi.getUserListExport(org, exp.id));
  const res = await fetch(done.results[0].url, { headers: { authorization: `Bearer ${created.body.key}` } });
  assert.equal(res.status, 200);

  const cases: [string, () => Promise<unknown>][] = [
    ['account_read', () => exportsApi.createAccountSettingsExport({}, org)],
    ['account_read', () => exportsApi.getAccountSettingsExports(org)],
    ['account_write', () => bulk.addBulkAccountSettingsImport(org, Buffer.from('AccountID\n'))],
    ['account_read', () => bulk.getBulkAccountSettingsImports(org)],
  ];
  for (const [scope, call] of cases) {
    const err = await sdkError(call());
    assert.equal(err.statusCode, 403, scope);
    assert.equal(err.body.error, 'permission_denied');
    assert.match(err.body.error_description, new RegExp(scope));
  }
  // And a key without users:read cannot export users.
  const settingsOnly = await api(live, tenant.key, 'POST', '/api/api_keys', {
    name: 'acct',
    scopes: ['account:read'],
  });
  assert.equal(settingsOnly.status, 201, JSON.stringify(settingsOnly.body));
  const denied = await sdkError(
    new admin.BulkExportsApi(adminClient(live, settingsOnly.body.key)).getUserListExports(org),
  );
  assert.equal(denied.statusCode, 403);
  assert.match(denied.body.error_description, /user_read/);
});
