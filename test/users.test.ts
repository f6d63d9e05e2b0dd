import assert from 'node:assert/strict';
import { test } from 'node:test';
import { as, buildApp, createTenant, everyoneGroupId } from './helper.ts';

test('users: create, get, list with filters, update, deactivate and reactivate', async (t) => {
  const { app, services, config } = await buildApp(t);
  const tenant = await createTenant(services, config);
  const api = as(app, tenant.key);

  const created = await api('POST', '/api/users', {
    email: 'Ada.Lovelace@example.test',
    first_name: 'Ada',
    last_name: 'Lovelace',
    job_title: 'Engineer',
  });
  assert.equal(created.statusCode, 201, created.body);
  const ada = created.json();
  assert.equal(ada.email, 'Ada.Lovelace@example.test');
  assert.equal(ada.role, 'member');
  assert.equal(ada.status, 'active');
  assert.equal(ada.memberships.length, 1);
  assert.equal(ada.memberships[0].account_id, tenant.accountId);
  assert.equal(ada.memberships[0].status, 'active');
  assert.equal(typeof ada.memberships[0].permission_profile_id, 'number', 'profile ids are integers');
  // Only the built-in Everyone, which every membership of the account is in.
  assert.deepEqual(ada.memberships[0].group_ids, [await everyoneGroupId(services, tenant.accountId)]);

  const got = await api('GET', `/api/users/${ada.id}`);
  assert.equal(got.statusCode, 200);
  assert.deepEqual(got.json(), ada);

  await api('POST', '/api/users', { email: 'grace@example.test', first_name: 'Grace', last_name: 'Hopper' });

  // Emails are unique per organization, case-insensitively.
  const dup = await api('POST', '/api/users', { email: 'ada.lovelace@EXAMPLE.test' });
  assert.equal(dup.statusCode, 409);
  assert.equal(dup.json().error.code, 'email_taken');

  const byQ = await api('GET', '/api/users?q=hopp');
  assert.deepEqual(
    byQ.json().data.map((u: any) => u.email),
    ['grace@example.test'],
  );
  const byEmail = await api('GET', '/api/users?email=ADA.lovelace@example.test');
  assert.deepEqual(
    byEmail.json().data.map((u: any) => u.id),
    [ada.id],
  );
  const byAccount = await api('GET', `/api/users?account_id=${tenant.accountId}&limit=500`);
  assert.equal(byAccount.json().data.length, 3); // owner, Ada, Grace

  const patched = await api('PATCH', `/api/users/${ada.id}`, { job_title: 'Analyst', department: 'Engines' });
  assert.equal(patched.statusCode, 200);
  assert.equal(patched.json().job_title, 'Analyst');
  assert.equal(patched.json().department, 'Engines');
  const cleared = await api('PATCH', `/api/users/${ada.id}`, { department: null });
  assert.equal(cleared.json().department, null, 'null clears a field (bodies are not coerced to "")');

  const account = async () => (await api('GET', `/api/accounts/${tenant.accountId}`)).json();
  assert.equal((await account()).seats_used, 3);

  const deactivated = await api('POST', `/api/users/${ada.id}/deactivate`);
  assert.equal(deactivated.statusCode, 200);
  assert.equal(deactivated.json().status, 'deactivated');
  assert.equal(deactivated.json().memberships[0].status, 'closed');
  assert.equal((await account()).seats_used, 2, 'deactivation frees the seat');

  const active = await api('GET', '/api/users?status=active&limit=500');
  assert.ok(!active.json().data.some((u: any) => u.id === ada.id));
  const closed = await api('GET', `/api/users?membership_status=closed&account_id=${tenant.accountId}`);
  assert.deepEqual(
    closed.json().data.map((u: any) => u.id),
    [ada.id],
  );

  const reactivated = await api('POST', `/api/users/${ada.id}/reactivate`);
  assert.equal(reactivated.json().status, 'active');
  assert.equal(reactivated.json().memberships[0].status, 'active');
  assert.equal((await account()).seats_used, 3);
});

test('users: keyset pagination visits every user exactly once', async (t) => {
  const { app, services, config } = await buildApp(t);
  const tenant = await createTenant(services, config);
  const api = as(app, tenant.key);
  for (let i = 0; i < 7; i++) {
    assert.equal((await api('POST', '/api/users', { email: `p${i}@example.test` })).statusCode, 201);
  }
  const seen: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const res = await api('GET', `/api/users?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
    assert.equal(res.statusCode, 200);
    const page = res.json();
    seen.push(...page.data.map((u: any) => u.id));
    cursor = page.next_cursor;
    pages++;
  } while (cursor);
  assert.equal(pages, 3);
  assert.equal(seen.length, 8);
  assert.equal(new Set(seen).size, 8);
  assert.deepEqual(seen, [...seen].sort(), 'pages follow id (creation) order');

  const bad = await api('GET', '/api/users?cursor=not-a-cursor');
  assert.equal(bad.statusCode, 400);
  assert.equal(bad.json().error.code, 'invalid_cursor');
  assert.equal(bad.json().error.details[0].field, 'cursor');
});

test('seats: past seat_limit a create fails with 409 seat_limit_reached and writes nothing', async (t) => {
  const { app, services, config } = await buildApp(t);
  const tenant = await createTenant(services, config);
  const api = as(app, tenant.key);
  const acct = await api('POST', '/api/accounts', { name: 'Small', seat_limit: 1 });
  assert.equal(acct.statusCode, 201);
  const small = acct.json();
  assert.equal(small.seat_limit, 1);
  assert.equal(small.seats_used, 0);

  const first = await api('POST', '/api/users', { email: 'one@example.test', account_id: small.id });
  assert.equal(first.statusCode, 201);
  const second = await api('POST', '/api/users', { email: 'two@example.test', account_id: small.id });
  assert.equal(second.statusCode, 409);
  assert.equal(second.json().error.code, 'seat_limit_reached');
  const none = await api('GET', '/api/users?email=two@example.test');
  assert.deepEqual(none.json().data, [], 'no partial write: the user row was rolled back');

  // A pending membership is not a seat.
  const pending = await api('POST', '/api/users', {
    email: 'three@example.test',
    account_id: small.id,
    membership_status: 'pending',
  });
  assert.equal(pending.statusCode, 201);
  const user3 = pending.json();
  const activate = await api('PATCH', `/api/users/${user3.id}/memberships/${user3.memberships[0].id}`, {
    status: 'active',
  });
  assert.equal(activate.statusCode, 409);
  assert.equal(activate.json().error.code, 'seat_limit_reached');

  // Concurrent creates on a one-seat account: exactly one wins.
  const race = await api('POST', '/api/accounts', { name: 'Race', seat_limit: 1 });
  const raceId = race.json().id;
  const results = await Promise.all(
    Array.from({ length: 8 }, (_, i) =>
      api('POST', '/api/users', { email: `race${i}@example.test`, account_id: raceId }),
    ),
  );
  assert.equal(results.filter((r) => r.statusCode === 201).length, 1);
  assert.equal(results.filter((r) => r.statusCode === 409).length, 7);
  assert.equal((await api('GET', `/api/accounts/${raceId}`)).json().seats_used, 1);
});

test('memberships: a user joins a second account, changes profile, closes', async (t) => {
  const { app, services, config } = await buildApp(t);
  const tenant = await createTenant(services, config);
  const api = as(app, tenant.key);
  const second = (await api('POST', '/api/accounts', { name: 'Second' })).json();
  const user = (await api('POST', '/api/users', { email: 'multi@example.test' })).json();

  const joined = await api('POST', `/api/users/${user.id}/memberships`, { account_id: second.id });
  assert.equal(joined.statusCode, 201, joined.body);
  const membership = joined.json();
  assert.equal(membership.account_id, second.id);

  const again = await api('POST', `/api/users/${user.id}/memberships`, { account_id: second.id });
  assert.equal(again.statusCode, 409);
  assert.equal(again.json().error.code, 'already_member');

  const list = await api('GET', `/api/users/${user.id}/memberships`);
  assert.equal(list.json().data.length, 2);

  // A profile of another account is refused, naming the field.
  const firstAccountProfile = list
    .json()
    .data.find((m: any) => m.account_id === tenant.accountId).permission_profile_id;
  const wrong = await api('PATCH', `/api/users/${user.id}/memberships/${membership.id}`, {
    permission_profile_id: firstAccountProfile,
  });
  assert.equal(wrong.statusCode, 422);
  assert.equal(wrong.json().error.code, 'invalid_reference');
  assert.equal(wrong.json().error.details[0].field, 'permission_profile_id');

  const closed = await api('PATCH', `/api/users/${user.id}/memberships/${membership.id}`, {
    status: 'closed',
  });
  assert.equal(closed.json().status, 'closed');
  assert.ok(closed.json().closed_at);
  const onlyClosed = await api('GET', `/api/users?account_id=${second.id}&membership_status=closed`);
  assert.deepEqual(
    onlyClosed.json().data.map((u: any) => u.id),
    [user.id],
  );
});

test('roles: the last owner cannot be demoted or deactivated; admins cannot touch owners', async (t) => {
  const { app, services, config } = await buildApp(t);
  const tenant = await createTenant(services, config);
  const api = as(app, tenant.key);
  const demote = await api('PATCH', `/api/users/${tenant.ownerId}`, { role: 'admin' });
  assert.equal(demote.statusCode, 422);
  assert.equal(demote.json().error.code, 'last_owner');
  const deactivate = await api('POST', `/api/users/${tenant.ownerId}/deactivate`);
  assert.equal(deactivate.json().error.code, 'last_owner');

  // A key restricted to the admin role acts as an admin, whoever made it.
  const adminKey = (await api('POST', '/api/api_keys', { name: 'admin key', role: 'admin' })).json();
  assert.equal(adminKey.role, 'admin');
  const adminApi = as(app, adminKey.key);
  const touchOwner = await adminApi('PATCH', `/api/users/${tenant.ownerId}`, { first_name: 'Mallory' });
  assert.equal(touchOwner.statusCode, 403);
  assert.equal(touchOwner.json().error.code, 'permission_denied');
  const makeOwner = await adminApi('POST', '/api/users', { email: 'new-owner@example.test', role: 'owner' });
  assert.equal(makeOwner.statusCode, 403);
});

test('GET /users/{id} (one joined query) shows what the list shows: every membership, its groups, in order', async (t) => {
  const { app, services, config } = await buildApp(t);
  const tenant = await createTenant(services, config);
  const api = as(app, tenant.key);
  const second = (await api('POST', '/api/accounts', { name: 'Second' })).json();
  const user = (
    await api('POST', '/api/users', { email: 'two.accounts@example.test', account_id: tenant.accountId })
  ).json();
  const joined = await api('POST', `/api/users/${user.id}/memberships`, { account_id: second.id });
  assert.equal(joined.statusCode, 201, joined.body);
  const groups = [];
  for (const [account, name] of [
    [second.id, 'Beta'],
    [tenant.accountId, 'Alpha'],
    [tenant.accountId, 'Gamma'],
  ]) {
    const group = (await api('POST', `/api/accounts/${account}/groups`, { name })).json();
    const added = await api('POST', `/api/accounts/${account}/groups/${group.id}/members`, {
      user_ids: [user.id],
    });
    assert.equal(added.statusCode, 200, added.body);
    groups.push(group);
  }
  // A user with no groups and one membership, beside them.
  const plain = (await api('POST', '/api/users', { email: 'plain@example.test' })).json();

  const got = (await api('GET', `/api/users/${user.id}`)).json();
  const listed = (await api('GET', '/api/users?email=two.accounts@example.test')).json().data[0];
  assert.deepEqual(got, listed);
  assert.deepEqual(
    got.memberships.map((m: any) => [m.account_id, m.group_ids]),
    [
      [
        tenant.accountId,
        [await everyoneGroupId(services, tenant.accountId), groups[1].id, groups[2].id].sort((a, b) => a - b),
      ],
      [second.id, [await everyoneGroupId(services, second.id), groups[0].id]],
    ],
  );
  assert.deepEqual(
    (await api('GET', `/api/users/${plain.id}`)).json(),
    (await api('GET', '/api/users?email=plain@example.test')).json().data[0],
  );
});
