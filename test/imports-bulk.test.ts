// The set-based apply pass (src/core/imports/bulk.ts): whole batches written by one statement per kind of
// write must give exactly what row-by-row application gave. Each import here is ONE batch (batch size 100), so
// every case below shares a statement with its neighbours: a seat-limit overflow inside a batch, duplicate
// emails in one batch, adds mixed with errors, one user updated by several rows, emails passed between users,
// reopened memberships; counters, seats, row results and the audit chain checked exactly.
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { canonicalJson } from '../src/core/audit/chain.ts';
import { changesJson, diffChanges } from '../src/core/audit/changes.ts';
import { newId } from '../src/core/ids.ts';
import { insertUsers } from '../src/core/imports/bulk.ts';
import type { User } from '../src/db/schema.ts';
import { type Tenant, testDb } from './helper.ts';
import { allRows, importCsv, importSetup } from './imports-helper.ts';
import { confirmEmail, mailsTo } from './people-helper.ts';

const setup = (t: TestContext) => importSetup(t, { importBatchSize: 100 });

async function auditOf(tenant: Tenant) {
  return testDb()
    .db.selectFrom('audit_events')
    .selectAll()
    .where('organization_id', '=', tenant.organizationId)
    .orderBy('seq')
    .execute();
}

test('one batch: seat overflow, duplicate emails, adds mixed with errors; exact counters, seats and audit', async (t) => {
  const { api, tenant, services, groupId } = await setup(t);
  await api('PATCH', `/api/accounts/${tenant.accountId}`, { seat_limit: 5 }); // owner + 4
  const csv =
    'FirstName,LastName,UserEmail,PermissionSet,Group,AutoActivate\n' +
    'A,One,a1@example.test,DS Sender,Sales,\n' + // 1: added (seat 2)
    'B,Two,not-an-email,DS Sender,,\n' + // 2: error
    'A,One,A1@example.test,DS Sender,Sales,\n' + // 3: same email, other case: user exists
    'C,Three,c3@example.test,No Such,,\n' + // 4: error
    'D,Four,d4@example.test,DS Sender,,false\n' + // 5: pending: no seat
    'E,Five,e5@example.test,DS Sender,Sales,\n' + // 6: added (seat 3)
    'X,Other,a1@example.test,DS Sender,,\n' + // 7: same email, another name
    'F,Six,f6@example.test,DS Sender,,\n' + // 8: added (seat 4)
    'G,Seven,g7@example.test,DS Sender,,\n' + // 9: added (seat 5)
    'H,Eight,h8@example.test,DS Sender,Sales,\n' + // 10: over the limit
    'I,Nine,i9@example.test,DS Sender,,false\n' + // 11: pending: still fine
    'J,Ten,j10@example.test,DS Sender,,\n'; // 12: over the limit
  const done = await importCsv(api, `operation=add&account_id=${tenant.accountId}`, csv);
  assert.equal(done.status, 'completed', JSON.stringify(done));
  const rows = await allRows(api, done.id);
  assert.deepEqual(
    rows.map((r) => r.error_type ?? r.result),
    [
      'user_added',
      'invalid_useremail_address',
      'no_action_taken_user_exists',
      'invalid_permissionset',
      'user_added',
      'user_added',
      'new_name_with_existing_useremail_not_allowed',
      'user_added',
      'user_added',
      'maximum_users_exceeded',
      'user_added',
      'maximum_users_exceeded',
    ],
  );
  assert.deepEqual(
    [
      done.user_count,
      done.processed_user_count,
      done.added_user_count,
      done.no_action_required_user_count,
      done.error_count,
    ],
    [12, 12, 6, 1, 5],
  );
  assert.equal(rows[2].user_id, rows[0].user_id, 'the duplicate row names the user the batch created');
  assert.equal(rows[2].membership_id, rows[0].membership_id);
  const account = (await api('GET', `/api/accounts/${tenant.accountId}`)).json();
  assert.equal(account.seats_used, 5, 'owner + 4 active; pending memberships take no seat');

  const users = await testDb()
    .db.selectFrom('users')
    .select(['id', 'email'])
    .where('organization_id', '=', tenant.organizationId)
    .execute();
  assert.equal(users.length, 1 + 6, 'one user per added row, none for the duplicate');
  const members = await testDb()
    .db.selectFrom('group_members')
    .select('user_id')
    .where('group_id', '=', groupId)
    .execute();
  assert.equal(members.length, 2, 'a1 and e5 (h8 was refused)');

  const events = (await auditOf(tenant)).filter(
    (e) => (e.changes as { _meta?: { via?: string } })._meta?.via === 'import',
  );
  const count = (a: string) => events.filter((e) => e.action === a).length;
  assert.deepEqual(
    [count('user.created'), count('membership.created'), count('group.member_added')],
    [6, 6, 2],
  );
  const created = events.find((e) => e.action === 'user.created' && e.target_id === rows[0].user_id)!;
  assert.deepEqual((created.changes as any).email, { before: null, after: 'a1@example.test' });
  assert.deepEqual((created.changes as any).role, { before: null, after: 'member' });
  const membership = events.find(
    (e) => e.action === 'membership.created' && e.target_id === rows[4].membership_id,
  )!;
  assert.deepEqual((membership.changes as any).status, { before: null, after: 'pending' });
  assert.equal(membership.account_id, tenant.accountId);
  const seqs = (await auditOf(tenant)).map((e) => Number(e.seq));
  assert.deepEqual(
    seqs,
    seqs.map((_, i) => i + 1),
    'one gapless chain',
  );
  assert.equal((await services.audit.verify(tenant.organizationId)).ok, true);
});

test('one batch of updates: a user changed by several rows, an email passed on once confirmed, reopened memberships', async (t) => {
  const { app, api, tenant, services } = await setup(t);
  const add = await importCsv(
    api,
    `operation=add&account_id=${tenant.accountId}`,
    'FirstName,LastName,UserEmail,PermissionSet\n' +
      'Ada,Lovelace,ada@example.test,DS Sender\n' +
      'Alan,Turing,alan@example.test,DS Sender\n' +
      'Kurt,Godel,kurt@example.test,DS Sender\n',
  );
  assert.equal(add.added_user_count, 3);
  const users = await testDb()
    .db.selectFrom('users')
    .select(['id', 'email'])
    .where('organization_id', '=', tenant.organizationId)
    .execute();
  const id = (e: string) => users.find((u) => u.email === e)!.id;

  // Rows 1–3 change Ada three times (each row sees the one before). Row 4 asks for alan@ to become alan.t@:
  // alan@ stays Alan's until the link is followed, so row 5 cannot take it yet.
  const upd = await importCsv(
    api,
    `operation=update&account_id=${tenant.accountId}`,
    'APIUserName,UserEmail,FirstName,LastName,UserTitle,PermissionSet\n' +
      `${id('ada@example.test')},,,King,,\n` +
      `${id('ada@example.test')},,,,Countess,DS Admin\n` +
      `${id('ada@example.test')},,Augusta,,,DS Viewer\n` +
      `${id('alan@example.test')},alan.t@example.test,,,,\n` +
      `${id('kurt@example.test')},alan@example.test,,,,\n`,
  );
  assert.equal(upd.status, 'completed', JSON.stringify(upd));
  const updRows = await allRows(api, upd.id);
  assert.deepEqual(
    updRows.map((r) => r.error_type ?? r.result),
    ['user_updated', 'user_updated', 'user_updated', 'user_updated', 'useremail_username_combination_exists'],
  );
  assert.match(updRows[3].message, /becomes alan\.t@example\.test once the link mailed there is followed/);
  const ada = (await api('GET', `/api/users/${id('ada@example.test')}`)).json();
  assert.deepEqual(
    [ada.first_name, ada.last_name, ada.job_title],
    ['Augusta', 'King', 'Countess'],
    'all three rows applied, in order',
  );
  const profiles = (await api('GET', `/api/accounts/${tenant.accountId}/permission_profiles`)).json().data;
  const viewer = profiles.find((p: any) => p.name === 'DS Viewer').id;
  assert.equal(ada.memberships[0].permission_profile_id, viewer, 'the last profile wins');
  const alan = (await api('GET', `/api/users/${id('alan@example.test')}`)).json();
  assert.deepEqual([alan.email, alan.pending_email], ['alan@example.test', 'alan.t@example.test']);

  // Alan follows the link: alan@ is free, and a second import passes it on to Kurt, who confirms too.
  const [alanLink] = await mailsTo('alan.t@example.test');
  assert.equal((await confirmEmail(app, alanLink!.token)).statusCode, 200);
  const passOn = await importCsv(
    api,
    `operation=update&account_id=${tenant.accountId}`,
    `APIUserName,UserEmail\n${id('kurt@example.test')},alan@example.test\n`,
  );
  assert.equal(passOn.updated_user_count, 1, JSON.stringify(passOn));
  const kurtLink = (await mailsTo('alan@example.test')).find((m) => m.token !== '')!;
  assert.equal((await confirmEmail(app, kurtLink.token)).statusCode, 200);
  assert.equal((await api('GET', `/api/users/${id('kurt@example.test')}`)).json().email, 'alan@example.test');
  assert.equal(
    (await api('GET', `/api/users/${id('alan@example.test')}`)).json().email,
    'alan.t@example.test',
  );

  const events = await auditOf(tenant);
  const adaUpdates = events.filter(
    (e) => e.action === 'user.updated' && e.target_id === id('ada@example.test'),
  );
  assert.deepEqual(
    adaUpdates.map((e) => Object.keys(e.changes as object).filter((k) => k !== '_meta')),
    [['last_name'], ['job_title'], ['first_name']],
    'each row audited with its own change only',
  );
  const requested = events.filter((e) => e.action === 'email_change.requested');
  assert.deepEqual(
    requested.map((e) => [e.target_id, (e.changes as any)._meta]),
    [
      [id('alan@example.test'), { via: 'import' }],
      [id('kurt@example.test'), { via: 'import' }],
    ],
  );
  const profileChanges = events.filter(
    (e) => e.action === 'membership.updated' && e.target_id === ada.memberships[0].id,
  );
  assert.equal(profileChanges.length, 2);
  assert.deepEqual((profileChanges[1]!.changes as any).permission_profile_id.after, viewer);

  // Close two, then add them again in one batch: the memberships are reopened, the seats taken back.
  const seats = async () => (await api('GET', `/api/accounts/${tenant.accountId}`)).json().seats_used;
  await importCsv(
    api,
    `operation=close&account_id=${tenant.accountId}`,
    'UserEmail\nalan@example.test\nalan.t@example.test\n',
  );
  assert.equal(await seats(), 2);
  const again = await importCsv(
    api,
    `operation=add&account_id=${tenant.accountId}`,
    'FirstName,LastName,UserEmail,PermissionSet\n' +
      'Kurt,Godel,alan@example.test,DS Admin\n' +
      'Alan,Turing,alan.t@example.test,DS Sender\n',
  );
  assert.deepEqual(
    (await allRows(api, again.id)).map((r) => r.result),
    ['user_added', 'user_added'],
  );
  assert.equal(await seats(), 4);
  const reopened = (await auditOf(tenant)).filter((e) => e.action === 'membership.reopened');
  assert.equal(reopened.length, 2);
  assert.deepEqual((reopened[0]!.changes as any).status, { before: 'closed', after: 'active' });
  assert.equal((await services.audit.verify(tenant.organizationId)).ok, true);
});

test('changesJson gives the bytes of canonicalJson over diffChanges and _meta', () => {
  const at = new Date('2026-01-02T03:04:05.006Z');
  const cases: [Record<string, unknown> | null, Record<string, unknown> | null, Record<string, unknown>?][] =
    [
      [
        null,
        { id: 'u1', email: 'a@b.c', first_name: 'A', password_hash: null, created_at: at, n: 3 },
        { via: 'import' },
      ],
      [
        { id: 'u1', email: 'a@b.c', password_hash: 'x', token: 'old' },
        { id: 'u1', email: 'b@b.c', password_hash: 'y', token: null },
      ],
      [
        { a: 1, b: { z: 1, y: [2, { d: 1, c: 2 }] }, c: at },
        { a: 1, b: { y: [2, { c: 2, d: 1 }], z: 1 }, c: new Date(0) },
        { rule: 'r', x: { b: 1, a: 2 } },
      ],
      [
        { A: 'x', _z: 1, Zed: null, é: 'ü', NaN: Number.NaN },
        { A: 'y', _z: 2, Zed: undefined, é: 'v\n"\\', NaN: null },
        { via: 'import' },
      ],
      [{ _meta: 'old', x: 1 }, { _meta: 'new', x: 2 }, { via: 'import' }],
      [
        { content: Buffer.from('x'), s: 'same' },
        { content: Buffer.from('y'), s: 'same' },
      ],
      [null, null, { via: 'import' }],
      [null, null],
    ];
  for (const [before, after, extra] of cases) {
    const expected = canonicalJson({ ...diffChanges(before, after), ...(extra ? { _meta: extra } : {}) });
    assert.equal(changesJson(before, after, extra), expected);
    assert.equal(changesJson(before, after, extra), expected, 'again, from the cached key order');
  }
});

test('COPY: values with backslashes, tabs and newlines arrive intact; a failing COPY rejects', async (t) => {
  const { api, tenant, services } = await setup(t);
  const title = 'R&D \\ Ops\tnight\nshift \\N';
  const csv = `FirstName,LastName,UserEmail,PermissionSet,UserTitle\nAda,Lovelace,ada@example.test,DS Sender,"${title}"\n`;
  const done = await importCsv(api, `operation=add&account_id=${tenant.accountId}`, csv);
  assert.equal(done.added_user_count, 1, JSON.stringify(done));
  const [row] = await allRows(api, done.id);
  assert.equal((await api('GET', `/api/users/${row.user_id}`)).json().job_title, title);
  const created = (await auditOf(tenant)).find(
    (e) => e.action === 'user.created' && e.target_id === row.user_id,
  )!;
  assert.deepEqual((created.changes as any).job_title, { before: null, after: title });
  assert.equal((await services.audit.verify(tenant.organizationId)).ok, true);

  // Two users with one email in one COPY: the unique index refuses it, and the error reaches the caller.
  const user = (email: string) =>
    ({
      id: newId(),
      organization_id: tenant.organizationId,
      email,
      first_name: 'X',
      last_name: 'Y',
      job_title: null,
      department: null,
      company: null,
      language: null,
      role: 'member',
      status: 'active',
    }) as unknown as User;
  await assert.rejects(
    testDb()
      .db.transaction()
      .execute((trx) => insertUsers(trx, [user('dup@example.test'), user('DUP@example.test')])),
    (err: { code?: string }) => err.code === '23505',
  );
  const left = await testDb()
    .db.selectFrom('users')
    .select('id')
    .where('organization_id', '=', tenant.organizationId)
    .where('email', 'ilike', 'dup@example.test')
    .execute();
  assert.equal(left.length, 0, 'the transaction rolled back');
});
