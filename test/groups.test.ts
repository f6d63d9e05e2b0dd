import assert from 'node:assert/strict';
import { test } from 'node:test';
import { as, buildApp, type Caller, createTenant, everyoneGroupId, unique } from './helper.ts';

const base = (accountId: string) => `/api/accounts/${accountId}/groups`;
const NO_SUCH_USER = '0190a0b0-0000-7000-8000-00000000abcd';

async function createUser(call: Caller, accountId: string): Promise<string> {
  const res = await call('POST', '/api/users', {
    email: `${unique('user')}@example.test`,
    first_name: 'Ada',
    last_name: 'Lovelace',
    account_id: accountId,
  });
  assert.equal(res.statusCode, 201, res.body);
  return res.json().id;
}

async function memberIds(call: Caller, url: string): Promise<string[]> {
  const res = await call('GET', `${url}/members?limit=500`);
  assert.equal(res.statusCode, 200, res.body);
  return res.json().data.map((m: any) => m.user_id);
}

/** The account's own groups (a listing shows DocuSign's built-in Administrators and Everyone too). */
const custom = (g: { type: string }) => g.type === 'custom';

test('groups: create, read, list, update and delete round trip, each audited', async (t) => {
  const { app, services, config } = await buildApp(t);
  const tenant = await createTenant(services, config);
  const call = as(app, tenant.key);
  const url = base(tenant.accountId);

  const created = await call('POST', url, { name: 'Legal', description: 'Contracts team' });
  assert.equal(created.statusCode, 201, created.body);
  const group = created.json();
  assert.ok(Number.isInteger(group.id));
  assert.equal(group.account_id, tenant.accountId);
  assert.equal(group.name, 'Legal');
  assert.equal(group.description, 'Contracts team');
  assert.equal(group.member_count, 0);
  assert.equal(group.organization_id, undefined);

  assert.deepEqual((await call('GET', `${url}/${group.id}`)).json(), group);

  const second = (await call('POST', url, { name: 'Sales' })).json();
  assert.equal(second.description, null);
  const list = (await call('GET', url)).json();
  assert.deepEqual(
    list.data.filter(custom).map((g: any) => g.name),
    ['Legal', 'Sales'],
  );
  assert.equal(list.next_cursor, null);
  // By id: the built-in Administrators and Everyone (made with the account), then the account's own.
  const page0 = (await call('GET', `${url}?limit=2`)).json();
  assert.deepEqual(
    page0.data.map((g: any) => g.type),
    ['admin', 'everyone'],
  );
  const page1 = (await call('GET', `${url}?limit=1&cursor=${page0.next_cursor}`)).json();
  assert.deepEqual(
    page1.data.map((g: any) => g.id),
    [group.id],
  );
  const page2 = (await call('GET', `${url}?limit=1&cursor=${page1.next_cursor}`)).json();
  assert.deepEqual(
    page2.data.map((g: any) => g.id),
    [second.id],
  );
  assert.equal(page2.next_cursor, null);

  const patched = await call('PATCH', `${url}/${group.id}`, {
    name: 'Legal & Compliance',
    description: null,
  });
  assert.equal(patched.statusCode, 200, patched.body);
  assert.equal(patched.json().name, 'Legal & Compliance');
  assert.equal(patched.json().description, null);
  assert.equal((await call('GET', `${url}/${group.id}`)).json().name, 'Legal & Compliance');

  const user = await createUser(call, tenant.accountId);
  assert.equal((await call('POST', `${url}/${group.id}/members`, { user_ids: [user] })).statusCode, 200);
  const removed = await call('DELETE', `${url}/${group.id}`);
  assert.equal(removed.statusCode, 204);
  assert.equal(removed.body, '');
  assert.equal((await call('GET', `${url}/${group.id}`)).statusCode, 404);
  assert.equal((await call('GET', `${url}/${group.id}/members`)).statusCode, 404);
  assert.deepEqual(
    (await call('GET', url))
      .json()
      .data.filter(custom)
      .map((g: any) => g.id),
    [second.id],
  );
  // The user stays, with their membership, minus the group (still in the built-in Everyone).
  const after = (await call('GET', `/api/users/${user}`)).json();
  assert.equal(after.memberships.length, 1);
  assert.deepEqual(after.memberships[0].group_ids, [await everyoneGroupId(services, tenant.accountId)]);

  const id = String(group.id);
  const events = async (action: string) =>
    (await call('GET', `/api/audit_events?action=${action}&target_id=${id}`)).json().data as any[];
  const [createdEvent] = await events('group.created');
  assert.equal(createdEvent.target_type, 'group');
  assert.equal(createdEvent.account_id, tenant.accountId);
  assert.deepEqual(createdEvent.changes.name, { before: null, after: 'Legal' });
  const [updatedEvent] = await events('group.updated');
  assert.deepEqual(updatedEvent.changes.name, { before: 'Legal', after: 'Legal & Compliance' });
  assert.deepEqual(updatedEvent.changes.description, { before: 'Contracts team', after: null });
  const [deletedEvent] = await events('group.deleted');
  assert.deepEqual(deletedEvent.changes.name, { before: 'Legal & Compliance', after: null });
  assert.deepEqual(deletedEvent.changes._meta, { members_removed: 1 });
  // The filter by action alone finds the creations too.
  const allCreated = (await call('GET', '/api/audit_events?action=group.created')).json().data;
  // With the built-in groups the account was created with (audited then).
  const builtin = (await call('GET', url)).json().data.filter((g: any) => !custom(g));
  assert.deepEqual(
    allCreated.map((e: any) => e.target_id).sort(),
    [id, String(second.id), ...builtin.map((g: any) => String(g.id))].sort(),
  );
});

test('groups: invalid requests are 400s naming the field; duplicate names are 409 name_taken', async (t) => {
  const { app, services, config } = await buildApp(t);
  const tenant = await createTenant(services, config);
  const call = as(app, tenant.key);
  const url = base(tenant.accountId);
  const group = (await call('POST', url, { name: 'Finance' })).json();

  const cases: [string, string, unknown, string][] = [
    ['POST', url, { name: 'X', members: [] }, 'members'],
    ['POST', url, {}, 'name'],
    ['POST', url, { name: '' }, 'name'],
    ['POST', url, { name: ' ' }, 'name'],
    ['PATCH', `${url}/${group.id}`, { colour: 'blue' }, 'colour'],
    ['GET', `${url}/abc`, undefined, 'id'],
    ['GET', `${url}/-3`, undefined, 'id'],
    ['GET', `${url}/abc/members`, undefined, 'id'],
    ['POST', `${url}/${group.id}/members`, { user_ids: [] }, 'user_ids'],
    ['POST', `${url}/${group.id}/members`, { user_ids: ['nope'] }, 'user_ids.0'],
    ['POST', `${url}/${group.id}/members`, {}, 'user_ids'],
    ['POST', `${url}/${group.id}/members`, { user_ids: [NO_SUCH_USER], role: 'x' }, 'role'],
    // JSON bodies are not coerced: a lone value is not an array.
    ['DELETE', `${url}/${group.id}/members`, { user_ids: 'all' }, 'user_ids'],
    ['DELETE', `${url}/${group.id}/members`, { user_ids: { all: true } }, 'user_ids'],
  ];
  for (const [method, path, body, field] of cases) {
    const res = await call(method as any, path, body);
    assert.equal(res.statusCode, 400, `${method} ${path} ${JSON.stringify(body)}: ${res.body}`);
    assert.equal(res.json().error.code, 'validation_failed');
    assert.equal(res.json().error.details[0].field, field, `${method} ${path} ${JSON.stringify(body)}`);
  }
  const tooMany = Array.from({ length: 1001 }, () => NO_SUCH_USER);
  const bulk = await call('POST', `${url}/${group.id}/members`, { user_ids: tooMany });
  assert.equal(bulk.statusCode, 400);
  assert.equal(bulk.json().error.details[0].field, 'user_ids');

  const taken = await call('POST', url, { name: 'FINANCE' });
  assert.equal(taken.statusCode, 409);
  assert.equal(taken.json().error.code, 'name_taken');
  assert.equal(taken.json().error.details[0].field, 'name');
  const other = (await call('POST', url, { name: 'Ops' })).json();
  const rename = await call('PATCH', `${url}/${other.id}`, { name: 'finance' });
  assert.equal(rename.statusCode, 409);
  assert.equal(rename.json().error.code, 'name_taken');

  assert.deepEqual(
    (await call('GET', url))
      .json()
      .data.filter(custom)
      .map((g: any) => g.name),
    ['Finance', 'Ops'],
  );
});

test('groups: bulk add and remove members; the user filter by group agrees', async (t) => {
  const { app, services, config } = await buildApp(t);
  const tenant = await createTenant(services, config);
  const call = as(app, tenant.key);
  const url = base(tenant.accountId);
  const group = (await call('POST', url, { name: 'Signers' })).json();
  const other = (await call('POST', url, { name: 'Others' })).json();
  const members = `${url}/${group.id}/members`;
  const [u1, u2, u3] = [
    await createUser(call, tenant.accountId),
    await createUser(call, tenant.accountId),
    await createUser(call, tenant.accountId),
  ];

  const first = await call('POST', members, { user_ids: [u1, u2, u1] });
  assert.equal(first.statusCode, 200, first.body);
  assert.deepEqual(first.json(), { added: [u1, u2], already_members: [] });

  // Idempotent: members already in are skipped and reported; ids are compared case-insensitively.
  const again = await call('POST', members, { user_ids: [u2.toUpperCase(), u3] });
  assert.equal(again.statusCode, 200, again.body);
  assert.deepEqual(again.json(), { added: [u3], already_members: [u2] });

  assert.equal((await call('GET', `${url}/${group.id}`)).json().member_count, 3);
  assert.equal((await call('GET', `${url}/${other.id}`)).json().member_count, 0);
  const listed = (await call('GET', members)).json();
  assert.deepEqual(
    listed.data.map((m: any) => m.user_id),
    [u1, u2, u3].sort(),
  );
  const sample = listed.data[0];
  assert.deepEqual(Object.keys(sample).sort(), ['added_at', 'email', 'first_name', 'last_name', 'user_id']);
  assert.equal(sample.first_name, 'Ada');
  assert.match(sample.email, /@example\.test$/);
  assert.ok(!Number.isNaN(Date.parse(sample.added_at)));

  // Keyset pages of members join up.
  const p1 = (await call('GET', `${members}?limit=2`)).json();
  const p2 = (await call('GET', `${members}?limit=2&cursor=${p1.next_cursor}`)).json();
  assert.deepEqual(
    [...p1.data, ...p2.data].map((m: any) => m.user_id),
    [u1, u2, u3].sort(),
  );
  assert.equal(p2.next_cursor, null);

  // GET /api/users?group_id= returns exactly the group's members, and memberships show the group.
  const byGroup = (await call('GET', `/api/users?group_id=${group.id}`)).json();
  assert.deepEqual(byGroup.data.map((u: any) => u.id).sort(), [u1, u2, u3].sort());
  // The group, and the built-in Everyone every membership is in (its id is lower: made with the account).
  assert.equal(byGroup.data[0].memberships[0].group_ids.length, 2);
  assert.equal(byGroup.data[0].memberships[0].group_ids[1], group.id);
  assert.deepEqual((await call('GET', `/api/users?group_id=${other.id}`)).json().data, []);

  const removed = await call('DELETE', members, { user_ids: [u1, NO_SUCH_USER] });
  assert.equal(removed.statusCode, 200, removed.body);
  assert.deepEqual(removed.json(), { removed: [u1], not_members: [NO_SUCH_USER] });
  assert.deepEqual(await memberIds(call, `${url}/${group.id}`), [u2, u3].sort());
  assert.deepEqual(
    (await call('GET', `/api/users?group_id=${group.id}`))
      .json()
      .data.map((u: any) => u.id)
      .sort(),
    [u2, u3].sort(),
  );

  // One event per user added or removed, on the group.
  const gid = String(group.id);
  const addedEvents = (
    await call('GET', `/api/audit_events?action=group.member_added&target_id=${gid}&order=asc`)
  ).json().data;
  assert.deepEqual(
    addedEvents.map((e: any) => e.changes.user_id.after),
    [u1, u2, u3],
  );
  assert.ok(addedEvents.every((e: any) => e.target_type === 'group' && e.account_id === tenant.accountId));
  const removedEvents = (
    await call('GET', `/api/audit_events?action=group.member_removed&target_id=${gid}`)
  ).json().data;
  assert.deepEqual(
    removedEvents.map((e: any) => e.changes.user_id),
    [{ before: u1, after: null }],
  );
});

test('groups: adding a user without a membership in the account is 422 and writes nothing', async (t) => {
  const { app, services, config } = await buildApp(t);
  const tenant = await createTenant(services, config);
  const foreign = await createTenant(services, config);
  const call = as(app, tenant.key);
  const url = base(tenant.accountId);
  const group = (await call('POST', url, { name: 'Approvers' })).json();
  const members = `${url}/${group.id}/members`;

  const inAccount = await createUser(call, tenant.accountId);
  const secondAccount = (await call('POST', '/api/accounts', { name: 'Second' })).json();
  const elsewhere = await createUser(call, secondAccount.id);
  const foreignUser = await createUser(as(app, foreign.key), foreign.accountId);
  // A closed membership still counts: the user belongs to the account.
  const closedUser = await createUser(call, tenant.accountId);
  const deactivated = await call('POST', `/api/users/${closedUser}/deactivate`);
  assert.equal(deactivated.statusCode, 200, deactivated.body);

  const auditBefore = (await call('GET', '/api/audit_events?action=group.*&limit=500')).json().data.length;
  const refused = await call('POST', members, {
    user_ids: [inAccount, elsewhere, foreignUser, NO_SUCH_USER],
  });
  assert.equal(refused.statusCode, 422, refused.body);
  assert.equal(refused.json().error.code, 'user_not_in_account');
  const details = refused.json().error.details;
  assert.deepEqual(
    details.map((d: any) => d.user_id),
    [elsewhere, foreignUser, NO_SUCH_USER],
  );
  assert.ok(details.every((d: any) => d.field === 'user_ids'));
  assert.match(refused.json().error.message, new RegExp(elsewhere));

  // All or nothing: the eligible user was not added either, and nothing was audited.
  assert.deepEqual(await memberIds(call, url + `/${group.id}`), []);
  assert.equal((await call('GET', `${url}/${group.id}`)).json().member_count, 0);
  assert.equal(
    (await call('GET', '/api/audit_events?action=group.*&limit=500')).json().data.length,
    auditBefore,
  );

  const ok = await call('POST', members, { user_ids: [inAccount, closedUser] });
  assert.equal(ok.statusCode, 200, ok.body);
  assert.deepEqual(ok.json().added, [inAccount, closedUser]);
});

test("groups: another organization's ids answer 404 and change nothing", async (t) => {
  const { app, services, config } = await buildApp(t);
  const tenant = await createTenant(services, config);
  const intruder = await createTenant(services, config);
  const call = as(app, tenant.key);
  const them = as(app, intruder.key);
  const url = base(tenant.accountId);
  const group = (await call('POST', url, { name: 'Board', description: 'Directors' })).json();
  const member = await createUser(call, tenant.accountId);
  await call('POST', `${url}/${group.id}/members`, { user_ids: [member] });
  const theirUser = await createUser(them, intruder.accountId);

  const unknown = await them('GET', base('0190a0b0-0000-7000-8000-000000000000'));
  assert.equal(unknown.statusCode, 404);
  for (const [method, path, body] of [
    ['GET', url, undefined],
    ['POST', url, { name: 'Planted' }],
    ['GET', `${url}/${group.id}`, undefined],
    ['PATCH', `${url}/${group.id}`, { name: 'Hijacked' }],
    ['DELETE', `${url}/${group.id}`, undefined],
    ['GET', `${url}/${group.id}/members`, undefined],
    ['POST', `${url}/${group.id}/members`, { user_ids: [theirUser] }],
    ['DELETE', `${url}/${group.id}/members`, { user_ids: [member] }],
    // Their own account path with our group id: still not found.
    ['GET', `${base(intruder.accountId)}/${group.id}`, undefined],
    ['PATCH', `${base(intruder.accountId)}/${group.id}`, { name: 'Hijacked' }],
    ['DELETE', `${base(intruder.accountId)}/${group.id}`, undefined],
    ['POST', `${base(intruder.accountId)}/${group.id}/members`, { user_ids: [theirUser] }],
  ] as const) {
    const res = await them(method, path, body);
    assert.equal(res.statusCode, 404, `${method} ${path}: ${res.body}`);
    assert.equal(res.json().error.code, 'not_found');
  }
  // Their user filter by our group finds nothing.
  assert.deepEqual((await them('GET', `/api/users?group_id=${group.id}`)).json().data, []);

  const after = (await call('GET', `${url}/${group.id}`)).json();
  assert.equal(after.name, 'Board');
  assert.equal(after.description, 'Directors');
  assert.equal(after.member_count, 1);
  assert.deepEqual(await memberIds(call, `${url}/${group.id}`), [member]);
  assert.deepEqual(
    (await call('GET', url))
      .json()
      .data.filter(custom)
      .map((g: any) => g.name),
    ['Board'],
  );
});

test("groups: a member's key acts in its own account only", async (t) => {
  const { app, services, config } = await buildApp(t);
  const tenant = await createTenant(services, config);
  const owner = as(app, tenant.key);
  const second = (await owner('POST', '/api/accounts', { name: 'Second' })).json();
  const secondGroup = (await owner('POST', base(second.id), { name: 'Theirs' })).json();
  // The owner's membership in the main account holds "DS Admin", which grants manage_groups.
  const issued = await owner('POST', '/api/api_keys', { name: 'member key', role: 'member' });
  assert.equal(issued.statusCode, 201, issued.body);
  const member = as(app, issued.json().key);

  const mine = await member('POST', base(tenant.accountId), { name: 'Mine' });
  assert.equal(mine.statusCode, 201, mine.body);
  for (const [method, path, body] of [
    ['GET', base(second.id), undefined],
    ['POST', base(second.id), { name: 'Sneaky' }],
    ['PATCH', `${base(second.id)}/${secondGroup.id}`, { name: 'Sneaky' }],
  ] as const) {
    const res = await member(method, path, body);
    assert.equal(res.statusCode, 403, `${method} ${path}: ${res.body}`);
    assert.equal(res.json().error.code, 'permission_denied');
  }
  assert.deepEqual(
    (await owner('GET', base(second.id)))
      .json()
      .data.filter(custom)
      .map((g: any) => g.name),
    ['Theirs'],
  );
});
