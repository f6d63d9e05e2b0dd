// What the official docusign-esign SDK found missing, round-tripped through it: a permission profile keeps
// every AccountRoleSettings field a client sends (the enforced ones as Signet's permissions, the rest as sent),
// a group carries permissionProfileId, and every account has DocuSign's built-in groups.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { api, esign, esignClient, type LiveApp, liveTenant, sdkError, startApp } from './docusign-helper.ts';

type Sdk = any;

const accountsApi = (live: LiveApp, key: string): Sdk => new esign.AccountsApi(esignClient(live, key));

/** The fields of an SDK model class: its constructFromObject asks data.hasOwnProperty(field) for each. */
function modelFields(name: string): string[] {
  const seen: string[] = [];
  (esign as Sdk)[name].constructFromObject({
    hasOwnProperty: (k: string) => {
      seen.push(k);
      return false;
    },
  });
  return [...new Set(seen)];
}

/** A plain JSON copy (SDK model instances → objects). */
const plain = (v: unknown) => JSON.parse(JSON.stringify(v));

/** Every AccountRoleSettings field the SDK knows, with a value (string flags, one metadata object each kind). */
function fullSettings(): Record<string, unknown> {
  const metadata = {
    rights: 'editable',
    uiHint: 'available',
    uiOrder: '1',
    uiType: 'checkbox',
    options: ['a'],
  };
  const settings: Record<string, unknown> = {};
  for (const f of modelFields('AccountRoleSettings')) {
    if (f === 'accountManagementGranular') continue;
    settings[f] = f.endsWith('Metadata') ? metadata : f.startsWith('allowed') ? 'share' : 'true';
  }
  const granular: Record<string, unknown> = {};
  for (const f of modelFields('AccountManagementGranular')) {
    granular[f] = f.endsWith('Metadata') ? metadata : 'true';
  }
  settings.accountManagementGranular = granular;
  return settings;
}

test('permission profile: every AccountRoleSettings field sent comes back as sent, enforced flags map to permissions', async (t) => {
  const live = await startApp(t);
  const tenant = await liveTenant(live);
  const accounts = accountsApi(live, tenant.key);
  const sent = fullSettings();
  assert.ok(Object.keys(sent).length > 90, 'the SDK model lists its fields');
  // Signet enforces these: "false" here must withdraw them, and come back "false".
  (sent.accountManagementGranular as Record<string, unknown>).allowManageReporting = 'false';
  sent.allowEnvelopeSending = 'false';

  const created = await accounts.createPermissionProfile(tenant.accountId, {
    permissionProfile: { permissionProfileName: 'Copied from DocuSign', settings: sent },
  });
  assert.deepEqual(plain(created.settings), sent);
  const got = await accounts.getPermissionProfile(tenant.accountId, created.permissionProfileId);
  assert.deepEqual(plain(got.settings), sent);
  const listed = (await accounts.listPermissions(tenant.accountId)).permissionProfiles.find(
    (p: any) => p.permissionProfileId === created.permissionProfileId,
  );
  assert.deepEqual(plain(listed.settings), sent);

  // The enforced flags are the profile's permissions on /api.
  const nativePath = `/api/accounts/${tenant.accountId}/permission_profiles/${created.permissionProfileId}`;
  const native = (await api(live, tenant.key, 'GET', nativePath)).body;
  assert.deepEqual(native.permissions, [
    'manage_users',
    'manage_groups',
    'manage_permission_profiles',
    'manage_account_settings',
  ]);

  // An update names only what changes: other fields keep their value; null removes a kept field.
  const updated = await accounts.updatePermissionProfile(tenant.accountId, created.permissionProfileId, {
    permissionProfile: {
      settings: {
        allowBulkSending: 'false',
        allowedTemplateAccess: null,
        accountManagementGranular: { allowManageStamps: 'false', allowManageReporting: 'true' },
      },
    },
  });
  const expected = plain(sent);
  expected.allowBulkSending = 'false';
  delete expected.allowedTemplateAccess;
  expected.accountManagementGranular.allowManageStamps = 'false';
  expected.accountManagementGranular.allowManageReporting = 'true';
  assert.deepEqual(plain(updated.settings), expected);
  assert.deepEqual(
    plain((await accounts.getPermissionProfile(tenant.accountId, created.permissionProfileId)).settings),
    expected,
  );
  assert.ok((await api(live, tenant.key, 'GET', nativePath)).body.permissions.includes('view_audit_log'));

  // A NUL character cannot be stored: 400 naming the field, nothing written.
  const nul = await sdkError(
    accounts.updatePermissionProfile(tenant.accountId, created.permissionProfileId, {
      permissionProfile: { settings: { allowBulkSending: 'a\u0000b' } },
    }),
  );
  assert.equal(nul.statusCode, 400);
  assert.match(nul.body.message, /settings\.allowBulkSending/);
  assert.deepEqual(
    plain((await accounts.getPermissionProfile(tenant.accountId, created.permissionProfileId)).settings),
    expected,
  );
  // Settings that are not an object are refused.
  const bad = await sdkError(
    accounts.createPermissionProfile(tenant.accountId, {
      permissionProfile: { permissionProfileName: 'Bad', settings: { accountManagementGranular: 'yes' } },
    }),
  );
  assert.equal(bad.statusCode, 400);
  assert.equal(bad.body.errorCode, 'INVALID_REQUEST_PARAMETER');
});

const groupsApi = (live: LiveApp, key: string): Sdk => new esign.GroupsApi(esignClient(live, key));

test('group permissionProfileId: set on create, kept on rename, returned on list and get; follows a deleted profile', async (t) => {
  const live = await startApp(t);
  const tenant = await liveTenant(live);
  const groups = groupsApi(live, tenant.key);
  const accounts = accountsApi(live, tenant.key);
  const profiles = (await accounts.listPermissions(tenant.accountId)).permissionProfiles;
  const sender = profiles.find((p: any) => p.permissionProfileName === 'DS Sender').permissionProfileId;
  const viewer = profiles.find((p: any) => p.permissionProfileName === 'DS Viewer').permissionProfileId;

  const created = await groups.createGroups(tenant.accountId, {
    groupInformation: {
      groups: [
        { groupName: 'Senders', permissionProfileId: sender },
        { groupName: 'Plain' },
        { groupName: 'Wrong profile', permissionProfileId: '999999999' },
      ],
    },
  });
  const [senders, plainGroup, wrong] = created.groups;
  assert.equal(senders.permissionProfileId, sender);
  assert.equal(senders.groupType, 'customGroup');
  assert.equal(plainGroup.permissionProfileId, undefined);
  assert.equal(wrong.errorDetails.errorCode, 'INVALID_PERMISSION_PROFILE_ID');

  // Renaming names no profile: the profile stays.
  const renamed = await groups.updateGroups(tenant.accountId, {
    groupInformation: { groups: [{ groupId: senders.groupId, groupName: 'Sending team' }] },
  });
  assert.equal(renamed.groups[0].groupName, 'Sending team');
  assert.equal(renamed.groups[0].permissionProfileId, sender);
  const listed = (await groups.listGroups(tenant.accountId)).groups.find(
    (g: any) => g.groupId === senders.groupId,
  );
  assert.equal(listed.permissionProfileId, sender);
  const native = await api(
    live,
    tenant.key,
    'GET',
    `/api/accounts/${tenant.accountId}/groups/${senders.groupId}`,
  );
  assert.equal(String(native.body.permission_profile_id), sender);
  assert.equal(native.body.type, 'custom');

  // An update that names another profile changes it; /api can clear it.
  const moved = await groups.updateGroups(tenant.accountId, {
    groupInformation: { groups: [{ groupId: senders.groupId, permissionProfileId: viewer }] },
  });
  assert.equal(moved.groups[0].permissionProfileId, viewer);
  assert.equal(moved.groups[0].groupName, 'Sending team');

  // A profile of another account cannot be named.
  const other = await liveTenant(live);
  const theirs = (await accountsApi(live, other.key).listPermissions(other.accountId)).permissionProfiles[0];
  const foreign = await groups.updateGroups(tenant.accountId, {
    groupInformation: {
      groups: [{ groupId: senders.groupId, permissionProfileId: theirs.permissionProfileId }],
    },
  });
  assert.equal(foreign.groups[0].errorDetails.errorCode, 'INVALID_PERMISSION_PROFILE_ID');

  // Deleting the group's profile: with move_users_to the group follows the memberships; without, it has none.
  const temp = await accounts.createPermissionProfile(tenant.accountId, {
    permissionProfile: { permissionProfileName: 'Temp' },
  });
  await groups.updateGroups(tenant.accountId, {
    groupInformation: {
      groups: [{ groupId: senders.groupId, permissionProfileId: temp.permissionProfileId }],
    },
  });
  await accounts.deletePermissionProfile(tenant.accountId, temp.permissionProfileId, { moveUsersTo: sender });
  const afterMove = (await groups.listGroups(tenant.accountId)).groups.find(
    (g: any) => g.groupId === senders.groupId,
  );
  assert.equal(afterMove.permissionProfileId, sender);
  const temp2 = await accounts.createPermissionProfile(tenant.accountId, {
    permissionProfile: { permissionProfileName: 'Temp 2' },
  });
  await groups.updateGroups(tenant.accountId, {
    groupInformation: {
      groups: [{ groupId: senders.groupId, permissionProfileId: temp2.permissionProfileId }],
    },
  });
  await accounts.deletePermissionProfile(tenant.accountId, temp2.permissionProfileId);
  const afterDelete = (await groups.listGroups(tenant.accountId)).groups.find(
    (g: any) => g.groupId === senders.groupId,
  );
  assert.equal(afterDelete.permissionProfileId, undefined);
});

test('built-in groups: Administrators and Everyone in every account, both faces; refused changes', async (t) => {
  const live = await startApp(t);
  const tenant = await liveTenant(live);
  const groups = groupsApi(live, tenant.key);

  const list = await groups.listGroups(tenant.accountId);
  const admins = list.groups.find((g: any) => g.groupType === 'adminGroup');
  const everyone = list.groups.find((g: any) => g.groupType === 'everyoneGroup');
  assert.equal(admins.groupName, 'Administrators');
  assert.equal(everyone.groupName, 'Everyone');
  assert.equal(list.groups.filter((g: any) => g.groupType !== 'customGroup').length, 2);
  const dsAdmin = (
    await accountsApi(live, tenant.key).listPermissions(tenant.accountId)
  ).permissionProfiles.find((p: any) => p.permissionProfileName === 'DS Admin');
  assert.equal(admins.permissionProfileId, dsAdmin.permissionProfileId);
  const filtered = await groups.listGroups(tenant.accountId, { groupType: 'everyoneGroup' });
  assert.deepEqual(
    filtered.groups.map((g: any) => g.groupId),
    [everyone.groupId],
  );
  assert.equal(filtered.totalSetSize, '1');
  assert.equal((await sdkError(groups.listGroups(tenant.accountId, { groupType: 'nope' }))).statusCode, 400);

  // Everyone holds every user with a membership in the account: the owner, and a user created now.
  const users: Sdk = new esign.UsersApi(esignClient(live, tenant.key));
  const made = await users.create(tenant.accountId, {
    newUsersDefinition: { newUsers: [{ userName: 'Eve Ryone', email: `eve-${Date.now()}@example.test` }] },
  });
  const eveId = made.newUsers[0].userId;
  const members = await groups.listGroupUsers(tenant.accountId, everyone.groupId);
  assert.deepEqual(members.users.map((u: any) => u.userId).sort(), [tenant.ownerId, eveId].sort());
  const counted = (await groups.listGroups(tenant.accountId)).groups.find(
    (g: any) => g.groupId === everyone.groupId,
  );
  assert.equal(counted.usersCount, '2');
  // /api shows the same groups, with their type, and the user's membership lists Everyone.
  const native = await api(live, tenant.key, 'GET', `/api/accounts/${tenant.accountId}/groups`);
  const types = native.body.data.map((g: any) => g.type);
  assert.ok(types.includes('admin') && types.includes('everyone'));
  assert.equal(native.body.data.find((g: any) => g.type === 'everyone').member_count, 2);
  const eve = await api(live, tenant.key, 'GET', `/api/users/${eveId}`);
  assert.ok(eve.body.memberships[0].group_ids.map(String).includes(everyone.groupId));

  // Deleting either is refused, per item, with the group's code; both stay.
  const deleted = await groups.deleteGroups(tenant.accountId, {
    groupInformation: { groups: [{ groupId: admins.groupId }, { groupId: everyone.groupId }] },
  });
  for (const g of deleted.groups) assert.equal(g.errorDetails.errorCode, 'GROUP_CANNOT_BE_DELETED');
  const refusedNative = await api(
    live,
    tenant.key,
    'DELETE',
    `/api/accounts/${tenant.accountId}/groups/${everyone.groupId}`,
  );
  assert.equal(refusedNative.status, 409);
  assert.equal(refusedNative.body.error.code, 'builtin_group');
  // Renaming is refused; sending the name it has is no change.
  const renamed = await groups.updateGroups(tenant.accountId, {
    groupInformation: {
      groups: [
        { groupId: everyone.groupId, groupName: 'All staff' },
        { groupId: admins.groupId, groupName: 'Administrators' },
      ],
    },
  });
  assert.equal(renamed.groups[0].errorDetails.errorCode, 'INVALID_REQUEST_PARAMETER');
  assert.equal(renamed.groups[1].groupName, 'Administrators');
  // Nobody leaves Everyone by hand; adding to Administrators works like any group.
  const left = await sdkError(
    groups.deleteGroupUsers(tenant.accountId, everyone.groupId, {
      userInfoList: { users: [{ userId: eveId }] },
    }),
  );
  assert.equal(left.statusCode, 400);
  await groups.updateGroupUsers(tenant.accountId, admins.groupId, {
    userInfoList: { users: [{ userId: eveId }] },
  });
  assert.equal((await groups.listGroupUsers(tenant.accountId, admins.groupId)).users.length, 1);
  // Replacing a membership's groups (the Admin API's updateUser) keeps Everyone.
  const patched = await api(
    live,
    tenant.key,
    'POST',
    `/management/v2/organizations/${tenant.organizationId}/users/profiles`,
    {
      users: [{ id: eveId, memberships: [{ account_id: tenant.accountId, groups: [] }] }],
    },
  );
  assert.equal(patched.status, 200, JSON.stringify(patched.body));
  assert.equal(patched.body.success, true, JSON.stringify(patched.body));
  assert.deepEqual((await groups.listGroupUsers(tenant.accountId, everyone.groupId)).users.length, 2);
  assert.equal((await groups.listGroupUsers(tenant.accountId, admins.groupId)).users.length, 0);
  // A group of that name cannot be created besides them.
  const dup = await groups.createGroups(tenant.accountId, {
    groupInformation: { groups: [{ groupName: 'everyone' }] },
  });
  assert.equal(dup.groups[0].errorDetails.errorCode, 'GROUP_NAME_ALREADY_EXISTS');
});

test('errors answer with eSignature statuses: a missing object is 400 with its code, like every request error', async (t) => {
  const live = await startApp(t);
  const tenant = await liveTenant(live);
  const accounts = accountsApi(live, tenant.key);
  const users: Sdk = new esign.UsersApi(esignClient(live, tenant.key));
  const cases: [() => Promise<unknown>, string][] = [
    [() => users.getInformation(tenant.accountId, '00000000-0000-7000-8000-000000000001'), 'INVALID_USERID'],
    [() => accounts.getPermissionProfile(tenant.accountId, '999999999'), 'INVALID_PERMISSION_PROFILE_ID'],
    [() => groupsApi(live, tenant.key).listGroupUsers(tenant.accountId, '999999999'), 'INVALID_GROUP_ID'],
    [() => accounts.getBrand(tenant.accountId, '00000000-0000-7000-8000-000000000001'), 'INVALID_BRAND_ID'],
    [() => accounts.getAccountInformation('00000000-0000-7000-8000-000000000001'), 'ACCOUNT_NOT_FOUND'],
  ];
  for (const [call, code] of cases) {
    const err = await sdkError(call());
    assert.equal(err.statusCode, 400, code);
    assert.equal(err.body.errorCode, code);
  }
  // Authentication stays 401, a missing right 403, a path no route serves 404.
  assert.equal(
    (await sdkError(accountsApi(live, 'sk_test_nope').listPermissions(tenant.accountId))).statusCode,
    401,
  );
  const path = `/restapi/v2.1/accounts/${tenant.accountId}/no_such_thing`;
  const unknown = await api(live, tenant.key, 'GET', path);
  assert.equal(unknown.status, 404);
  assert.equal(unknown.body.errorCode, 'RESOURCE_NOT_FOUND');
});
