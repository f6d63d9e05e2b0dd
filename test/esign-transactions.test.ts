// Every write of the eSignature face (/restapi) is ONE core transaction (issue 10, "every write safe to
// retry"): a batch (createGroups, updateGroups, deleteGroups, UsersApi.create and _delete, deleteBrands) keeps
// eSignature's per-item answers, an item that fails being undone behind its savepoint with its audit events
// while the others apply; and a retry with the same Idempotency-Key replays the complete first response byte
// for byte, stored by the effect's own transaction, without a second effect. Driven through the official
// docusign-esign SDK; raw HTTP only where the bytes or the Idempotency-Key header matter.
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { sql } from 'kysely';
import { api, email, esign, esignClient, type LiveApp, liveTenant, startApp } from './docusign-helper.ts';
import { type Tenant, testDb, unique } from './helper.ts';
import { tinyPng } from './images.ts';

type Sdk = any;

const db = () => testDb().db;

interface Event {
  action: string;
  target_type: string;
  target_id: string | null;
}

async function lastSeq(org: string): Promise<number> {
  const row = await db()
    .selectFrom('audit_events')
    .select((eb) => eb.fn.max('seq').as('seq'))
    .where('organization_id', '=', org)
    .executeTakeFirst();
  return Number(row?.seq ?? 0);
}

/** The organization's audit events after `seq`, in order. */
async function eventsSince(org: string, seq: number): Promise<Event[]> {
  return db()
    .selectFrom('audit_events')
    .select(['action', 'target_type', 'target_id'])
    .where('organization_id', '=', org)
    .where('seq', '>', seq)
    .orderBy('seq')
    .execute();
}

const actions = (events: Event[]) => events.map((e) => e.action).sort();

interface World {
  live: LiveApp;
  tenant: Tenant;
  org: string;
  account: string;
  groups: Sdk;
  users: Sdk;
  accounts: Sdk;
}

async function world(t: TestContext): Promise<World> {
  const live = await startApp(t);
  const tenant = await liveTenant(live);
  const client = esignClient(live, tenant.key);
  return {
    live,
    tenant,
    org: tenant.organizationId,
    account: tenant.accountId,
    groups: new esign.GroupsApi(client),
    users: new esign.UsersApi(client),
    accounts: new esign.AccountsApi(client),
  };
}

async function groupIds(w: World, names: string[]): Promise<Record<string, string>> {
  const made = await w.groups.createGroups(w.account, {
    groupInformation: { groups: names.map((groupName) => ({ groupName })) },
  });
  return Object.fromEntries(made.groups.map((g: any) => [g.groupName, g.groupId]));
}

async function newUsers(w: World, count: number, tag: string): Promise<any[]> {
  const made = await w.users.create(w.account, {
    newUsersDefinition: {
      newUsers: Array.from({ length: count }, (_, i) => ({ email: email(tag), userName: `${tag} ${i}` })),
    },
  });
  return made.newUsers;
}

async function builtin(w: World, type: 'adminGroup' | 'everyoneGroup'): Promise<string> {
  const list = await w.groups.listGroups(w.account, { groupType: type });
  return list.groups[0].groupId;
}

const codes = (items: any[]) => items.map((i) => i.errorDetails?.errorCode ?? null);

test('createGroups: bad groups are reported and undone, the good ones (after them too) are made with their events', async (t) => {
  const w = await world(t);
  await groupIds(w, ['Taken']);
  const seq = await lastSeq(w.org);
  const made = await w.groups.createGroups(w.account, {
    groupInformation: {
      groups: [
        { groupName: 'First' },
        { groupName: 'taken' }, // the unique index refuses it: the statement fails inside the transaction
        { groupName: 'Profiled', permissionProfileId: '999999999' },
        {},
        { groupName: 'Last' },
      ],
    },
  });
  assert.deepEqual(codes(made.groups), [
    null,
    'GROUP_NAME_ALREADY_EXISTS',
    'INVALID_PERMISSION_PROFILE_ID',
    'INVALID_REQUEST_PARAMETER',
    null,
  ]);
  assert.equal(made.groups[1].groupName, 'taken');
  assert.equal(made.groups[2].groupName, 'Profiled');
  const [first, , , , last] = made.groups;
  assert.equal(first.groupName, 'First');
  assert.equal(last.groupName, 'Last');
  const names = (await w.groups.listGroups(w.account, { groupType: 'customGroup' })).groups
    .map((g: any) => g.groupName)
    .sort();
  assert.deepEqual(names, ['First', 'Last', 'Taken']);
  assert.deepEqual(await eventsSince(w.org, seq), [
    { action: 'group.created', target_type: 'group', target_id: first.groupId },
    { action: 'group.created', target_type: 'group', target_id: last.groupId },
  ]);
});

test('updateGroups: each group changed or reported unchanged; only the changed ones have events', async (t) => {
  const w = await world(t);
  const ids = await groupIds(w, ['One', 'Two', 'Three']);
  const admins = await builtin(w, 'adminGroup');
  const seq = await lastSeq(w.org);
  const updated = await w.groups.updateGroups(w.account, {
    groupInformation: {
      groups: [
        { groupId: ids.One, groupName: 'Uno' },
        { groupId: '999999999', groupName: 'Ghost' },
        { groupId: ids.Two, groupName: 'uno' }, // taken by the first item's change, in this transaction
        { groupId: admins, groupName: 'Bosses' },
        { groupId: 'abc' },
        { groupId: ids.Three, groupName: 'Tres' },
      ],
    },
  });
  assert.deepEqual(codes(updated.groups), [
    null,
    'INVALID_GROUP_ID',
    'GROUP_NAME_ALREADY_EXISTS',
    'INVALID_REQUEST_PARAMETER',
    'INVALID_GROUP_ID',
    null,
  ]);
  assert.deepEqual(
    updated.groups.map((g: any) => g.groupId),
    [ids.One, '999999999', ids.Two, admins, 'abc', ids.Three],
  );
  assert.equal(updated.groups[0].groupName, 'Uno');
  assert.equal(updated.groups[5].groupName, 'Tres');
  const names = (await w.groups.listGroups(w.account, { groupType: 'customGroup' })).groups
    .map((g: any) => g.groupName)
    .sort();
  assert.deepEqual(names, ['Tres', 'Two', 'Uno']);
  assert.deepEqual(await eventsSince(w.org, seq), [
    { action: 'group.updated', target_type: 'group', target_id: ids.One },
    { action: 'group.updated', target_type: 'group', target_id: ids.Three },
  ]);
});

test('deleteGroups: built-in and missing groups are reported, the others deleted with their events', async (t) => {
  const w = await world(t);
  const ids = await groupIds(w, ['Gone1', 'Kept', 'Gone2']);
  const everyone = await builtin(w, 'everyoneGroup');
  const seq = await lastSeq(w.org);
  const deleted = await w.groups.deleteGroups(w.account, {
    groupInformation: {
      groups: [
        { groupId: ids.Gone1 },
        { groupId: everyone },
        { groupId: '999999999' },
        { groupId: ids.Gone2 },
      ],
    },
  });
  assert.deepEqual(codes(deleted.groups), [null, 'GROUP_CANNOT_BE_DELETED', 'INVALID_GROUP_ID', null]);
  assert.deepEqual(
    { ...deleted.groups[0] },
    { groupId: ids.Gone1, groupName: 'Gone1', groupType: 'customGroup' },
  );
  assert.deepEqual(
    { ...deleted.groups[3] },
    { groupId: ids.Gone2, groupName: 'Gone2', groupType: 'customGroup' },
  );
  const names = (await w.groups.listGroups(w.account)).groups.map((g: any) => g.groupName);
  assert.ok(names.includes('Kept') && !names.includes('Gone1') && !names.includes('Gone2'));
  assert.equal((await w.groups.listGroups(w.account, { groupType: 'everyoneGroup' })).groups.length, 1);
  assert.deepEqual(await eventsSince(w.org, seq), [
    { action: 'group.deleted', target_type: 'group', target_id: ids.Gone1 },
    { action: 'group.deleted', target_type: 'group', target_id: ids.Gone2 },
  ]);
});

test('UsersApi.create: a user refused after it was written leaves no row and no event; the others are enrolled', async (t) => {
  const w = await world(t);
  const [member] = await newUsers(w, 1, 'member');
  // What two good users alone record, to compare with the batch's events.
  let seq = await lastSeq(w.org);
  await newUsers(w, 2, 'reference');
  const reference = actions(await eventsSince(w.org, seq));
  assert.ok(reference.includes('user.created'));

  seq = await lastSeq(w.org);
  const doomed = email('doomed');
  const made = await w.users.create(w.account, {
    newUsersDefinition: {
      newUsers: [
        { email: email('good'), userName: 'Good One' },
        { email: member.email, userName: 'Again' },
        { email: 'not-an-email', userName: 'Bad' },
        // Made, given a membership and its Everyone group, then refused for the group: all of it undone.
        { email: doomed, userName: 'Doomed User', groupList: [{ groupId: '999999999' }] },
        { email: email('good'), userName: 'Good Two' },
      ],
    },
  });
  assert.deepEqual(codes(made.newUsers), [
    null,
    'USER_ALREADY_EXISTS_IN_ACCOUNT',
    'INVALID_REQUEST_PARAMETER',
    'INVALID_GROUP_ID',
    null,
  ]);
  assert.equal(made.newUsers[1].email, member.email);
  assert.equal(made.newUsers[3].email, doomed);
  const good = [made.newUsers[0], made.newUsers[4]];
  for (const u of good) assert.equal(u.userStatus, 'Active', JSON.stringify(u));
  const events = await eventsSince(w.org, seq);
  assert.deepEqual(actions(events), reference, 'the events of the two good users, no more');
  assert.deepEqual(
    events.filter((e) => e.target_type === 'user').map((e) => e.target_id),
    good.map((u) => u.userId),
  );
  const rows = await db()
    .selectFrom('users')
    .select('id')
    .where('organization_id', '=', w.org)
    .where('email', '=', doomed)
    .execute();
  assert.deepEqual(rows, [], 'the refused user was rolled back');
  const listed = await w.users.list(w.account, { email: doomed });
  assert.equal(listed.users?.length ?? 0, 0);
});

test('UsersApi._delete: unknown users are reported, the others closed with their events', async (t) => {
  const w = await world(t);
  const [one, two] = await newUsers(w, 2, 'closing');
  const other = await api(w.live, w.tenant.key, 'POST', '/api/accounts', { name: unique('Other') });
  assert.equal(other.status, 201);
  const elsewhere = await api(w.live, w.tenant.key, 'POST', '/api/users', {
    email: email('elsewhere'),
    account_id: other.body.id,
  });
  assert.equal(elsewhere.status, 201, JSON.stringify(elsewhere.body));
  const seq = await lastSeq(w.org);
  const closed = await w.users._delete(w.account, {
    userInfoList: {
      users: [
        { userId: one.userId },
        { userId: '00000000-0000-4000-8000-000000000000' },
        { userId: 'nope' },
        { userId: elsewhere.body.id }, // a user of the organization without a membership in this account
        { userId: two.userId },
      ],
    },
  });
  assert.deepEqual(codes(closed.users), [null, 'INVALID_USERID', 'INVALID_USERID', 'INVALID_USERID', null]);
  assert.deepEqual(
    closed.users.map((u: any) => u.userId),
    [one.userId, '00000000-0000-4000-8000-000000000000', 'nope', elsewhere.body.id, two.userId],
  );
  assert.equal(closed.users[0].userStatus, 'Closed');
  assert.equal(closed.users[4].userStatus, 'Closed');
  const events = await eventsSince(w.org, seq);
  assert.ok(events.length >= 2);
  assert.ok(
    events.every((e) => e.action === 'membership.updated'),
    JSON.stringify(events.map((e) => e.action)),
  );
  const memberships = await db()
    .selectFrom('memberships')
    .select(['id', 'user_id', 'status'])
    .where('account_id', '=', w.account)
    .where('user_id', 'in', [one.userId, two.userId])
    .execute();
  assert.deepEqual(
    events.map((e) => e.target_id).sort(),
    memberships.map((m) => m.id).sort(),
    'one event per closed membership',
  );
  assert.ok(memberships.every((m) => m.status === 'closed'));
  const stillOpen = await api(w.live, w.tenant.key, 'GET', `/api/users/${elsewhere.body.id}`);
  assert.equal(stillOpen.body.memberships[0].status, 'active');
});

test('deleteBrands: missing and malformed brands are reported, the others deleted with their events', async (t) => {
  const w = await world(t);
  const brandId = async (name: string) =>
    (await w.accounts.createBrand(w.account, { brand: { brandName: name } })).brands[0].brandId;
  const [b1, kept, b2] = [await brandId('B1'), await brandId('Kept'), await brandId('B2')];
  const seq = await lastSeq(w.org);
  const missing = '00000000-0000-4000-8000-000000000000';
  const deleted = await w.accounts.deleteBrands(w.account, {
    brandsRequest: { brands: [{ brandId: b1 }, { brandId: missing }, { brandId: 'x' }, { brandId: b2 }] },
  });
  assert.deepEqual(codes(deleted.brands), [null, 'INVALID_BRAND_ID', 'INVALID_BRAND_ID', null]);
  assert.deepEqual({ ...deleted.brands[0] }, { brandId: b1, brandName: 'B1' });
  assert.deepEqual({ ...deleted.brands[3] }, { brandId: b2, brandName: 'B2' });
  assert.deepEqual(
    deleted.brands.map((b: any) => b.brandId),
    [b1, missing, 'x', b2],
  );
  const left = (await w.accounts.listBrands(w.account)).brands.map((b: any) => b.brandId);
  assert.deepEqual(left, [kept]);
  assert.deepEqual(await eventsSince(w.org, seq), [
    { action: 'brand.deleted', target_type: 'brand', target_id: b1 },
    { action: 'brand.deleted', target_type: 'brand', target_id: b2 },
  ]);
});

/** One request to the live app with an Idempotency-Key; `body` a Buffer is sent raw as a PNG. */
async function keyed(w: World, method: string, path: string, body: unknown, key: string) {
  if (!Buffer.isBuffer(body)) {
    return api(w.live, w.tenant.key, method, `/restapi/v2.1/accounts/${w.account}${path}`, body, {
      'idempotency-key': key,
    });
  }
  const res = await fetch(`${w.live.base}/restapi/v2.1/accounts/${w.account}${path}`, {
    method,
    headers: { authorization: `Bearer ${w.tenant.key}`, 'content-type': 'image/png', 'idempotency-key': key },
    body: new Uint8Array(body),
  });
  const bytes = Buffer.from(await res.arrayBuffer());
  return { status: res.status, body: null, bytes, headers: res.headers };
}

test('Idempotency-Key on every /restapi write: the retry replays the first response byte for byte, stored with the effect, no second effect', async (t) => {
  const w = await world(t);
  const ids = await groupIds(w, ['Upd', 'Del', 'Members']);
  const [a, b, c] = await newUsers(w, 3, 'idem');
  const brand = (await w.accounts.createBrand(w.account, { brand: { brandName: 'Logo' } })).brands[0].brandId;
  const doomedBrand = (await w.accounts.createBrand(w.account, { brand: { brandName: 'Doomed' } })).brands[0]
    .brandId;
  const doomedBrand2 = (await w.accounts.createBrand(w.account, { brand: { brandName: 'Doomed2' } }))
    .brands[0].brandId;
  const profile = await w.accounts.createPermissionProfile(w.account, {
    permissionProfile: { permissionProfileName: unique('Profile') },
  });
  const doomedProfile = await w.accounts.createPermissionProfile(w.account, {
    permissionProfile: { permissionProfileName: unique('Doomed') },
  });
  const missing = '00000000-0000-4000-8000-000000000000';
  const writes: [string, string, string, unknown][] = [
    [
      'createGroups',
      'POST',
      '/groups',
      { groups: [{ groupName: unique('G') }, { groupName: 'upd' }, { groupName: unique('H') }] },
    ],
    [
      'updateGroups',
      'PUT',
      '/groups',
      { groups: [{ groupId: ids.Upd, groupName: unique('U') }, { groupId: '999999999' }] },
    ],
    ['deleteGroups', 'DELETE', '/groups', { groups: [{ groupId: ids.Del }, { groupId: '999999999' }] }],
    ['updateGroupUsers', 'PUT', `/groups/${ids.Members}/users`, { users: [{ userId: a.userId }] }],
    ['deleteGroupUsers', 'DELETE', `/groups/${ids.Members}/users`, { users: [{ userId: a.userId }] }],
    [
      'create users',
      'POST',
      '/users',
      { newUsers: [{ email: email('n'), userName: 'New Person' }, { email: b.email }] },
    ],
    ['updateUser', 'PUT', `/users/${b.userId}`, { firstName: 'Renamed', jobTitle: 'Retrier' }],
    ['_delete users', 'DELETE', '/users', { users: [{ userId: c.userId }, { userId: missing }] }],
    ['createBrand', 'POST', '/brands', { brandName: unique('Brand') }],
    ['updateBrand', 'PUT', `/brands/${brand}`, { brandCompany: 'Acme' }],
    ['updateBrandLogoByType', 'PUT', `/brands/${brand}/logos/primary`, tinyPng()],
    ['deleteBrandLogoByType', 'DELETE', `/brands/${brand}/logos/primary`, {}],
    ['deleteBrands', 'DELETE', '/brands', { brands: [{ brandId: doomedBrand }, { brandId: missing }] }],
    ['deleteBrand', 'DELETE', `/brands/${doomedBrand2}`, {}],
    ['createPermissionProfile', 'POST', '/permission_profiles', { permissionProfileName: unique('P') }],
    [
      'updatePermissionProfile',
      'PUT',
      `/permission_profiles/${profile.permissionProfileId}`,
      { permissionProfileName: unique('Q') },
    ],
    ['deletePermissionProfile', 'DELETE', `/permission_profiles/${doomedProfile.permissionProfileId}`, {}],
    ['updateSettings', 'PUT', '/settings', { sessionTimeout: '45' }],
  ];
  for (const [name, method, path, body] of writes) {
    const key = unique(name.replace(/\W/g, ''));
    const before = await lastSeq(w.org);
    const first = await keyed(w, method, path, body, key);
    assert.ok(first.status < 300, `${name}: ${first.status} ${first.bytes}`);
    assert.equal(first.headers.get('idempotent-replayed'), null, name);
    const effect = await lastSeq(w.org);
    assert.ok(effect > before, `${name}: the first request had an effect`);
    const again = await keyed(w, method, path, body, key);
    assert.equal(again.status, first.status, name);
    assert.equal(again.headers.get('idempotent-replayed'), 'true', name);
    assert.deepEqual(again.bytes, first.bytes, `${name}: the replay is the first response`);
    assert.equal(again.headers.get('content-type'), first.headers.get('content-type'), name);
    assert.equal(await lastSeq(w.org), effect, `${name}: the replay did something`);
    // Stored by the effect's own transaction (the one that appended its audit events): a crash after the
    // commit still replays, and never runs the request again.
    const stored = await db()
      .selectFrom('idempotency_keys')
      .select(['state', 'status', 'body', sql<string>`xmin::text`.as('tx')])
      .where('organization_id', '=', w.org)
      .where('key', '=', key)
      .executeTakeFirstOrThrow();
    const lastEvent = await db()
      .selectFrom('audit_events')
      .select(sql<string>`xmin::text`.as('tx'))
      .where('organization_id', '=', w.org)
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirstOrThrow();
    assert.equal(stored.state, 'done', name);
    assert.equal(stored.status, first.status, name);
    assert.deepEqual(Buffer.from(stored.body ?? []), first.bytes, name);
    assert.equal(stored.tx, lastEvent.tx, `${name}: the response was stored after the effect committed`);
  }
});

test('8 concurrent batch requests with one Idempotency-Key: one effect, every success the one response', async (t) => {
  const w = await world(t);
  const [x, y] = await newUsers(w, 2, 'race');
  const brands: string[] = [];
  for (const name of ['R1', 'R2']) {
    brands.push((await w.accounts.createBrand(w.account, { brand: { brandName: name } })).brands[0].brandId);
  }
  // Each batch, its success status, and the action each of its two items records once.
  const batches: [string, string, string, unknown, number, string][] = [
    [
      'createGroups',
      'POST',
      '/groups',
      { groups: [{ groupName: unique('Race') }, { groupName: unique('Race') }] },
      201,
      'group.created',
    ],
    [
      'create users',
      'POST',
      '/users',
      { newUsers: [{ email: email('race'), userName: 'Race One' }, { email: email('race') }] },
      201,
      'user.created',
    ],
    [
      '_delete users',
      'DELETE',
      '/users',
      { users: [{ userId: x.userId }, { userId: y.userId }] },
      200,
      'membership.updated',
    ],
    [
      'deleteBrands',
      'DELETE',
      '/brands',
      { brands: brands.map((brandId) => ({ brandId })) },
      200,
      'brand.deleted',
    ],
  ];
  for (const [name, method, path, body, status, action] of batches) {
    const key = unique('race');
    const before = await lastSeq(w.org);
    const answers = await Promise.all(Array.from({ length: 8 }, () => keyed(w, method, path, body, key)));
    const done = answers.filter((r) => r.status === status);
    assert.ok(done.length >= 1, name);
    for (const r of answers) {
      if (r.status === status) assert.deepEqual(r.bytes, done[0]!.bytes, `${name}: one response`);
      else {
        // eSignature answers every request error 400 (src/faces/esign/errors.ts); the code says why.
        assert.equal(r.status, 400, `${name}: ${r.bytes}`);
        assert.equal(JSON.parse(r.bytes.toString()).errorCode, 'IDEMPOTENCY_IN_PROGRESS');
      }
    }
    assert.equal(
      done.filter((r) => r.headers.get('idempotent-replayed') === null).length,
      1,
      `${name}: one request did the work`,
    );
    const items = Object.values(JSON.parse(done[0]!.bytes.toString()))[0] as any[];
    assert.ok(
      items.every((i) => !i.errorDetails),
      `${name}: every item applied: ${done[0]!.bytes}`,
    );
    const events = await eventsSince(w.org, before);
    assert.equal(events.filter((e) => e.action === action).length, 2, `${name}: each item's effect once`);
    const later = await keyed(w, method, path, body, key);
    assert.equal(later.headers.get('idempotent-replayed'), 'true');
    assert.deepEqual(later.bytes, done[0]!.bytes);
    assert.equal(await lastSeq(w.org), before + events.length, `${name}: nothing after the one effect`);
  }
});
