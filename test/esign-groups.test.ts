// eSignature groups and group users under /restapi/v2.1/accounts/{accountId}, through the official
// docusign-esign SDK: listGroups (paging, search_text), createGroups/updateGroups/deleteGroups with per-item
// errorDetails, listGroupUsers/updateGroupUsers/deleteGroupUsers; /api sees the same; tenancy; scopes.
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

type Sdk = any;

const groupsApi = (live: LiveApp, key: string): Sdk => new esign.GroupsApi(esignClient(live, key));
const usersApi = (live: LiveApp, key: string): Sdk => new esign.UsersApi(esignClient(live, key));

test('GroupsApi create/list/update/delete with per-item errors; /api sees the same groups', async (t) => {
  const live = await startApp(t);
  const tenant = await liveTenant(live);
  const groups = groupsApi(live, tenant.key);
  const created = await groups.createGroups(tenant.accountId, {
    groupInformation: {
      groups: [
        { groupName: 'Sales EMEA' },
        { groupName: 'Sales US' },
        { groupName: 'sales emea' }, // the same name, case-insensitively
        { groupName: 'Legal' },
        { groupName: 'Finance' },
        {},
      ],
    },
  });
  assert.equal(created.groups.length, 6);
  const [emea, us, dup, legal, finance, nameless] = created.groups;
  assert.match(emea.groupId, /^\d+$/);
  assert.equal(emea.groupName, 'Sales EMEA');
  assert.equal(emea.groupType, 'customGroup');
  assert.equal(emea.usersCount, '0');
  assert.equal(dup.errorDetails.errorCode, 'GROUP_NAME_ALREADY_EXISTS');
  assert.equal(dup.groupId, undefined);
  assert.equal(nameless.errorDetails.errorCode, 'INVALID_REQUEST_PARAMETER');
  assert.ok(us.groupId && legal.groupId && finance.groupId);

  const native = (
    await api(live, tenant.key, 'GET', `/api/accounts/${tenant.accountId}/groups/${emea.groupId}`)
  ).body;
  assert.equal(native.name, 'Sales EMEA');

  // Paging by position across three pages, and search_text. The account's own groups (group_type): the
  // built-in Administrators and Everyone are listed too otherwise (esign-compat.test.ts).
  const seen: string[] = [];
  let page = await groups.listGroups(tenant.accountId, { count: '2', groupType: 'customGroup' });
  let pages = 1;
  seen.push(...page.groups.map((g: any) => g.groupId));
  assert.equal(page.totalSetSize, '4');
  assert.equal(page.resultSetSize, '2');
  while (page.nextUri) {
    const start = Number(new URL(page.nextUri, 'http://x').searchParams.get('start_position'));
    page = await groups.listGroups(tenant.accountId, {
      count: '2',
      startPosition: String(start),
      groupType: 'customGroup',
    });
    pages++;
    seen.push(...page.groups.map((g: any) => g.groupId));
  }
  assert.equal(pages, 2);
  const three = await groups.listGroups(tenant.accountId, {
    count: '1',
    startPosition: '1',
    groupType: 'customGroup',
  });
  assert.equal(three.startPosition, '1');
  assert.equal(three.endPosition, '1');
  assert.match(three.previousUri, /start_position=0&count=1/);
  assert.match(three.nextUri, /start_position=2&count=1/);
  assert.deepEqual(seen.sort(), [emea.groupId, us.groupId, legal.groupId, finance.groupId].sort());
  const sales = await groups.listGroups(tenant.accountId, { searchText: 'SALES' });
  assert.deepEqual(sales.groups.map((g: any) => g.groupName).sort(), ['Sales EMEA', 'Sales US']);
  assert.equal(sales.totalSetSize, '2');

  // Update: a rename, a missing group, a clash.
  const updated = await groups.updateGroups(tenant.accountId, {
    groupInformation: {
      groups: [
        { groupId: legal.groupId, groupName: 'Legal & Compliance' },
        { groupId: '999999999', groupName: 'Ghost' },
        { groupId: finance.groupId, groupName: 'Sales US' },
      ],
    },
  });
  assert.equal(updated.groups[0].groupName, 'Legal & Compliance');
  assert.equal(updated.groups[1].errorDetails.errorCode, 'INVALID_GROUP_ID');
  assert.equal(updated.groups[2].errorDetails.errorCode, 'GROUP_NAME_ALREADY_EXISTS');
  const renamed = (
    await api(live, tenant.key, 'GET', `/api/accounts/${tenant.accountId}/groups/${legal.groupId}`)
  ).body;
  assert.equal(renamed.name, 'Legal & Compliance');
  // A group made through /api shows through the SDK.
  const viaApi = (
    await api(live, tenant.key, 'POST', `/api/accounts/${tenant.accountId}/groups`, { name: 'Ops' })
  ).body;
  const listed = await groups.listGroups(tenant.accountId);
  assert.ok(listed.groups.some((g: any) => g.groupId === String(viaApi.id) && g.groupName === 'Ops'));

  // Delete: one that exists, one that does not.
  const deleted = await groups.deleteGroups(tenant.accountId, {
    groupInformation: { groups: [{ groupId: us.groupId }, { groupId: 'abc' }] },
  });
  assert.equal(deleted.groups[0].groupId, us.groupId);
  assert.equal(deleted.groups[1].errorDetails.errorCode, 'INVALID_GROUP_ID');
  const gone = await api(live, tenant.key, 'GET', `/api/accounts/${tenant.accountId}/groups/${us.groupId}`);
  assert.equal(gone.status, 404);
});

test('group users: updateGroupUsers adds, listGroupUsers pages, deleteGroupUsers removes; /api agrees', async (t) => {
  const live = await startApp(t);
  const tenant = await liveTenant(live);
  const groups = groupsApi(live, tenant.key);
  const [group] = (
    await groups.createGroups(tenant.accountId, { groupInformation: { groups: [{ groupName: 'Team' }] } })
  ).groups;
  const made = (
    await usersApi(live, tenant.key).create(tenant.accountId, {
      newUsersDefinition: {
        newUsers: Array.from({ length: 5 }, (_, i) => ({ email: email(`m${i}`), userName: `Member ${i}` })),
      },
    })
  ).newUsers;
  const ids = made.map((u: any) => u.userId);
  const added = await groups.updateGroupUsers(tenant.accountId, group.groupId, {
    userInfoList: { users: ids.map((userId: string) => ({ userId })) },
  });
  assert.deepEqual(
    added.users.map((u: any) => u.userId),
    ids,
  );
  assert.equal(added.users[0].userStatus, 'Active');

  const seen: string[] = [];
  for (let start = 0; ; start += 2) {
    const page = await groups.listGroupUsers(tenant.accountId, group.groupId, {
      count: '2',
      startPosition: String(start),
    });
    assert.equal(page.totalSetSize, '5');
    seen.push(...page.users.map((u: any) => u.userId));
    assert.ok(page.users.every((u: any) => u.email && u.userName && u.userStatus === 'Active'));
    if (!page.nextUri) break;
  }
  assert.deepEqual(seen.sort(), [...ids].sort());
  const native = (
    await api(live, tenant.key, 'GET', `/api/accounts/${tenant.accountId}/groups/${group.groupId}`)
  ).body;
  assert.equal(native.member_count, 5);
  assert.equal(
    (await groups.listGroups(tenant.accountId)).groups.find((g: any) => g.groupId === group.groupId)
      .usersCount,
    '5',
  );

  const removed = await groups.deleteGroupUsers(tenant.accountId, group.groupId, {
    userInfoList: { users: [{ userId: ids[0] }, { userId: ids[1] }] },
  });
  assert.deepEqual(removed.users.map((u: any) => u.userId).sort(), [ids[0], ids[1]].sort());
  const members = (
    await api(live, tenant.key, 'GET', `/api/accounts/${tenant.accountId}/groups/${group.groupId}/members`)
  ).body.data.map((m: any) => m.user_id);
  assert.deepEqual(members.sort(), ids.slice(2).sort());

  // A user with no membership in the account refuses the whole addition.
  const outsider = (await api(live, tenant.key, 'POST', '/api/accounts', { name: 'Elsewhere' })).body;
  const stranger = (
    await usersApi(live, tenant.key).create(outsider.id, {
      newUsersDefinition: { newUsers: [{ email: email('s'), userName: 'Stranger' }] },
    })
  ).newUsers[0].userId;
  const refused = await sdkError(
    groups.updateGroupUsers(tenant.accountId, group.groupId, {
      userInfoList: { users: [{ userId: ids[0] }, { userId: stranger }] },
    }),
  );
  assert.equal(refused.statusCode, 400);
  assert.equal(refused.body.errorCode, 'INVALID_USERID');
  assert.equal((await groups.listGroupUsers(tenant.accountId, group.groupId)).users.length, 3);
});

test('tenancy and scopes: another organization’s account and groups answer like missing ones; read-only keys are refused writes', async (t) => {
  const live = await startApp(t);
  const tenant = await liveTenant(live);
  const other = await liveTenant(live);
  const groups = groupsApi(live, tenant.key);
  const [theirs] = (
    await groupsApi(live, other.key).createGroups(other.accountId, {
      groupInformation: { groups: [{ groupName: 'Theirs' }] },
    })
  ).groups;
  const [mine] = (
    await groups.createGroups(tenant.accountId, { groupInformation: { groups: [{ groupName: 'Mine' }] } })
  ).groups;
  const theirUser = (
    await usersApi(live, other.key).create(other.accountId, {
      newUsersDefinition: { newUsers: [{ email: email('t'), userName: 'Their User' }] },
    })
  ).newUsers[0].userId;
  const number = (await api(live, other.key, 'GET', `/api/accounts/${other.accountId}`)).body
    .external_account_id;

  for (const account of [other.accountId, String(number), '00000000-0000-7000-8000-000000000009']) {
    for (const call of [
      () => groups.listGroups(account),
      () => groups.createGroups(account, { groupInformation: { groups: [{ groupName: 'X' }] } }),
      () =>
        groups.updateGroups(account, {
          groupInformation: { groups: [{ groupId: theirs.groupId, groupName: 'X' }] },
        }),
      () => groups.deleteGroups(account, { groupInformation: { groups: [{ groupId: theirs.groupId }] } }),
      () => groups.listGroupUsers(account, theirs.groupId),
      () =>
        groups.updateGroupUsers(account, theirs.groupId, {
          userInfoList: { users: [{ userId: theirUser }] },
        }),
      () =>
        groups.deleteGroupUsers(account, theirs.groupId, {
          userInfoList: { users: [{ userId: theirUser }] },
        }),
    ]) {
      const err = await sdkError(call());
      assert.equal(err.statusCode, 400);
      assert.equal(err.body.errorCode, 'ACCOUNT_NOT_FOUND');
    }
  }
  // Their group id in our account: INVALID_GROUP_ID, exactly like a missing one.
  for (const groupId of [theirs.groupId, '987654321', 'x']) {
    for (const call of [
      () => groups.listGroupUsers(tenant.accountId, groupId),
      () =>
        groups.updateGroupUsers(tenant.accountId, groupId, {
          userInfoList: { users: [{ userId: tenant.ownerId }] },
        }),
      () =>
        groups.deleteGroupUsers(tenant.accountId, groupId, {
          userInfoList: { users: [{ userId: tenant.ownerId }] },
        }),
    ]) {
      const err = await sdkError(call());
      assert.equal(err.statusCode, 400);
      assert.equal(err.body.errorCode, 'INVALID_GROUP_ID');
    }
    const upd = await groups.updateGroups(tenant.accountId, {
      groupInformation: { groups: [{ groupId, groupName: 'Pwned' }] },
    });
    assert.equal(upd.groups[0].errorDetails.errorCode, 'INVALID_GROUP_ID');
    const del = await groups.deleteGroups(tenant.accountId, { groupInformation: { groups: [{ groupId }] } });
    assert.equal(del.groups[0].errorDetails.errorCode, 'INVALID_GROUP_ID');
  }
  // Their user added to our group.
  const foreignMember = await sdkError(
    groups.updateGroupUsers(tenant.accountId, mine.groupId, {
      userInfoList: { users: [{ userId: theirUser }] },
    }),
  );
  assert.equal(foreignMember.body.errorCode, 'INVALID_USERID');
  const still = (
    await api(live, other.key, 'GET', `/api/accounts/${other.accountId}/groups/${theirs.groupId}`)
  ).body;
  assert.equal(still.name, 'Theirs');

  const reader = (
    await api(live, tenant.key, 'POST', '/api/api_keys', { name: 'r', scopes: ['account:read'] })
  ).body;
  const asReader = groupsApi(live, reader.key);
  // Theirs, and the built-in Administrators and Everyone.
  assert.equal((await asReader.listGroups(tenant.accountId)).groups.length, 3);
  for (const call of [
    () => asReader.createGroups(tenant.accountId, { groupInformation: { groups: [{ groupName: 'No' }] } }),
    () =>
      asReader.updateGroupUsers(tenant.accountId, mine.groupId, {
        userInfoList: { users: [{ userId: tenant.ownerId }] },
      }),
  ]) {
    const denied = await sdkError(call());
    assert.equal(denied.statusCode, 403);
    assert.equal(denied.body.errorCode, 'USER_LACKS_PERMISSIONS');
    assert.match(denied.body.message, /groups:write/);
  }
  const bad = await sdkError(groups.listGroups(tenant.accountId, { count: 'lots' }));
  assert.equal(bad.statusCode, 400);
  const noBody = await sdkError(groups.createGroups(tenant.accountId, { groupInformation: { groups: 'x' } }));
  assert.equal(noBody.statusCode, 400);
});
