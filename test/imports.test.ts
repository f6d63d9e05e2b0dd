// Bulk CSV imports through the API, with an in-process worker: header aliases, every row error_type the
// engine emits, file-level failures, add / update / close with exact counters and results.csv, dry-run,
// permissions and tenancy.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { sql } from 'kysely';
import { processImport } from '../src/core/imports/service.ts';
import { connect } from '../src/db/connection.ts';
import { as, buildApp, type Caller, createTenant, type Tenant, testDb, testDbUrl } from './helper.ts';
import { allRows, importCsv, importSetup, runWorker, waitFor } from './imports-helper.ts';
import { confirmEmail, mailsTo } from './people-helper.ts';

async function usersOf(tenant: Tenant) {
  return testDb()
    .db.selectFrom('users')
    .selectAll()
    .where('organization_id', '=', tenant.organizationId)
    .execute();
}

async function resultsCsv(api: Caller, id: string): Promise<string[][]> {
  const res = await api('GET', `/api/imports/${id}/results.csv`);
  assert.equal(res.statusCode, 200, res.body);
  assert.match(String(res.headers['content-type']), /text\/csv/);
  return parse(res.body, { bom: true });
}

test('add: header aliases, BOM, CRLF, quoted fields; exact counters, rows, audit and results.csv', async (t) => {
  const { api, tenant, groupId, everyoneId } = await importSetup(t);
  const csv =
    '\ufeffaccountid,UserName,USEREMAIL,eSignPermissionProfile,Group,Group,Job Title,CompanyName,Language,AutoActivate\r\n' +
    `${tenant.accountId},Ada Lovelace,ada@example.test,DS Admin,Sales,,"Analyst, Engines","Babbage ""&"" Co",fr,true\r\n` +
    `${tenant.accountId},"Grace Brewster\nHopper",grace@example.test,ds sender,sales,Everyone,,,en,false\r\n` +
    `${tenant.accountId},Alan Turing,alan@example.test,DS Viewer,,,,,,\r\n` +
    `${tenant.accountId},Ada Lovelace,ADA@example.test,DS Admin,,,,,,\r\n` +
    `${tenant.accountId},Bad Row,not-an-email,DS Admin,,,,,,\r\n`;
  const done = await importCsv(api, 'operation=add', csv);
  assert.equal(done.status, 'completed', JSON.stringify(done));
  assert.deepEqual(
    {
      user_count: done.user_count,
      processed: done.processed_user_count,
      added: done.added_user_count,
      none: done.no_action_required_user_count,
      errors: done.error_count,
      percent: done.percent_completed,
    },
    { user_count: 5, processed: 5, added: 3, none: 1, errors: 1, percent: 100 },
  );
  assert.deepEqual(done.error_rollups, [{ error_type: 'invalid_useremail_address', count: 1 }]);

  const users = await usersOf(tenant);
  const ada = users.find((u) => u.email === 'ada@example.test')!;
  assert.equal(ada.first_name, 'Ada');
  assert.equal(ada.last_name, 'Lovelace');
  assert.equal(ada.job_title, 'Analyst, Engines');
  assert.equal(ada.company, 'Babbage "&" Co');
  assert.equal(ada.language, 'fr');
  const grace = users.find((u) => u.email === 'grace@example.test')!;
  assert.equal(grace.first_name, 'Grace Brewster');
  assert.equal(grace.last_name, 'Hopper');
  const graceApi = (await api('GET', `/api/users/${grace.id}`)).json();
  assert.equal(graceApi.memberships[0].status, 'pending', 'AutoActivate=false: pending membership');
  assert.deepEqual(graceApi.memberships[0].group_ids, [everyoneId, groupId]);
  const adaApi = (await api('GET', `/api/users/${ada.id}`)).json();
  assert.deepEqual(adaApi.memberships[0].group_ids, [everyoneId, groupId]);

  const rows = await allRows(api, done.id);
  assert.deepEqual(
    rows.map((r) => [r.row_number, r.status, r.action, r.result]),
    [
      [1, 'ok', 'add', 'user_added'],
      [2, 'ok', 'add', 'user_added'],
      [3, 'ok', 'add', 'user_added'],
      [4, 'ok', 'no_action', 'no_action_taken_user_exists'],
      [5, 'error', 'no_action', 'invalid_useremail_address'],
    ],
  );
  assert.equal(rows[0].user_id, ada.id);
  assert.equal(rows[3].user_id, ada.id);
  const errors = await allRows(api, done.id, 'error');
  assert.deepEqual(
    errors.map((r) => r.row_number),
    [5],
  );

  // Audited like the API: user.created and membership.created for each new user, group.member_added.
  const events = await testDb()
    .db.selectFrom('audit_events')
    .select(['action', 'target_id'])
    .where('organization_id', '=', tenant.organizationId)
    .where('action', 'in', ['user.created', 'membership.created', 'group.member_added', 'import.created'])
    .execute();
  const count = (a: string) => events.filter((e) => e.action === a).length;
  assert.equal(count('user.created'), 3 + 1, 'three imported users plus the owner');
  assert.equal(count('membership.created'), 3 + 1);
  assert.equal(count('group.member_added'), 2);
  assert.equal(count('import.created'), 1);

  const out = await resultsCsv(api, done.id);
  assert.equal(out[0]!.at(-1), 'ProcessingResults');
  assert.equal(out[0]![1], 'UserName');
  assert.equal(out.length, 6);
  assert.equal(out[2]![1], 'Grace Brewster\nHopper', 'original fields kept');
  assert.equal(out[1]!.at(-1), 'user_added');
  assert.match(out[5]!.at(-1)!, /^invalid_useremail_address: /);

  const list = await api('GET', '/api/imports?limit=1');
  assert.equal(list.json().data[0].id, done.id);
});

test('add: every row error_type has a case', async (t) => {
  const { api, tenant, services, config } = await importSetup(t);
  const other = await createTenant(services, config);
  const acc = tenant.accountId;
  await api('PATCH', `/api/accounts/${acc}`, { seat_limit: 3 }); // owner + 2 more
  // An existing deactivated user.
  const gone = (
    await api('POST', '/api/users', { email: 'gone@example.test', first_name: 'Gone', last_name: 'User' })
  ).json();
  await api('POST', `/api/users/${gone.id}/deactivate`);
  const header =
    'AccountID,AccountName,FirstName,LastName,UserEmail,PermissionSet,Group,UserTitle,CompanyName,Language,AutoActivate,LoginPolicy,City\n';
  const row = (o: Record<string, string>) => {
    const d: Record<string, string> = {
      a: acc,
      n: '',
      f: 'Jo',
      l: 'Doe',
      e: `${Math.random().toString(36).slice(2)}@example.test`,
      p: 'DS Sender',
      g: '',
      ti: '',
      co: '',
      la: '',
      aa: '',
      lp: '',
      ci: '',
      ...o,
    };
    return `${[d.a, d.n, d.f, d.l, d.e, d.p, d.g, d.ti, d.co, d.la, d.aa, d.lp, d.ci].join(',')}\n`;
  };
  const cases: [string, Record<string, string>][] = [
    ['invalid_account_id', { a: 'nope' }],
    ['invalid_account_id', { a: other.accountId }],
    ['invalid_account_id', { n: 'Wrong Name' }],
    ['blank_username', { f: '', l: '' }],
    ['invalid_characters_in_username', { f: 'Jo<script>' }],
    ['invalid_useremail_address', { e: '' }],
    ['invalid_permissionset', { p: 'No Such Profile' }],
    ['permissionset_required', { p: '' }],
    ['invalid_group', { g: 'Nope' }],
    ['invalid_characters_in_jobtitle', { ti: 'a<b' }],
    ['invalid_characters_in_companyname', { co: 'a>b' }],
    ['invalid_characters_in_address', { ci: '<x>' }],
    ['invalid_language_code', { la: 'xx' }],
    ['invalid_autoactivate', { aa: 'maybe' }],
    ['invalid_loginpolicy', { lp: 'Sometimes' }],
    ['new_name_with_existing_useremail_not_allowed', { e: tenant.email, f: 'Someone', l: 'Else' }],
    ['invalid_row_data', { e: 'gone@example.test', f: 'Gone', l: 'User' }],
    ['ok', { e: 'seat1@example.test' }],
    ['ok', { e: 'seat2@example.test' }],
    ['maximum_users_exceeded', { e: 'seat3@example.test' }],
  ];
  const done = await importCsv(api, 'operation=add', header + cases.map(([, o]) => row(o)).join(''));
  assert.equal(done.status, 'completed', JSON.stringify(done));
  const rows = await allRows(api, done.id);
  assert.deepEqual(
    rows.map((r) => (r.status === 'ok' ? 'ok' : r.error_type)),
    cases.map(([c]) => c),
    JSON.stringify(rows.filter((r) => r.status === 'error').map((r) => r.message)),
  );
  for (const r of rows) if (r.status === 'error') assert.ok(r.message.length > 5);
  assert.equal(done.error_count, cases.length - 2);
  assert.equal(done.added_user_count, 2);

  // close: a user with no membership in the account named.
  const second = (await api('POST', '/api/accounts', { name: 'Second' })).json();
  const denied = await importCsv(
    api,
    `operation=close&account_id=${second.id}`,
    `UserEmail\n${tenant.email}\n`,
  );
  assert.deepEqual(
    (await allRows(api, denied.id)).map((r) => r.error_type),
    ['membership_not_in_account'],
  );
});

test('update and close: happy paths, their error types, exact counters, seats freed', async (t) => {
  const { app, api, tenant, groupId, everyoneId } = await importSetup(t);
  const add = await importCsv(
    api,
    `operation=add&account_id=${tenant.accountId}`,
    'FirstName,LastName,UserEmail,PermissionSet\nAda,Lovelace,ada@example.test,DS Sender\nAlan,Turing,alan@example.test,DS Sender\nKurt,Godel,kurt@example.test,DS Sender\n',
  );
  assert.equal(add.added_user_count, 3);
  const users = await usersOf(tenant);
  const id = (e: string) => users.find((u) => u.email === e)!.id;
  const profiles = (await api('GET', `/api/accounts/${tenant.accountId}/permission_profiles`)).json().data;
  const admin = profiles.find((p: any) => p.name === 'DS Admin').id;

  const upd = await importCsv(
    api,
    `operation=update&account_id=${tenant.accountId}`,
    'APIUserName,UserEmail,FirstName,LastName,PermissionSet,Group,UserTitle,AutoActivate\n' +
      `${id('ada@example.test')},ada.l@example.test,Ada,King,DS Admin,Sales,Countess,\n` +
      `${id('alan@example.test')},alan@example.test,,,,,,\n` +
      `${id('kurt@example.test')},ada.l@example.test,,,,,,\n` +
      `00000000-0000-7000-8000-000000000000,x@example.test,,,,,,\n` +
      `not-a-uuid,x@example.test,,,,,,\n` +
      `${id('kurt@example.test')},kurt@example.test,,,,,,true\n`,
  );
  assert.equal(upd.status, 'completed', JSON.stringify(upd));
  assert.equal(upd.updated_user_count, 2);
  assert.equal(upd.no_action_required_user_count, 1);
  assert.equal(upd.error_count, 3);
  assert.deepEqual(
    (await allRows(api, upd.id)).map((r) => r.error_type ?? r.result),
    [
      'user_updated',
      'no_action_taken',
      // ada.l@ waits for Ada's confirmation: it is nobody's address yet, so it is not reserved.
      'user_updated',
      'invalid_apiusername',
      'invalid_apiusername',
      'autoactivate_not_allowed',
    ],
  );
  // Ada follows her link first; Kurt's link then finds the address taken.
  const [adaLink, kurtLink] = await mailsTo('ada.l@example.test');
  assert.equal((await confirmEmail(app, adaLink!.token)).statusCode, 200);
  const taken = await confirmEmail(app, kurtLink!.token);
  assert.equal(taken.statusCode, 409, taken.body);
  assert.equal(taken.json().error.code, 'email_taken');
  assert.equal((await api('GET', `/api/users/${id('kurt@example.test')}`)).json().email, 'kurt@example.test');
  const ada = (await api('GET', `/api/users/${id('ada@example.test')}`)).json();
  assert.equal(ada.email, 'ada.l@example.test');
  assert.equal(ada.last_name, 'King');
  assert.equal(ada.job_title, 'Countess');
  assert.equal(ada.memberships[0].permission_profile_id, admin);
  assert.deepEqual(ada.memberships[0].group_ids, [everyoneId, groupId]);

  const seats = async () => (await api('GET', `/api/accounts/${tenant.accountId}`)).json().seats_used;
  assert.equal(await seats(), 4);
  const alanMembership = (await api('GET', `/api/users/${id('alan@example.test')}`)).json().memberships[0].id;
  const close = await importCsv(
    api,
    `operation=close&account_id=${tenant.accountId}`,
    'UserEmail,MembershipId\n' +
      `alan@example.test,${alanMembership}\n` +
      'kurt@example.test,\n' +
      'kurt@example.test,\n' +
      'nobody@example.test,\n' +
      `ada.l@example.test,${alanMembership}\n` +
      `${tenant.email},\n`,
  );
  assert.equal(close.closed_user_count, 2);
  assert.equal(close.no_action_required_user_count, 1);
  assert.equal(close.error_count, 3);
  const closeRows = await allRows(api, close.id);
  assert.deepEqual(
    closeRows.map((r) => r.error_type ?? r.result),
    [
      'membership_closed',
      'membership_closed',
      'no_action_taken',
      'membership_not_in_account',
      'invalid_membership_id',
      'cannot_close_own_membership',
    ],
  );
  assert.equal(closeRows[0].membership_id, alanMembership);
  assert.equal(closeRows[0].user_id, id('alan@example.test'));
  assert.equal(await seats(), 2, 'two seats freed');
  const closed = await testDb()
    .db.selectFrom('audit_events')
    .select('target_id')
    .where('organization_id', '=', tenant.organizationId)
    .where('action', '=', 'membership.closed')
    .execute();
  assert.equal(closed.length, 2);
  const out = await resultsCsv(api, close.id);
  assert.deepEqual(out[0], ['UserEmail', 'MembershipId', 'ProcessingResults']);
  assert.equal(out[1]![2], 'membership_closed');
});

test('dry-run writes no user and reports the plan, with the seats a close would free', async (t) => {
  const { api, tenant } = await importSetup(t);
  await importCsv(
    api,
    `operation=add&account_id=${tenant.accountId}`,
    'FirstName,LastName,UserEmail,PermissionSet\nAda,Lovelace,ada@example.test,DS Sender\n',
  );
  const before = (await usersOf(tenant)).length;
  const auditBefore = await testDb()
    .db.selectFrom('audit_events')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('organization_id', '=', tenant.organizationId)
    .executeTakeFirstOrThrow();
  const dry = await importCsv(
    api,
    `operation=add&account_id=${tenant.accountId}&dry_run=true`,
    'FirstName,LastName,UserEmail,PermissionSet\n' +
      'Ada,Lovelace,ada@example.test,DS Sender\n' +
      'New,One,new1@example.test,DS Sender\n' +
      'New,Two,new2@example.test,DS Sender\n' +
      'New,One,NEW1@example.test,DS Sender\n' +
      'Bad,Profile,bad@example.test,Nope\n',
  );
  assert.equal(dry.dry_run, true);
  assert.equal(dry.status, 'completed');
  assert.equal(dry.added_user_count, 2);
  assert.equal(
    dry.no_action_required_user_count,
    2,
    'the existing user, and a later row repeating a planned one',
  );
  assert.equal(dry.error_count, 1);
  const rows = await allRows(api, dry.id);
  assert.deepEqual(
    rows.map((r) => r.result),
    [
      'no_action_taken_user_exists',
      'user_added',
      'user_added',
      'no_action_taken_user_exists',
      'invalid_permissionset',
    ],
  );
  assert.equal(rows[1].user_id, null, 'a user that would be created has no id yet');
  assert.equal((await usersOf(tenant)).length, before, 'no user written');
  const auditAfter = await testDb()
    .db.selectFrom('audit_events')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('organization_id', '=', tenant.organizationId)
    .executeTakeFirstOrThrow();
  assert.equal(Number(auditAfter.n), Number(auditBefore.n) + 1, 'only import.created');

  const ada = (await usersOf(tenant)).find((u) => u.email === 'ada@example.test')!;
  const membership = (await api('GET', `/api/users/${ada.id}`)).json().memberships[0].id;
  const dryClose = await importCsv(
    api,
    `operation=close&account_id=${tenant.accountId}&dry_run=true`,
    'UserEmail\nada@example.test\n',
  );
  assert.equal(dryClose.closed_user_count, 1);
  const [r] = await allRows(api, dryClose.id);
  assert.equal(r.action, 'close');
  assert.equal(r.user_id, ada.id);
  assert.equal(r.membership_id, membership, 'the seat that would be freed');
  assert.equal((await api('GET', `/api/users/${ada.id}`)).json().memberships[0].status, 'active');
});

/**
 * Runs `csv` as a dry-run, then for real on the same state, and checks the dry-run's row results and counters
 * are the real import's (ids of users and memberships the real one created are null in the dry-run), and that
 * the dry-run's spill (import_dry_users) is empty once it completed. Returns the real import's rows.
 */
async function dryThenReal(api: Caller, tenant: Tenant, query: string, csv: string): Promise<any[]> {
  const db = testDb().db;
  const dry = await importCsv(api, `${query}&dry_run=true`, csv);
  assert.equal(dry.status, 'completed', JSON.stringify(dry));
  const userIds = new Set((await usersOf(tenant)).map((u) => u.id));
  const membershipIds = new Set(
    (
      await db
        .selectFrom('memberships')
        .select('id')
        .where('organization_id', '=', tenant.organizationId)
        .execute()
    ).map((m) => m.id),
  );
  const real = await importCsv(api, query, csv);
  assert.equal(real.status, 'completed', JSON.stringify(real));
  const counters = (i: any) => [
    i.processed_user_count,
    i.added_user_count,
    i.updated_user_count,
    i.closed_user_count,
    i.no_action_required_user_count,
    i.error_count,
    i.error_rollups,
  ];
  assert.deepEqual(counters(dry), counters(real));
  const realRows = await allRows(api, real.id);
  assert.deepEqual(
    await allRows(api, dry.id),
    realRows.map((r) => ({
      ...r,
      user_id: r.user_id && userIds.has(r.user_id) ? r.user_id : null,
      membership_id: r.membership_id && membershipIds.has(r.membership_id) ? r.membership_id : null,
    })),
    'the dry-run plans exactly what the import does',
  );
  const spilled = await sql<{ n: string }>`
    SELECT (SELECT count(*) FROM import_dry_users WHERE import_id = ${dry.id})
         + (SELECT count(*) FROM import_dry_state WHERE import_id = ${dry.id}) AS n`.execute(db);
  assert.equal(Number(spilled.rows[0]!.n), 0, 'the spill is emptied when the dry-run completes');
  return realRows;
}

test('dry-run across batches: later rows see what earlier batches planned, exactly as the real import', async (t) => {
  // Two rows a batch: every dependency below crosses a batch, so it is carried by the dry-run's spill
  // (and its seat counters), never by a world kept in memory.
  const { api, tenant } = await importSetup(t, { importBatchSize: 2 });
  const results = (rows: any[]) => rows.map((r) => r.error_type ?? r.result);
  await importCsv(
    api,
    `operation=add&account_id=${tenant.accountId}`,
    'FirstName,LastName,UserEmail,PermissionSet\n' +
      'Ada,Lovelace,ada@example.test,DS Sender\n' +
      'Alan,Turing,alan@example.test,DS Sender\n' +
      'Kurt,Godel,kurt@example.test,DS Sender\n' +
      'Grace,Hopper,grace@example.test,DS Sender\n',
  );
  await api('PATCH', `/api/accounts/${tenant.accountId}`, { seat_limit: 7 }); // owner + 4 + 2 more
  const id = async (email: string) => (await usersOf(tenant)).find((u) => u.email === email)!.id;
  const [ada, alan, kurt, grace] = [
    await id('ada@example.test'),
    await id('alan@example.test'),
    await id('kurt@example.test'),
    await id('grace@example.test'),
  ];

  const add = await dryThenReal(
    api,
    tenant,
    `operation=add&account_id=${tenant.accountId}`,
    'FirstName,LastName,UserEmail,PermissionSet,AutoActivate\n' +
      'New,One,new1@example.test,DS Sender,\n' +
      'Ada,Lovelace,ada@example.test,DS Sender,\n' +
      'New,One,NEW1@example.test,DS Viewer,\n' + // batch 2: the user row 1 adds
      'New,Two,new2@example.test,DS Sender,\n' + // the last seat
      'New,Three,new3@example.test,DS Sender,\n' + // batch 3: the seats counted in batches 1-2
      'Other,Name,new2@example.test,DS Sender,\n' +
      'New,Four,new4@example.test,DS Sender,false\n' + // batch 4: pending, no seat
      'New,Four,new4@example.test,DS Sender,\n',
  );
  assert.deepEqual(results(add), [
    'user_added',
    'no_action_taken_user_exists',
    'no_action_taken_user_exists',
    'user_added',
    'maximum_users_exceeded',
    'new_name_with_existing_useremail_not_allowed',
    'user_added',
    'no_action_taken_user_exists',
  ]);

  const update = await dryThenReal(
    api,
    tenant,
    `operation=update&account_id=${tenant.accountId}`,
    'APIUserName,UserEmail,LastName,PermissionSet,Group\n' +
      `${ada},ada.k@example.test,,,\n` + // asks for a change: ada@ stays hers until she confirms
      `${alan},,T,,\n` +
      `${kurt},ada@example.test,,,\n` + // batch 2: still Ada's
      `${grace},,H,,\n` +
      `${ada},,,DS Admin,Nope\n` + // batch 3: fails, changes nothing
      `${ada},,,DS Admin,\n` +
      `${ada},,,DS Admin,\n` + // batch 4: already DS Admin
      `${alan},ADA.K@example.test,,,\n` + // only asked for by Ada: not reserved
      `${ada},ada@example.test,,,\n` + // batch 5: her present address cancels the change of batch 1
      `${kurt},kurt@example.test,,,\n` + // his present address, nothing pending: nothing to do
      `${grace},,,,Sales\n` +
      `${grace},,,,sales\n`, // batch 6: already in Sales
  );
  assert.deepEqual(results(update), [
    'user_updated',
    'user_updated',
    'useremail_username_combination_exists',
    'user_updated',
    'invalid_group',
    'user_updated',
    'no_action_taken',
    'user_updated',
    'user_updated',
    'no_action_taken',
    'user_updated',
    'no_action_taken',
  ]);
  const pending = async (userId: string) =>
    (await api('GET', `/api/users/${userId}`)).json().pending_email as string | null;
  assert.deepEqual(
    [await pending(ada), await pending(alan), await pending(kurt)],
    [null, 'ADA.K@example.test', null],
  );

  const close = await dryThenReal(
    api,
    tenant,
    `operation=close&account_id=${tenant.accountId}`,
    'UserEmail\nalan@example.test\nada@example.test\nALAN@example.test\nnobody@example.test\nnew4@example.test\n',
  );
  assert.deepEqual(results(close), [
    'membership_closed',
    'membership_closed',
    'no_action_taken', // batch 2: closed in batch 1
    'membership_not_in_account',
    'membership_closed',
  ]);

  // Closed memberships reopened, the seats they freed taken again, a repeat of a reopened one.
  await api('PATCH', `/api/accounts/${tenant.accountId}`, { seat_limit: 8 }); // 5 used: 3 free
  const reopen = await dryThenReal(
    api,
    tenant,
    `operation=add&account_id=${tenant.accountId}`,
    'FirstName,LastName,UserEmail,PermissionSet\n' +
      'Alan,T,alan@example.test,DS Sender\n' +
      'Ada,Lovelace,ada@example.test,DS Sender\n' +
      'Alan,T,alan@example.test,DS Sender\n' + // batch 2: reopened in batch 1
      'New,Five,new5@example.test,DS Sender\n' +
      'New,Six,new6@example.test,DS Sender\n', // batch 3: no seat left
  );
  assert.deepEqual(results(reopen), [
    'user_added',
    'user_added',
    'no_action_taken_user_exists',
    'user_added',
    'maximum_users_exceeded',
  ]);
});

test('a dry-run handed from slice to slice resumes after its checkpoint, with its simulated users and seats', async (t) => {
  // No worker takes this queue's jobs: the slices are run here, one batch each.
  const { app, services, config } = await buildApp(t, {
    importQueue: `dry-slices-${process.pid}`,
    importBatchSize: 2,
  });
  await runWorker(t, config, 0); // installs the queue
  const tenant = await createTenant(services, config);
  const api = as(app, tenant.key);
  await api('PATCH', `/api/accounts/${tenant.accountId}`, { seat_limit: 3 }); // owner + 2
  const res = await api(
    'POST',
    `/api/imports?operation=add&account_id=${tenant.accountId}&dry_run=true`,
    'FirstName,LastName,UserEmail,PermissionSet\n' +
      'New,One,new1@example.test,DS Sender\n' +
      'New,Two,new2@example.test,DS Sender\n' +
      'New,One,NEW1@example.test,DS Sender\n' + // slice 2: planned in slice 1
      'New,Three,new3@example.test,DS Sender\n' + // no seat left since slice 1
      'Other,Name,new2@example.test,DS Sender\n', // slice 3
    { 'content-type': 'text/csv' },
  );
  assert.equal(res.statusCode, 202, res.body);
  const id = res.json().id;
  const db = testDb().db;
  let slices = 0;
  for (;;) {
    slices += 1;
    const outcome = await processImport(db, id, {
      workerId: 'test',
      batchSize: 2,
      leaseSeconds: 60,
      shouldYield: () => true,
      emailChanges: services.emailChanges,
    });
    if (outcome === 'done') break;
  }
  assert.equal(slices, 3, 'one batch a slice, none started over');
  const done = await waitFor(api, id);
  assert.equal(done.status, 'completed', JSON.stringify(done));
  assert.equal(done.processed_user_count, 5);
  assert.deepEqual(
    (await allRows(api, id)).map((r) => r.error_type ?? r.result),
    [
      'user_added',
      'user_added',
      'no_action_taken_user_exists',
      'maximum_users_exceeded',
      'new_name_with_existing_useremail_not_allowed',
    ],
  );
  const left = await sql<{ n: string }>`
    SELECT (SELECT count(*) FROM import_dry_users WHERE import_id = ${id})
         + (SELECT count(*) FROM import_dry_state WHERE import_id = ${id}) AS n`.execute(db);
  assert.equal(Number(left.rows[0]!.n), 0, 'nothing kept once completed');
});

test('an import batch reads only through its own transaction: it runs on a pool of one connection', async (t) => {
  // A batch holds the seat lock of its accounts; had it read the account's profiles, groups or mapping rules
  // through the pool, it would wait for a connection that requests blocked on that lock hold, and nothing would
  // end the wait (found by the role matrix: the server's pool, shared with its worker, hung). With one
  // connection, any read outside the transaction waits for ever: the import completing is the proof.
  const { app, services, config } = await buildApp(t, { importQueue: `one-connection-${process.pid}` });
  await runWorker(t, config, 0); // installs the queue; the batches are run here
  const tenant = await createTenant(services, config);
  const api = as(app, tenant.key);
  const group = await api('POST', `/api/accounts/${tenant.accountId}/groups`, { name: 'Sales' });
  assert.equal(group.statusCode, 201, group.body);
  const res = await api(
    'POST',
    `/api/imports?operation=add&account_id=${tenant.accountId}`,
    'FirstName,LastName,UserEmail,PermissionSet,GroupName\n' +
      'Ada,Lovelace,ada@example.test,DS Sender,Sales\n' +
      'Alan,Turing,alan@example.test,DS Viewer,\n',
    { 'content-type': 'text/csv' },
  );
  assert.equal(res.statusCode, 202, res.body);
  const single = connect(testDbUrl(), 1);
  t.after(() => single.close());
  const outcome = await processImport(single.db, res.json().id, {
    workerId: 'test',
    batchSize: 2,
    leaseSeconds: 60,
    shouldYield: () => false,
    emailChanges: services.emailChanges,
  });
  assert.equal(outcome, 'done');
  const done = await waitFor(api, res.json().id);
  assert.equal(done.status, 'completed', JSON.stringify(done));
  assert.deepEqual(
    (await allRows(api, res.json().id)).map((r) => r.result),
    ['user_added', 'user_added'],
  );
});

test('file-level errors fail the import before any row is applied', async (t) => {
  const { api, tenant } = await importSetup(t, { importMaxBytes: 12 * 1024 * 1024 });
  const acc = `account_id=${tenant.accountId}`;
  const good = 'FirstName,LastName,UserEmail,PermissionSet\nAda,Lovelace,ada@example.test,DS Sender\n';
  const cases: [string, string, string | Buffer][] = [
    [
      'binary_file',
      'operation=add',
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]),
    ],
    [
      'invalid_encoding',
      'operation=add',
      Buffer.concat([Buffer.from(good), Buffer.from('M\xfcller,Hans,h@example.test,DS Sender\n', 'latin1')]),
    ],
    ['extra_row_data_found', 'operation=add', `${good}a,b,c@example.test,DS Sender,extra\n`],
    ['insufficient_row_data_found', 'operation=add', `${good}a,b\n`],
    ['invalid_csv_data_or_syntax', 'operation=add', `${good}"Ada,Lovelace,x@example.test,DS Sender\n`],
    [
      'field_too_large',
      'operation=add',
      `${good}"${'x'.repeat(10 * 1024 * 1024)}",b,c@example.test,DS Sender\n`,
    ],
    ['column_headers_missing', 'operation=add', ''],
    ['useremail_column_header_missing', 'operation=add', 'FirstName,LastName,PermissionSet\na,b,DS Sender\n'],
    [
      'username_column_header_missing',
      'operation=add',
      'FirstName,UserEmail,PermissionSet\na,a@example.test,DS Sender\n',
    ],
    ['permissionset_column_header_missing', 'operation=add', 'UserName,UserEmail\na b,a@example.test\n'],
    ['apiusername_column_header_missing', 'operation=update', 'UserEmail\na@example.test\n'],
    ['membership_id_column_header_usage_not_permitted', 'operation=add', `MembershipId,${good}`],
    ['invalid_column_header', 'operation=add', 'UserEmail,UserEmail,UserName,PermissionSet\n'],
    ['file_too_large', 'operation=add', Buffer.alloc(13 * 1024 * 1024, 'a,b,c,d\n')],
  ];
  for (const [code, query, body] of cases) {
    const done = await importCsv(api, `${query}&${acc}`, body);
    assert.equal(done.status, 'failed', `${code}: ${JSON.stringify(done)}`);
    assert.equal(done.error?.code, code, `${code}: ${JSON.stringify(done.error)}`);
    assert.ok(done.error.message.length > 5);
    assert.equal(done.processed_user_count, 0, `${code}: no row applied`);
  }
  // No AccountID column and no account_id: the file cannot say where users go.
  const noAccount = await importCsv(api, 'operation=add', good);
  assert.equal(noAccount.error.code, 'column_headers_missing');
  assert.equal((await usersOf(tenant)).length, 1, 'only the owner: nothing was applied');
  const results = await api('GET', `/api/imports/${noAccount.id}/results.csv`);
  assert.equal(results.statusCode, 409);
});

test('wire encodings: octet-stream with Content-Disposition, multipart file, multipart field "file.csv"', async (t) => {
  const { app, api, tenant } = await importSetup(t);
  const csv = (e: string) =>
    `AccountID,FirstName,LastName,UserEmail,PermissionSet\n${tenant.accountId},A,B,${e},DS Sender\n`;
  const sdk = await api('POST', '/api/imports?operation=add', csv('one@example.test'), {
    'content-type': 'application/octet-stream',
    'content-disposition': 'form-data; name="file"; filename="file.csv"',
  });
  assert.equal(sdk.statusCode, 202, sdk.body);
  assert.equal(sdk.json().file_name, 'file.csv');
  assert.equal((await waitFor(api, sdk.json().id)).added_user_count, 1);

  for (const [i, disposition] of [
    'form-data; name="file.csv"; filename="users.csv"\r\nContent-Type: text/csv',
    'form-data; name="file.csv"',
  ].entries()) {
    const boundary = 'xyzBOUNDARY';
    const payload = `--${boundary}\r\nContent-Disposition: ${disposition}\r\n\r\n${csv(`m${i}@example.test`)}\r\n--${boundary}--\r\n`;
    const res = await app.inject({
      method: 'POST',
      url: '/api/imports?operation=add',
      headers: {
        authorization: `Bearer ${tenant.key}`,
        'content-type': `multipart/form-data; boundary=${boundary}`,
      },
      payload,
    });
    assert.equal(res.statusCode, 202, res.body);
    const done = await waitFor(api, res.json().id);
    assert.equal(done.added_user_count, 1, JSON.stringify(done));
  }

  const json = await api('POST', '/api/imports?operation=add', { a: 1 });
  assert.equal(json.statusCode, 415);
  const badOp = await api('POST', '/api/imports?operation=delete', csv('x@example.test'), {
    'content-type': 'text/csv',
  });
  assert.equal(badOp.statusCode, 400);
});

test('tenancy and permissions: foreign import is 404, cancel, idempotency key replays', async (t) => {
  const { api, tenant, services, config, app } = await importSetup(t);
  const other = await createTenant(services, config);
  const otherApi = as(app, other.key);
  const done = await importCsv(
    api,
    `operation=add&account_id=${tenant.accountId}`,
    'UserName,UserEmail,PermissionSet\nA B,a@example.test,DS Sender\n',
  );
  for (const path of ['', '/rows', '/results.csv']) {
    assert.equal((await otherApi('GET', `/api/imports/${done.id}${path}`)).statusCode, 404);
  }
  assert.equal((await otherApi('POST', `/api/imports/${done.id}/cancel`)).statusCode, 404);
  assert.equal((await otherApi('GET', '/api/imports')).json().data.length, 0);
  const foreign = await api('POST', `/api/imports?operation=add&account_id=${other.accountId}`, 'x', {
    'content-type': 'text/csv',
  });
  assert.equal(foreign.statusCode, 422);
  assert.equal((await as(app, null)('GET', '/api/imports')).statusCode, 401);

  // Cancel: a finished import stays as it is; a queued one is canceled.
  assert.equal((await api('POST', `/api/imports/${done.id}/cancel`)).json().status, 'completed');

  const key = `imp-${Date.now()}`;
  const body = `UserName,UserEmail,PermissionSet\nC D,c@example.test,DS Sender\n`;
  const headers = { 'content-type': 'text/csv', 'idempotency-key': key };
  const first = await api('POST', `/api/imports?operation=add&account_id=${tenant.accountId}`, body, headers);
  assert.equal(first.statusCode, 202, first.body);
  const again = await api('POST', `/api/imports?operation=add&account_id=${tenant.accountId}`, body, headers);
  assert.equal(again.statusCode, 202);
  assert.equal(again.json().id, first.json().id, 'replayed, not a second import');
  const ended = await waitFor(api, first.json().id);
  assert.equal(ended.added_user_count, 1);
});

test('HR mapping rules decide the profile and groups of rows that name no profile', async (t) => {
  const { api, tenant, groupId, everyoneId } = await importSetup(t);
  const profiles = (await api('GET', `/api/accounts/${tenant.accountId}/permission_profiles`)).json().data;
  const viewer = profiles.find((p: any) => p.name === 'DS Viewer').id;
  const rule = await api('POST', `/api/accounts/${tenant.accountId}/mapping_rules`, {
    name: 'Engineers',
    conditions: { job_title: { matches: '*engineer*' } },
    permission_profile_id: viewer,
    group_ids: [groupId],
  });
  assert.equal(rule.statusCode, 201, rule.body);
  const done = await importCsv(
    api,
    `operation=add&account_id=${tenant.accountId}`,
    'UserName,UserEmail,PermissionSet,JobTitle\n' +
      'Eve Engineer,eve@example.test,,Senior Engineer\n' +
      'Sam Sales,sam@example.test,,Sales\n' +
      'Ned Named,ned@example.test,DS Admin,Senior Engineer\n',
  );
  const rows = await allRows(api, done.id);
  assert.deepEqual(
    rows.map((r) => r.error_type ?? r.result),
    ['user_added', 'permissionset_required', 'user_added'],
  );
  const eve = (await api('GET', `/api/users/${rows[0].user_id}`)).json();
  assert.equal(eve.memberships[0].permission_profile_id, viewer);
  assert.deepEqual(eve.memberships[0].group_ids, [everyoneId, groupId]);
  const ned = (await api('GET', `/api/users/${rows[2].user_id}`)).json();
  assert.notEqual(ned.memberships[0].permission_profile_id, viewer, 'a named profile wins');
});

test('a multipart body that cannot be read (no boundary) or has no CSV part is a 400, not a 500; nothing is queued', async (t) => {
  const { app, api, tenant } = await importSetup(t);
  for (const [contentType, payload] of [
    ['multipart/form-data', 'not a form'],
    [
      'multipart/form-data; boundary=b',
      '--b\r\nContent-Disposition: form-data; name="other"\r\n\r\nx\r\n--b--\r\n',
    ],
  ]) {
    const res = await app.inject({
      method: 'POST',
      url: '/api/imports?operation=add',
      headers: { authorization: `Bearer ${tenant.key}`, 'content-type': contentType! },
      payload,
    });
    assert.equal(res.statusCode, 400, `${contentType}: ${res.body}`);
    assert.equal(res.json().error.code, 'validation_failed');
    assert.match(res.json().error.message, /multipart/);
  }
  assert.deepEqual((await api('GET', '/api/imports')).json().data, []);
});
