// eSignature users under /restapi/v2.1/accounts/{accountId}, driven through the official docusign-esign SDK:
// create (newUsers, per-item errors), list (filters, paging), getInformation, updateUser, _delete (close),
// the same data through /api, the tenancy matrix, restricted keys and bad input.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  api,
  email,
  esign,
  esignClient,
  type LiveApp,
  liveTenant,
  sdkError,
  startApp,
} from './docusign-helper.ts';
import type { Tenant } from './helper.ts';

type Sdk = any;

/** The raw JSON the face sent: no null anywhere (the SDK turns null into "null" or crashes on it). */
async function rawJson(live: LiveApp, key: string, path: string): Promise<any> {
  const res = await fetch(`${live.base}/restapi${path}`, { headers: { authorization: `Bearer ${key}` } });
  const text = await res.text();
  assert.ok(!/:\s*null\b/.test(text), `null in ${path}: ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

async function accountNumber(live: LiveApp, tenant: Tenant): Promise<number> {
  const res = await api(live, tenant.key, 'GET', `/api/accounts/${tenant.accountId}`);
  return res.body.external_account_id;
}

const usersApi = (live: LiveApp, key: string): Sdk => new esign.UsersApi(esignClient(live, key));

test('UsersApi.create makes users with per-item errors; they read back the same through /api and /restapi', async (t) => {
  const live = await startApp(t);
  const tenant = await liveTenant(live);
  const users = usersApi(live, tenant.key);
  const profiles = (
    await api(live, tenant.key, 'GET', `/api/accounts/${tenant.accountId}/permission_profiles`)
  ).body.data;
  const sender = profiles.find((p: any) => p.name === 'DS Sender');
  const group = (
    await api(live, tenant.key, 'POST', `/api/accounts/${tenant.accountId}/groups`, { name: 'Sales' })
  ).body;
  const ada = email('ada');
  const summary = await users.create(tenant.accountId, {
    newUsersDefinition: {
      newUsers: [
        {
          email: ada,
          firstName: 'Ada',
          lastName: 'Lovelace',
          jobTitle: 'Analyst',
          permissionProfileId: String(sender.id),
          groupList: [{ groupId: String(group.id) }],
        },
        { email: tenant.email, userName: 'Owner Again' },
        { email: email('bob'), userName: 'Bob van Dyke' },
        { email: 'not-an-email', userName: 'Nobody' },
      ],
    },
  });
  assert.equal(summary.newUsers.length, 4);
  const [created, dup, bob, bad] = summary.newUsers;
  assert.match(created.userId, /^[0-9a-f-]{36}$/);
  assert.equal(created.email, ada);
  assert.equal(created.userName, 'Ada Lovelace');
  assert.equal(created.userStatus, 'Active');
  assert.equal(created.permissionProfileId, String(sender.id));
  assert.equal(created.permissionProfileName, 'DS Sender');
  assert.equal(created.errorDetails, undefined);
  assert.equal(dup.errorDetails.errorCode, 'USER_ALREADY_EXISTS_IN_ACCOUNT');
  assert.equal(dup.email, tenant.email);
  assert.equal(dup.userId, undefined);
  assert.equal(bob.userName, 'Bob van Dyke');
  assert.equal(bad.errorDetails.errorCode, 'INVALID_REQUEST_PARAMETER');

  // Through /api: the same person, membership, profile and group.
  const native = (await api(live, tenant.key, 'GET', `/api/users/${created.userId}`)).body;
  assert.equal(native.email, ada);
  assert.equal(native.first_name, 'Ada');
  assert.equal(native.job_title, 'Analyst');
  assert.equal(native.memberships[0].account_id, tenant.accountId);
  assert.equal(native.memberships[0].permission_profile_id, sender.id);
  // The group named, and the built-in Everyone every membership is in.
  const everyone = (
    await api(live, tenant.key, 'GET', `/api/accounts/${tenant.accountId}/groups`)
  ).body.data.find((g: any) => g.type === 'everyone');
  assert.deepEqual(native.memberships[0].group_ids, [everyone.id, group.id]);
  const bobNative = (await api(live, tenant.key, 'GET', `/api/users/${bob.userId}`)).body;
  assert.equal(bobNative.first_name, 'Bob van');
  assert.equal(bobNative.last_name, 'Dyke');

  // getInformation: the whole UserInformation, with the group list.
  const info = await users.getInformation(tenant.accountId, created.userId);
  assert.equal(info.firstName, 'Ada');
  assert.equal(info.lastName, 'Lovelace');
  assert.equal(info.jobTitle, 'Analyst');
  assert.equal(info.userStatus, 'Active');
  assert.deepEqual(
    info.groupList.map((g: any) => [g.groupName, g.groupType]),
    [
      ['Everyone', 'everyoneGroup'],
      ['Sales', 'customGroup'],
    ],
  );
  assert.equal(info.groupList[1].groupId, String(group.id));
  assert.equal(info.isAdmin, 'False');
  assert.ok(!Number.isNaN(Date.parse(info.createdDateTime)));
  await rawJson(live, tenant.key, `/v2.1/accounts/${tenant.accountId}/users/${created.userId}`);

  // The reverse: a user made through /api reads back through the SDK.
  const viaApi = (
    await api(live, tenant.key, 'POST', '/api/users', {
      email: email('cy'),
      first_name: 'Cy',
      last_name: 'Young',
      account_id: tenant.accountId,
    })
  ).body;
  const cy = await users.getInformation(tenant.accountId, viaApi.id);
  assert.equal(cy.email, viaApi.email);
  assert.equal(cy.userName, 'Cy Young');

  // A user of the organization outside this account gets a membership here (not a second user).
  const second = (await api(live, tenant.key, 'POST', '/api/accounts', { name: 'Second' })).body;
  const again = await users.create(second.id, {
    newUsersDefinition: { newUsers: [{ email: ada, userName: 'Ada Lovelace' }] },
  });
  assert.equal(again.newUsers[0].userId, created.userId);
  const twice = (await api(live, tenant.key, 'GET', `/api/users/${created.userId}`)).body;
  assert.deepEqual(
    twice.memberships.map((m: any) => m.account_id).sort(),
    [tenant.accountId, second.id].sort(),
  );
});

test('UsersApi.list pages with start_position/count across pages and filters by email, status and group', async (t) => {
  const live = await startApp(t);
  const tenant = await liveTenant(live);
  const other = await liveTenant(live);
  const users = usersApi(live, tenant.key);
  const made = await users.create(tenant.accountId, {
    newUsersDefinition: {
      newUsers: Array.from({ length: 6 }, (_, i) => ({ email: email(`pager${i}`), userName: `Pager ${i}` })),
    },
  });
  assert.ok(made.newUsers.every((u: any) => u.userId));
  // A user of another organization never shows.
  await usersApi(live, other.key).create(other.accountId, {
    newUsersDefinition: { newUsers: [{ email: email('pagerx'), userName: 'Foreign' }] },
  });

  const seen: string[] = [];
  let start = 0;
  let pages = 0;
  for (;;) {
    const page = await users.list(tenant.accountId, { count: '3', startPosition: String(start) });
    pages++;
    assert.equal(page.totalSetSize, '7'); // six plus the owner
    assert.equal(page.startPosition, String(start));
    assert.equal(page.resultSetSize, String(page.users.length));
    assert.equal(page.endPosition, String(start + page.users.length - 1));
    if (start > 0) assert.match(page.previousUri, /start_position=\d+&count=3/);
    else assert.equal(page.previousUri, undefined);
    seen.push(...page.users.map((u: any) => u.userId));
    if (!page.nextUri) break;
    assert.match(
      page.nextUri,
      new RegExp(`^/v2.1/accounts/${tenant.accountId}/users\\?start_position=${start + 3}&count=3$`),
    );
    start += 3;
  }
  assert.equal(pages, 3);
  assert.equal(new Set(seen).size, 7);
  assert.ok(made.newUsers.every((u: any) => seen.includes(u.userId)));
  assert.ok(seen.includes(tenant.ownerId));

  // Filters.
  const target = made.newUsers[2];
  const byEmail = await users.list(tenant.accountId, { email: target.email.toUpperCase() });
  assert.deepEqual(
    byEmail.users.map((u: any) => u.userId),
    [target.userId],
  );
  const bySub = await users.list(tenant.accountId, { emailSubstring: 'PAGER' });
  assert.equal(bySub.users.length, 6);
  assert.equal(bySub.totalSetSize, '6');

  await users._delete(tenant.accountId, { userInfoList: { users: [{ userId: target.userId }] } });
  const closed = await users.list(tenant.accountId, { status: 'Closed' });
  assert.deepEqual(
    closed.users.map((u: any) => u.userId),
    [target.userId],
  );
  assert.equal(closed.users[0].userStatus, 'Closed');
  const open = await users.list(tenant.accountId, { status: 'active,ActivationSent' });
  assert.equal(open.users.length, 6);

  const group = (
    await api(live, tenant.key, 'POST', `/api/accounts/${tenant.accountId}/groups`, { name: 'G' })
  ).body;
  await api(live, tenant.key, 'POST', `/api/accounts/${tenant.accountId}/groups/${group.id}/members`, {
    user_ids: [made.newUsers[0].userId, made.newUsers[1].userId],
  });
  const inGroup = await users.list(tenant.accountId, { groupId: String(group.id), additionalInfo: 'true' });
  assert.deepEqual(
    inGroup.users.map((u: any) => u.userId).sort(),
    [made.newUsers[0].userId, made.newUsers[1].userId].sort(),
  );
  assert.deepEqual(
    inGroup.users[0].groupList.map((g: any) => g.groupName),
    ['Everyone', 'G'],
  );

  // Never a null on the wire; an empty page still has an empty list.
  const empty = await rawJson(
    live,
    tenant.key,
    `/v2.1/accounts/${tenant.accountId}/users?email=nobody%40x.test`,
  );
  assert.deepEqual(empty.users, []);
  assert.equal(empty.totalSetSize, '0');
});

test('UsersApi.updateUser and _delete change the user as /api sees it; the integer account number works too', async (t) => {
  const live = await startApp(t);
  const tenant = await liveTenant(live);
  const users = usersApi(live, tenant.key);
  const number = await accountNumber(live, tenant);
  assert.equal(typeof number, 'number');
  const [u] = (
    await users.create(String(number), {
      newUsersDefinition: { newUsers: [{ email: email('up'), userName: 'Up Date' }] },
    })
  ).newUsers;
  assert.ok(u.userId);
  const admin = (
    await api(live, tenant.key, 'GET', `/api/accounts/${tenant.accountId}/permission_profiles`)
  ).body.data.find((p: any) => p.name === 'DS Admin');
  const updated = await users.updateUser(tenant.accountId, u.userId, {
    userInformation: {
      firstName: 'Updated',
      lastName: 'Person',
      jobTitle: 'Lead',
      company: 'ACME',
      permissionProfileId: String(admin.id),
    },
  });
  assert.equal(updated.userName, 'Updated Person');
  assert.equal(updated.permissionProfileId, String(admin.id));
  assert.equal(updated.permissionProfileName, 'DS Admin');
  const native = (await api(live, tenant.key, 'GET', `/api/users/${u.userId}`)).body;
  assert.equal(native.first_name, 'Updated');
  assert.equal(native.company, 'ACME');
  assert.equal(native.memberships[0].permission_profile_id, admin.id);
  // And an /api change reads back through the SDK.
  await api(live, tenant.key, 'PATCH', `/api/users/${u.userId}`, { job_title: 'Chief' });
  assert.equal((await users.getInformation(String(number), u.userId)).jobTitle, 'Chief');

  const closed = await users._delete(tenant.accountId, {
    userInfoList: { users: [{ userId: u.userId }, { userId: '00000000-0000-7000-8000-000000000000' }] },
  });
  assert.equal(closed.users[0].userId, u.userId);
  assert.equal(closed.users[0].userStatus, 'Closed');
  assert.equal(closed.users[1].errorDetails.errorCode, 'INVALID_USERID');
  const after = (await api(live, tenant.key, 'GET', `/api/users/${u.userId}`)).body;
  assert.equal(after.memberships[0].status, 'closed');
  assert.equal(after.status, 'active'); // the user stays; only the membership closed
  assert.equal((await users.getInformation(tenant.accountId, u.userId)).userStatus, 'Closed');
});

test('tenancy: another organization’s account, users, groups and profiles answer exactly like missing ones', async (t) => {
  const live = await startApp(t);
  const tenant = await liveTenant(live);
  const other = await liveTenant(live);
  const users = usersApi(live, tenant.key);
  const foreignUser = (
    await usersApi(live, other.key).create(other.accountId, {
      newUsersDefinition: { newUsers: [{ email: email('foreign'), userName: 'For Eign' }] },
    })
  ).newUsers[0].userId;
  const foreignGroup = (
    await api(live, other.key, 'POST', `/api/accounts/${other.accountId}/groups`, { name: 'Theirs' })
  ).body.id;
  const foreignProfile = (
    await api(live, other.key, 'GET', `/api/accounts/${other.accountId}/permission_profiles`)
  ).body.data[0].id;
  const otherNumber = await accountNumber(live, other);
  const missingAccount = '00000000-0000-7000-8000-000000000001';

  for (const account of [
    other.accountId,
    String(otherNumber),
    missingAccount,
    '99999999999',
    'not-an-account',
  ]) {
    for (const call of [
      () => users.list(account),
      () => users.getInformation(account, foreignUser),
      () => users.create(account, { newUsersDefinition: { newUsers: [{ email: email('x') }] } }),
      () => users.updateUser(account, foreignUser, { userInformation: { firstName: 'X' } }),
      () => users._delete(account, { userInfoList: { users: [{ userId: foreignUser }] } }),
    ]) {
      const err = await sdkError(call());
      assert.equal(err.statusCode, 400, `${account}`);
      assert.equal(err.body.errorCode, 'ACCOUNT_NOT_FOUND');
    }
  }
  // Their user in our account, and a user that does not exist: the same INVALID_USERID.
  for (const userId of [foreignUser, '00000000-0000-7000-8000-000000000002', 'nope']) {
    for (const call of [
      () => users.getInformation(tenant.accountId, userId),
      () => users.updateUser(tenant.accountId, userId, { userInformation: { firstName: 'Hacked' } }),
    ]) {
      const err = await sdkError(call());
      assert.equal(err.statusCode, 400);
      assert.equal(err.body.errorCode, 'INVALID_USERID');
    }
    const closed = await users._delete(tenant.accountId, { userInfoList: { users: [{ userId }] } });
    assert.equal(closed.users[0].errorDetails.errorCode, 'INVALID_USERID');
  }
  const theirs = (await api(live, other.key, 'GET', `/api/users/${foreignUser}`)).body;
  assert.equal(theirs.first_name, 'For');
  assert.equal(theirs.memberships[0].status, 'active');

  // Their group and profile named in our requests.
  const byGroup = await sdkError(users.list(tenant.accountId, { groupId: String(foreignGroup) }));
  assert.equal(byGroup.statusCode, 400);
  assert.equal(byGroup.body.errorCode, 'INVALID_GROUP_ID');
  const made = await users.create(tenant.accountId, {
    newUsersDefinition: {
      newUsers: [
        { email: email('p'), permissionProfileId: String(foreignProfile) },
        { email: email('g'), groupList: [{ groupId: String(foreignGroup) }] },
      ],
    },
  });
  assert.equal(made.newUsers[0].errorDetails.errorCode, 'INVALID_PERMISSION_PROFILE_ID');
  assert.equal(made.newUsers[1].errorDetails.errorCode, 'INVALID_GROUP_ID');
  const mine = (await users.list(tenant.accountId)).users.map((u: any) => u.userId);
  assert.deepEqual(mine, [tenant.ownerId]);
  const update = await sdkError(
    users.updateUser(tenant.accountId, tenant.ownerId, {
      userInformation: { permissionProfileId: String(foreignProfile) },
    }),
  );
  assert.equal(update.statusCode, 400);
  assert.equal(update.body.errorCode, 'INVALID_PERMISSION_PROFILE_ID');
});

test('auth: a bad token is 401 AUTHORIZATION_INVALID_TOKEN; a restricted key lacking users:write is 403 naming it', async (t) => {
  const live = await startApp(t);
  const tenant = await liveTenant(live);
  const bad = await sdkError(usersApi(live, 'sk_test_nope').list(tenant.accountId));
  assert.equal(bad.statusCode, 401);
  assert.equal(bad.body.errorCode, 'AUTHORIZATION_INVALID_TOKEN');
  assert.equal(typeof bad.body.message, 'string');

  const reader = (await api(live, tenant.key, 'POST', '/api/api_keys', { name: 'r', scopes: ['users:read'] }))
    .body;
  const asReader = usersApi(live, reader.key);
  assert.equal((await asReader.list(tenant.accountId)).users.length, 1);
  for (const call of [
    () => asReader.create(tenant.accountId, { newUsersDefinition: { newUsers: [{ email: email('no') }] } }),
    () => asReader.updateUser(tenant.accountId, tenant.ownerId, { userInformation: { firstName: 'X' } }),
    () => asReader._delete(tenant.accountId, { userInfoList: { users: [{ userId: tenant.ownerId }] } }),
  ]) {
    const denied = await sdkError(call());
    assert.equal(denied.statusCode, 403);
    assert.equal(denied.body.errorCode, 'USER_LACKS_PERMISSIONS');
    assert.match(denied.body.message, /signature scope/);
    assert.match(denied.body.message, /users:write/);
  }
  const acct = (await api(live, tenant.key, 'POST', '/api/api_keys', { name: 'a', scopes: ['account:read'] }))
    .body;
  const noUsers = await sdkError(usersApi(live, acct.key).list(tenant.accountId));
  assert.equal(noUsers.statusCode, 403);
  assert.match(noUsers.body.message, /users:read/);
});

test('bad input is a 4xx with an eSignature error, never a 500', async (t) => {
  const live = await startApp(t);
  const tenant = await liveTenant(live);
  const users = usersApi(live, tenant.key);
  for (const opts of [
    { count: 'abc' },
    { count: '0' },
    { startPosition: '-1' },
    { status: 'Sleeping' },
    { groupId: 'x' },
  ]) {
    const err = await sdkError(users.list(tenant.accountId, opts));
    assert.ok(err.statusCode >= 400 && err.statusCode < 500, JSON.stringify(opts));
    assert.equal(typeof err.body.errorCode, 'string');
  }
  const empty = await sdkError(users.create(tenant.accountId, { newUsersDefinition: { newUsers: [] } }));
  assert.equal(empty.statusCode, 400);
  assert.equal(empty.body.errorCode, 'INVALID_REQUEST_PARAMETER');
  const weird = await fetch(`${live.base}/restapi/v2.1/accounts/${tenant.accountId}/users`, {
    method: 'POST',
    headers: { authorization: `Bearer ${tenant.key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ newUsers: 'everyone' }),
  });
  assert.equal(weird.status, 400);
  const broken = await fetch(`${live.base}/restapi/v2.1/accounts/${tenant.accountId}/users`, {
    method: 'POST',
    headers: { authorization: `Bearer ${tenant.key}`, 'content-type': 'application/json' },
    body: '{"newUsers": [',
  });
  assert.equal(broken.status, 400);
  assert.equal(((await broken.json()) as any).errorCode, 'INVALID_REQUEST_BODY');
  const badUpdate = await sdkError(
    users.updateUser(tenant.accountId, tenant.ownerId, { userInformation: { email: 'nope', firstName: 7 } }),
  );
  assert.equal(badUpdate.statusCode, 400);
});

test('Idempotency-Key: a retried create (one transaction, a savepoint per user) or updateUser replays the same eSignature body, once', async (t) => {
  const live = await startApp(t);
  const tenant = await liveTenant(live);
  const send = (method: string, path: string, body: unknown, key: string) =>
    api(live, tenant.key, method, `/restapi/v2.1/accounts/${tenant.accountId}${path}`, body, {
      'idempotency-key': key,
    });
  const create = {
    newUsers: [
      { email: email('once'), userName: 'Once Only' },
      { email: email('twice'), userName: 'Not Twice' },
    ],
  };
  const createKey = `esign-create-${Math.random().toString(36).slice(2)}`;
  const created = await send('POST', '/users', create, createKey);
  assert.equal(created.status, 201);
  assert.equal(created.body.newUsers.length, 2);
  for (const u of created.body.newUsers) assert.equal(u.errorDetails, undefined, JSON.stringify(u));
  assert.deepEqual(await send('POST', '/users', create, createKey), created);
  for (const u of create.newUsers) {
    const found = await api(live, tenant.key, 'GET', `/api/users?email=${encodeURIComponent(u.email)}`);
    assert.equal(found.body.data.length, 1, u.email);
  }

  const [once] = created.body.newUsers;
  const update = { firstName: 'Twice', lastName: 'Sent', jobTitle: 'Retrier' };
  const updateKey = `esign-update-${Math.random().toString(36).slice(2)}`;
  const updated = await send('PUT', `/users/${once.userId}`, update, updateKey);
  assert.equal(updated.status, 200);
  assert.equal(updated.body.userName, 'Twice Sent', 'the eSignature shape');
  assert.equal(updated.body.memberships, undefined, 'not the core view');
  assert.deepEqual(await send('PUT', `/users/${once.userId}`, update, updateKey), updated);
});
