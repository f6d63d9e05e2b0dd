// The Admin API's users operations (UsersApi) driven through the official docusign-admin SDK against the
// real server, with the same users read back through /api (one core, many faces).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  admin,
  adminClient,
  api,
  email,
  type LiveApp,
  liveTenant,
  restrictedKey,
  sdkError,
  startApp,
} from './docusign-helper.ts';
import { unique } from './helper.ts';
import { confirmEmail, mailsTo } from './people-helper.ts';

type Tenant = Awaited<ReturnType<typeof liveTenant>>;

async function profiles(live: LiveApp, tenant: Tenant, accountId = tenant.accountId) {
  const res = await api(live, tenant.key, 'GET', `/api/accounts/${accountId}/permission_profiles`);
  assert.equal(res.status, 200);
  return new Map<string, number>(res.body.data.map((p: any) => [p.name, Number(p.id)]));
}

async function group(live: LiveApp, tenant: Tenant, name: string, accountId = tenant.accountId) {
  const res = await api(live, tenant.key, 'POST', `/api/accounts/${accountId}/groups`, { name });
  assert.equal(res.status, 201);
  return Number(res.body.id);
}

async function account(live: LiveApp, tenant: Tenant, name: string): Promise<string> {
  const res = await api(live, tenant.key, 'POST', '/api/accounts', { name });
  assert.equal(res.status, 201);
  return res.body.id;
}

test('createUser makes a user that /api reads back the same, and /api users read back through the SDK', async (t) => {
  const live = await startApp(t);
  const tenant = await liveTenant(live);
  const users = new admin.UsersApi(adminClient(live, tenant.key));
  const sender = (await profiles(live, tenant)).get('DS Sender')!;
  const sales = await group(live, tenant, 'Sales');
  const address = email();

  const created = await users.createUser(
    {
      email: address,
      user_name: 'Ada Lovelace',
      auto_activate_memberships: true,
      accounts: [
        {
          id: tenant.accountId,
          permission_profile: { id: sender },
          groups: [{ id: sales }],
          job_title: 'CFO',
        },
      ],
    },
    tenant.organizationId,
  );
  assert.match(created.id, /^[0-9a-f-]{36}$/);
  assert.equal(created.email, address);
  assert.equal(created.first_name, 'Ada');
  assert.equal(created.last_name, 'Lovelace');
  assert.equal(created.user_name, 'Ada Lovelace');
  assert.equal(created.accounts.length, 1);
  assert.equal(created.accounts[0].id, tenant.accountId);
  assert.deepEqual({ ...created.accounts[0].permission_profile }, { id: sender, name: 'DS Sender' });
  assert.equal(typeof created.accounts[0].permission_profile.id, 'number');
  // The group named, after the built-in Everyone every membership is in.
  assert.deepEqual(created.accounts[0].groups.map((g: any) => ({ ...g })).slice(1), [
    { id: sales, name: 'Sales', type: 'custom_group' },
  ]);
  assert.deepEqual(
    { ...created.accounts[0].groups[0], id: 0 },
    { id: 0, name: 'Everyone', type: 'everyone_group' },
  );
  assert.equal(created.accounts[0].job_title, 'CFO');

  // The same user through /api.
  const native = await api(live, tenant.key, 'GET', `/api/users/${created.id}`);
  assert.equal(native.status, 200);
  assert.equal(native.body.email, address);
  assert.equal(native.body.first_name, 'Ada');
  assert.equal(native.body.job_title, 'CFO');
  assert.equal(native.body.memberships[0].account_id, tenant.accountId);
  assert.equal(native.body.memberships[0].status, 'active');
  assert.equal(Number(native.body.memberships[0].permission_profile_id), sender);
  // After the built-in Everyone every membership is in.
  assert.deepEqual(native.body.memberships[0].group_ids.map(Number).slice(1), [sales]);
  assert.equal(native.body.memberships[0].group_ids.length, 2);

  // The reverse: a user made through /api, read through the SDK by email and in the account's list.
  const other = email();
  const made = await api(live, tenant.key, 'POST', '/api/users', {
    email: other,
    first_name: 'Grace',
    last_name: 'Hopper',
    permission_profile_id: sender,
    membership_status: 'pending',
  });
  assert.equal(made.status, 201);
  const drill = await users.getUserProfiles(tenant.organizationId, { email: other.toUpperCase() });
  assert.equal(drill.users.length, 1);
  const [profile] = drill.users;
  assert.equal(profile.id, made.body.id);
  assert.equal(profile.user_name, 'Grace Hopper');
  assert.equal(profile.user_status, 'active');
  assert.equal(profile.default_account_id, tenant.accountId);
  assert.equal(profile.default_account_name, 'Main');
  assert.ok(profile.created_on instanceof Date && !Number.isNaN(profile.created_on.getTime()));
  assert.deepEqual(profile.identities, []);
  assert.equal(profile.memberships.length, 1);
  const [membership] = profile.memberships;
  assert.equal(membership.id, made.body.memberships[0].id);
  assert.equal(membership.account_id, tenant.accountId);
  assert.equal(membership.status, 'activation_required');
  assert.equal(membership.permission_profile.id, sender);
  assert.equal(membership.permission_profile.name, 'DS Sender');
  // Only the built-in Everyone group every membership is in.
  assert.deepEqual(
    membership.groups.map((g: any) => g.type),
    ['everyone_group'],
  );
  assert.match(membership.external_account_id, /^\d+$/);
  // No null string anywhere (the SDK turns null into "null").
  assert.ok(!JSON.stringify(drill).includes('"null"'));

  const listed = await users.getUsers(tenant.organizationId, { email: other });
  assert.equal(listed.users.length, 1);
  assert.equal(listed.users[0].id, made.body.id);
  assert.equal(listed.users[0].membership_status, 'activation_required');
  assert.equal(listed.users[0].membership_id, made.body.memberships[0].id);

  const nobody = await users.getUserProfiles(tenant.organizationId, { email: 'nobody@example.test' });
  assert.deepEqual(nobody.users, []);
});

test('createUser: several accounts in one request; without auto-activation memberships await activation', async (t) => {
  const live = await startApp(t);
  const tenant = await liveTenant(live);
  const users = new admin.UsersApi(adminClient(live, tenant.key));
  const second = await account(live, tenant, 'Second');
  const viewer = (await profiles(live, tenant, second)).get('DS Viewer')!;
  const created = await users.createUser(
    {
      email: email(),
      first_name: 'Two',
      last_name: 'Accounts',
      default_account_id: second,
      accounts: [{ id: tenant.accountId }, { id: second, permission_profile: { id: viewer } }],
    },
    tenant.organizationId,
  );
  assert.deepEqual(created.accounts.map((a: any) => a.id).sort(), [tenant.accountId, second].sort());
  const native = await api(live, tenant.key, 'GET', `/api/users/${created.id}`);
  assert.deepEqual(
    native.body.memberships.map((m: any) => m.status),
    ['pending', 'pending'],
  );
  const inSecond = native.body.memberships.find((m: any) => m.account_id === second);
  assert.equal(Number(inSecond.permission_profile_id), viewer);
  // The default account is the first membership.
  const drill = await users.getUserProfiles(tenant.organizationId, { email: created.email });
  assert.equal(drill.users[0].default_account_id, second);
});

test('createUser refuses bad input with 4xx naming the field, never a 500', async (t) => {
  const live = await startApp(t);
  const tenant = await liveTenant(live);
  const other = await liveTenant(live);
  const users = new admin.UsersApi(adminClient(live, tenant.key));
  const org = tenant.organizationId;
  const taken = email();
  await users.createUser({ email: taken, accounts: [{ id: tenant.accountId }] }, org);

  const duplicate = await sdkError(
    users.createUser({ email: taken.toUpperCase(), accounts: [{ id: tenant.accountId }] }, org),
  );
  assert.equal(duplicate.statusCode, 409);
  assert.equal(duplicate.body.error, 'email_taken');

  const profile = await sdkError(
    users.createUser(
      { email: email(), accounts: [{ id: tenant.accountId, permission_profile: { id: 999999999 } }] },
      org,
    ),
  );
  assert.equal(profile.statusCode, 422);
  assert.match(
    profile.body.error_description,
    /^accounts\.permission_profile\.id: no permission profile 999999999/,
  );

  const foreignGroup = await group(live, other, 'Theirs');
  const groupErr = await sdkError(
    users.createUser(
      { email: email(), accounts: [{ id: tenant.accountId, groups: [{ id: foreignGroup }] }] },
      org,
    ),
  );
  assert.equal(groupErr.statusCode, 422);
  assert.match(groupErr.body.error_description, /^accounts\.groups\.id: no group/);

  const foreignAccount = await sdkError(
    users.createUser({ email: email(), accounts: [{ id: other.accountId }] }, org),
  );
  assert.equal(foreignAccount.statusCode, 422);
  assert.match(foreignAccount.body.error_description, /^accounts\.id: no account/);

  const noAccounts = await sdkError(users.createUser({ email: email(), accounts: [] }, org));
  assert.equal(noAccounts.statusCode, 400);
  assert.match(noAccounts.body.error_description, /accounts/);

  const badEmail = await sdkError(
    users.createUser({ email: 'not-an-email', accounts: [{ id: tenant.accountId }] }, org),
  );
  assert.equal(badEmail.statusCode, 400);
  assert.match(badEmail.body.error_description, /email/);

  const badId = await sdkError(users.createUser({ email: email(), accounts: [{ id: 'nope' }] }, org));
  assert.equal(badId.statusCode, 400);
  assert.match(badId.body.error_description, /accounts/);
  // Nothing half-made: the failed requests left no users behind.
  const listed = await users.getUsers(org, { accountId: tenant.accountId });
  assert.equal(listed.paging.total_set_size, 2); // the owner and `taken`
});

test('getUsers pages 46 users with take 20: each user once, consistent paging, next/previous URLs', async (t) => {
  const live = await startApp(t);
  const tenant = await liveTenant(live);
  const users = new admin.UsersApi(adminClient(live, tenant.key));
  const org = tenant.organizationId;
  const made = new Set<string>([tenant.ownerId]);
  for (let i = 0; i < 45; i++) {
    const u = await users.createUser(
      { email: email(), auto_activate_memberships: true, accounts: [{ id: tenant.accountId }] },
      org,
    );
    made.add(u.id);
  }
  const seen: string[] = [];
  let start = 0;
  const pages: any[] = [];
  for (;;) {
    const page = await users.getUsers(org, { accountId: tenant.accountId, start, take: 20 });
    pages.push(page.paging);
    assert.ok(Array.isArray(page.users));
    seen.push(...page.users.map((u: any) => u.id));
    const p = page.paging;
    assert.equal(p.total_set_size, 46);
    assert.equal(p.result_set_start_position, start);
    assert.equal(p.result_set_size, page.users.length);
    assert.equal(p.result_set_end_position, start + page.users.length - 1);
    if (start === 0) assert.equal(p.previous, undefined);
    else {
      const prev = new URL(p.previous);
      assert.equal(prev.searchParams.get('start'), String(Math.max(0, start - 20)));
    }
    if (!p.next) break;
    const next = new URL(p.next);
    assert.equal(next.origin, live.base);
    assert.equal(next.pathname, `/management/v2/organizations/${org}/users`);
    assert.equal(next.searchParams.get('account_id'), tenant.accountId);
    assert.equal(next.searchParams.get('take'), '20');
    start = Number(next.searchParams.get('start'));
  }
  assert.deepEqual(
    pages.map((p) => p.result_set_size),
    [20, 20, 6],
  );
  assert.equal(seen.length, 46);
  assert.deepEqual(new Set(seen), made);

  // The next URL works as-is with the same token (a script that follows it).
  const first = await users.getUsers(org, { accountId: tenant.accountId });
  assert.equal(first.users.length, 20, 'default take is 20');
  const followed = await fetch(first.paging.next, { headers: { authorization: `Bearer ${tenant.key}` } });
  assert.equal(followed.status, 200);
  const body = (await followed.json()) as any;
  assert.equal(body.paging.result_set_start_position, 20);
  assert.deepEqual(
    body.users.map((u: any) => u.id),
    seen.slice(20, 40),
  );

  // `end` without `take`: positions start..end.
  const ranged = await users.getUsers(org, { accountId: tenant.accountId, start: 40, end: 44 });
  assert.deepEqual(
    ranged.users.map((u: any) => u.id),
    seen.slice(40, 45),
  );
  // Past the end: an empty page, an empty array (never null).
  const past = await users.getUsers(org, { accountId: tenant.accountId, start: 100 });
  assert.deepEqual(past.users, []);
  assert.equal(past.paging.total_set_size, 46);
});

test('getUsers filters, and refuses a query without email, account_id or reserved domain', async (t) => {
  const live = await startApp(t);
  const tenant = await liveTenant(live);
  const users = new admin.UsersApi(adminClient(live, tenant.key));
  const org = tenant.organizationId;
  const missing = await sdkError(users.getUsers(org, { take: 5 }));
  assert.equal(missing.statusCode, 400);
  assert.match(missing.body.error_description, /email, account_id or organization_reserved_domain_id/);
  const badStatus = await sdkError(users.getUsers(org, { accountId: tenant.accountId, status: 'weird' }));
  assert.equal(badStatus.statusCode, 400);
  const badTake = await sdkError(users.getUsers(org, { accountId: tenant.accountId, take: 0 }));
  assert.equal(badTake.statusCode, 400);
  const badDate = await sdkError(
    users.getUsers(org, { accountId: tenant.accountId, lastModifiedSince: 'yesterday' }),
  );
  assert.equal(badDate.statusCode, 400);
  assert.match(badDate.body.error_description, /last_modified_since/);

  const a = await users.createUser(
    {
      email: `zed-${email()}`,
      first_name: 'Zed',
      auto_activate_memberships: true,
      accounts: [{ id: tenant.accountId }],
    },
    org,
  );
  const before = new Date();
  const b = await users.createUser(
    {
      email: email(),
      first_name: 'Bea',
      auto_activate_memberships: true,
      accounts: [{ id: tenant.accountId }],
    },
    org,
  );
  // A deactivated user is a closed one, with closed memberships.
  assert.equal((await api(live, tenant.key, 'POST', `/api/users/${a.id}/deactivate`)).status, 200);
  const closed = await users.getUsers(org, { accountId: tenant.accountId, status: 'closed' });
  assert.deepEqual(
    closed.users.map((u: any) => u.id),
    [a.id],
  );
  assert.equal(closed.users[0].user_status, 'closed');
  assert.equal(closed.users[0].membership_status, 'closed');
  assert.ok(closed.users[0].membership_closed_on instanceof Date);
  const activeMembers = await users.getUsers(org, {
    accountId: tenant.accountId,
    membershipStatus: 'active',
  });
  assert.ok(activeMembers.users.every((u: any) => u.membership_status === 'active'));
  assert.ok(activeMembers.users.some((u: any) => u.id === b.id));
  const like = await users.getUsers(org, { accountId: tenant.accountId, emailUserNameLike: 'zed-' });
  assert.deepEqual(
    like.users.map((u: any) => u.id),
    [a.id],
  );
  // Statuses Signet never has match nobody.
  const created = await users.getUsers(org, { accountId: tenant.accountId, status: 'created' });
  assert.deepEqual(created.users, []);
  assert.equal(created.paging.total_set_size, 0);
  // last_modified_since: b was made after `before`; a was changed (deactivated) after it too.
  const recent = await users.getUsers(org, {
    accountId: tenant.accountId,
    lastModifiedSince: before.toISOString(),
  });
  assert.deepEqual(new Set(recent.users.map((u: any) => u.id)), new Set([a.id, b.id]));
});

test('addUsers: an existing user gets a membership in another account; a new email makes a user', async (t) => {
  const live = await startApp(t);
  const tenant = await liveTenant(live);
  const users = new admin.UsersApi(adminClient(live, tenant.key));
  const org = tenant.organizationId;
  const second = await account(live, tenant, 'Second');
  const admins = (await profiles(live, tenant, second)).get('DS Admin')!;
  const team = await group(live, tenant, 'Team', second);
  const existing = await users.createUser(
    { email: email(), auto_activate_memberships: true, accounts: [{ id: tenant.accountId }] },
    org,
  );

  const added = await users.addUsers(
    {
      email: existing.email.toUpperCase(),
      permission_profile: { id: admins },
      groups: [{ id: team }],
      auto_activate_memberships: true,
    },
    org,
    second,
  );
  assert.equal(added.id, existing.id);
  assert.equal(added.accounts.length, 1);
  assert.equal(added.accounts[0].id, second);
  assert.equal(added.accounts[0].permission_profile.id, admins);
  assert.equal(added.accounts[0].groups[1].id, team); // after the built-in Everyone
  const native = await api(live, tenant.key, 'GET', `/api/users/${existing.id}`);
  assert.deepEqual(
    native.body.memberships.map((m: any) => m.account_id).sort(),
    [tenant.accountId, second].sort(),
  );

  const fresh = email();
  const made = await users.addUsers({ email: fresh, first_name: 'New', last_name: 'Person' }, org, second);
  assert.notEqual(made.id, existing.id);
  assert.equal(made.email, fresh);
  assert.equal(made.accounts[0].id, second);
  assert.equal((await api(live, tenant.key, 'GET', `/api/users/${made.id}`)).body.first_name, 'New');

  const again = await sdkError(users.addUsers({ email: fresh }, org, second));
  assert.equal(again.statusCode, 409);
  assert.equal(again.body.error, 'already_member');
  const badProfile = await sdkError(
    users.addUsers({ email: email(), permission_profile: { id: 424242 } }, org, second),
  );
  assert.equal(badProfile.statusCode, 422);
  assert.match(badProfile.body.error_description, /^permission_profile\.id:/);
});

test('updateUser changes names, job details, profile and groups per membership; failures are per user', async (t) => {
  const live = await startApp(t);
  const tenant = await liveTenant(live);
  const other = await liveTenant(live);
  const users = new admin.UsersApi(adminClient(live, tenant.key));
  const org = tenant.organizationId;
  const names = await profiles(live, tenant);
  const g1 = await group(live, tenant, 'One');
  const g2 = await group(live, tenant, 'Two');
  const u = await users.createUser(
    {
      email: email(),
      first_name: 'Old',
      last_name: 'Name',
      auto_activate_memberships: true,
      accounts: [
        { id: tenant.accountId, permission_profile: { id: names.get('DS Sender') }, groups: [{ id: g1 }] },
      ],
    },
    org,
  );
  const result = await users.updateUser(
    {
      users: [
        {
          id: u.id,
          site_id: 1,
          first_name: 'New',
          language_culture: 'fr',
          memberships: [
            {
              account_id: tenant.accountId,
              permission_profile: { id: names.get('DS Viewer') },
              groups: [{ id: g2 }],
              company_name: 'Acme',
              job_title: 'Engineer',
            },
          ],
        },
        { id: other.ownerId, site_id: 1, first_name: 'Nope' },
        {
          id: u.id,
          site_id: 1,
          memberships: [{ account_id: tenant.accountId, permission_profile: { id: 31337 } }],
        },
      ],
    },
    org,
  );
  assert.equal(result.success, false);
  assert.equal(result.users.length, 3);
  assert.equal(result.users[0].id, u.id);
  assert.equal(result.users[0].error_details, undefined);
  assert.equal(result.users[1].id, other.ownerId);
  assert.equal(result.users[1].error_details.error, 'not_found');
  assert.equal(result.users[2].error_details.error, 'invalid_reference');
  assert.match(result.users[2].error_details.error_description, /^memberships\.permission_profile\.id:/);

  const drill = (await users.getUserProfiles(org, { email: u.email })).users[0];
  assert.equal(drill.first_name, 'New');
  assert.equal(drill.last_name, 'Name');
  assert.equal(drill.language_culture, 'fr');
  assert.equal(drill.memberships[0].permission_profile.name, 'DS Viewer');
  assert.deepEqual(
    drill.memberships[0].groups.filter((g: any) => g.type !== 'everyone_group').map((g: any) => g.id),
    [g2],
  );
  const native = (await api(live, tenant.key, 'GET', `/api/users/${u.id}`)).body;
  assert.equal(native.company, 'Acme');
  assert.equal(native.job_title, 'Engineer');
  // The other tenant's owner is untouched.
  assert.notEqual((await api(live, other.key, 'GET', `/api/users/${other.ownerId}`)).body.first_name, 'Nope');

  const ok = await users.updateUser({ users: [{ id: u.id, site_id: 1, user_name: 'Full Name' }] }, org);
  assert.equal(ok.success, true);
  assert.equal((await api(live, tenant.key, 'GET', `/api/users/${u.id}`)).body.last_name, 'Name');
});

test('updateEmailAddress: the new address confirms, then it is the address everywhere; a taken address fails that user only', async (t) => {
  const live = await startApp(t);
  const tenant = await liveTenant(live);
  const users = new admin.UsersApi(adminClient(live, tenant.key));
  const org = tenant.organizationId;
  const a = await users.createUser({ email: email(), accounts: [{ id: tenant.accountId }] }, org);
  const b = await users.createUser({ email: email(), accounts: [{ id: tenant.accountId }] }, org);
  const renamed = email();
  const result = await users.updateEmailAddress(
    {
      users: [
        { id: a.id, site_id: 1, email: renamed },
        { id: b.id, site_id: 1, email: tenant.email },
      ],
    },
    org,
  );
  assert.equal(result.success, false);
  // Accepted, as DocuSign answers it; the address is a's once the link mailed to it is followed.
  assert.equal(result.users[0].email, renamed);
  assert.equal(result.users[0].error_details, undefined);
  assert.equal(result.users[1].error_details.error, 'email_taken');
  const pending = (await api(live, tenant.key, 'GET', `/api/users/${a.id}`)).body;
  assert.deepEqual([pending.email, pending.pending_email], [a.email, renamed]);
  assert.deepEqual((await users.getUsers(org, { email: renamed })).users, []);
  const [link] = await mailsTo(renamed);
  assert.equal((await confirmEmail(live.app, link!.token)).statusCode, 200);
  assert.equal((await api(live, tenant.key, 'GET', `/api/users/${a.id}`)).body.email, renamed);
  assert.equal((await users.getUsers(org, { email: renamed })).users[0].id, a.id);
  assert.equal((await api(live, tenant.key, 'GET', `/api/users/${b.id}`)).body.email, b.email);
  const bad = await sdkError(
    users.updateEmailAddress({ users: [{ id: a.id, site_id: 1, email: 'x' }] }, org),
  );
  assert.equal(bad.statusCode, 400);
});

test('closeMemberships closes every account named or none; activateMembership reopens; deleteIdentities has none to delete', async (t) => {
  const live = await startApp(t);
  const tenant = await liveTenant(live);
  const users = new admin.UsersApi(adminClient(live, tenant.key));
  const org = tenant.organizationId;
  const second = await account(live, tenant, 'Second');
  const u = await users.createUser(
    { email: email(), auto_activate_memberships: true, accounts: [{ id: tenant.accountId }, { id: second }] },
    org,
  );
  const unknown = '00000000-0000-4000-8000-000000000000';
  // An account without the user's membership refuses the request: nothing is closed.
  const refused = await sdkError(
    users.closeMemberships({ accounts: [{ id: second }, { id: unknown }] }, org, u.id),
  );
  assert.equal(refused.statusCode, 422);
  assert.equal(refused.body.error, 'invalid_reference');
  assert.match(
    refused.body.error_description,
    new RegExp(`^accounts\\.id: .*${unknown}.*no membership was closed`),
  );
  const untouched = (await users.getUserProfiles(org, { email: u.email })).users[0];
  assert.ok(untouched.memberships.every((m: any) => m.status === 'active'));

  const closed = await users.closeMemberships({ accounts: [{ id: second }] }, org, u.id);
  assert.equal(closed.success, true);
  assert.deepEqual(
    closed.accounts.map((a: any) => ({ ...a })),
    [{ id: second }],
  );

  const drill = (await users.getUserProfiles(org, { email: u.email })).users[0];
  const inSecond = drill.memberships.find((m: any) => m.account_id === second);
  assert.equal(inSecond.status, 'closed');
  assert.equal(drill.memberships.find((m: any) => m.account_id === tenant.accountId).status, 'active');
  const native = (await api(live, tenant.key, 'GET', `/api/users/${u.id}`)).body;
  assert.equal(native.memberships.find((m: any) => m.account_id === second).status, 'closed');
  const listed = await users.getUsers(org, { accountId: second, membershipStatus: 'closed' });
  assert.deepEqual(
    listed.users.map((x: any) => x.id),
    [u.id],
  );

  const reopened = await users.activateMembership({ site_id: 1 }, org, u.id, inSecond.id);
  assert.equal(reopened.status, 'active');
  const after = (await api(live, tenant.key, 'GET', `/api/users/${u.id}`)).body;
  assert.equal(after.memberships.find((m: any) => m.account_id === second).status, 'active');
  // A membership id of another user of the organization is not this user's.
  const someoneElse = await users.createUser({ email: email(), accounts: [{ id: tenant.accountId }] }, org);
  const mismatch = await sdkError(users.activateMembership({ site_id: 1 }, org, someoneElse.id, inSecond.id));
  assert.equal(mismatch.statusCode, 404);

  const identities = await users.deleteIdentities({ identities: [{ id: unknown }] }, org, u.id);
  assert.equal(identities.success, true);
  assert.deepEqual(identities.identities, []);
  const noBody = await sdkError(users.closeMemberships({ accounts: [] }, org, u.id));
  assert.equal(noBody.statusCode, 400);
});

test('data redaction erases a closed user’s personal data, refuses an open one, and is idempotent', async (t) => {
  const live = await startApp(t);
  const tenant = await liveTenant(live);
  const client = adminClient(live, tenant.key);
  const users = new admin.UsersApi(client);
  const org = tenant.organizationId;
  const u = await users.createUser(
    {
      email: email(),
      first_name: 'Private',
      last_name: 'Person',
      auto_activate_memberships: true,
      accounts: [{ id: tenant.accountId, job_title: 'Secret agent' }],
    },
    org,
  );
  const request = { user_id: u.id, memberships: [{ account_id: tenant.accountId }] };
  const open = await sdkError(new admin.OrganizationsApi(client).redactIndividualUserData(request, org));
  assert.equal(open.statusCode, 409);
  assert.match(open.body.error_description, /open membership/);

  await users.closeMemberships({ accounts: [{ id: tenant.accountId }] }, org, u.id);
  const done = await new admin.OrganizationsApi(client).redactIndividualUserData(request, org);
  assert.equal(done.user_id, u.id);
  assert.equal(done.status, 'success');
  assert.deepEqual(
    done.membership_results.map((m: any) => ({ ...m })),
    [{ account_id: tenant.accountId, status: 'success' }],
  );
  const native = (await api(live, tenant.key, 'GET', `/api/users/${u.id}`)).body;
  assert.equal(native.email, `redacted-${u.id}@redacted.invalid`);
  assert.equal(native.first_name, '[redacted]');
  assert.equal(native.last_name, '[redacted]');
  assert.equal(native.job_title, null);
  assert.equal(native.status, 'deactivated');
  assert.deepEqual((await users.getUserProfiles(org, { email: u.email })).users, []);
  const again = await new admin.OrganizationsApi(client).redactIndividualUserData(request, org);
  assert.equal(again.status, 'already_redacted');
  // The audit log records the redaction, not the erased values.
  const audit = await api(
    live,
    tenant.key,
    'GET',
    `/api/audit_events?target_id=${u.id}&action=user.redacted`,
  );
  assert.equal(audit.status, 200);
  const event = audit.body.data.find((e: any) => e.action === 'user.redacted');
  assert.ok(event, 'a user.redacted event');
  assert.ok(!JSON.stringify(event).includes(u.email));

  // Account-level: a deactivated user's membership.
  const v = await users.createUser({ email: email(), accounts: [{ id: tenant.accountId }] }, org);
  assert.equal((await api(live, tenant.key, 'POST', `/api/users/${v.id}/deactivate`)).status, 200);
  const accounts = new admin.AccountsApi(client);
  const one = await accounts.redactIndividualMembershipData({ user_id: v.id }, tenant.accountId);
  assert.equal(one.status, 'success');
  assert.equal(one.membership_results[0].account_id, tenant.accountId);
  assert.equal(
    (await api(live, tenant.key, 'GET', `/api/users/${v.id}`)).body.email,
    `redacted-${v.id}@redacted.invalid`,
  );
  // A user without a membership in the account named: 422 naming the field.
  const second = await account(live, tenant, 'Second');
  const notThere = await sdkError(accounts.redactIndividualMembershipData({ user_id: v.id }, second));
  assert.equal(notThere.statusCode, 422);
  assert.match(notThere.body.error_description, /^accountId:/);
});

test('tenancy: another organization’s ids answer 404 on every users route, like missing ones', async (t) => {
  const live = await startApp(t);
  const mine = await liveTenant(live);
  const theirs = await liveTenant(live);
  const client = adminClient(live, mine.key);
  const users = new admin.UsersApi(client);
  const org = mine.organizationId;
  const their = await new admin.UsersApi(adminClient(live, theirs.key)).createUser(
    { email: email(), auto_activate_memberships: true, accounts: [{ id: theirs.accountId }] },
    theirs.organizationId,
  );
  const theirMembership = (
    await new admin.UsersApi(adminClient(live, theirs.key)).getUserProfiles(theirs.organizationId, {
      email: their.email,
    })
  ).users[0].memberships[0].id;
  const missing = '00000000-0000-4000-8000-000000000001';
  const foreignOrg = theirs.organizationId;
  const cases: [string, () => Promise<unknown>][] = [
    ['getUsers foreign org', () => users.getUsers(foreignOrg, { accountId: theirs.accountId })],
    ['getUsers missing org', () => users.getUsers(missing, { accountId: mine.accountId })],
    [
      'createUser foreign org',
      () => users.createUser({ email: email(), accounts: [{ id: theirs.accountId }] }, foreignOrg),
    ],
    ['addUsers foreign org', () => users.addUsers({ email: email() }, foreignOrg, theirs.accountId)],
    ['addUsers foreign account', () => users.addUsers({ email: email() }, org, theirs.accountId)],
    ['addUsers missing account', () => users.addUsers({ email: email() }, org, missing)],
    ['getUserProfiles foreign org', () => users.getUserProfiles(foreignOrg, { email: their.email })],
    ['updateUser foreign org', () => users.updateUser({ users: [{ id: their.id, site_id: 1 }] }, foreignOrg)],
    [
      'updateEmailAddress foreign org',
      () => users.updateEmailAddress({ users: [{ id: their.id, site_id: 1, email: email() }] }, foreignOrg),
    ],
    [
      'closeMemberships foreign user',
      () => users.closeMemberships({ accounts: [{ id: theirs.accountId }] }, org, their.id),
    ],
    [
      'closeMemberships foreign org',
      () => users.closeMemberships({ accounts: [{ id: theirs.accountId }] }, foreignOrg, their.id),
    ],
    [
      'activateMembership foreign user',
      () => users.activateMembership({ site_id: 1 }, org, their.id, theirMembership),
    ],
    [
      'activateMembership foreign membership',
      () => users.activateMembership({ site_id: 1 }, org, mine.ownerId, theirMembership),
    ],
    [
      'activateMembership foreign org',
      () => users.activateMembership({ site_id: 1 }, foreignOrg, their.id, theirMembership),
    ],
    [
      'deleteIdentities foreign user',
      () => users.deleteIdentities({ identities: [{ id: missing }] }, org, their.id),
    ],
    [
      'deleteIdentities missing user',
      () => users.deleteIdentities({ identities: [{ id: missing }] }, org, missing),
    ],
    [
      'redactIndividualUserData foreign org',
      () =>
        new admin.OrganizationsApi(client).redactIndividualUserData(
          { user_id: their.id, memberships: [{ account_id: theirs.accountId }] },
          foreignOrg,
        ),
    ],
    [
      'redactIndividualUserData foreign user',
      () =>
        new admin.OrganizationsApi(client).redactIndividualUserData(
          { user_id: their.id, memberships: [{ account_id: mine.accountId }] },
          org,
        ),
    ],
    [
      'redactIndividualMembershipData foreign account',
      () =>
        new admin.AccountsApi(client).redactIndividualMembershipData({ user_id: their.id }, theirs.accountId),
    ],
    [
      'redactIndividualMembershipData foreign user',
      () =>
        new admin.AccountsApi(client).redactIndividualMembershipData({ user_id: their.id }, mine.accountId),
    ],
  ];
  for (const [name, call] of cases) {
    const err = await sdkError(call());
    assert.equal(err.statusCode, 404, `${name}: ${JSON.stringify(err.body)}`);
    assert.equal(err.body.error, 'not_found', name);
  }
  // In a per-user update the foreign user is a per-user not_found, and the users of the other tenant
  // never show up in this one's lists or look-ups.
  const update = await users.updateUser({ users: [{ id: their.id, site_id: 1, first_name: 'X' }] }, org);
  assert.equal(update.users[0].error_details.error, 'not_found');
  assert.deepEqual((await users.getUsers(org, { email: their.email })).users, []);
  assert.deepEqual((await users.getUserProfiles(org, { email: their.email })).users, []);
  const theirView = await api(live, theirs.key, 'GET', `/api/users/${their.id}`);
  assert.equal(theirView.body.memberships[0].status, 'active');
  assert.notEqual(theirView.body.first_name, 'X');
});

test('a key without the scope gets 403 naming it: user_read, user_write, user_data_redact', async (t) => {
  const live = await startApp(t);
  const tenant = await liveTenant(live);
  const org = tenant.organizationId;
  const readOnly = new admin.UsersApi(adminClient(live, await restrictedKey(live, tenant, ['users:read'])));
  const accountOnly = adminClient(live, await restrictedKey(live, tenant, ['account:read']));

  const read = await readOnly.getUsers(org, { accountId: tenant.accountId });
  assert.equal(read.users.length, 1);
  const write = await sdkError(
    readOnly.createUser({ email: email(), accounts: [{ id: tenant.accountId }] }, org),
  );
  assert.equal(write.statusCode, 403);
  assert.equal(write.body.error, 'permission_denied');
  assert.match(write.body.error_description, /user_write/);
  const close = await sdkError(
    readOnly.closeMemberships({ accounts: [{ id: tenant.accountId }] }, org, tenant.ownerId),
  );
  assert.equal(close.statusCode, 403);
  assert.match(close.body.error_description, /user_write/);

  const list = await sdkError(new admin.UsersApi(accountOnly).getUsers(org, { accountId: tenant.accountId }));
  assert.equal(list.statusCode, 403);
  assert.match(list.body.error_description, /user_read/);
  const profile = await sdkError(
    new admin.UsersApi(accountOnly).getUserProfiles(org, { email: tenant.email }),
  );
  assert.equal(profile.statusCode, 403);
  assert.match(profile.body.error_description, /user_read/);

  const redact = await sdkError(
    new admin.OrganizationsApi(accountOnly).redactIndividualUserData(
      { user_id: tenant.ownerId, memberships: [{ account_id: tenant.accountId }] },
      org,
    ),
  );
  assert.equal(redact.statusCode, 403);
  assert.match(redact.body.error_description, /user_data_redact/);
});

test('Idempotency-Key: a retried createUser or updateUser replays the DocuSign-shaped response, once', async (t) => {
  const live = await startApp(t);
  const tenant = await liveTenant(live);
  const org = tenant.organizationId;
  const send = (method: string, path: string, body: unknown, key: string) =>
    api(live, tenant.key, method, `/management/v2/organizations/${org}${path}`, body, {
      'idempotency-key': key,
    });
  const address = email();
  const create = { email: address, first_name: 'Once', accounts: [{ id: tenant.accountId }] };
  const key = unique('idem');
  const first = await send('POST', '/users', create, key);
  const second = await send('POST', '/users', create, key);
  assert.equal(first.status, 200);
  assert.deepEqual(second, first);
  assert.equal(first.body.accounts[0].id, tenant.accountId, 'the stored response is the DocuSign shape');
  assert.equal(first.body.memberships, undefined);
  const users = new admin.UsersApi(adminClient(live, tenant.key));
  assert.equal((await users.getUsers(org, { email: address })).users.length, 1);

  const other = await users.createUser({ email: email(), accounts: [{ id: tenant.accountId }] }, org);
  const update = {
    users: [
      { id: first.body.id, site_id: 1, first_name: 'A' },
      { id: other.id, site_id: 1, first_name: 'B' },
    ],
  };
  const updateKey = unique('idem');
  const updated = await send('POST', '/users/profiles', update, updateKey);
  assert.equal(updated.status, 200);
  assert.equal(updated.body.success, true, JSON.stringify(updated.body));
  assert.deepEqual(await send('POST', '/users/profiles', update, updateKey), updated);
  assert.equal((await api(live, tenant.key, 'GET', `/api/users/${other.id}`)).body.first_name, 'B');
});

test('activation mail: createUser, addUsers and addOrUpdateUser mail a new user their link unless auto-activated; the link works', async (t) => {
  const live = await startApp(t);
  const tenant = await liveTenant(live);
  const users = new admin.UsersApi(adminClient(live, tenant.key));
  const org = tenant.organizationId;
  const activationMails = async (to: string) =>
    (await mailsTo(to)).filter((m) => /Activate your/.test(m.subject));

  // DocuSign's rule: without auto-activation the new user is mailed an activation link.
  const viaCreate = email();
  await users.createUser({ email: viaCreate, accounts: [{ id: tenant.accountId }] }, org);
  const [mail] = await activationMails(viaCreate);
  assert.ok(mail, 'createUser without auto-activation mails the activation link');
  assert.match(mail.text, /\/activate#token=/);
  const activated = await fetch(`${live.base}/activate`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token: mail.token, password: 'Activated by mail 2026' }),
  });
  assert.equal(activated.status, 200, await activated.clone().text());
  assert.equal(((await activated.json()) as any).user.email, viaCreate);

  // Auto-activation "bypasses the activation email": no mail.
  const auto = email();
  await users.createUser(
    { email: auto, auto_activate_memberships: true, accounts: [{ id: tenant.accountId }] },
    org,
  );
  assert.deepEqual(await activationMails(auto), []);

  const second = await account(live, tenant, 'Second');
  const viaAdd = email();
  await users.addUsers({ email: viaAdd }, org, second);
  assert.equal((await activationMails(viaAdd)).length, 1, 'addUsers making a user mails them');
  // A user who exists already gets a membership, not another mail.
  await users.addUsers({ email: auto }, org, second);
  assert.deepEqual(await activationMails(auto), []);

  const viaMultiProduct = email();
  await users.addOrUpdateUser({ email: viaMultiProduct, product_permission_profiles: [] }, org, second);
  assert.equal(
    (await activationMails(viaMultiProduct)).length,
    1,
    'addOrUpdateUser making a user mails them',
  );
  const autoMultiProduct = email();
  await users.addOrUpdateUser(
    { email: autoMultiProduct, product_permission_profiles: [], auto_activate_memberships: true },
    org,
    second,
  );
  assert.deepEqual(await activationMails(autoMultiProduct), []);
});
