// The multi-step flows of /management (DocuSign's Admin API) are single transactions (issue 10, "One home for
// every rule"): a request that fails half-way answers a clear 4xx and changes nothing — compared on a snapshot
// of every table the flows write and on the length of the organization's audit chain — and a retry with the
// same Idempotency-Key replays the complete first response, byte for byte, without a second effect. Driven
// through the official docusign-admin SDK; raw HTTP only where the bytes or the Idempotency-Key header matter.
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { sql } from 'kysely';
import { systemPrincipal } from '../src/core/principal.ts';
import { ESIGN_PRODUCT_ID } from '../src/faces/management/products.ts';
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
import { type Tenant, testDb, unique } from './helper.ts';

const db = () => testDb().db;

/**
 * Every row the /management flows write for an organization, and the length of its audit chain. Two equal
 * snapshots mean a request changed nothing (updated_at columns included: a rewrite of the same value shows).
 */
async function snapshot(org: string) {
  const d = db();
  const of = <T extends 'users' | 'memberships' | 'accounts' | 'permission_profiles' | 'groups' | 'brands'>(
    table: T,
  ) =>
    d
      .selectFrom(table as 'users')
      .selectAll()
      .where('organization_id', '=', org)
      .orderBy('id')
      .execute();
  const [users, memberships, accounts, profiles, groups, brands] = await Promise.all([
    of('users'),
    of('memberships'),
    of('accounts'),
    of('permission_profiles'),
    of('groups'),
    of('brands'),
  ]);
  const groupMembers = await d
    .selectFrom('group_members as gm')
    .innerJoin('groups as g', 'g.id', 'gm.group_id')
    .select(['gm.group_id', 'gm.user_id'])
    .where('g.organization_id', '=', org)
    .orderBy('gm.group_id')
    .orderBy('gm.user_id')
    .execute();
  const settings = await d
    .selectFrom('account_settings')
    .selectAll()
    .where('organization_id', '=', org)
    .orderBy('account_id')
    .execute();
  const creations = await d
    .selectFrom('account_creations')
    .select('id')
    .where('organization_id', '=', org)
    .execute();
  const { rows: settingsImports } = await sql<{ n: number }>`
    SELECT count(*)::int AS n FROM settings_imports WHERE organization_id = ${org}::uuid`.execute(d);
  return {
    users,
    memberships,
    accounts,
    profiles,
    groups,
    brands,
    groupMembers,
    settings,
    creations,
    settingsImports: settingsImports[0]!.n,
    audit: await auditLength(org),
  };
}

async function auditLength(org: string): Promise<number> {
  const row = await db()
    .selectFrom('audit_events')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('organization_id', '=', org)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Runs `call`, expecting it to fail with `status` and to change nothing; returns the error body. */
async function refusedUnchanged(
  org: string,
  status: number,
  call: () => Promise<unknown>,
): Promise<{ error: string; error_description: string }> {
  const before = await snapshot(org);
  const err = await sdkError(call());
  assert.equal(err.statusCode, status, JSON.stringify(err.body));
  assert.equal(typeof err.body.error, 'string');
  assert.equal(typeof err.body.error_description, 'string');
  assert.deepEqual(await snapshot(org), before, `${err.body.error}: the refused request changed something`);
  return err.body;
}

interface World {
  live: LiveApp;
  tenant: Tenant;
  org: string;
  a1: string;
  a2: string;
  profiles: { a1: Record<string, number>; a2: Record<string, number> };
  client: any;
  users: any;
  products: any;
  dsGroups: any;
  other: Tenant;
}

async function profilesOf(accountId: string): Promise<Record<string, number>> {
  const rows = await db()
    .selectFrom('permission_profiles')
    .select(['id', 'name'])
    .where('account_id', '=', accountId)
    .execute();
  return Object.fromEntries(rows.map((r) => [r.name, Number(r.id)]));
}

async function world(t: TestContext): Promise<World> {
  const live = await startApp(t);
  const tenant = await liveTenant(live);
  const other = await liveTenant(live);
  const made = await api(live, tenant.key, 'POST', '/api/accounts', { name: unique('A2') });
  assert.equal(made.status, 201);
  const a1 = tenant.accountId;
  const a2 = made.body.id as string;
  const client = adminClient(live, tenant.key);
  return {
    live,
    tenant,
    other,
    org: tenant.organizationId,
    a1,
    a2,
    profiles: { a1: await profilesOf(a1), a2: await profilesOf(a2) },
    client,
    users: new admin.UsersApi(client),
    products: new admin.ProductPermissionProfilesApi(client),
    dsGroups: new admin.DSGroupsApi(client),
  };
}

const esign = (profileId: number | string) => [
  { product_id: ESIGN_PRODUCT_ID, permission_profile_id: String(profileId) },
];

test('addOrUpdateUser: new names and a bad profile for an existing member answer 422 and save no name', async (t) => {
  const w = await world(t);
  const address = email('member');
  const added = await w.users.addOrUpdateUser(
    {
      email: address,
      first_name: 'Old',
      last_name: 'Name',
      auto_activate_memberships: true,
      product_permission_profiles: esign(w.profiles.a1['DS Viewer']!),
    },
    w.org,
    w.a1,
  );
  const sales = await w.dsGroups.addDSGroup({ group_name: 'Sales' }, w.org, w.a1);
  const update = (profileId: number) =>
    w.users.addOrUpdateUser(
      {
        email: address,
        first_name: 'New',
        last_name: 'Person',
        language_culture: 'fr',
        product_permission_profiles: esign(profileId),
        ds_groups: [{ ds_group_id: sales.ds_group_id }],
      },
      w.org,
      w.a1,
    );
  // The names come first in the request and used to be saved before the profile (of A2) was refused.
  const body = await refusedUnchanged(w.org, 422, () => update(w.profiles.a2['DS Sender']!));
  assert.equal(body.error, 'invalid_reference');
  assert.match(body.error_description, /permission_profile/);
  const user = (await api(w.live, w.tenant.key, 'GET', `/api/users/${added.id}`)).body;
  assert.deepEqual([user.first_name, user.last_name, user.language], ['Old', 'Name', null]);

  // The same request with a profile of the account: everything at once.
  const updated = await update(w.profiles.a1['DS Sender']!);
  assert.equal(updated.first_name, 'New');
  assert.equal(
    updated.accounts[0].product_permission_profiles[0].permission_profiles[0].permission_profile_name,
    'DS Sender',
  );
  assert.deepEqual(
    updated.accounts[0].ds_groups.map((g: any) => g.group_name),
    ['Everyone', 'Sales'],
  );
});

test('addOrUpdateUser: enrolling a user the member may not rename leaves no membership behind (403)', async (t) => {
  const w = await world(t);
  // M holds manage_users in A1 only; W is a user of A2 only.
  const usersOnly = await api(w.live, w.tenant.key, 'POST', `/api/accounts/${w.a1}/permission_profiles`, {
    name: 'Users only',
    permissions: ['manage_users'],
  });
  const person = async (accountId: string, profileId: number) => {
    const res = await api(w.live, w.tenant.key, 'POST', '/api/users', {
      email: email('p'),
      first_name: 'W',
      last_name: 'Person',
      account_id: accountId,
      permission_profile_id: profileId,
    });
    assert.equal(res.status, 201);
    return res.body as { id: string; email: string };
  };
  const m = await person(w.a1, usersOnly.body.id);
  const wUser = await person(w.a2, w.profiles.a2['DS Sender']!);
  const system = { principal: systemPrincipal(w.org, 'test'), meta: {} };
  const mKey = (
    await w.live.services.apiKeys.create(system, {
      name: unique('m'),
      account_id: w.a1,
      created_by: m.id,
      role: 'member',
    })
  ).key;
  const asM = new admin.UsersApi(adminClient(w.live, mKey));
  // The membership in A1 is M's to give; renaming W reaches A2, where M may not manage users. It was given,
  // then the rename refused: W kept a membership in A1 from a request that answered 403.
  const body = await refusedUnchanged(w.org, 403, () =>
    asM.addOrUpdateUser(
      {
        email: wUser.email,
        first_name: 'Renamed',
        product_permission_profiles: esign(w.profiles.a1['DS Sender']!),
      },
      w.org,
      w.a1,
    ),
  );
  assert.equal(body.error, 'permission_denied');
  const after = (await api(w.live, w.tenant.key, 'GET', `/api/users/${wUser.id}`)).body;
  assert.deepEqual(
    after.memberships.map((x: any) => x.account_id),
    [w.a2],
  );
});

test('createUser and addUsers across accounts: a foreign or bad second account creates nothing', async (t) => {
  const w = await world(t);
  const address = email('multi');
  const accounts = (second: object) => [
    { id: w.a1, permission_profile: { id: w.profiles.a1['DS Sender'] } },
    second,
  ];
  const cases: [string, number, object][] = [
    ['another organization’s account', 422, { id: w.other.accountId }],
    ['no such account', 422, { id: '00000000-0000-4000-8000-000000000000' }],
    [
      'a profile of another account',
      422,
      { id: w.a2, permission_profile: { id: w.profiles.a1['DS Admin'] } },
    ],
    ['a group of another account', 422, { id: w.a2, groups: [{ id: 2 ** 31 - 1 }] }],
  ];
  for (const [name, status, second] of cases) {
    const body = await refusedUnchanged(w.org, status, () =>
      w.users.createUser({ email: address, first_name: 'Ada', accounts: accounts(second) }, w.org),
    );
    assert.match(body.error_description, /^accounts\./, name);
  }
  assert.deepEqual((await w.users.getUsers(w.org, { email: address })).users, []);

  // addUsers: an existing user is enrolled in the path's account with the groups named, or not at all.
  const made = await w.users.createUser({ email: address, accounts: [{ id: w.a1 }] }, w.org);
  const theirGroup = await api(w.live, w.other.key, 'POST', `/api/accounts/${w.other.accountId}/groups`, {
    name: 'Theirs',
  });
  const body = await refusedUnchanged(w.org, 422, () =>
    w.users.addUsers({ email: address, groups: [{ id: Number(theirGroup.body.id) }] }, w.org, w.a2),
  );
  assert.match(body.error_description, /^groups\.id/);
  const drill = (await w.users.getUserProfiles(w.org, { email: address })).users[0];
  assert.equal(drill.id, made.id);
  assert.deepEqual(
    drill.memberships.map((m: any) => m.account_id),
    [w.a1],
  );
});

test('updateUser: each user whole or undone; a bad second membership keeps none of that user’s change', async (t) => {
  const w = await world(t);
  const u = await w.users.createUser(
    {
      email: email('u'),
      first_name: 'Old',
      last_name: 'Name',
      auto_activate_memberships: true,
      accounts: [
        { id: w.a1, permission_profile: { id: w.profiles.a1['DS Viewer'] } },
        { id: w.a2, permission_profile: { id: w.profiles.a2['DS Viewer'] } },
      ],
    },
    w.org,
  );
  const v = await w.users.createUser({ email: email('v'), accounts: [{ id: w.a1 }] }, w.org);
  const before = await snapshot(w.org);
  const result = await w.users.updateUser(
    {
      users: [
        {
          id: u.id,
          site_id: 1,
          first_name: 'New',
          memberships: [
            { account_id: w.a1, permission_profile: { id: w.profiles.a1['DS Sender'] } },
            // A profile of the other account: refused after the name and the first membership were changed.
            { account_id: w.a2, permission_profile: { id: w.profiles.a1['DS Sender'] } },
          ],
        },
        { id: v.id, site_id: 1, first_name: 'Vera' },
      ],
    },
    w.org,
  );
  assert.equal(result.success, false);
  assert.equal(result.users[0].error_details.error, 'invalid_reference');
  assert.match(result.users[0].error_details.error_description, /^memberships\.permission_profile\.id:/);
  assert.equal(result.users[1].error_details, undefined);
  const after = await snapshot(w.org);
  // Of u nothing changed; v was renamed (one user.updated event).
  assert.deepEqual(
    after.users.find((x) => x.id === u.id),
    before.users.find((x) => x.id === u.id),
  );
  assert.deepEqual(after.memberships, before.memberships);
  assert.equal(after.users.find((x) => x.id === v.id)!.first_name, 'Vera');
  assert.equal(after.audit, before.audit + 1);
});

test('closeMemberships: an account without the membership closes none; the others close together', async (t) => {
  const w = await world(t);
  const u = await w.users.createUser(
    { email: email('c'), auto_activate_memberships: true, accounts: [{ id: w.a1 }, { id: w.a2 }] },
    w.org,
  );
  for (const bad of [w.other.accountId, '00000000-0000-4000-8000-000000000000']) {
    const body = await refusedUnchanged(w.org, 422, () =>
      w.users.closeMemberships({ accounts: [{ id: w.a1 }, { id: w.a2 }, { id: bad }] }, w.org, u.id),
    );
    assert.equal(body.error, 'invalid_reference');
    assert.match(body.error_description, new RegExp(`^accounts\\.id: .*${bad}`));
  }
  const closed = await w.users.closeMemberships({ accounts: [{ id: w.a1 }, { id: w.a2 }] }, w.org, u.id);
  assert.equal(closed.success, true);
  const drill = (await w.users.getUserProfiles(w.org, { email: u.email })).users[0];
  assert.deepEqual(
    drill.memberships.map((m: any) => m.status),
    ['closed', 'closed'],
  );
});

test('product permission profiles: a profile of another account changes no membership, open or closed', async (t) => {
  const w = await world(t);
  const u = await w.users.createUser(
    {
      email: email('pp'),
      auto_activate_memberships: true,
      accounts: [{ id: w.a1, permission_profile: { id: w.profiles.a1['DS Viewer'] } }],
    },
    w.org,
  );
  const foreign = esign(w.profiles.a1['DS Admin']!);
  // No membership in A2 yet: none is made.
  await refusedUnchanged(w.org, 422, () =>
    w.products.addUserProductPermissionProfiles({ product_permission_profiles: foreign }, w.org, w.a2, u.id),
  );
  // A closed membership in A1 is not reopened with a profile of A2.
  await w.products.removeUserProductPermission(
    { user_id: u.id, product_ids: [ESIGN_PRODUCT_ID] },
    w.org,
    w.a1,
  );
  await refusedUnchanged(w.org, 422, () =>
    w.products.addUserProductPermissionProfilesByEmail(
      { email: u.email, product_permission_profiles: esign(w.profiles.a2['DS Sender']!) },
      w.org,
      w.a1,
    ),
  );
  // And a profile of the account reopens it with that profile, in one step.
  const granted = await w.products.addUserProductPermissionProfilesByEmail(
    { email: u.email, product_permission_profiles: esign(w.profiles.a1['DS Sender']!) },
    w.org,
    w.a1,
  );
  assert.equal(
    granted.product_permission_profiles[0].permission_profiles[0].permission_profile_name,
    'DS Sender',
  );
  const native = (await api(w.live, w.tenant.key, 'GET', `/api/users/${u.id}`)).body;
  assert.equal(native.memberships[0].status, 'active');
  assert.equal(native.memberships[0].permission_profile_id, w.profiles.a1['DS Sender']);
});

test('account creation and cloning: a step the key may not take leaves no account, copy or record (403)', async (t) => {
  const w = await world(t);
  // The key may create accounts and manage users, but not hand out what DS Admin grants (keys, audit).
  const key = await restrictedKey(w.live, w.tenant, ['account:write', 'users:write']);
  const provision = new admin.ProvisionAssetGroupApi(adminClient(w.live, key));
  // Something to copy before the step that fails: settings and a group of the source account.
  const settings = await api(w.live, w.tenant.key, 'PATCH', `/api/accounts/${w.a1}/settings`, {
    session_timeout_minutes: 30,
  });
  assert.equal(settings.status, 200, JSON.stringify(settings.body));
  assert.equal(
    (await api(w.live, w.tenant.key, 'POST', `/api/accounts/${w.a1}/groups`, { name: 'Legal' })).status,
    201,
  );
  // Creating: the account is made, then appointing its admin (DS Admin) is refused.
  const admin1 = { email: email('admin'), firstName: 'Ad', lastName: 'Min' };
  const created = await refusedUnchanged(w.org, 403, () =>
    provision.createAssetGroupAccount({ targetAccount: { name: 'New', admin: admin1 } }, w.org),
  );
  assert.equal(created.error, 'permission_denied');
  // Cloning: the account is made and its settings copied, then copying DS Admin's permissions is refused.
  const cloned = await refusedUnchanged(w.org, 403, () =>
    provision.cloneAssetGroupAccount({ sourceAccount: { id: w.a1 }, targetAccount: { name: 'Copy' } }, w.org),
  );
  assert.equal(cloned.error, 'permission_denied');
  assert.match(cloned.error_description, /manage_api_keys/);
  // The owner's key clones: account, copies and record in one step.
  const ok = await new admin.ProvisionAssetGroupApi(w.client).cloneAssetGroupAccount(
    { sourceAccount: { id: w.a1 }, targetAccount: { name: 'Copy', admin: admin1 } },
    w.org,
  );
  assert.equal(ok.status, 'completed');
  const groups = (await api(w.live, w.tenant.key, 'GET', `/api/accounts/${ok.targetAccount.id}/groups`)).body;
  assert.ok(groups.data.some((g: any) => g.name === 'Legal'));
});

test('settings import: a refused cell leaves its whole row unapplied; the import records with the rest', async (t) => {
  const w = await world(t);
  const csv = `AccountID,session_timeout_minutes,mfa_required\n${w.a1},45,true\n${w.a2},50,maybe\n`;
  const post = (key: string) =>
    fetch(`${w.live.base}/management/v2/organizations/${w.org}/imports/account_settings`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${w.tenant.key}`,
        'content-type': 'text/csv',
        'idempotency-key': key,
      },
      body: csv,
    });
  const before = await snapshot(w.org);
  const key = unique('settings');
  const first = await post(key);
  assert.equal(first.status, 200);
  const firstBytes = Buffer.from(await first.arrayBuffer());
  const record = JSON.parse(firstBytes.toString());
  assert.equal(record.number_processed_accounts, 1);
  assert.equal(record.number_unprocessed_accounts, 1);
  const settings = async (accountId: string) =>
    (await api(w.live, w.tenant.key, 'GET', `/api/accounts/${accountId}/settings`)).body;
  assert.equal((await settings(w.a1)).session_timeout_minutes, 45);
  assert.equal((await settings(w.a1)).mfa_required, true);
  // The row's valid cell is not applied without its refused one.
  assert.equal((await settings(w.a2)).session_timeout_minutes, 20);
  const after = await snapshot(w.org);
  assert.equal(after.settingsImports, before.settingsImports + 1);
  // The retry replays the import, byte for byte, and applies nothing again.
  const again = await post(key);
  assert.equal(again.status, 200);
  assert.equal(again.headers.get('idempotent-replayed'), 'true');
  assert.deepEqual(Buffer.from(await again.arrayBuffer()), firstBytes);
  assert.deepEqual(await snapshot(w.org), after);
});

test('Idempotency-Key on every multi-step write: the retry replays the first response byte for byte, no second effect', async (t) => {
  const w = await world(t);
  const base = `/management/v2.1/organizations/${w.org}/accounts`;
  const mgmt = `/management/v2/organizations/${w.org}`;
  const existing = await w.users.createUser(
    { email: email('e'), auto_activate_memberships: true, accounts: [{ id: w.a1 }, { id: w.a2 }] },
    w.org,
  );
  const group = await w.dsGroups.addDSGroup({ group_name: 'Ops' }, w.org, w.a1);
  const doomed = await w.dsGroups.addDSGroup({ group_name: 'Doomed' }, w.org, w.a1);
  const writes: [string, string, string, unknown][] = [
    [
      'addOrUpdateUser',
      'POST',
      `${base}/${w.a1}/users`,
      {
        email: email('new'),
        first_name: 'Idem',
        product_permission_profiles: esign(w.profiles.a1['DS Sender']!),
        ds_groups: [{ ds_group_id: group.ds_group_id }],
      },
    ],
    ['createUser', 'POST', `${mgmt}/users`, { email: email('cu'), accounts: [{ id: w.a1 }, { id: w.a2 }] }],
    ['addUsers', 'POST', `${mgmt}/accounts/${w.a2}/users`, { email: email('au') }],
    [
      'updateUser',
      'POST',
      `${mgmt}/users/profiles`,
      {
        users: [
          { id: existing.id, first_name: 'Renamed' },
          { id: w.other.ownerId, first_name: 'X' },
        ],
      },
    ],
    [
      'addUserProductPermissionProfiles',
      'POST',
      `${base}/${w.a2}/products/users/${existing.id}/permission_profiles`,
      { product_permission_profiles: esign(w.profiles.a2['DS Admin']!) },
    ],
    [
      'addDSGroupUsers',
      'POST',
      `${base}/${w.a1}/dsgroups/${group.ds_group_id}/users`,
      { user_ids: [existing.id] },
    ],
    ['addDSGroup', 'POST', `${base}/${w.a1}/dsgroups`, { group_name: unique('G') }],
    ['deleteDSGroup', 'DELETE', `${base}/${w.a1}/dsgroups/${doomed.ds_group_id}`, undefined],
    [
      'removeUserProductPermission',
      'DELETE',
      `${base}/${w.a2}/products/users`,
      { user_id: existing.id, product_ids: [ESIGN_PRODUCT_ID] },
    ],
    ['closeMemberships', 'DELETE', `${mgmt}/users/${existing.id}/accounts`, { accounts: [{ id: w.a1 }] }],
    [
      'createAssetGroupAccount',
      'POST',
      `${mgmt}/assetGroups/accountCreate`,
      { targetAccount: { name: 'N' } },
    ],
    [
      'cloneAssetGroupAccount',
      'POST',
      `${mgmt}/assetGroups/accountClone`,
      { sourceAccount: { id: w.a1 }, targetAccount: { name: 'C', admin: { email: email('ca') } } },
    ],
  ];
  for (const [name, method, path, body] of writes) {
    const key = unique(name);
    const first = await api(w.live, w.tenant.key, method, path, body, { 'idempotency-key': key });
    assert.ok(first.status < 300, `${name}: ${first.status} ${first.bytes}`);
    assert.equal(first.headers.get('idempotent-replayed'), null, name);
    const effect = await snapshot(w.org);
    const again = await api(w.live, w.tenant.key, method, path, body, { 'idempotency-key': key });
    assert.equal(again.status, first.status, name);
    assert.equal(again.headers.get('idempotent-replayed'), 'true', name);
    assert.deepEqual(again.bytes, first.bytes, `${name}: the replay is the first response`);
    assert.deepEqual(await snapshot(w.org), effect, `${name}: the replay did something`);
    // The response is the one sent, and was stored by the effect's own transaction: a crash after the commit
    // still replays it, and never runs the request again. The transaction that marked the key done (its xmin)
    // is the one that appended the effect's audit events, not a later one.
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

  // A refused request is replayed as refused, and still changes nothing.
  const key = unique('refused');
  const bad = {
    email: existing.email,
    first_name: 'Nope',
    product_permission_profiles: esign(w.profiles.a1['DS Admin']!),
  };
  const before = await snapshot(w.org);
  const first = await api(w.live, w.tenant.key, 'POST', `${base}/${w.a2}/users`, bad, {
    'idempotency-key': key,
  });
  assert.equal(first.status, 422);
  const again = await api(w.live, w.tenant.key, 'POST', `${base}/${w.a2}/users`, bad, {
    'idempotency-key': key,
  });
  assert.equal(again.status, 422);
  assert.deepEqual(again.bytes, first.bytes);
  assert.deepEqual(await snapshot(w.org), before);
});

test('concurrent requests with one Idempotency-Key: one effect, the others replay it or wait', async (t) => {
  const w = await world(t);
  const path = `/management/v2.1/organizations/${w.org}/accounts/${w.a1}/users`;
  const address = email('race');
  const body = {
    email: address,
    first_name: 'Race',
    product_permission_profiles: esign(w.profiles.a1['DS Sender']!),
  };
  const key = unique('race');
  const created = () =>
    db()
      .selectFrom('audit_events')
      .select('target_id')
      .where('organization_id', '=', w.org)
      .where('action', '=', 'user.created')
      .execute();
  const before = (await created()).length;
  const answers = await Promise.all(
    Array.from({ length: 8 }, () =>
      api(w.live, w.tenant.key, 'POST', path, body, { 'idempotency-key': key }),
    ),
  );
  const done = answers.filter((a) => a.status === 200);
  assert.ok(done.length >= 1);
  for (const a of answers) {
    if (a.status === 200) assert.deepEqual(a.bytes, done[0]!.bytes, 'every success is the one response');
    else {
      assert.equal(a.status, 409, String(a.bytes));
      assert.equal(JSON.parse(a.bytes.toString()).error, 'idempotency_in_progress');
    }
  }
  assert.equal(
    done.filter((a) => a.headers.get('idempotent-replayed') === null).length,
    1,
    'one request did the work',
  );
  assert.equal((await created()).length, before + 1, 'one user was created');
  // After they settle, the key replays the one response.
  const later = await api(w.live, w.tenant.key, 'POST', path, body, { 'idempotency-key': key });
  assert.equal(later.headers.get('idempotent-replayed'), 'true');
  assert.deepEqual(later.bytes, done[0]!.bytes);
  assert.equal((await w.users.getUsers(w.org, { email: address })).users.length, 1);
});
