import assert from 'node:assert/strict';
import { test } from 'node:test';
import { as, buildApp, type Caller, createTenant, unique } from './helper.ts';

const base = (accountId: string) => `/api/accounts/${accountId}/permission_profiles`;

async function createUser(call: Caller, accountId: string, profileId: number, extra: object = {}) {
  const res = await call('POST', '/api/users', {
    email: `${unique('user')}@example.test`,
    account_id: accountId,
    permission_profile_id: profileId,
    ...extra,
  });
  assert.equal(res.statusCode, 201, res.body);
  return res.json();
}

async function auditActions(call: Caller, action: string, targetId: string) {
  const res = await call('GET', `/api/audit_events?action=${action}&target_id=${targetId}&order=asc`);
  assert.equal(res.statusCode, 200, res.body);
  return res.json().data as any[];
}

test('permission profiles: create, read, list, update and delete round trip, each audited', async (t) => {
  const { app, services, config } = await buildApp(t);
  const tenant = await createTenant(services, config);
  const call = as(app, tenant.key);
  const url = base(tenant.accountId);

  const created = await call('POST', url, {
    name: 'Auditors',
    description: 'Read the audit log',
    permissions: ['view_audit_log', 'send_envelopes', 'view_audit_log'],
  });
  assert.equal(created.statusCode, 201, created.body);
  const profile = created.json();
  assert.equal(typeof profile.id, 'number');
  assert.ok(Number.isInteger(profile.id));
  assert.equal(profile.account_id, tenant.accountId);
  assert.equal(profile.name, 'Auditors');
  assert.equal(profile.description, 'Read the audit log');
  // A set, in the catalogue's order.
  assert.deepEqual(profile.permissions, ['send_envelopes', 'view_audit_log']);
  assert.equal(profile.user_count, 0);
  assert.equal(profile.organization_id, undefined);
  assert.ok(!Number.isNaN(Date.parse(profile.created_at)));

  const got = await call('GET', `${url}/${profile.id}`);
  assert.equal(got.statusCode, 200);
  assert.deepEqual(got.json(), profile);

  // The account's default profiles plus the new one, in id order; keyset pages join up.
  const list = await call('GET', url);
  assert.equal(list.statusCode, 200);
  const names = list.json().data.map((p: any) => p.name);
  assert.deepEqual(names, ['DS Admin', 'DS Sender', 'DS Viewer', 'Auditors']);
  assert.equal(list.json().next_cursor, null);
  const first = (await call('GET', `${url}?limit=3`)).json();
  assert.equal(first.data.length, 3);
  assert.equal(typeof first.next_cursor, 'string');
  const second = (await call('GET', `${url}?limit=3&cursor=${first.next_cursor}`)).json();
  assert.deepEqual(
    second.data.map((p: any) => p.id),
    [profile.id],
  );
  assert.equal(second.next_cursor, null);
  assert.equal((await call('GET', `${url}?cursor=bm9wZQ`)).json().error.code, 'invalid_cursor');

  const patched = await call('PATCH', `${url}/${profile.id}`, {
    name: 'Auditors (all)',
    permissions: ['manage_users'],
    description: null,
  });
  assert.equal(patched.statusCode, 200, patched.body);
  assert.equal(patched.json().name, 'Auditors (all)');
  assert.deepEqual(patched.json().permissions, ['manage_users']);
  assert.equal(patched.json().description, null);
  assert.deepEqual((await call('GET', `${url}/${profile.id}`)).json().permissions, ['manage_users']);

  const removed = await call('DELETE', `${url}/${profile.id}`);
  assert.equal(removed.statusCode, 204);
  assert.equal(removed.body, '');
  const gone = await call('GET', `${url}/${profile.id}`);
  assert.equal(gone.statusCode, 404);
  assert.equal(gone.json().error.code, 'not_found');
  assert.equal((await call('DELETE', `${url}/${profile.id}`)).statusCode, 404);

  const id = String(profile.id);
  const [createdEvent] = await auditActions(call, 'permission_profile.created', id);
  assert.equal(createdEvent.account_id, tenant.accountId);
  assert.equal(createdEvent.target_type, 'permission_profile');
  assert.deepEqual(createdEvent.changes.name, { before: null, after: 'Auditors' });
  const [updatedEvent] = await auditActions(call, 'permission_profile.updated', id);
  assert.deepEqual(updatedEvent.changes.name, { before: 'Auditors', after: 'Auditors (all)' });
  assert.deepEqual(updatedEvent.changes.permissions, {
    before: ['send_envelopes', 'view_audit_log'],
    after: ['manage_users'],
  });
  const [deletedEvent] = await auditActions(call, 'permission_profile.deleted', id);
  assert.deepEqual(deletedEvent.changes.name, { before: 'Auditors (all)', after: null });
});

test('permission profiles: invalid requests are 400s naming the field', async (t) => {
  const { app, services, config } = await buildApp(t);
  const tenant = await createTenant(services, config);
  const call = as(app, tenant.key);
  const url = base(tenant.accountId);

  const unknownPermission = await call('POST', url, { name: 'X', permissions: ['send_envelopes', 'fly'] });
  assert.equal(unknownPermission.statusCode, 400);
  assert.equal(unknownPermission.json().error.code, 'validation_failed');
  assert.equal(unknownPermission.json().error.details[0].field, 'permissions.1');
  assert.match(unknownPermission.json().error.message, /permissions\.1/);

  const unknownField = await call('POST', url, { name: 'X', colour: 'red' });
  assert.equal(unknownField.statusCode, 400);
  assert.equal(unknownField.json().error.details[0].field, 'colour');
  assert.equal(unknownField.json().error.details[0].message, 'unknown field');

  const missingName = await call('POST', url, { permissions: [] });
  assert.equal(missingName.statusCode, 400);
  assert.equal(missingName.json().error.details[0].field, 'name');

  const blankName = await call('POST', url, { name: '   ' });
  assert.equal(blankName.statusCode, 400);
  assert.equal(blankName.json().error.details[0].field, 'name');

  for (const badId of ['abc', '0', '1.5', '99999999999999999999']) {
    const res = await call('GET', `${url}/${badId}`);
    assert.equal(res.statusCode, 400, `id ${badId}`);
    assert.equal(res.json().error.details[0].field, 'id');
  }
  const badAccount = await call('GET', base('not-a-uuid'));
  assert.equal(badAccount.statusCode, 400);
  assert.equal(badAccount.json().error.details[0].field, 'account_id');

  const profile = (await call('GET', url)).json().data[0];
  const patchUnknown = await call('PATCH', `${url}/${profile.id}`, { permissions: ['root'] });
  assert.equal(patchUnknown.statusCode, 400);
  assert.equal(patchUnknown.json().error.details[0].field, 'permissions.0');
  const patchField = await call('PATCH', `${url}/${profile.id}`, { id: 5 });
  assert.equal(patchField.statusCode, 400);
  assert.equal(patchField.json().error.details[0].field, 'id');
  const badMove = await call('DELETE', `${url}/${profile.id}?move_users_to=x`);
  assert.equal(badMove.statusCode, 400);
  assert.equal(badMove.json().error.details[0].field, 'move_users_to');

  // Nothing above wrote anything.
  assert.deepEqual(
    (await call('GET', url)).json().data.map((p: any) => p.name),
    ['DS Admin', 'DS Sender', 'DS Viewer'],
  );
  assert.deepEqual((await call('GET', `${url}/${profile.id}`)).json().permissions, profile.permissions);
});

test('permission profiles: a duplicate name in the account is 409 name_taken, case-insensitively', async (t) => {
  const { app, services, config } = await buildApp(t);
  const tenant = await createTenant(services, config);
  const call = as(app, tenant.key);
  const url = base(tenant.accountId);

  const taken = await call('POST', url, { name: 'ds sender' });
  assert.equal(taken.statusCode, 409);
  assert.equal(taken.json().error.code, 'name_taken');
  assert.equal(taken.json().error.details[0].field, 'name');

  const other = (await call('POST', url, { name: 'Reviewers' })).json();
  const renamed = await call('PATCH', `${url}/${other.id}`, { name: 'DS VIEWER' });
  assert.equal(renamed.statusCode, 409);
  assert.equal(renamed.json().error.code, 'name_taken');
  assert.equal((await call('GET', `${url}/${other.id}`)).json().name, 'Reviewers');

  // The same name in another account of the organization is fine.
  const account = (await call('POST', '/api/accounts', { name: 'Second' })).json();
  const elsewhere = await call('POST', base(account.id), { name: 'Reviewers' });
  assert.equal(elsewhere.statusCode, 201, elsewhere.body);
});

test('permission profiles: deleting one in use needs move_users_to, which moves its memberships', async (t) => {
  const { app, services, config } = await buildApp(t);
  const tenant = await createTenant(services, config);
  const call = as(app, tenant.key);
  const url = base(tenant.accountId);

  const doomed = (await call('POST', url, { name: 'Doomed', permissions: ['send_envelopes'] })).json();
  const target = (await call('POST', url, { name: 'Target' })).json();
  const active = await createUser(call, tenant.accountId, doomed.id);
  const pending = await createUser(call, tenant.accountId, doomed.id, { membership_status: 'pending' });
  const closing = await createUser(call, tenant.accountId, doomed.id);
  const closed = await call('PATCH', `/api/users/${closing.id}/memberships/${closing.memberships[0].id}`, {
    status: 'closed',
  });
  assert.equal(closed.statusCode, 200, closed.body);

  // user_count counts active and pending memberships; the closed one still holds the profile.
  assert.equal((await call('GET', `${url}/${doomed.id}`)).json().user_count, 2);
  const listed = await call('GET', `/api/users?permission_profile_id=${doomed.id}`);
  assert.equal(listed.json().data.length, 3);

  const inUse = await call('DELETE', `${url}/${doomed.id}`);
  assert.equal(inUse.statusCode, 409);
  assert.equal(inUse.json().error.code, 'profile_in_use');
  assert.match(inUse.json().error.message, /\?move_users_to=<profile id>/);
  assert.equal(inUse.json().error.details[0].field, 'move_users_to');

  // move_users_to must be another profile of this account.
  const foreign = await createTenant(services, config);
  const foreignProfile = (await as(app, foreign.key)('GET', base(foreign.accountId))).json().data[0];
  const otherAccount = (await call('POST', '/api/accounts', { name: 'Second' })).json();
  const otherAccountProfile = (await call('GET', base(otherAccount.id))).json().data[0];
  for (const bad of [doomed.id, foreignProfile.id, otherAccountProfile.id, 987654321]) {
    const res = await call('DELETE', `${url}/${doomed.id}?move_users_to=${bad}`);
    assert.equal(res.statusCode, 422, `move_users_to=${bad}: ${res.body}`);
    assert.equal(res.json().error.code, 'invalid_reference');
    assert.equal(res.json().error.details[0].field, 'move_users_to');
  }
  assert.equal((await call('GET', `${url}/${doomed.id}`)).statusCode, 200);

  const moved = await call('DELETE', `${url}/${doomed.id}?move_users_to=${target.id}`);
  assert.equal(moved.statusCode, 204, moved.body);
  assert.equal((await call('GET', `${url}/${doomed.id}`)).statusCode, 404);
  for (const user of [active, pending, closing]) {
    const memberships = (await call('GET', `/api/users/${user.id}/memberships`)).json().data;
    assert.equal(memberships.length, 1);
    assert.equal(memberships[0].permission_profile_id, target.id);
  }
  assert.equal((await call('GET', `/api/users/${active.id}`)).json().memberships[0].status, 'active');
  assert.equal((await call('GET', `/api/users/${pending.id}`)).json().memberships[0].status, 'pending');
  assert.equal((await call('GET', `/api/users/${closing.id}`)).json().memberships[0].status, 'closed');
  assert.equal((await call('GET', `${url}/${target.id}`)).json().user_count, 2);

  // Each move is audited on its membership, and the deletion records the count.
  const [moveEvent] = await auditActions(call, 'membership.updated', active.memberships[0].id);
  assert.deepEqual(moveEvent.changes.permission_profile_id, { before: doomed.id, after: target.id });
  const [deleted] = await auditActions(call, 'permission_profile.deleted', String(doomed.id));
  assert.deepEqual(deleted.changes._meta, { moved_memberships: 3, moved_to: target.id });

  // An unused profile deletes without move_users_to.
  assert.equal((await call('DELETE', `${url}/${target.id}?move_users_to=${doomed.id}`)).statusCode, 422);
  const unused = (await call('POST', url, { name: 'Unused' })).json();
  assert.equal((await call('DELETE', `${url}/${unused.id}`)).statusCode, 204);
});

test("permission profiles: another organization's ids answer 404 and change nothing", async (t) => {
  const { app, services, config } = await buildApp(t);
  const tenant = await createTenant(services, config);
  const intruder = await createTenant(services, config);
  const call = as(app, tenant.key);
  const them = as(app, intruder.key);
  const url = base(tenant.accountId);
  const profile = (await call('POST', url, { name: 'Private', permissions: ['manage_users'] })).json();

  const unknownAccount = await them('GET', base('0190a0b0-0000-7000-8000-000000000000'));
  const foreignAccount = await them('GET', url);
  assert.equal(foreignAccount.statusCode, 404);
  assert.equal(unknownAccount.statusCode, 404);
  assert.equal(foreignAccount.json().error.code, unknownAccount.json().error.code);

  for (const [method, path, body] of [
    ['GET', `${url}/${profile.id}`, undefined],
    ['PATCH', `${url}/${profile.id}`, { name: 'Hijacked' }],
    ['DELETE', `${url}/${profile.id}`, undefined],
    ['POST', url, { name: 'Planted' }],
    // Their own account path with our profile id: still not found.
    ['GET', `${base(intruder.accountId)}/${profile.id}`, undefined],
    ['PATCH', `${base(intruder.accountId)}/${profile.id}`, { name: 'Hijacked' }],
    ['DELETE', `${base(intruder.accountId)}/${profile.id}`, undefined],
  ] as const) {
    const res = await them(method, path, body);
    assert.equal(res.statusCode, 404, `${method} ${path}: ${res.body}`);
    assert.equal(res.json().error.code, 'not_found');
  }

  const after = (await call('GET', `${url}/${profile.id}`)).json();
  assert.equal(after.name, 'Private');
  assert.deepEqual(after.permissions, ['manage_users']);
  assert.deepEqual(
    (await call('GET', url)).json().data.map((p: any) => p.name),
    ['DS Admin', 'DS Sender', 'DS Viewer', 'Private'],
  );
  const theirEvents = (await them('GET', '/api/audit_events?action=permission_profile.*')).json().data;
  assert.ok(theirEvents.every((e: any) => e.account_id === intruder.accountId));
});

test("permission profiles: a member's key acts in its own account only", async (t) => {
  const { app, services, config } = await buildApp(t);
  const tenant = await createTenant(services, config);
  const owner = as(app, tenant.key);
  const second = (await owner('POST', '/api/accounts', { name: 'Second' })).json();
  // The owner's membership in the main account holds "DS Admin", which grants manage_permission_profiles.
  const issued = await owner('POST', '/api/api_keys', { name: 'member key', role: 'member' });
  assert.equal(issued.statusCode, 201, issued.body);
  const member = as(app, issued.json().key);

  const mine = await member('POST', base(tenant.accountId), { name: 'Mine' });
  assert.equal(mine.statusCode, 201, mine.body);
  const theirs = await member('POST', base(second.id), { name: 'Sneaky' });
  assert.equal(theirs.statusCode, 403, theirs.body);
  assert.equal(theirs.json().error.code, 'permission_denied');
  assert.equal((await member('GET', base(second.id))).statusCode, 403);
  assert.deepEqual(
    (await owner('GET', base(second.id))).json().data.map((p: any) => p.name),
    ['DS Admin', 'DS Sender', 'DS Viewer'],
  );
});
