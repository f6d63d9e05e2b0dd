// The role × route matrix: every kind of caller against a representative route of each permission, with the
// status each must get. Read a row as "this caller, calling this route, gets this status".
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { systemPrincipal } from '../src/core/principal.ts';
import { as, buildApp, createTenant, testDb, unique } from './helper.ts';

type Caller =
  | 'owner'
  | 'admin'
  | 'member_ds_admin'
  | 'member_ds_sender'
  | 'member_ds_viewer'
  | 'restricted_users_read'
  | 'expired'
  | 'revoked'
  | 'other_org';

type Route =
  | 'list_users'
  | 'get_user'
  | 'create_user'
  | 'create_account'
  | 'update_account'
  | 'create_group'
  | 'update_settings'
  | 'read_audit'
  | 'create_key'
  | 'revoke_all';

// biome-ignore format: a table reads best aligned
const EXPECTED: Record<Caller, Record<Route, number>> = {
  //                       list  get  create  new   upd   group  sett  audit  key   revoke
  //                       users user user    acct  acct         ings         key   all
  owner:                 { list_users: 200, get_user: 200, create_user: 201, create_account: 201, update_account: 200, create_group: 201, update_settings: 200, read_audit: 200, create_key: 201, revoke_all: 200 },
  admin:                 { list_users: 200, get_user: 200, create_user: 201, create_account: 201, update_account: 200, create_group: 201, update_settings: 200, read_audit: 200, create_key: 201, revoke_all: 403 },
  member_ds_admin:       { list_users: 200, get_user: 200, create_user: 201, create_account: 403, update_account: 403, create_group: 201, update_settings: 200, read_audit: 200, create_key: 201, revoke_all: 403 },
  member_ds_sender:      { list_users: 200, get_user: 200, create_user: 403, create_account: 403, update_account: 403, create_group: 403, update_settings: 403, read_audit: 403, create_key: 403, revoke_all: 403 },
  member_ds_viewer:      { list_users: 200, get_user: 200, create_user: 403, create_account: 403, update_account: 403, create_group: 403, update_settings: 403, read_audit: 403, create_key: 403, revoke_all: 403 },
  restricted_users_read: { list_users: 200, get_user: 200, create_user: 403, create_account: 403, update_account: 403, create_group: 403, update_settings: 403, read_audit: 403, create_key: 403, revoke_all: 403 },
  expired:               { list_users: 401, get_user: 401, create_user: 401, create_account: 401, update_account: 401, create_group: 401, update_settings: 401, read_audit: 401, create_key: 401, revoke_all: 401 },
  revoked:               { list_users: 401, get_user: 401, create_user: 401, create_account: 401, update_account: 401, create_group: 401, update_settings: 401, read_audit: 401, create_key: 401, revoke_all: 401 },
  // Another organization's owner: our ids do not exist for them (lists answer with their own data).
  other_org:             { list_users: 200, get_user: 404, create_user: 422, create_account: 201, update_account: 404, create_group: 404, update_settings: 404, read_audit: 200, create_key: 422, revoke_all: 200 },
};

test('role × route matrix', async (t) => {
  const { app, services, config } = await buildApp(t);
  const tenant = await createTenant(services, config);
  const owner = as(app, tenant.key);
  const profiles = await testDb()
    .db.selectFrom('permission_profiles')
    .select(['id', 'name'])
    .where('account_id', '=', tenant.accountId)
    .execute();
  const profile = (name: string) => profiles.find((p) => p.name === name)!.id;
  const system = { principal: systemPrincipal(tenant.organizationId, 'test'), meta: {} };

  const keyFor = async (role: 'admin' | 'member', profileName: string) => {
    const user = (
      await owner('POST', '/api/users', {
        email: `${unique(role)}@example.test`,
        role,
        permission_profile_id: profile(profileName),
      })
    ).json();
    const key = await services.apiKeys.create(system, {
      name: `${role} ${profileName}`,
      account_id: tenant.accountId,
      created_by: user.id,
      role,
    });
    return key.key;
  };

  const expiring = (
    await owner('POST', '/api/api_keys', {
      name: 'soon',
      expires_at: new Date(Date.now() + 60_000).toISOString(),
    })
  ).json();
  await testDb()
    .db.updateTable('api_keys')
    .set({ expires_at: new Date(Date.now() - 1000) })
    .where('id', '=', expiring.id)
    .execute();
  const revoked = (await owner('POST', '/api/api_keys', { name: 'gone' })).json();
  await owner('DELETE', `/api/api_keys/${revoked.id}`);
  const other = await createTenant(services, config);

  const keys: Record<Caller, string> = {
    owner: tenant.key,
    admin: await keyFor('admin', 'DS Admin'),
    member_ds_admin: await keyFor('member', 'DS Admin'),
    member_ds_sender: await keyFor('member', 'DS Sender'),
    member_ds_viewer: await keyFor('member', 'DS Viewer'),
    restricted_users_read: (
      await owner('POST', '/api/api_keys', { name: 'reader', scopes: ['users:read'] })
    ).json().key,
    expired: expiring.key,
    revoked: revoked.key,
    other_org: other.key,
  };

  const acct = tenant.accountId;
  const requests: Record<Route, () => [string, string, unknown?]> = {
    list_users: () => ['GET', '/api/users'],
    get_user: () => ['GET', `/api/users/${tenant.ownerId}`],
    create_user: () => ['POST', '/api/users', { email: `${unique('u')}@example.test`, account_id: acct }],
    create_account: () => ['POST', '/api/accounts', { name: unique('Acct') }],
    update_account: () => ['PATCH', `/api/accounts/${acct}`, { name: unique('Renamed') }],
    create_group: () => ['POST', `/api/accounts/${acct}/groups`, { name: unique('Group') }],
    update_settings: () => ['PATCH', `/api/accounts/${acct}/settings`, { session_timeout_minutes: 30 }],
    read_audit: () => ['GET', '/api/audit_events'],
    create_key: () => ['POST', '/api/api_keys', { name: 'made in the matrix', account_id: acct }],
    revoke_all: () => ['POST', '/api/api_keys/revoke_all', { reason: 'matrix' }],
  };

  // A fresh app: every key is verified from the database, as by another process. The expired and revoked
  // callers fail on purpose, from one address: the per-IP budget of failed keys is off here.
  const { app: fresh } = await buildApp(t, { keyFailuresPerMinute: 0 });
  const failures: string[] = [];
  const callers = Object.keys(EXPECTED) as Caller[];
  const routes = (Object.keys(requests) as Route[]).filter((r) => r !== 'revoke_all');
  const check = async (caller: Caller, route: Route) => {
    const [method, url, body] = requests[route]();
    const res = await as(fresh, keys[caller])(method as never, url, body);
    const want = EXPECTED[caller][route];
    if (res.statusCode !== want)
      failures.push(`${caller} ${route}: want ${want}, got ${res.statusCode} ${res.body}`);
    if (res.statusCode === 401 || res.statusCode === 403) {
      const error = res.json().error;
      assert.ok(error.message.length > 10, `${caller} ${route}: the ${res.statusCode} says what is wrong`);
    }
  };
  for (const caller of callers) for (const route of routes) await check(caller, route);
  // revoke_all revokes every key of the organization, so the callers that may use it go last.
  const revokeOrder = [...callers].sort(
    (a, b) => Number(EXPECTED[a].revoke_all === 200) - Number(EXPECTED[b].revoke_all === 200),
  );
  for (const caller of revokeOrder) await check(caller, 'revoke_all');
  assert.deepEqual(failures, []);

  // After the owner's break-glass revoke, no key of the organization works (other_org's own revoke_all
  // revoked only its own organization's keys).
  const { app: after } = await buildApp(t);
  for (const caller of ['owner', 'admin', 'member_ds_admin'] as const) {
    const res = await as(after, keys[caller])('GET', '/api/users');
    assert.equal(res.statusCode, 401, caller);
    assert.equal(res.json().error.code, 'api_key_revoked');
  }
});
