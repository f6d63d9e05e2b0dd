// Bulk user imports through DocuSign's /management face, driven by the official docusign-admin SDK (and raw
// fetch where curl scripts send text/csv): all four wire encodings, polled to completed with exact counters,
// rollups, the results CSV, list, single-account add, update, close, delete, dry-run, Idempotency-Key, the
// users visible through /api, a malformed file, scopes and tenancy (every id-bearing route × a foreign id).
import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { admin, adminClient, api, type LiveApp, liveTenant, sdkError, startApp } from './docusign-helper.ts';
import { runWorker } from './imports-helper.ts';

type Tenant = Awaited<ReturnType<typeof liveTenant>>;

async function setup(t: any) {
  const live = await startApp(t, { importBatchSize: 2 });
  await runWorker(t, live.config);
  const tenant = await liveTenant(live);
  const client = adminClient(live, tenant.key);
  return { live, tenant, bulk: new admin.BulkImportsApi(client) };
}

/** Polls an import through the SDK until it is completed or failed. */
async function settle(bulk: any, orgId: string, id: string): Promise<any> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const imp = await bulk.getBulkUserImportRequest(orgId, id);
    if (imp.status === 'completed' || imp.status === 'failed') return imp;
    if (Date.now() > deadline) throw new Error(`import ${id} still ${imp.status}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function counters(imp: any) {
  return {
    user_count: imp.user_count,
    processed: imp.processed_user_count,
    added: imp.added_user_count,
    updated: imp.updated_user_count,
    closed: imp.closed_user_count,
    none: imp.no_action_required_user_count,
    errors: imp.error_count,
  };
}

async function userByEmail(live: LiveApp, tenant: Tenant, email: string): Promise<any> {
  const res = await api(live, tenant.key, 'GET', `/api/users?email=${encodeURIComponent(email)}`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.data[0];
}

const addCsv = (tenant: Tenant, tag: string) =>
  'AccountID,FirstName,LastName,UserEmail,PermissionSet\n' +
  `${tenant.accountId},Ada,Lovelace,ada-${tag}@example.test,DS Admin\n` +
  `${tenant.accountId},Grace,Hopper,grace-${tag}@example.test,DS Sender\n` +
  `${tenant.accountId},Alan,Turing,alan-${tag}@example.test,ds viewer\n` +
  `${tenant.accountId},Bad,Profile,bad-${tag}@example.test,No Such Profile\n`;

const EXPECTED_ADD = { user_count: 4, processed: 4, added: 3, updated: 0, closed: 0, none: 0, errors: 1 };

test('add as a Buffer (octet-stream): completed with exact counters, rollups, results CSV, users in /api, list', async (t) => {
  const { live, tenant, bulk } = await setup(t);
  const created = await bulk.createBulkImportAddUsersRequest(
    tenant.organizationId,
    Buffer.from(addCsv(tenant, 'buf')),
  );
  assert.match(created.id, /^[0-9a-f-]{36}$/);
  assert.equal(created.type, 'add_users');
  assert.ok(['queued', 'in_process', 'completed'].includes(created.status), created.status);
  assert.ok(created.created instanceof Date && !Number.isNaN(created.created.getTime()));
  assert.equal(created.requestor.type, 'client_app');
  assert.ok(Array.isArray(created.file_level_error_rollups));

  const done = await settle(bulk, tenant.organizationId, created.id);
  assert.equal(done.status, 'completed');
  assert.deepEqual(counters(done), EXPECTED_ADD);
  assert.deepEqual(
    done.user_level_error_rollups.map((r: any) => ({ error_type: r.error_type, count: r.count })),
    [{ error_type: 'invalid_permissionset', count: 1 }],
  );
  assert.deepEqual(done.file_level_error_rollups, []);
  assert.deepEqual(done.user_level_warning_rollups, []);
  assert.equal(done.has_csv_results, true);
  assert.equal(
    done.results_uri,
    `${live.base}/management/v2/organizations/${tenant.organizationId}/imports/bulk_users/${done.id}/results_csv`,
  );
  assert.ok(done.last_modified instanceof Date);

  // The same users through the native API, with the same key.
  const ada = await userByEmail(live, tenant, 'ada-buf@example.test');
  assert.equal(ada.first_name, 'Ada');
  assert.equal(ada.last_name, 'Lovelace');
  assert.equal((await userByEmail(live, tenant, 'alan-buf@example.test')).last_name, 'Turing');
  assert.equal(await userByEmail(live, tenant, 'bad-buf@example.test'), undefined);

  // The original rows plus ProcessingResults.
  const csv = await bulk.getBulkUserImportCSV(tenant.organizationId, done.id);
  assert.equal(typeof csv, 'string');
  const rows = parse(csv, { bom: true }) as string[][];
  assert.deepEqual(rows[0], [
    'AccountID',
    'FirstName',
    'LastName',
    'UserEmail',
    'PermissionSet',
    'ProcessingResults',
  ]);
  assert.equal(rows.length, 5);
  assert.equal(rows[1]![3], 'ada-buf@example.test');
  assert.match(rows[1]![5]!, /user_added/);
  assert.match(rows[4]![5]!, /^invalid_permissionset/);

  // The raw download is text/csv.
  const raw = await fetch(done.results_uri, { headers: { authorization: `Bearer ${tenant.key}` } });
  assert.equal(raw.status, 200);
  assert.match(String(raw.headers.get('content-type')), /^text\/csv/);

  const list = await bulk.getBulkUserImportRequests(tenant.organizationId);
  assert.deepEqual(
    list.imports.map((i: any) => i.id),
    [done.id],
  );
  assert.equal(list.imports[0].added_user_count, 3);
});

test('add as a fs.ReadStream and as a string (both multipart "file.csv"): completed with exact counters', async (t) => {
  const { live, tenant, bulk } = await setup(t);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'signet-mgmt-import-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'users.csv');
  await writeFile(file, addCsv(tenant, 'stream'));

  const streamed = await bulk.createBulkImportAddUsersRequest(tenant.organizationId, createReadStream(file));
  const streamedDone = await settle(bulk, tenant.organizationId, streamed.id);
  assert.equal(streamedDone.status, 'completed');
  assert.deepEqual(counters(streamedDone), EXPECTED_ADD);
  assert.ok(await userByEmail(live, tenant, 'grace-stream@example.test'));

  const stringy = await bulk.createBulkImportAddUsersRequest(tenant.organizationId, addCsv(tenant, 'str'));
  const stringDone = await settle(bulk, tenant.organizationId, stringy.id);
  assert.equal(stringDone.status, 'completed');
  assert.deepEqual(counters(stringDone), EXPECTED_ADD);
  assert.ok(await userByEmail(live, tenant, 'grace-str@example.test'));

  // The same file again: every row already there (no action) or still in error.
  const again = await bulk.createBulkImportAddUsersRequest(tenant.organizationId, createReadStream(file));
  const againDone = await settle(bulk, tenant.organizationId, again.id);
  assert.deepEqual(counters(againDone), { ...EXPECTED_ADD, added: 0, none: 3 });
});

test('raw text/csv upload (curl), a dry run, and Idempotency-Key replays the same import', async (t) => {
  const { live, tenant, bulk } = await setup(t);
  const url = `${live.base}/management/v2/organizations/${tenant.organizationId}/imports/bulk_users/add`;
  const post = (csv: string, query = '', extra: Record<string, string> = {}) =>
    fetch(`${url}${query}`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${tenant.key}`,
        'content-type': 'text/csv',
        'content-disposition': 'filename=myfile.csv',
        ...extra,
      },
      body: csv,
    });

  const res = await post(addCsv(tenant, 'curl'));
  assert.equal(res.status, 200);
  const body = (await res.json()) as any;
  assert.equal(body.type, 'add_users');
  assert.ok(!JSON.stringify(body).includes('null'), 'no null in the response');
  const done = await settle(bulk, tenant.organizationId, body.id);
  assert.deepEqual(counters(done), EXPECTED_ADD);
  assert.ok(await userByEmail(live, tenant, 'ada-curl@example.test'));

  // Dry run: the same counters, nothing written.
  const dry = (await (await post(addCsv(tenant, 'dry'), '?dry_run=true')).json()) as any;
  assert.equal(dry.dry_run, true);
  const dryDone = await settle(bulk, tenant.organizationId, dry.id);
  assert.deepEqual(counters(dryDone), EXPECTED_ADD);
  assert.equal(await userByEmail(live, tenant, 'ada-dry@example.test'), undefined);

  // Idempotency-Key: the retry gets the same import, not a second one.
  const key = { 'idempotency-key': `mgmt-import-${Date.now()}` };
  const first = await post(addCsv(tenant, 'idem'), '', key);
  const firstBody = (await first.json()) as any;
  const second = await post(addCsv(tenant, 'idem'), '', key);
  assert.equal(second.status, 200);
  assert.equal(second.headers.get('idempotent-replayed'), 'true');
  const secondBody = (await second.json()) as any;
  assert.equal(secondBody.id, firstBody.id);
  assert.equal(secondBody.type, 'add_users', 'the replay is the DocuSign-shaped response');
  await settle(bulk, tenant.organizationId, firstBody.id);
  const list = await bulk.getBulkUserImportRequests(tenant.organizationId);
  assert.equal(list.imports.length, 3);

  // A JSON body is not a CSV.
  const json = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${tenant.key}`, 'content-type': 'application/json' },
    body: '{}',
  });
  assert.equal(json.status, 415);
  assert.equal(((await json.json()) as any).error, 'unsupported_media_type');
});

test('single-account add, update with APIUserName, close; then delete keeps what was applied', async (t) => {
  const { live, tenant, bulk } = await setup(t);
  const org = tenant.organizationId;
  const added = await bulk.createBulkImportSingleAccountAddUsersRequest(
    org,
    tenant.accountId,
    Buffer.from(
      'FirstName,LastName,UserEmail,PermissionSet\nKen,Thompson,ken@example.test,DS Sender\nDennis,Ritchie,dmr@example.test,DS Sender\n',
    ),
  );
  const addDone = await settle(bulk, org, added.id);
  assert.equal(addDone.type, 'add_users');
  // The same job as /api/imports: the native face shows it, with the account from the path.
  const native = await api(live, tenant.key, 'GET', `/api/imports/${added.id}`);
  assert.equal(native.body.account_id, tenant.accountId);
  assert.equal(native.body.operation, 'add');
  assert.deepEqual(counters(addDone), {
    user_count: 2,
    processed: 2,
    added: 2,
    updated: 0,
    closed: 0,
    none: 0,
    errors: 0,
  });
  const ken = await userByEmail(live, tenant, 'ken@example.test');
  const dmr = await userByEmail(live, tenant, 'dmr@example.test');

  const updated = await bulk.createBulkImportUpdateUsersRequest(
    org,
    Buffer.from(
      'AccountID,APIUserName,UserEmail,FirstName,LastName,UserTitle\n' +
        `${tenant.accountId},${ken.id},ken@example.test,Kenneth,Thompson,Unix\n` +
        `${tenant.accountId},00000000-0000-0000-0000-000000000000,nobody@example.test,No,Body,\n`,
    ),
  );
  const updateDone = await settle(bulk, org, updated.id);
  assert.equal(updateDone.type, 'update_users');
  assert.deepEqual(counters(updateDone), {
    user_count: 2,
    processed: 2,
    added: 0,
    updated: 1,
    closed: 0,
    none: 0,
    errors: 1,
  });
  assert.deepEqual(
    updateDone.user_level_error_rollups.map((r: any) => r.error_type),
    ['invalid_apiusername'],
  );
  const kenAfter = (await api(live, tenant.key, 'GET', `/api/users/${ken.id}`)).body;
  assert.equal(kenAfter.first_name, 'Kenneth');
  assert.equal(kenAfter.job_title, 'Unix');

  // Single-account update: the account comes from the path.
  const single = await bulk.createBulkImportSingleAccountUpdateUsersRequest(
    org,
    tenant.accountId,
    Buffer.from(`APIUserName,UserEmail,LastName\n${dmr.id},dmr@example.test,Ritchie-Updated\n`),
  );
  const singleDone = await settle(bulk, org, single.id);
  assert.equal(singleDone.updated_user_count, 1);
  assert.equal(
    (await api(live, tenant.key, 'GET', `/api/users/${dmr.id}`)).body.last_name,
    'Ritchie-Updated',
  );

  const closed = await bulk.createBulkImportCloseUsersRequest(
    org,
    Buffer.from(`AccountID,UserEmail\n${tenant.accountId},ken@example.test\n`),
  );
  const closeDone = await settle(bulk, org, closed.id);
  assert.equal(closeDone.type, 'close_users');
  assert.deepEqual(counters(closeDone), {
    user_count: 1,
    processed: 1,
    added: 0,
    updated: 0,
    closed: 1,
    none: 0,
    errors: 0,
  });
  const kenClosed = (await api(live, tenant.key, 'GET', `/api/users/${ken.id}`)).body;
  assert.equal(kenClosed.memberships[0].status, 'closed');

  // Delete: {} back, the import is gone, what it applied stays.
  assert.deepEqual({ ...(await bulk.deleteBulkUserImport(org, added.id)) }, {});
  const gone = await sdkError(bulk.getBulkUserImportRequest(org, added.id));
  assert.equal(gone.statusCode, 404);
  assert.equal(gone.body.error, 'not_found');
  assert.ok(await userByEmail(live, tenant, 'dmr@example.test'));
  const ids = (await bulk.getBulkUserImportRequests(org)).imports.map((i: any) => i.id);
  assert.ok(!ids.includes(added.id));
  assert.equal(ids.length, 3);
  const audit = await api(live, tenant.key, 'GET', `/api/audit_events?action=import.deleted`);
  assert.equal(audit.status, 200);
  assert.ok(JSON.stringify(audit.body).includes(added.id), 'the delete is audited');
});

test('a malformed file fails the import with a file-level rollup and no results CSV', async (t) => {
  const { live, tenant, bulk } = await setup(t);
  const org = tenant.organizationId;
  const created = await bulk.createBulkImportAddUsersRequest(
    org,
    Buffer.from(`AccountID,FirstName,LastName,PermissionSet\n${tenant.accountId},No,Email,DS Admin\n`),
  );
  const done = await settle(bulk, org, created.id);
  assert.equal(done.status, 'failed');
  assert.deepEqual(
    done.file_level_error_rollups.map((r: any) => ({ error_type: r.error_type, count: r.count })),
    [{ error_type: 'useremail_column_header_missing', count: 1 }],
  );
  assert.deepEqual(done.user_level_error_rollups, []);
  assert.equal(done.has_csv_results, false);
  assert.equal(done.added_user_count, 0);
  const csv = await sdkError(bulk.getBulkUserImportCSV(org, created.id));
  assert.equal(csv.statusCode, 409);

  // An empty file fails the same way; a body that is not a multipart form, or has no CSV part, is a 400.
  const empty = await bulk.createBulkImportAddUsersRequest(org, Buffer.alloc(0));
  const emptyDone = await settle(bulk, org, empty.id);
  assert.equal(emptyDone.status, 'failed');
  assert.equal(emptyDone.file_level_error_rollups[0].error_type, 'column_headers_missing');
  const url = `${live.base}/management/v2/organizations/${org}/imports/bulk_users/add`;
  for (const [contentType, body] of [
    ['multipart/form-data', 'not a form'],
    [
      'multipart/form-data; boundary=b',
      '--b\r\nContent-Disposition: form-data; name="other"\r\n\r\nx\r\n--b--\r\n',
    ],
  ]) {
    const res = await fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${tenant.key}`, 'content-type': contentType! },
      body,
    });
    assert.equal(res.status, 400, contentType);
    const err = (await res.json()) as any;
    assert.equal(err.error, 'validation_failed');
    assert.match(err.error_description, /multipart/);
  }

  // Unknown headers are reported as DocuSign's comma-separated string, and the rest imports.
  const extra = await bulk.createBulkImportAddUsersRequest(
    org,
    Buffer.from(
      `AccountID,FirstName,LastName,UserEmail,PermissionSet,Shoe Size,Favourite\n${tenant.accountId},Extra,Cols,extra@example.test,DS Viewer,44,tea\n`,
    ),
  );
  const extraDone = await settle(bulk, org, extra.id);
  assert.equal(extraDone.status, 'completed');
  assert.equal(extraDone.invalid_column_headers, 'Shoe Size,Favourite');
  assert.equal(extraDone.added_user_count, 1);
});

test('tenancy: another organization’s ids answer 404 on every import route; close_external is 501', async (t) => {
  const { live, tenant, bulk } = await setup(t);
  const other = await liveTenant(live);
  const otherBulk = new admin.BulkImportsApi(adminClient(live, other.key));
  const theirs = await otherBulk.createBulkImportAddUsersRequest(
    other.organizationId,
    Buffer.from(
      `AccountID,FirstName,LastName,UserEmail,PermissionSet\n${other.accountId},T,T,t@example.test,DS Admin\n`,
    ),
  );
  await settle(otherBulk, other.organizationId, theirs.id);
  const csv = Buffer.from(`FirstName,LastName,UserEmail,PermissionSet\nX,Y,xy@example.test,DS Admin\n`);
  const org = tenant.organizationId;
  const cases: [string, () => Promise<unknown>][] = [
    ['add, foreign org', () => bulk.createBulkImportAddUsersRequest(other.organizationId, csv)],
    ['update, foreign org', () => bulk.createBulkImportUpdateUsersRequest(other.organizationId, csv)],
    ['close, foreign org', () => bulk.createBulkImportCloseUsersRequest(other.organizationId, csv)],
    [
      'single add, foreign org',
      () => bulk.createBulkImportSingleAccountAddUsersRequest(other.organizationId, other.accountId, csv),
    ],
    [
      'single add, foreign account',
      () => bulk.createBulkImportSingleAccountAddUsersRequest(org, other.accountId, csv),
    ],
    [
      'single update, foreign account',
      () => bulk.createBulkImportSingleAccountUpdateUsersRequest(org, other.accountId, csv),
    ],
    [
      'single update, foreign org',
      () => bulk.createBulkImportSingleAccountUpdateUsersRequest(other.organizationId, other.accountId, csv),
    ],
    ['list, foreign org', () => bulk.getBulkUserImportRequests(other.organizationId)],
    ['get, foreign import', () => bulk.getBulkUserImportRequest(org, theirs.id)],
    ['get, foreign org', () => bulk.getBulkUserImportRequest(other.organizationId, theirs.id)],
    ['delete, foreign import', () => bulk.deleteBulkUserImport(org, theirs.id)],
    ['delete, foreign org', () => bulk.deleteBulkUserImport(other.organizationId, theirs.id)],
    ['results, foreign import', () => bulk.getBulkUserImportCSV(org, theirs.id)],
    ['results, foreign org', () => bulk.getBulkUserImportCSV(other.organizationId, theirs.id)],
    ['get, not a GUID', () => bulk.getBulkUserImportRequest(org, 'not-a-guid')],
    ['get, missing', () => bulk.getBulkUserImportRequest(org, '0190c0de-0000-7000-8000-000000000000')],
  ];
  for (const [name, call] of cases) {
    const err = await sdkError(call());
    assert.equal(err.statusCode, 404, `${name}: ${JSON.stringify(err.body)}`);
    assert.equal(err.body.error, 'not_found', name);
  }
  // Theirs is untouched, and nothing was imported into either organization.
  assert.equal(
    (await otherBulk.getBulkUserImportRequest(other.organizationId, theirs.id)).status,
    'completed',
  );
  assert.deepEqual((await bulk.getBulkUserImportRequests(org)).imports, []);

  const external = await sdkError(bulk.createBulkImportExternalCloseUsersRequest(org));
  assert.equal(external.statusCode, 501);
  assert.equal(external.body.error, 'not_supported');
  assert.match(external.body.error_description, /external memberships/);
});

test('scopes: a users:read key reads imports but gets 403 naming user_write when it creates or deletes', async (t) => {
  const { live, tenant, bulk } = await setup(t);
  const org = tenant.organizationId;
  const mine = await bulk.createBulkImportAddUsersRequest(
    org,
    Buffer.from(
      `AccountID,FirstName,LastName,UserEmail,PermissionSet\n${tenant.accountId},R,O,ro@example.test,DS Admin\n`,
    ),
  );
  await settle(bulk, org, mine.id);
  const created = await api(live, tenant.key, 'POST', '/api/api_keys', {
    name: 'reader',
    scopes: ['users:read'],
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const reader = new admin.BulkImportsApi(adminClient(live, created.body.key));
  assert.equal((await reader.getBulkUserImportRequest(org, mine.id)).status, 'completed');
  assert.equal((await reader.getBulkUserImportRequests(org)).imports.length, 1);
  assert.match(await reader.getBulkUserImportCSV(org, mine.id), /ProcessingResults/);
  for (const call of [
    () => reader.createBulkImportAddUsersRequest(org, Buffer.from('a,b\n')),
    () => reader.createBulkImportSingleAccountAddUsersRequest(org, tenant.accountId, Buffer.from('a,b\n')),
    () => reader.deleteBulkUserImport(org, mine.id),
  ]) {
    const err = await sdkError(call());
    assert.equal(err.statusCode, 403);
    assert.equal(err.body.error, 'permission_denied');
    assert.match(err.body.error_description, /user_write/);
  }
  // A bad token: 401.
  const bad = await sdkError(
    new admin.BulkImportsApi(adminClient(live, 'sk_test_nope')).getBulkUserImportRequests(org),
  );
  assert.equal(bad.statusCode, 401);
});
