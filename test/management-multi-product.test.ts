// Admin API v2.1 multi-product user management through the official SDK (docusign-admin): DS groups, product
// permission profiles, addOrUpdateUser and DS profiles, each read back through /api (one core, many faces).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { v5 } from 'uuid';
import { ESIGN_PRODUCT_ID, ESIGN_PRODUCT_NAME, SIGNET_PLAN_ID } from '../src/faces/management/products.ts';
import {
  admin,
  adminClient,
  api,
  GUID,
  type LiveApp,
  liveTenant,
  nativeApi,
  sdkError,
  startApp,
} from './docusign-helper.ts';
import { unique } from './helper.ts';

async function profileIds(live: LiveApp, key: string, accountId: string): Promise<Record<string, number>> {
  const res = await nativeApi(live, key)('GET', `/accounts/${accountId}/permission_profiles`);
  assert.equal(res.status, 200);
  return Object.fromEntries(res.body.data.map((p: { name: string; id: number }) => [p.name, p.id]));
}

test('the product and plan ids are the UUIDv5 values products.ts says they were derived from', () => {
  assert.equal(v5('https://signet.invalid/docusign/products/esignature', v5.URL), ESIGN_PRODUCT_ID);
  assert.equal(v5('https://signet.invalid/docusign/plans/self-hosted', v5.URL), SIGNET_PLAN_ID);
});

test('DSGroupsApi: create, list with page/page_size, get, members add/list/remove, delete; one group in every face', async (t) => {
  const live = await startApp(t);
  const tenant = await liveTenant(live);
  const client = adminClient(live, tenant.key);
  const groups = new admin.DSGroupsApi(client);
  const { organizationId: org, accountId: acct } = tenant;

  const created = await groups.addDSGroup({ group_name: 'Legal', description: 'Contracts team' }, org, acct);
  assert.match(created.ds_group_id, GUID);
  assert.equal(created.group_name, 'Legal');
  assert.equal(created.description, 'Contracts team');
  assert.equal(created.account_id, acct);
  assert.equal(created.user_count, 0);
  assert.equal(created.is_admin, false);
  assert.equal(typeof created.external_account_id, 'number');
  assert.ok(created.last_modified_on instanceof Date || typeof created.last_modified_on === 'string');
  assert.match(created.group_id, /^\d+$/);
  await groups.addDSGroup({ group_name: 'Sales' }, org, acct);
  await groups.addDSGroup({ group_name: 'Ops' }, org, acct);

  // The same group through /api (integer id = group_id) and the v2 Admin API (AccountsApi.getGroups).
  const viaApi = await nativeApi(live, tenant.key)('GET', `/accounts/${acct}/groups`);
  assert.equal(viaApi.status, 200);
  const apiGroup = viaApi.body.data.find((g: { id: number }) => g.id === Number(created.group_id));
  assert.equal(apiGroup?.name, 'Legal');
  const v2 = await new admin.AccountsApi(client).getGroups(org, acct);
  assert.ok(
    v2.groups.some(
      (g: { id: number; name: string }) => g.id === Number(created.group_id) && g.name === 'Legal',
    ),
  );

  const page1 = await groups.getDSGroups(org, acct, { page: 1, pageSize: 2 });
  assert.equal(page1.page, 1);
  assert.equal(page1.page_size, 2);
  // The account's built-in groups come first (made with it); Administrators is the admin group.
  assert.equal(page1.total_count, 5);
  assert.equal(page1.account_id, acct);
  assert.deepEqual(
    page1.ds_groups.map((g: { group_name: string; is_admin: boolean }) => [g.group_name, g.is_admin]),
    [
      ['Administrators', true],
      ['Everyone', false],
    ],
  );
  const page2 = await groups.getDSGroups(org, acct, { page: 2, pageSize: 2 });
  assert.deepEqual(
    page2.ds_groups.map((g: { group_name: string }) => g.group_name),
    ['Legal', 'Sales'],
  );
  const page3 = await groups.getDSGroups(org, acct, { page: 3, pageSize: 2 });
  assert.deepEqual(
    page3.ds_groups.map((g: { group_name: string }) => g.group_name),
    ['Ops'],
  );
  const empty = await groups.getDSGroups(org, acct, { page: 9, pageSize: 2 });
  assert.deepEqual(empty.ds_groups, []);

  const one = await groups.getDSGroup(org, acct, created.ds_group_id.toUpperCase());
  assert.equal(one.ds_group_id, created.ds_group_id);

  // Two users with memberships in the account, made through /api.
  const call = nativeApi(live, tenant.key);
  const u1 = await call('POST', '/users', {
    email: `${unique('ana')}@example.test`,
    first_name: 'Ana',
    last_name: 'Lima',
  });
  const u2 = await call('POST', '/users', {
    email: `${unique('bo')}@example.test`,
    first_name: 'Bo',
    last_name: 'Berg',
  });
  assert.equal(u1.status, 201);
  assert.equal(u2.status, 201);

  const added = await groups.addDSGroupUsers(
    { user_ids: [u1.body.id, u2.body.id] },
    org,
    acct,
    created.ds_group_id,
  );
  assert.equal(added.group.user_count, 2);
  assert.equal(added.group_users.is_success, true);
  assert.equal(added.group_users.TotalCount, 2);
  assert.deepEqual(
    added.group_users.users.map((u: { user_id: string }) => u.user_id).sort(),
    [u1.body.id, u2.body.id].sort(),
  );
  const ana = added.group_users.users.find((u: { user_id: string }) => u.user_id === u1.body.id);
  assert.equal(ana.user_name, 'Ana Lima');
  assert.equal(ana.status, 'active');

  const members = await groups.getDSGroupUsers(org, acct, created.ds_group_id, { page: 1, pageSize: 1 });
  assert.equal(members.group.ds_group_id, created.ds_group_id);
  assert.equal(members.group_users.total_count, 2);
  assert.equal(members.group_users.users.length, 1);
  const viaApiMembers = await call('GET', `/accounts/${acct}/groups/${created.group_id}/members`);
  assert.equal(viaApiMembers.body.data.length, 2);

  // Someone without a membership in the account: the core refuses the whole request.
  const other = await liveTenant(live);
  const refused = await sdkError(
    groups.addDSGroupUsers({ user_ids: [other.ownerId] }, org, acct, created.ds_group_id),
  );
  assert.equal(refused.statusCode, 422);
  assert.equal(refused.body.error, 'user_not_in_account');

  const removed = await groups.removeDSGroupUsers(
    { user_ids: [u1.body.id, other.ownerId], user_emails: [u2.body.email, 'nobody@example.test'] },
    org,
    acct,
    created.ds_group_id,
  );
  assert.equal(removed.is_success, false);
  assert.equal(removed.failed_users.length, 2);
  assert.ok(removed.failed_users.some((f: { user_id?: string }) => f.user_id === other.ownerId));
  assert.ok(
    removed.failed_users.some((f: { error_details: { error_description: string } }) =>
      f.error_details.error_description.includes('nobody@example.test'),
    ),
  );
  const after = await groups.getDSGroup(org, acct, created.ds_group_id);
  assert.equal(after.user_count, 0);

  assert.equal(await groups.deleteDSGroup(org, acct, created.ds_group_id), null);
  const gone = await sdkError(groups.getDSGroup(org, acct, created.ds_group_id));
  assert.equal(gone.statusCode, 404);
  assert.equal(gone.body.error, 'not_found');
  const goneApi = await call('GET', `/accounts/${acct}/groups/${created.group_id}`);
  assert.equal(goneApi.status, 404);

  // A group made through /api is a DS group too.
  const madeByApi = await call('POST', `/accounts/${acct}/groups`, { name: 'From API' });
  const listed = await groups.getDSGroups(org, acct, { pageSize: 50 });
  const seen = listed.ds_groups.find((g: { group_id: string }) => g.group_id === String(madeByApi.body.id));
  assert.equal(seen?.group_name, 'From API');
  assert.match(seen.ds_group_id, GUID);
});

test('DSGroupsApi: bad input is a 4xx naming the problem', async (t) => {
  const live = await startApp(t);
  const tenant = await liveTenant(live);
  const groups = new admin.DSGroupsApi(adminClient(live, tenant.key));
  const { organizationId: org, accountId: acct } = tenant;
  const noName = await sdkError(groups.addDSGroup({ description: 'x' }, org, acct));
  assert.equal(noName.statusCode, 400);
  assert.match(noName.body.error_description, /group_name/);
  const badId = await sdkError(groups.getDSGroup(org, acct, 'not-a-guid'));
  assert.equal(badId.statusCode, 400);
  assert.match(badId.body.error_description, /dsGroupId/);
  const dup = await groups.addDSGroup({ group_name: 'Dup' }, org, acct);
  assert.match(dup.ds_group_id, GUID);
  const taken = await sdkError(groups.addDSGroup({ group_name: 'dup' }, org, acct));
  assert.equal(taken.statusCode, 409);
  assert.equal(taken.body.error, 'name_taken');
  const badPage = await sdkError(groups.getDSGroups(org, acct, { page: 0 }));
  assert.equal(badPage.statusCode, 400);
  const nobody = await sdkError(groups.removeDSGroupUsers({}, org, acct, dup.ds_group_id));
  assert.equal(nobody.statusCode, 400);
  const badUser = await sdkError(groups.addDSGroupUsers({ user_ids: ['x'] }, org, acct, dup.ds_group_id));
  assert.equal(badUser.statusCode, 400);
});

test('ProductPermissionProfilesApi and addOrUpdateUser: one eSignature profile per membership, read back through /api', async (t) => {
  const live = await startApp(t);
  const tenant = await liveTenant(live);
  const client = adminClient(live, tenant.key);
  const products = new admin.ProductPermissionProfilesApi(client);
  const users = new admin.UsersApi(client);
  const call = nativeApi(live, tenant.key);
  const { organizationId: org, accountId: acct } = tenant;
  const ids = await profileIds(live, tenant.key, acct);

  const listed = await products.getProductPermissionProfiles(org, acct);
  assert.equal(listed.product_permission_profiles.length, 1);
  const [esign] = listed.product_permission_profiles;
  assert.equal(esign.product_id, ESIGN_PRODUCT_ID);
  assert.equal(esign.product_name, ESIGN_PRODUCT_NAME);
  assert.deepEqual(
    esign.permission_profiles
      .map((p: { permission_profile_name: string }) => p.permission_profile_name)
      .sort(),
    ['DS Admin', 'DS Sender', 'DS Viewer'],
  );
  for (const p of esign.permission_profiles) {
    assert.equal(typeof p.permission_profile_id, 'string');
    assert.equal(Number(p.permission_profile_id), ids[p.permission_profile_name]);
  }

  const legal = await new admin.DSGroupsApi(client).addDSGroup({ group_name: 'Legal' }, org, acct);
  // Every membership is also in the account's built-in Everyone group.
  const everyone = (await new admin.DSGroupsApi(client).getDSGroups(org, acct)).ds_groups.find(
    (g: { group_name: string }) => g.group_name === 'Everyone',
  );
  const email = `${unique('mp')}@example.test`;
  const added = await users.addOrUpdateUser(
    {
      email,
      user_name: 'Maria Pereira',
      language_culture: 'pt_BR',
      auto_activate_memberships: true,
      product_permission_profiles: [
        { product_id: ESIGN_PRODUCT_ID, permission_profile_id: String(ids['DS Viewer']) },
      ],
      ds_groups: [{ ds_group_id: legal.ds_group_id }],
    },
    org,
    acct,
  );
  assert.match(added.id, GUID);
  assert.equal(added.email, email);
  assert.equal(added.first_name, 'Maria');
  assert.equal(added.last_name, 'Pereira');
  assert.equal(added.language_culture, 'pt_BR');
  assert.equal(added.accounts.length, 1);
  assert.equal(added.accounts[0].id, acct);
  assert.deepEqual(
    added.accounts[0].product_permission_profiles[0].permission_profiles.map((p: object) => ({ ...p })),
    [{ permission_profile_id: String(ids['DS Viewer']), permission_profile_name: 'DS Viewer' }],
  );
  assert.deepEqual(
    added.accounts[0].ds_groups.map((g: { ds_group_id: string }) => g.ds_group_id),
    [everyone.ds_group_id, legal.ds_group_id],
  );

  // /api sees the same user, membership, profile and group.
  const viaApi = await call('GET', `/users/${added.id}`);
  assert.equal(viaApi.status, 200);
  assert.equal(viaApi.body.email, email);
  const membership = viaApi.body.memberships.find((m: { account_id: string }) => m.account_id === acct);
  assert.equal(membership.status, 'active');
  assert.equal(membership.permission_profile_id, ids['DS Viewer']);
  assert.deepEqual(membership.group_ids, [Number(everyone.group_id), Number(legal.group_id)]);

  // The same email again updates: names, the profile, and groups are added.
  const sales = await new admin.DSGroupsApi(client).addDSGroup({ group_name: 'Sales' }, org, acct);
  const updated = await users.addOrUpdateUser(
    {
      email: email.toUpperCase(),
      first_name: 'Mária',
      last_name: 'Pereira',
      product_permission_profiles: [
        { product_id: ESIGN_PRODUCT_ID, permission_profile_id: String(ids['DS Sender']) },
      ],
      ds_groups: [{ ds_group_id: sales.ds_group_id }],
    },
    org,
    acct,
  );
  assert.equal(updated.id, added.id);
  assert.equal(updated.first_name, 'Mária');
  assert.equal(
    updated.accounts[0].product_permission_profiles[0].permission_profiles[0].permission_profile_name,
    'DS Sender',
  );
  assert.equal(updated.accounts[0].ds_groups.length, 3);

  // Read the product profile by id and by email.
  const byId = await products.getUserProductPermissionProfiles(org, acct, added.id);
  assert.equal(
    byId.product_permission_profiles[0].permission_profiles[0].permission_profile_id,
    String(ids['DS Sender']),
  );
  const byEmail = await products.getUserProductPermissionProfilesByEmail(org, acct, { email });
  assert.equal(byEmail.user_id, added.id);
  assert.equal(byEmail.account_id, acct);
  assert.equal(byEmail.product_permission_profiles[0].product_id, ESIGN_PRODUCT_ID);

  // Assign by email: the membership's profile changes (seen through /api).
  const assigned = await products.addUserProductPermissionProfilesByEmail(
    {
      email,
      product_permission_profiles: [
        { product_id: ESIGN_PRODUCT_ID, permission_profile_id: String(ids['DS Admin']) },
      ],
    },
    org,
    acct,
  );
  assert.equal(
    assigned.product_permission_profiles[0].permission_profiles[0].permission_profile_name,
    'DS Admin',
  );
  const afterAssign = await call('GET', `/users/${added.id}`);
  assert.equal(
    afterAssign.body.memberships.find((m: { account_id: string }) => m.account_id === acct)
      .permission_profile_id,
    ids['DS Admin'],
  );

  // Revoking eSignature closes the membership; reading shows no product; assigning reopens it.
  const revoked = await products.removeUserProductPermission(
    { user_email: email, product_ids: [ESIGN_PRODUCT_ID] },
    org,
    acct,
  );
  assert.equal(revoked.is_success, true);
  assert.equal(revoked.user_id, added.id);
  assert.deepEqual(revoked.user_product_results, { [ESIGN_PRODUCT_ID]: 'deleted' });
  const closed = await call('GET', `/users/${added.id}`);
  assert.equal(
    closed.body.memberships.find((m: { account_id: string }) => m.account_id === acct).status,
    'closed',
  );
  const none = await products.getUserProductPermissionProfiles(org, acct, added.id);
  assert.deepEqual(none.product_permission_profiles, []);
  const again = await products.removeUserProductPermission(
    { user_id: added.id, product_ids: [ESIGN_PRODUCT_ID] },
    org,
    acct,
  );
  assert.equal(again.is_success, false);
  assert.match(again.user_product_results[ESIGN_PRODUCT_ID], /no access/);

  const reopened = await products.addUserProductPermissionProfiles(
    {
      product_permission_profiles: [
        { product_id: ESIGN_PRODUCT_ID, permission_profile_id: String(ids['DS Viewer']) },
      ],
    },
    org,
    acct,
    added.id,
  );
  assert.equal(reopened.user_id, added.id);
  assert.equal(
    reopened.product_permission_profiles[0].permission_profiles[0].permission_profile_name,
    'DS Viewer',
  );
  const active = await call('GET', `/users/${added.id}`);
  const m2 = active.body.memberships.find((m: { account_id: string }) => m.account_id === acct);
  assert.equal(m2.status, 'active');
  assert.equal(m2.permission_profile_id, ids['DS Viewer']);
});

test('addOrUpdateUser gives a user made through /api a membership in a second account', async (t) => {
  const live = await startApp(t);
  const tenant = await liveTenant(live);
  const call = nativeApi(live, tenant.key);
  const second = await call('POST', '/accounts', { name: 'Second' });
  assert.equal(second.status, 201);
  const made = await call('POST', '/users', {
    email: `${unique('x')}@example.test`,
    first_name: 'Xia',
    last_name: 'Wu',
  });
  const users = new admin.UsersApi(adminClient(live, tenant.key));
  const res = await users.addOrUpdateUser(
    { email: made.body.email, product_permission_profiles: [] },
    tenant.organizationId,
    second.body.id,
  );
  assert.equal(res.id, made.body.id);
  assert.equal(res.first_name, 'Xia');
  assert.equal(res.accounts[0].id, second.body.id);
  // No profile named: the account's default (DS Sender).
  assert.equal(
    res.accounts[0].product_permission_profiles[0].permission_profiles[0].permission_profile_name,
    'DS Sender',
  );
  assert.deepEqual(
    res.accounts[0].ds_groups.map((g: { group_name: string }) => g.group_name),
    ['Everyone'],
  );
  const back = await call('GET', `/users/${made.body.id}`);
  assert.deepEqual(
    back.body.memberships.map((m: { account_id: string }) => m.account_id).sort(),
    [tenant.accountId, second.body.id].sort(),
  );
});

test('product profile and addOrUpdateUser bad input: unknown product 422, non-integer profile 400, unknown email 404', async (t) => {
  const live = await startApp(t);
  const tenant = await liveTenant(live);
  const client = adminClient(live, tenant.key);
  const products = new admin.ProductPermissionProfilesApi(client);
  const users = new admin.UsersApi(client);
  const { organizationId: org, accountId: acct, ownerId } = tenant;
  const clm = '00000000-0000-4000-8000-000000000001';

  const unknownProduct = await sdkError(
    products.addUserProductPermissionProfiles(
      { product_permission_profiles: [{ product_id: clm, permission_profile_id: '1' }] },
      org,
      acct,
      ownerId,
    ),
  );
  assert.equal(unknownProduct.statusCode, 422);
  assert.match(unknownProduct.body.error_description, /unknown product/);
  const notInt = await sdkError(
    products.addUserProductPermissionProfiles(
      { product_permission_profiles: [{ product_id: ESIGN_PRODUCT_ID, permission_profile_id: 'admin' }] },
      org,
      acct,
      ownerId,
    ),
  );
  assert.equal(notInt.statusCode, 400);
  const foreignProfile = await sdkError(
    products.addUserProductPermissionProfiles(
      { product_permission_profiles: [{ product_id: ESIGN_PRODUCT_ID, permission_profile_id: '999999999' }] },
      org,
      acct,
      ownerId,
    ),
  );
  assert.equal(foreignProfile.statusCode, 422);
  const removeUnknown = await sdkError(
    products.removeUserProductPermission({ user_id: ownerId, product_ids: [clm] }, org, acct),
  );
  assert.equal(removeUnknown.statusCode, 422);
  const noUser = await sdkError(
    products.removeUserProductPermission({ product_ids: [ESIGN_PRODUCT_ID] }, org, acct),
  );
  assert.equal(noUser.statusCode, 400);
  const noEmail = await sdkError(
    products.getUserProductPermissionProfilesByEmail(org, acct, { email: 'ghost@example.test' }),
  );
  assert.equal(noEmail.statusCode, 404);
  const missingEmail = await sdkError(products.getUserProductPermissionProfilesByEmail(org, acct, {}));
  assert.equal(missingEmail.statusCode, 400);
  const noProfiles = await sdkError(users.addOrUpdateUser({ email: 'a@example.test' }, org, acct));
  assert.equal(noProfiles.statusCode, 400);
  assert.match(noProfiles.body.error_description, /product_permission_profiles/);
  const badGroup = await sdkError(
    users.addOrUpdateUser(
      { email: 'a@example.test', product_permission_profiles: [], ds_groups: [{ ds_group_id: clm }] },
      org,
      acct,
    ),
  );
  assert.equal(badGroup.statusCode, 422);
  assert.match(badGroup.body.error_description, /ds_groups/);
});

test('UsersApi.getUserDSProfilesByEmail / getUserDSProfile: the user with every membership', async (t) => {
  const live = await startApp(t);
  const tenant = await liveTenant(live);
  const users = new admin.UsersApi(adminClient(live, tenant.key));
  const byEmail = await users.getUserDSProfilesByEmail(tenant.organizationId, { email: tenant.email });
  assert.equal(byEmail.users.length, 1);
  const [u] = byEmail.users;
  assert.equal(u.id, tenant.ownerId);
  assert.equal(u.is_organization_admin, true);
  assert.equal(u.memberships.length, 1);
  assert.equal(u.memberships[0].account_id, tenant.accountId);
  assert.equal(typeof u.memberships[0].permission_profile.id, 'number');
  assert.ok(Array.isArray(u.identities));
  const byId = await users.getUserDSProfile(tenant.organizationId, tenant.ownerId);
  assert.equal(byId.users[0].id, tenant.ownerId);
  const nobody = await users.getUserDSProfilesByEmail(tenant.organizationId, {
    email: 'nobody@example.test',
  });
  assert.deepEqual(nobody.users, []);
});

test('tenancy: another organization’s org, account, DS group and user ids answer 404 like missing ones', async (t) => {
  const live = await startApp(t);
  const me = await liveTenant(live);
  const them = await liveTenant(live);
  const theirGroup = await new admin.DSGroupsApi(adminClient(live, them.key)).addDSGroup(
    { group_name: 'Theirs' },
    them.organizationId,
    them.accountId,
  );
  const myGroup = await new admin.DSGroupsApi(adminClient(live, me.key)).addDSGroup(
    { group_name: 'Mine' },
    me.organizationId,
    me.accountId,
  );
  const client = adminClient(live, me.key);
  const groups = new admin.DSGroupsApi(client);
  const products = new admin.ProductPermissionProfilesApi(client);
  const users = new admin.UsersApi(client);
  const pp = (id: string) => ({
    product_permission_profiles: [{ product_id: ESIGN_PRODUCT_ID, permission_profile_id: id }],
  });
  const m = me.organizationId;
  const a = me.accountId;
  // Each route with: their org id; my org + their account; my org/account + their group or user.
  const cases: [string, () => Promise<unknown>][] = [
    ['getDSGroups/org', () => groups.getDSGroups(them.organizationId, a)],
    ['getDSGroups/account', () => groups.getDSGroups(m, them.accountId)],
    ['addDSGroup/org', () => groups.addDSGroup({ group_name: 'x' }, them.organizationId, a)],
    ['addDSGroup/account', () => groups.addDSGroup({ group_name: 'x' }, m, them.accountId)],
    ['getDSGroup/org', () => groups.getDSGroup(them.organizationId, a, myGroup.ds_group_id)],
    ['getDSGroup/account', () => groups.getDSGroup(m, them.accountId, theirGroup.ds_group_id)],
    ['getDSGroup/group', () => groups.getDSGroup(m, a, theirGroup.ds_group_id)],
    ['deleteDSGroup/group', () => groups.deleteDSGroup(m, a, theirGroup.ds_group_id)],
    ['deleteDSGroup/account', () => groups.deleteDSGroup(m, them.accountId, theirGroup.ds_group_id)],
    ['getDSGroupUsers/group', () => groups.getDSGroupUsers(m, a, theirGroup.ds_group_id)],
    [
      'addDSGroupUsers/group',
      () => groups.addDSGroupUsers({ user_ids: [me.ownerId] }, m, a, theirGroup.ds_group_id),
    ],
    [
      'removeDSGroupUsers/group',
      () => groups.removeDSGroupUsers({ user_ids: [me.ownerId] }, m, a, theirGroup.ds_group_id),
    ],
    ['getProductPermissionProfiles/org', () => products.getProductPermissionProfiles(them.organizationId, a)],
    ['getProductPermissionProfiles/account', () => products.getProductPermissionProfiles(m, them.accountId)],
    [
      'getUserProductPermissionProfiles/user',
      () => products.getUserProductPermissionProfiles(m, a, them.ownerId),
    ],
    [
      'getUserProductPermissionProfiles/account',
      () => products.getUserProductPermissionProfiles(m, them.accountId, me.ownerId),
    ],
    [
      'addUserProductPermissionProfiles/user',
      () => products.addUserProductPermissionProfiles(pp('1'), m, a, them.ownerId),
    ],
    [
      'addUserProductPermissionProfiles/account',
      () => products.addUserProductPermissionProfiles(pp('1'), m, them.accountId, me.ownerId),
    ],
    [
      'getUserProductPermissionProfilesByEmail/email',
      () => products.getUserProductPermissionProfilesByEmail(m, a, { email: them.email }),
    ],
    [
      'getUserProductPermissionProfilesByEmail/account',
      () => products.getUserProductPermissionProfilesByEmail(m, them.accountId, { email: me.email }),
    ],
    [
      'addUserProductPermissionProfilesByEmail/email',
      () => products.addUserProductPermissionProfilesByEmail({ email: them.email, ...pp('1') }, m, a),
    ],
    [
      'removeUserProductPermission/user',
      () =>
        products.removeUserProductPermission(
          { user_id: them.ownerId, product_ids: [ESIGN_PRODUCT_ID] },
          m,
          a,
        ),
    ],
    [
      'removeUserProductPermission/account',
      () =>
        products.removeUserProductPermission(
          { user_id: me.ownerId, product_ids: [ESIGN_PRODUCT_ID] },
          m,
          them.accountId,
        ),
    ],
    [
      'addOrUpdateUser/org',
      () =>
        users.addOrUpdateUser(
          { email: 'n@example.test', product_permission_profiles: [] },
          them.organizationId,
          a,
        ),
    ],
    [
      'addOrUpdateUser/account',
      () =>
        users.addOrUpdateUser(
          { email: 'n@example.test', product_permission_profiles: [] },
          m,
          them.accountId,
        ),
    ],
    ['getUserDSProfile/user', () => users.getUserDSProfile(m, them.ownerId)],
    ['getUserDSProfile/org', () => users.getUserDSProfile(them.organizationId, me.ownerId)],
    [
      'getUserDSProfilesByEmail/org',
      () => users.getUserDSProfilesByEmail(them.organizationId, { email: me.email }),
    ],
  ];
  for (const [name, call] of cases) {
    const err = await sdkError(call());
    assert.equal(err.statusCode, 404, `${name}: ${JSON.stringify(err.body)}`);
    assert.equal(err.body.error, 'not_found', name);
  }
  // The same address in my organization finds nobody: their user is not mine.
  const theirEmail = await users.getUserDSProfilesByEmail(m, { email: them.email });
  assert.deepEqual(theirEmail.users, []);
  // Nothing of theirs changed.
  const still = await new admin.DSGroupsApi(adminClient(live, them.key)).getDSGroup(
    them.organizationId,
    them.accountId,
    theirGroup.ds_group_id,
  );
  assert.equal(still.group_name, 'Theirs');
});

test('scopes: a key restricted to users:read gets 403 naming the scope on writes, and reads work', async (t) => {
  const live = await startApp(t);
  const tenant = await liveTenant(live);
  const key = await nativeApi(live, tenant.key)('POST', '/api_keys', {
    name: 'reader',
    scopes: ['users:read'],
  });
  assert.equal(key.status, 201);
  const client = adminClient(live, key.body.key);
  const { organizationId: org, accountId: acct } = tenant;
  const groups = new admin.DSGroupsApi(client);
  const products = new admin.ProductPermissionProfilesApi(client);
  const users = new admin.UsersApi(client);

  const listed = await groups.getDSGroups(org, acct);
  assert.equal(listed.ds_groups.length, 2); // the built-in Administrators and Everyone
  const read = await products.getUserProductPermissionProfiles(org, acct, tenant.ownerId);
  assert.equal(read.product_permission_profiles.length, 1);

  const denials: [string, () => Promise<unknown>][] = [
    ['addDSGroup', () => groups.addDSGroup({ group_name: 'x' }, org, acct)],
    [
      'addUserProductPermissionProfilesByEmail',
      () =>
        products.addUserProductPermissionProfilesByEmail(
          {
            email: tenant.email,
            product_permission_profiles: [{ product_id: ESIGN_PRODUCT_ID, permission_profile_id: '1' }],
          },
          org,
          acct,
        ),
    ],
    [
      'removeUserProductPermission',
      () =>
        products.removeUserProductPermission(
          { user_id: tenant.ownerId, product_ids: [ESIGN_PRODUCT_ID] },
          org,
          acct,
        ),
    ],
    [
      'addOrUpdateUser',
      () => users.addOrUpdateUser({ email: 'z@example.test', product_permission_profiles: [] }, org, acct),
    ],
  ];
  for (const [name, call] of denials) {
    const err = await sdkError(call());
    assert.equal(err.statusCode, 403, name);
    assert.equal(err.body.error, 'permission_denied', name);
    assert.match(err.body.error_description, /user_write/, name);
  }
});

test('Idempotency-Key: a replayed addOrUpdateUser (several core calls) answers the same DocuSign-shaped response', async (t) => {
  const live = await startApp(t);
  const tenant = await liveTenant(live);
  const ids = await profileIds(live, tenant.key, tenant.accountId);
  const email = `${unique('idem')}@example.test`;
  await nativeApi(live, tenant.key)('POST', '/users', { email, first_name: 'Ida', last_name: 'Em' });
  const body = {
    email,
    first_name: 'Idun',
    product_permission_profiles: [
      { product_id: ESIGN_PRODUCT_ID, permission_profile_id: String(ids['DS Admin']) },
    ],
  };
  const send = () =>
    api(
      live,
      tenant.key,
      'POST',
      `/management/v2.1/organizations/${tenant.organizationId}/accounts/${tenant.accountId}/users`,
      body,
      { 'idempotency-key': 'add-or-update-1' },
    );
  const first = await send();
  assert.equal(first.status, 200);
  assert.equal(first.body.first_name, 'Idun');
  assert.equal(first.body.accounts[0].product_permission_profiles.length, 1);
  const second = await send();
  assert.equal(second.status, 200);
  assert.deepEqual(second.body, first.body);
});
