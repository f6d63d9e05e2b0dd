// Admin API account creation (ProvisionAssetGroupApi) and the operations Signet answers 501, through the
// official SDK (docusign-admin).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ESIGN_PRODUCT_ID, SIGNET_PLAN_ID, SIGNET_PLAN_NAME } from '../src/faces/management/products.ts';
import {
  admin,
  adminClient,
  api,
  GUID,
  liveTenant,
  nativeApi,
  sdkError,
  startApp,
} from './docusign-helper.ts';
import { unique } from './helper.ts';
import { SVG } from './images.ts';

test('createAssetGroupAccount makes a real account with its admin; the process reads back as completed', async (t) => {
  const live = await startApp(t);
  const tenant = await liveTenant(live);
  const provision = new admin.ProvisionAssetGroupApi(adminClient(live, tenant.key));
  const call = nativeApi(live, tenant.key);
  const org = tenant.organizationId;
  const adminEmail = `${unique('boss')}@example.test`;

  const result = await provision.createAssetGroupAccount(
    {
      subscriptionDetails: { planId: SIGNET_PLAN_ID.toUpperCase(), modules: [ESIGN_PRODUCT_ID] },
      targetAccount: {
        name: 'EMEA Sales',
        countryCode: 'DE',
        region: 'EU',
        admin: { email: adminEmail, firstName: 'Greta', lastName: 'Stein', locale: 'de' },
      },
    },
    org,
  );
  assert.equal(result.Success, true);
  const work = result.AssetGroupWork;
  assert.match(work.AssetGroupWorkId, GUID);
  assert.equal(work.AssetGroupId, org);
  assert.equal(work.Status, 'completed');
  assert.equal(work.AssetGroupWorkType, 'AccountCreate');
  assert.match(work.TargetAccountId, GUID);
  assert.equal(work.CreateSubAccountDetails.Name, 'EMEA Sales');
  assert.equal(work.CreateSubAccountDetails.CountryCode, 'DE');
  assert.equal(work.CreateSubAccountDetails.AdminUser.EmailAddress, adminEmail);
  assert.deepEqual(work.CreateSubAccountDetails.SubscriptionDetails.Modules, [ESIGN_PRODUCT_ID]);
  const accountId = work.TargetAccountId;

  // The account is real: /api and the v2 Admin API see it, with its default profiles and its admin.
  const viaApi = await call('GET', `/accounts/${accountId}`);
  assert.equal(viaApi.status, 200);
  assert.equal(viaApi.body.name, 'EMEA Sales');
  const orgs = await new admin.AccountsApi(adminClient(live, tenant.key)).getOrganizations();
  assert.ok(orgs.organizations[0].accounts.some((a: { id: string }) => a.id === accountId));
  const people = await call('GET', `/users?email=${encodeURIComponent(adminEmail)}`);
  assert.equal(people.body.data.length, 1);
  const boss = people.body.data[0];
  assert.equal(boss.first_name, 'Greta');
  const profiles = await call('GET', `/accounts/${accountId}/permission_profiles`);
  const adminProfile = profiles.body.data.find((p: { name: string }) => p.name === 'DS Admin');
  const membership = boss.memberships.find((m: { account_id: string }) => m.account_id === accountId);
  assert.equal(membership.permission_profile_id, adminProfile.id);
  assert.equal(membership.status, 'active');

  const list = await provision.getSubAccountCreateProcessesByOrgId(org);
  assert.equal(list.assetGroupWorks.length, 1);
  const [listed] = list.assetGroupWorks;
  assert.equal(listed.assetGroupWorkId, work.AssetGroupWorkId);
  assert.equal(listed.assetGroupId, org);
  assert.equal(listed.status, 'completed');
  assert.equal(listed.attempts, 1);
  assert.equal(listed.targetAccount.id, accountId);
  assert.equal(listed.targetAccount.name, 'EMEA Sales');
  assert.equal(listed.targetAccount.countryCode, 'DE');
  assert.equal(listed.targetAccount.admin.email, adminEmail);
  assert.equal(listed.subscriptionDetails.planId, SIGNET_PLAN_ID);
  assert.equal(listed.subscriptionDetails.modules[0].moduleId, ESIGN_PRODUCT_ID);
  assert.equal(listed.createdByEmail, tenant.email);

  const one = await provision.getSubAccountCreateProcessByAssetGroupWorkId(org, org, work.AssetGroupWorkId);
  assert.equal(one.assetGroupWorkId, work.AssetGroupWorkId);
  assert.equal(one.status, 'completed');
  const future = await provision.getSubAccountCreateProcessesByOrgId(org, {
    sinceUpdatedDate: new Date(Date.now() + 3_600_000).toISOString(),
  });
  assert.deepEqual(future.assetGroupWorks, []);

  // An existing user as the admin gets a membership; no second user is made.
  const second = await provision.createAssetGroupAccount(
    { targetAccount: { name: 'APAC', admin: { email: tenant.email } } },
    org,
  );
  const ownerBack = await call('GET', `/users/${tenant.ownerId}`);
  assert.ok(
    ownerBack.body.memberships.some(
      (m: { account_id: string }) => m.account_id === second.AssetGroupWork.TargetAccountId,
    ),
  );
  const all = await provision.getSubAccountCreateProcessesByOrgId(org);
  assert.equal(all.assetGroupWorks.length, 2);

  // Without an admin the account is made all the same.
  const bare = await provision.createAssetGroupAccount({ targetAccount: { name: 'Bare' } }, org);
  assert.equal(bare.Success, true);
  assert.equal(bare.AssetGroupWork.CreateSubAccountDetails.AdminUser, undefined);
});

test('createAssetGroupAccount refuses bad input with a 4xx and creates nothing', async (t) => {
  const live = await startApp(t);
  const tenant = await liveTenant(live);
  const provision = new admin.ProvisionAssetGroupApi(adminClient(live, tenant.key));
  const org = tenant.organizationId;
  const noName = await sdkError(provision.createAssetGroupAccount({ targetAccount: {} }, org));
  assert.equal(noName.statusCode, 400);
  assert.match(noName.body.error_description, /name/);
  const noTarget = await sdkError(provision.createAssetGroupAccount({}, org));
  assert.equal(noTarget.statusCode, 400);
  const plan = await sdkError(
    provision.createAssetGroupAccount(
      {
        subscriptionDetails: { planId: '00000000-0000-4000-8000-000000000000' },
        targetAccount: { name: 'X' },
      },
      org,
    ),
  );
  assert.equal(plan.statusCode, 422);
  assert.match(plan.body.error_description, /unknown plan/);
  const module = await sdkError(
    provision.createAssetGroupAccount(
      { subscriptionDetails: { modules: ['clm'] }, targetAccount: { name: 'X' } },
      org,
    ),
  );
  assert.equal(module.statusCode, 422);
  const badEmail = await sdkError(
    provision.createAssetGroupAccount({ targetAccount: { name: 'X', admin: { email: 'nope' } } }, org),
  );
  assert.equal(badEmail.statusCode, 400);
  const badDate = await sdkError(
    provision.getSubAccountCreateProcessesByOrgId(org, { sinceUpdatedDate: 'soon' }),
  );
  assert.equal(badDate.statusCode, 400);
  const badWork = await sdkError(provision.getSubAccountCreateProcessByAssetGroupWorkId(org, org, 'nope'));
  assert.equal(badWork.statusCode, 400);
  const orgs = await new admin.AccountsApi(adminClient(live, tenant.key)).getOrganizations();
  assert.equal(orgs.organizations[0].accounts.length, 1);
  assert.deepEqual((await provision.getSubAccountCreateProcessesByOrgId(org)).assetGroupWorks, []);
});

test('getOrganizationPlanItems: the one self-hosted plan with its eSignature item; getAssetGroupAccounts lists the accounts', async (t) => {
  const live = await startApp(t);
  const tenant = await liveTenant(live);
  const provision = new admin.ProvisionAssetGroupApi(adminClient(live, tenant.key));
  const org = tenant.organizationId;
  await nativeApi(live, tenant.key)('POST', '/accounts', { name: 'Second' });
  const plans = await provision.getOrganizationPlanItems(org);
  assert.equal(plans.length, 1);
  const [plan] = plans;
  assert.equal(plan.plan_id, SIGNET_PLAN_ID);
  assert.equal(plan.plan_name, SIGNET_PLAN_NAME);
  assert.equal(plan.associated_accounts_count, 2);
  assert.equal(plan.asset_group_id, org);
  assert.equal(plan.modules.length, 1);
  assert.equal(plan.modules[0].plan_item_id, ESIGN_PRODUCT_ID);
  assert.equal(plan.modules[0].plan_item_name, 'ESign');
  assert.ok(plan.modules[0].plan_item_description.length > 0);

  const accounts = await provision.getAssetGroupAccounts(org);
  assert.equal(accounts.assetGroupAccounts.length, 2);
  for (const a of accounts.assetGroupAccounts) {
    assert.equal(a.assetGroupId, org);
    assert.equal(a.compliant, true);
    assert.match(a.accountId, GUID);
    assert.equal(typeof a.externalAccountId, 'number');
  }
  const nonCompliant = await provision.getAssetGroupAccounts(org, { compliant: false });
  assert.deepEqual(nonCompliant.assetGroupAccounts, []);
});

test('tenancy: another organization’s ids answer 404 on every account-creation route', async (t) => {
  const live = await startApp(t);
  const me = await liveTenant(live);
  const them = await liveTenant(live);
  const theirs = await new admin.ProvisionAssetGroupApi(adminClient(live, them.key)).createAssetGroupAccount(
    { targetAccount: { name: 'Theirs' } },
    them.organizationId,
  );
  const workId = theirs.AssetGroupWork.AssetGroupWorkId;
  const provision = new admin.ProvisionAssetGroupApi(adminClient(live, me.key));
  const m = me.organizationId;
  const o = them.organizationId;
  const cases: [string, () => Promise<unknown>][] = [
    [
      'createAssetGroupAccount/org',
      () => provision.createAssetGroupAccount({ targetAccount: { name: 'X' } }, o),
    ],
    ['getSubAccountCreateProcessesByOrgId/org', () => provision.getSubAccountCreateProcessesByOrgId(o)],
    [
      'getSubAccountCreateProcessByAssetGroupWorkId/org',
      () => provision.getSubAccountCreateProcessByAssetGroupWorkId(o, o, workId),
    ],
    [
      'getSubAccountCreateProcessByAssetGroupWorkId/assetGroup',
      () => provision.getSubAccountCreateProcessByAssetGroupWorkId(m, o, workId),
    ],
    [
      'getSubAccountCreateProcessByAssetGroupWorkId/work',
      () => provision.getSubAccountCreateProcessByAssetGroupWorkId(m, m, workId),
    ],
    ['getOrganizationPlanItems/org', () => provision.getOrganizationPlanItems(o)],
    ['getAssetGroupAccounts/org', () => provision.getAssetGroupAccounts(o)],
  ];
  for (const [name, call] of cases) {
    const err = await sdkError(call());
    assert.equal(err.statusCode, 404, `${name}: ${JSON.stringify(err.body)}`);
    assert.equal(err.body.error, 'not_found', name);
  }
  const mine = await provision.getSubAccountCreateProcessesByOrgId(m);
  assert.deepEqual(mine.assetGroupWorks, []);
  const theirOrgs = await new admin.AccountsApi(adminClient(live, them.key)).getOrganizations();
  assert.equal(theirOrgs.organizations[0].accounts.length, 2);
});

test('scopes: restricted keys get 403 naming the spec’s scope; an admin needs users:write too', async (t) => {
  const live = await startApp(t);
  const tenant = await liveTenant(live);
  const call = nativeApi(live, tenant.key);
  const org = tenant.organizationId;
  const reader = await call('POST', '/api_keys', { name: 'reader', scopes: ['users:read'] });
  const readerApi = new admin.ProvisionAssetGroupApi(adminClient(live, reader.body.key));
  const create = await sdkError(readerApi.createAssetGroupAccount({ targetAccount: { name: 'X' } }, org));
  assert.equal(create.statusCode, 403);
  assert.match(create.body.error_description, /organization_sub_account_write/);
  const plans = await sdkError(readerApi.getOrganizationPlanItems(org));
  assert.equal(plans.statusCode, 403);
  assert.match(plans.body.error_description, /organization_sub_account_read/);
  const accounts = await sdkError(readerApi.getAssetGroupAccounts(org));
  assert.equal(accounts.statusCode, 403);
  assert.match(accounts.body.error_description, /asset_group_account_read/);

  // account:write may create accounts, but making someone their admin is a users:write change.
  const writer = await call('POST', '/api_keys', { name: 'accounts', scopes: ['account:write'] });
  const writerApi = new admin.ProvisionAssetGroupApi(adminClient(live, writer.body.key));
  const made = await writerApi.createAssetGroupAccount({ targetAccount: { name: 'By writer' } }, org);
  assert.equal(made.Success, true);
  const withAdmin = await sdkError(
    writerApi.createAssetGroupAccount(
      { targetAccount: { name: 'Y', admin: { email: 'y@example.test' } } },
      org,
    ),
  );
  assert.equal(withAdmin.statusCode, 403);
  const orgs = await new admin.AccountsApi(adminClient(live, tenant.key)).getOrganizations();
  assert.equal(orgs.organizations[0].accounts.length, 2, 'the refused creation made no account');
});

test('cloneAssetGroupAccount copies settings, permission profiles, groups and brands (not people); clones read back', async (t) => {
  const live = await startApp(t);
  const tenant = await liveTenant(live);
  const call = nativeApi(live, tenant.key);
  const org = tenant.organizationId;
  const src = tenant.accountId;
  // The source's configuration, made through /api.
  assert.equal(
    (await call('PATCH', `/accounts/${src}/settings`, { session_timeout_minutes: 45 })).status,
    200,
  );
  const profile = await call('POST', `/accounts/${src}/permission_profiles`, {
    name: 'Reviewers',
    permissions: ['manage_groups'],
  });
  assert.equal(profile.status, 201);
  const group = await call('POST', `/accounts/${src}/groups`, {
    name: 'Legal',
    description: 'Contracts',
    permission_profile_id: profile.body.id,
  });
  await call('POST', `/accounts/${src}/groups/${group.body.id}/members`, { user_ids: [tenant.ownerId] });
  const brand = await call('POST', `/accounts/${src}/brands`, { name: 'House', is_sending_default: true });
  assert.equal(brand.status, 201);
  const logo = await fetch(`${live.base}/api/accounts/${src}/brands/${brand.body.id}/logos/email`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${tenant.key}`, 'content-type': 'image/svg+xml' },
    body: SVG,
  });
  assert.equal(logo.status, 200);

  const provision = new admin.ProvisionAssetGroupApi(adminClient(live, tenant.key));
  const cloneAdmin = `${unique('clone-admin')}@example.test`;
  const clone = await provision.cloneAssetGroupAccount(
    {
      sourceAccount: { id: src },
      targetAccount: {
        name: 'Main (copy)',
        countryCode: 'FR',
        admin: { email: cloneAdmin, firstName: 'Cléo' },
      },
    },
    org,
  );
  assert.match(clone.assetGroupWorkId, GUID);
  assert.equal(clone.assetGroupId, org);
  assert.equal(clone.assetGroupWorkType, 'AccountClone');
  assert.equal(clone.status, 'completed');
  assert.equal(clone.sourceAccount.id, src);
  assert.equal(clone.sourceAccount.name, 'Main');
  assert.equal(clone.targetAccount.name, 'Main (copy)');
  assert.equal(clone.targetAccount.countryCode, 'FR');
  assert.equal(clone.targetAccount.admin.email, cloneAdmin);
  const target = clone.targetAccount.id;
  assert.match(target, GUID);
  assert.notEqual(target, src);

  // Through /api: the copy has the configuration, and none of the people.
  const settings = await call('GET', `/accounts/${target}/settings`);
  assert.match(JSON.stringify(settings.body), /"session_timeout_minutes":45/);
  const profiles = await call('GET', `/accounts/${target}/permission_profiles`);
  const reviewers = profiles.body.data.find((p: { name: string }) => p.name === 'Reviewers');
  assert.deepEqual(reviewers.permissions, ['manage_groups']);
  assert.notEqual(reviewers.id, profile.body.id);
  // The copy's own built-in groups (Everyone holds its one member, the admin), then the copied group, whose
  // profile is the copy's Reviewers.
  const groups = await call('GET', `/accounts/${target}/groups`);
  assert.deepEqual(
    groups.body.data.map(
      (g: {
        name: string;
        type: string;
        description: string;
        member_count: number;
        permission_profile_id: number | null;
      }) => [g.name, g.type, g.description, g.member_count, g.permission_profile_id === reviewers.id],
    ),
    [
      ['Administrators', 'admin', "The account's administrators.", 0, false],
      ['Everyone', 'everyone', 'Every user of the account.', 1, false],
      ['Legal', 'custom', 'Contracts', 0, true],
    ],
  );
  const brands = await call('GET', `/accounts/${target}/brands`);
  assert.equal(brands.body.data.length, 1);
  assert.equal(brands.body.data[0].name, 'House');
  assert.equal(brands.body.data[0].is_sending_default, true);
  assert.equal(brands.body.data[0].logos.email.content_type, 'image/svg+xml');
  const members = await call('GET', `/users?account_id=${target}`);
  assert.deepEqual(
    members.body.data.map((u: { email: string }) => u.email),
    [cloneAdmin],
    'only the named admin is a member of the copy',
  );
  // The source is untouched.
  const srcGroups = await call('GET', `/accounts/${src}/groups`);
  assert.equal(srcGroups.body.data.find((g: { name: string }) => g.name === 'Legal').member_count, 1);

  const listed = await provision.getAssetGroupAccountClonesByOrgId(org);
  assert.deepEqual(
    listed.assetGroupWorks.map((w: { assetGroupWorkId: string }) => w.assetGroupWorkId),
    [clone.assetGroupWorkId],
  );
  const one = await provision.getAssetGroupAccountClone(org, org, clone.assetGroupWorkId);
  assert.equal(one.targetAccount.id, target);
  assert.equal(one.sourceAccount.id, src);
  // Clones and creations are separate lists.
  assert.deepEqual((await provision.getSubAccountCreateProcessesByOrgId(org)).assetGroupWorks, []);
  const notACreation = await sdkError(
    provision.getSubAccountCreateProcessByAssetGroupWorkId(org, org, clone.assetGroupWorkId),
  );
  assert.equal(notACreation.statusCode, 404);

  // Without a target name the copy is named after the source.
  const unnamed = await provision.cloneAssetGroupAccount({ sourceAccount: { id: src } }, org);
  assert.equal(unnamed.targetAccount.name, 'Copy of Main');
});

test('cloneAssetGroupAccount: tenancy, bad input and scopes', async (t) => {
  const live = await startApp(t);
  const me = await liveTenant(live);
  const them = await liveTenant(live);
  const provision = new admin.ProvisionAssetGroupApi(adminClient(live, me.key));
  const m = me.organizationId;
  const theirClone = await new admin.ProvisionAssetGroupApi(
    adminClient(live, them.key),
  ).cloneAssetGroupAccount({ sourceAccount: { id: them.accountId } }, them.organizationId);
  const cases: [string, () => Promise<unknown>][] = [
    [
      'clone/their source account',
      () => provision.cloneAssetGroupAccount({ sourceAccount: { id: them.accountId } }, m),
    ],
    [
      'clone/their org',
      () => provision.cloneAssetGroupAccount({ sourceAccount: { id: me.accountId } }, them.organizationId),
    ],
    ['clones/their org', () => provision.getAssetGroupAccountClonesByOrgId(them.organizationId)],
    ['clone get/their work', () => provision.getAssetGroupAccountClone(m, m, theirClone.assetGroupWorkId)],
    [
      'clone get/their asset group',
      () => provision.getAssetGroupAccountClone(m, them.organizationId, theirClone.assetGroupWorkId),
    ],
  ];
  for (const [name, c] of cases) {
    const err = await sdkError(c());
    assert.equal(err.statusCode, 404, `${name}: ${JSON.stringify(err.body)}`);
    assert.equal(err.body.error, 'not_found', name);
  }
  const noSource = await sdkError(provision.cloneAssetGroupAccount({ targetAccount: { name: 'x' } }, m));
  assert.equal(noSource.statusCode, 400);
  assert.match(noSource.body.error_description, /sourceAccount/);
  const badSource = await sdkError(provision.cloneAssetGroupAccount({ sourceAccount: { id: '42' } }, m));
  assert.equal(badSource.statusCode, 400);

  const reader = await nativeApi(live, me.key)('POST', '/api_keys', {
    name: 'reader',
    scopes: ['users:read'],
  });
  const readerApi = new admin.ProvisionAssetGroupApi(adminClient(live, reader.body.key));
  const denied = await sdkError(readerApi.cloneAssetGroupAccount({ sourceAccount: { id: me.accountId } }, m));
  assert.equal(denied.statusCode, 403);
  assert.match(denied.body.error_description, /asset_group_account_clone_write/);
  const deniedRead = await sdkError(readerApi.getAssetGroupAccountClonesByOrgId(m));
  assert.equal(deniedRead.statusCode, 403);
  assert.match(deniedRead.body.error_description, /asset_group_account_clone_read/);
  const orgs = await new admin.AccountsApi(adminClient(live, me.key)).getOrganizations();
  assert.equal(orgs.organizations[0].accounts.length, 1, 'nothing was cloned into my organization');
});

test('Idempotency-Key: a retried createAssetGroupAccount or cloneAssetGroupAccount replays the same DocuSign body, one account each', async (t) => {
  const live = await startApp(t);
  const tenant = await liveTenant(live);
  const org = tenant.organizationId;
  const send = (path: string, body: unknown, key: string) =>
    api(live, tenant.key, 'POST', `/management/v2/organizations/${org}/assetGroups/${path}`, body, {
      'idempotency-key': key,
    });
  const create = { targetAccount: { name: 'Once', admin: { email: tenant.email } } };
  const createKey = unique('idem');
  const created = await send('accountCreate', create, createKey);
  assert.equal(created.status, 200);
  assert.equal(created.body.AssetGroupWork.AssetGroupWorkType, 'AccountCreate', 'the DocuSign shape');
  assert.deepEqual(await send('accountCreate', create, createKey), created);

  const clone = { sourceAccount: { id: tenant.accountId }, targetAccount: { name: 'Once again' } };
  const cloneKey = unique('idem');
  const cloned = await send('accountClone', clone, cloneKey);
  assert.equal(cloned.status, 200);
  assert.equal(cloned.body.assetGroupWorkType, 'AccountClone', 'the DocuSign shape');
  assert.deepEqual(await send('accountClone', clone, cloneKey), cloned);

  const accounts = (await nativeApi(live, tenant.key)('GET', '/accounts?limit=100')).body.data;
  assert.deepEqual(accounts.map((a: { name: string }) => a.name).sort(), ['Main', 'Once', 'Once again']);
});
