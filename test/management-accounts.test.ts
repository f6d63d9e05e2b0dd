// The Admin API's account reads (AccountsApi.getPermissions, getGroups), identity providers and reserved
// domains, driven through the official docusign-admin SDK against the real server.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  admin,
  adminClient,
  api,
  type LiveApp,
  liveTenant,
  restrictedKey,
  sdkError,
  startApp,
} from './docusign-helper.ts';
import { unique } from './helper.ts';

type Tenant = Awaited<ReturnType<typeof liveTenant>>;

async function claimDomain(live: LiveApp, tenant: Tenant): Promise<{ id: string; domain: string }> {
  const domain = `${unique('corp')}.example.com`;
  const res = await api(live, tenant.key, 'POST', `/api/organizations/${tenant.organizationId}/domains`, {
    domain,
    auto_join: false,
    account_id: tenant.accountId,
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return { id: res.body.id, domain };
}

test('getPermissions lists the account’s permission profiles with the integer ids /api uses', async (t) => {
  const live = await startApp(t);
  const tenant = await liveTenant(live);
  const made = await api(live, tenant.key, 'POST', `/api/accounts/${tenant.accountId}/permission_profiles`, {
    name: 'Auditors',
    permissions: ['view_audit_log'],
  });
  assert.equal(made.status, 201);
  const result = await new admin.AccountsApi(adminClient(live, tenant.key)).getPermissions(
    tenant.organizationId,
    tenant.accountId,
  );
  const native = await api(live, tenant.key, 'GET', `/api/accounts/${tenant.accountId}/permission_profiles`);
  assert.deepEqual(
    result.permissions.map((p: any) => ({ ...p })),
    native.body.data.map((p: any) => ({ id: Number(p.id), name: p.name })),
  );
  assert.deepEqual(
    result.permissions.map((p: any) => p.name),
    ['DS Admin', 'DS Sender', 'DS Viewer', 'Auditors'],
  );
  assert.ok(result.permissions.every((p: any) => Number.isInteger(p.id)));
});

test('getGroups pages 25 groups by start/take with consistent paging, integer ids', async (t) => {
  const live = await startApp(t);
  const tenant = await liveTenant(live);
  const accounts = new admin.AccountsApi(adminClient(live, tenant.key));
  // A new account has DocuSign's two built-in groups, first; then 25 of its own.
  const builtin = await accounts.getGroups(tenant.organizationId, tenant.accountId);
  assert.deepEqual(
    builtin.groups.map((g: any) => [g.name, g.type]),
    [
      ['Administrators', 'admin_group'],
      ['Everyone', 'everyone_group'],
    ],
  );
  assert.equal(builtin.paging.total_set_size, 2);
  const ids: number[] = builtin.groups.map((g: any) => g.id);
  for (let i = 0; i < 25; i++) {
    const res = await api(live, tenant.key, 'POST', `/api/accounts/${tenant.accountId}/groups`, {
      name: `G${i}`,
    });
    assert.equal(res.status, 201);
    ids.push(Number(res.body.id));
  }
  const seen: number[] = [];
  let start = 0;
  for (;;) {
    const page = await accounts.getGroups(tenant.organizationId, tenant.accountId, { start, take: 10 });
    assert.equal(page.paging.total_set_size, 27);
    assert.equal(page.paging.result_set_start_position, start);
    assert.equal(page.paging.result_set_size, page.groups.length);
    assert.ok(page.groups.every((g: any) => Number.isInteger(g.id) && g.type.endsWith('_group')));
    seen.push(...page.groups.map((g: any) => g.id));
    if (!page.paging.next) break;
    start = Number(new URL(page.paging.next).searchParams.get('start'));
  }
  assert.deepEqual(seen, ids);
  const first = await accounts.getGroups(tenant.organizationId, tenant.accountId);
  assert.equal(first.groups.length, 20, 'default take is 20');
  assert.equal(first.groups[2].name, 'G0');
  const ranged = await accounts.getGroups(tenant.organizationId, tenant.accountId, { start: 22, end: 30 });
  assert.deepEqual(
    ranged.groups.map((g: any) => g.id),
    ids.slice(22),
  );
  assert.equal(ranged.paging.next, undefined);
  assert.ok(ranged.paging.previous);
  const bad = await sdkError(accounts.getGroups(tenant.organizationId, tenant.accountId, { take: -1 }));
  assert.equal(bad.statusCode, 400);
});

test('identity providers: an empty list; reserved domains: the organization’s claimed domains, also in getOrganizations', async (t) => {
  const live = await startApp(t);
  const tenant = await liveTenant(live);
  const client = adminClient(live, tenant.key);
  const providers = await new admin.IdentityProvidersApi(client).getIdentityProviders(tenant.organizationId);
  assert.deepEqual(providers.identity_providers, []);
  const none = await new admin.ReservedDomainsApi(client).getReservedDomains(tenant.organizationId);
  assert.deepEqual(none.reserved_domains, []);

  const claimed = await claimDomain(live, tenant);
  const domains = await new admin.ReservedDomainsApi(client).getReservedDomains(tenant.organizationId);
  assert.equal(domains.reserved_domains.length, 1);
  const [d] = domains.reserved_domains;
  assert.equal(d.id, claimed.id);
  assert.equal(d.host_name, claimed.domain);
  // Unproven until its DNS TXT record is found (POST …/domains/{id}/verify): pending, with the token.
  assert.equal(d.status, 'pending');
  assert.ok(Array.isArray(d.settings) && Array.isArray(d.links));
  assert.match(d.txt_token, /^[0-9a-f]{32}$/);

  const orgs = await new admin.AccountsApi(client).getOrganizations();
  assert.deepEqual(
    orgs.organizations[0].reserved_domains.map((r: any) => ({ id: r.id, host_name: r.host_name })),
    [{ id: claimed.id, host_name: claimed.domain }],
  );

  // getUsers by reserved domain: the users whose address is at the domain.
  const users = new admin.UsersApi(client);
  const atDomain = await users.createUser(
    { email: `someone@${claimed.domain}`, accounts: [{ id: tenant.accountId }] },
    tenant.organizationId,
  );
  await users.createUser(
    { email: `${unique('x')}@elsewhere.example`, accounts: [{ id: tenant.accountId }] },
    tenant.organizationId,
  );
  const byDomain = await users.getUsers(tenant.organizationId, { organizationReservedDomainId: claimed.id });
  assert.deepEqual(
    byDomain.users.map((u: any) => u.id),
    [atDomain.id],
  );
  const unknown = await sdkError(
    users.getUsers(tenant.organizationId, {
      organizationReservedDomainId: '00000000-0000-4000-8000-000000000000',
    }),
  );
  assert.equal(unknown.statusCode, 422);
  assert.match(unknown.body.error_description, /organization_reserved_domain_id/);
});

test('tenancy: another organization’s org and account ids answer 404, like missing ones', async (t) => {
  const live = await startApp(t);
  const mine = await liveTenant(live);
  const theirs = await liveTenant(live);
  const theirDomain = await claimDomain(live, theirs);
  const client = adminClient(live, mine.key);
  const accounts = new admin.AccountsApi(client);
  const missing = '00000000-0000-4000-8000-000000000002';
  const cases: [string, () => Promise<unknown>][] = [
    ['getPermissions foreign org', () => accounts.getPermissions(theirs.organizationId, theirs.accountId)],
    ['getPermissions foreign account', () => accounts.getPermissions(mine.organizationId, theirs.accountId)],
    ['getPermissions missing account', () => accounts.getPermissions(mine.organizationId, missing)],
    ['getGroups foreign org', () => accounts.getGroups(theirs.organizationId, theirs.accountId)],
    ['getGroups foreign account', () => accounts.getGroups(mine.organizationId, theirs.accountId)],
    ['getGroups missing account', () => accounts.getGroups(mine.organizationId, missing)],
    [
      'getIdentityProviders foreign org',
      () => new admin.IdentityProvidersApi(client).getIdentityProviders(theirs.organizationId),
    ],
    [
      'getIdentityProviders missing org',
      () => new admin.IdentityProvidersApi(client).getIdentityProviders(missing),
    ],
    [
      'getReservedDomains foreign org',
      () => new admin.ReservedDomainsApi(client).getReservedDomains(theirs.organizationId),
    ],
    [
      'getReservedDomains missing org',
      () => new admin.ReservedDomainsApi(client).getReservedDomains(missing),
    ],
  ];
  for (const [name, call] of cases) {
    const err = await sdkError(call());
    assert.equal(err.statusCode, 404, `${name}: ${JSON.stringify(err.body)}`);
    assert.equal(err.body.error, 'not_found', name);
  }
  // Their reserved domain is not a filter in this organization, and not among its domains.
  const byTheirDomain = await sdkError(
    new admin.UsersApi(client).getUsers(mine.organizationId, {
      organizationReservedDomainId: theirDomain.id,
    }),
  );
  assert.equal(byTheirDomain.statusCode, 422);
  const orgs = await accounts.getOrganizations();
  assert.deepEqual(orgs.organizations[0].reserved_domains, []);
});

test('a key without the scope gets 403 naming it: permission_read, group_read, domain_read, identity_provider_read', async (t) => {
  const live = await startApp(t);
  const tenant = await liveTenant(live);
  const usersOnly = adminClient(live, await restrictedKey(live, tenant, ['users:read']));
  const accountReader = adminClient(live, await restrictedKey(live, tenant, ['account:read']));
  const org = tenant.organizationId;
  const checks: [string, () => Promise<unknown>][] = [
    ['permission_read', () => new admin.AccountsApi(usersOnly).getPermissions(org, tenant.accountId)],
    ['group_read', () => new admin.AccountsApi(usersOnly).getGroups(org, tenant.accountId)],
    ['domain_read', () => new admin.ReservedDomainsApi(usersOnly).getReservedDomains(org)],
    ['identity_provider_read', () => new admin.IdentityProvidersApi(usersOnly).getIdentityProviders(org)],
  ];
  for (const [scope, call] of checks) {
    const err = await sdkError(call());
    assert.equal(err.statusCode, 403, scope);
    assert.equal(err.body.error, 'permission_denied');
    assert.match(err.body.error_description, new RegExp(`needs the ${scope} scope`));
  }
  // The account reader's key may read all four.
  assert.ok(
    (await new admin.AccountsApi(accountReader).getPermissions(org, tenant.accountId)).permissions.length > 0,
  );
  assert.equal(
    (await new admin.AccountsApi(accountReader).getGroups(org, tenant.accountId)).groups.length,
    2,
  );
  assert.deepEqual(
    (await new admin.ReservedDomainsApi(accountReader).getReservedDomains(org)).reserved_domains,
    [],
  );
  assert.deepEqual(
    (await new admin.IdentityProvidersApi(accountReader).getIdentityProviders(org)).identity_providers,
    [],
  );
});
