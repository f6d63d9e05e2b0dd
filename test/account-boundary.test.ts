// The account boundary and "never beyond your own rights" (issue 10, findings 1–5 and 7), on every face that
// has the operation: /api, /management (DocuSign Admin API) and /restapi (eSignature), with the same keys.
//
// The world of the issue: organization A with accounts A1 and A2; a member M whose profile in A1 holds only
// manage_users; a user V in A1 (DS Sender) and A2 (DS Admin); a user W only in A2; a member Q whose profile in
// A1 holds only view_audit_log. U is a plain member of A1 only (what M may change); N holds manage_users in
// A1 AND DS Admin in A2 (what a session may reach).
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { PROFILE_PERMISSIONS, systemPrincipal } from '../src/core/principal.ts';
import { admin, adminClient, api, email, type LiveApp, startApp } from './docusign-helper.ts';
import { createTenant, testDb, unique } from './helper.ts';
import { runWorker } from './imports-helper.ts';
import { lastMail, mailsTo } from './people-helper.ts';

interface World {
  live: LiveApp;
  org: string;
  a1: string;
  a2: string;
  owner: string;
  ownerKeyId: string;
  profiles: { a1: Record<string, number>; a2: Record<string, number> };
  users: Record<'M' | 'V' | 'W' | 'Q' | 'U' | 'N', { id: string; email: string }>;
  keys: Record<'M' | 'Q' | 'N', string>;
}

async function profilesOf(accountId: string): Promise<Record<string, number>> {
  const rows = await testDb()
    .db.selectFrom('permission_profiles')
    .select(['id', 'name'])
    .where('account_id', '=', accountId)
    .execute();
  return Object.fromEntries(rows.map((r) => [r.name, Number(r.id)]));
}

async function setup(t: TestContext): Promise<World> {
  const live = await startApp(t, { importBatchSize: 2 });
  await runWorker(t, live.config);
  const tenant = await createTenant(live.services, live.config);
  const owner = tenant.key;
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await api(live, owner, method, path, body);
    assert.ok(res.status < 300, `${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  };
  const a1 = tenant.accountId;
  const a2 = (await call('POST', '/api/accounts', { name: unique('A2') })).id as string;
  const usersOnly = (
    await call('POST', `/api/accounts/${a1}/permission_profiles`, {
      name: 'Users only',
      permissions: ['manage_users'],
    })
  ).id as number;
  const auditOnly = (
    await call('POST', `/api/accounts/${a1}/permission_profiles`, {
      name: 'Audit only',
      permissions: ['view_audit_log'],
    })
  ).id as number;
  const profiles = { a1: await profilesOf(a1), a2: await profilesOf(a2) };
  const user = async (
    tag: string,
    first: { account: string; profile: number },
    second?: { account: string; profile: number },
  ) => {
    const address = email(tag);
    const u = await call('POST', '/api/users', {
      email: address,
      first_name: tag,
      last_name: 'Person',
      account_id: first.account,
      permission_profile_id: first.profile,
    });
    if (second) {
      await call('POST', `/api/users/${u.id}/memberships`, {
        account_id: second.account,
        permission_profile_id: second.profile,
      });
    }
    return { id: u.id as string, email: address };
  };
  const users = {
    M: await user('m', { account: a1, profile: usersOnly }),
    V: await user(
      'v',
      { account: a1, profile: profiles.a1['DS Sender']! },
      { account: a2, profile: profiles.a2['DS Admin']! },
    ),
    W: await user('w', { account: a2, profile: profiles.a2['DS Sender']! }),
    Q: await user('q', { account: a1, profile: auditOnly }),
    U: await user('u', { account: a1, profile: profiles.a1['DS Sender']! }),
    N: await user(
      'n',
      { account: a1, profile: usersOnly },
      { account: a2, profile: profiles.a2['DS Admin']! },
    ),
  };
  const system = { principal: systemPrincipal(tenant.organizationId, 'test'), meta: {} };
  const keyOf = async (who: { id: string }) =>
    (
      await live.services.apiKeys.create(system, {
        name: unique('key'),
        account_id: a1,
        created_by: who.id,
        role: 'member',
      })
    ).key;
  const ownerKeyId = (await call('GET', '/api/me')).id as string;
  return {
    live,
    org: tenant.organizationId,
    a1,
    a2,
    owner,
    ownerKeyId,
    profiles,
    users,
    keys: { M: await keyOf(users.M), Q: await keyOf(users.Q), N: await keyOf(users.N) },
  };
}

/** A dashboard session of `userId` acting in `accountId` (Signet-Account), as a browser would send it. */
async function sessionOf(w: World, userId: string, accountId: string) {
  const s = await w.live.services.sessions.create(testDb().db, { id: userId, organization_id: w.org }, {});
  return async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${w.live.base}${path}`, {
      method,
      headers: {
        cookie: `signet_session=${s.token}`,
        'x-csrf-token': s.csrfToken,
        'signet-account': accountId,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };
}

async function userRow(id: string) {
  return testDb().db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}

async function membershipsOf(userId: string) {
  return testDb()
    .db.selectFrom('memberships')
    .select(['account_id', 'status', 'permission_profile_id'])
    .where('user_id', '=', userId)
    .orderBy('account_id')
    .execute();
}

async function runImport(w: World, key: string, query: string, csv: string) {
  const res = await fetch(`${w.live.base}/api/imports?${query}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'text/csv' },
    body: csv,
  });
  assert.equal(res.status, 202, await res.clone().text());
  const id = ((await res.json()) as { id: string }).id;
  for (let i = 0; ; i++) {
    const got = await api(w.live, key, 'GET', `/api/imports/${id}`);
    if (['completed', 'failed', 'canceled'].includes(got.body.status)) break;
    assert.ok(i < 300, 'import did not end');
    await new Promise((r) => setTimeout(r, 100));
  }
  return (await api(w.live, key, 'GET', `/api/imports/${id}/rows?limit=100`)).body.data as any[];
}

test('finding 1: a member cannot change the identity of a user who belongs to other accounts (/api)', async (t) => {
  const w = await setup(t);
  const { V, U, W } = w.users;
  const before = await userRow(V.id);

  // M's key (manage_users in A1 only) changes V's email, names, or triggers V's password reset: refused.
  for (const patch of [{ email: email('taken') }, { first_name: 'Mallory' }, { job_title: 'CEO' }]) {
    const res = await api(w.live, w.keys.M, 'PATCH', `/api/users/${V.id}`, patch);
    assert.equal(res.status, 403, JSON.stringify(res.body));
    assert.equal(res.body.error.code, 'permission_denied');
    // M may not see A2: the refusal counts it without naming it.
    assert.deepEqual(res.body.error.details[0].accounts, []);
    assert.equal(res.body.error.details[0].other_accounts, 1);
    assert.ok(!JSON.stringify(res.body).includes(w.a2), 'A2 is not named');
  }
  const reset = await api(w.live, w.keys.M, 'POST', `/api/users/${V.id}/password_reset`);
  assert.equal(reset.status, 403);
  assert.deepEqual(await userRow(V.id), before);
  const mails = await testDb()
    .db.selectFrom('outbox_mail')
    .select('id')
    .where('to', '=', V.email)
    .where('subject', 'ilike', '%password%')
    .execute();
  assert.equal(mails.length, 0, 'no reset mail went out');

  // The same through a dashboard session of M: M has no membership in A2, so no right there either.
  const mSession = await sessionOf(w, w.users.M.id, w.a1);
  assert.equal((await mSession('PATCH', `/api/users/${V.id}`, { email: email('s') })).status, 403);

  // W has no membership in A1 at all: not even visible to M.
  assert.equal((await api(w.live, w.keys.M, 'PATCH', `/api/users/${W.id}`, { first_name: 'X' })).status, 404);

  // Within reach: U belongs to A1 only.
  const ok = await api(w.live, w.keys.M, 'PATCH', `/api/users/${U.id}`, { first_name: 'Ursula' });
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.equal((await api(w.live, w.keys.M, 'POST', `/api/users/${U.id}/password_reset`)).status, 202);

  // N holds manage_users in A1 and DS Admin in A2: through a session (N's own rights in each account) the
  // change is within reach; through N's A1 key it is not (a key is confined to its account).
  const nSession = await sessionOf(w, w.users.N.id, w.a1);
  const byN = await nSession('PATCH', `/api/users/${V.id}`, { job_title: 'Engineer' });
  assert.equal(byN.status, 200, JSON.stringify(byN.body));
  assert.equal((await api(w.live, w.keys.N, 'PATCH', `/api/users/${V.id}`, { job_title: 'X' })).status, 403);
  // The owner reaches everywhere.
  assert.equal((await api(w.live, w.owner, 'PATCH', `/api/users/${V.id}`, { job_title: 'Y' })).status, 200);
});

test('finding 1: the DocuSign faces hold the same reach rule (Admin API, eSignature)', async (t) => {
  const w = await setup(t);
  const { V, U } = w.users;
  const before = await userRow(V.id);

  // UsersApi.updateEmailAddress and UsersApi.updateUser: per-user errors, nothing changed.
  const users = new admin.UsersApi(adminClient(w.live, w.keys.M));
  const byEmail = await users.updateEmailAddress({ users: [{ id: V.id, email: email('ds') }] }, w.org);
  assert.equal(byEmail.success, false);
  const byProfile = await users.updateUser({ users: [{ id: V.id, first_name: 'Mallory' }] }, w.org);
  assert.equal(byProfile.success, false);
  assert.deepEqual(await userRow(V.id), before);

  // eSignature: PUT /users/{V} with a new email, in A1.
  const put = await api(w.live, w.keys.M, 'PUT', `/restapi/v2.1/accounts/${w.a1}/users/${V.id}`, {
    email: email('es'),
  });
  assert.ok(put.status >= 400 && put.status < 500, `${put.status} ${JSON.stringify(put.body)}`);
  assert.deepEqual(await userRow(V.id), before);

  // Within reach on both faces.
  const fine = await users.updateUser({ users: [{ id: U.id, first_name: 'Una' }] }, w.org);
  assert.equal(fine.success, true, JSON.stringify(fine));
  const putU = await api(w.live, w.keys.M, 'PUT', `/restapi/v2.1/accounts/${w.a1}/users/${U.id}`, {
    jobTitle: 'Clerk',
  });
  assert.equal(putU.status, 200, JSON.stringify(putU.body));
});

test('finding 1: import rows stay inside the account; a dry run reveals nothing outside it', async (t) => {
  const w = await setup(t);
  const { V, W } = w.users;
  const [vBefore, wBefore] = [await userRow(V.id), await userRow(W.id)];

  // update on A1: W (no membership in A1) is never touched; V (also in A2) cannot change identity.
  const rows = await runImport(
    w,
    w.keys.M,
    `operation=update&account_id=${w.a1}`,
    `APIUserName,UserEmail,FirstName\n${W.id},${email('w2')},Wendy\n${V.id},${email('v2')},Mallory\n`,
  );
  assert.deepEqual(
    rows.map((r) => [r.status, r.error_type]),
    [
      ['error', 'user_not_in_account'],
      ['error', 'account_admin_access_denied'],
    ],
  );
  assert.deepEqual(await userRow(W.id), wBefore);
  assert.deepEqual(await userRow(V.id), vBefore);

  // Even the owner's import on A1 does not update a user outside A1.
  const ownerRows = await runImport(
    w,
    w.owner,
    `operation=update&account_id=${w.a1}`,
    `APIUserName,UserEmail,FirstName\n${W.id},,Wendy\n`,
  );
  assert.equal(ownerRows[0].error_type, 'user_not_in_account');
  assert.deepEqual(await userRow(W.id), wBefore);

  // A dry-run add of W's address into A1 looks exactly like the add of a new person: no id, no name.
  const fresh = email('fresh');
  const dry = await runImport(
    w,
    w.keys.M,
    `operation=add&dry_run=true&account_id=${w.a1}`,
    `UserEmail,FirstName,LastName,PermissionSet\n${W.email},Someone,Else,DS Sender\n${fresh},Someone,Else,DS Sender\n`,
  );
  const shape = (r: any) => ({ ...r, row_number: 0, email: null });
  assert.deepEqual(shape(dry[0]), shape(dry[1]));
  assert.equal(dry[0].user_id, null);
  assert.equal(dry[0].status, 'ok');
});

test('finding 1: where reach allows an email change, the address only waits for its link: no takeover by reset', async (t) => {
  const w = await setup(t);
  const { V, N } = w.users;
  const post = async (path: string, body: unknown) =>
    fetch(`${w.live.base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  // V has a password, set through a reset link from V's own mailbox.
  assert.equal((await api(w.live, w.owner, 'POST', `/api/users/${V.id}/password_reset`)).status, 202);
  const password = 'V’s own long password 7';
  const set = await post('/password_reset/complete', { token: (await lastMail(V.email)).token, password });
  assert.equal(set.status, 200, await set.text());

  // N holds manage_users in A1 and DS Admin in A2: through a session the change is within reach. Finding 1's
  // attack goes on: a reset for the new address, then sign in as V.
  const mallory = email('mallory');
  const changed = await (await sessionOf(w, N.id, w.a1))('PATCH', `/api/users/${V.id}`, { email: mallory });
  assert.equal(changed.status, 200, JSON.stringify(changed.body));
  assert.deepEqual([changed.body.email, changed.body.pending_email], [V.email, mallory]);
  assert.equal((await post('/password_reset', { email: mallory })).status, 202);
  await w.live.services.people.flush();
  assert.deepEqual(
    (await mailsTo(mallory)).map((m) => m.subject),
    ['Confirm your new email address for Signet'],
    'no reset link reaches the new address',
  );
  assert.equal((await post('/login', { email: mallory, password })).status, 401);
  assert.equal((await post('/login', { email: V.email, password })).status, 200, 'V still signs in as V');
  assert.equal((await mailsTo(V.email)).at(-1)!.subject, 'A change of your email address was requested');
  assert.equal((await userRow(V.id)).email, V.email);

  // An import row within reach (the owner's) takes the same path.
  const imported = email('imported');
  const rows = await runImport(
    w,
    w.owner,
    `operation=update&account_id=${w.a1}`,
    `APIUserName,UserEmail\n${V.id},${imported}\n`,
  );
  assert.equal(rows[0].result, 'user_updated', JSON.stringify(rows[0]));
  const row = await userRow(V.id);
  assert.deepEqual([row.email, row.pending_email], [V.email, imported]);
  assert.equal((await mailsTo(imported)).length, 1);
  assert.equal((await mailsTo(mallory))[0]!.token, '', 'the newer change killed the link N asked for');
});

test('finding 2: nobody assigns, creates or edits a profile beyond what they hold', async (t) => {
  const w = await setup(t);
  const { M, U } = w.users;
  const dsAdmin = w.profiles.a1['DS Admin']!;
  const mine = (await membershipsOf(M.id))[0]!;

  // M makes itself (or U) DS Admin of A1: refused on every route that assigns a profile.
  const mMembership = (await api(w.live, w.keys.M, 'GET', `/api/users/${M.id}/memberships`)).body.data[0];
  const self = await api(w.live, w.keys.M, 'PATCH', `/api/users/${M.id}/memberships/${mMembership.id}`, {
    permission_profile_id: dsAdmin,
  });
  assert.equal(self.status, 403, JSON.stringify(self.body));
  assert.deepEqual(self.body.error.details[0].missing.includes('manage_api_keys'), true);
  assert.equal(
    (
      await api(w.live, w.keys.M, 'POST', '/api/users', {
        email: email('new'),
        account_id: w.a1,
        permission_profile_id: dsAdmin,
      })
    ).status,
    403,
  );
  assert.equal(
    (
      await api(w.live, w.keys.M, 'POST', '/api/invites', {
        email: email('inv'),
        role: 'member',
        account_id: w.a1,
        permission_profile_id: dsAdmin,
      })
    ).status,
    403,
  );
  const invAdmin = await api(w.live, w.keys.M, 'POST', '/api/invites', {
    email: email('inv'),
    role: 'admin',
    account_id: w.a1,
  });
  assert.equal(invAdmin.status, 403);
  // A CSV import row naming DS Admin.
  const rows = await runImport(
    w,
    w.keys.M,
    `operation=add&account_id=${w.a1}`,
    `UserEmail,FirstName,LastName,PermissionSet\n${email('imp')},I,P,DS Admin\n${email('imp')},I,P,DS Sender\n`,
  );
  assert.deepEqual(
    rows.map((r) => r.error_type),
    ['account_admin_access_denied', null],
  );
  // The DocuSign faces: Admin API addUsers, eSignature PUT user.
  const added = await api(
    w.live,
    w.keys.M,
    'POST',
    `/management/v2/organizations/${w.org}/accounts/${w.a1}/users`,
    {
      email: email('ds'),
      first_name: 'D',
      last_name: 'S',
      permission_profile: { id: dsAdmin },
    },
  );
  assert.equal(added.status, 403, JSON.stringify(added.body));
  const put = await api(w.live, w.keys.M, 'PUT', `/restapi/v2.1/accounts/${w.a1}/users/${U.id}`, {
    permissionProfileId: String(dsAdmin),
  });
  assert.ok(put.status >= 400 && put.status < 500, `${put.status} ${JSON.stringify(put.body)}`);
  assert.deepEqual((await membershipsOf(M.id))[0], mine);
  assert.equal(
    (await membershipsOf(U.id))[0]!.permission_profile_id,
    w.profiles.a1['DS Sender'],
    'U keeps its profile',
  );

  // DS Sender (send_envelopes grants no administration) stays assignable by whoever manages users.
  const sender = await api(w.live, w.keys.M, 'POST', '/api/users', {
    email: email('ok'),
    account_id: w.a1,
    permission_profile_id: w.profiles.a1['DS Sender'],
  });
  assert.equal(sender.status, 201, JSON.stringify(sender.body));

  // A member who may manage profiles (P) creates or edits none beyond what P holds.
  const pProfile = (
    await api(w.live, w.owner, 'POST', `/api/accounts/${w.a1}/permission_profiles`, {
      name: 'Profiles and users',
      permissions: ['manage_users', 'manage_permission_profiles'],
    })
  ).body.id;
  const p = (
    await api(w.live, w.owner, 'POST', '/api/users', {
      email: email('p'),
      account_id: w.a1,
      permission_profile_id: pProfile,
    })
  ).body;
  const pKey = (
    await w.live.services.apiKeys.create(
      { principal: systemPrincipal(w.org, 'test'), meta: {} },
      { name: 'p', account_id: w.a1, created_by: p.id, role: 'member' },
    )
  ).key;
  const base = `/api/accounts/${w.a1}/permission_profiles`;
  const beyond = await api(w.live, pKey, 'POST', base, { name: 'Keys', permissions: ['manage_api_keys'] });
  assert.equal(beyond.status, 403, JSON.stringify(beyond.body));
  assert.equal(
    (await api(w.live, pKey, 'PATCH', `${base}/${pProfile}`, { permissions: [...PROFILE_PERMISSIONS] }))
      .status,
    403,
  );
  assert.equal((await api(w.live, pKey, 'PATCH', `${base}/${dsAdmin}`, { name: 'Renamed' })).status, 403);
  const within = await api(w.live, pKey, 'POST', base, { name: 'Helpers', permissions: ['manage_users'] });
  assert.equal(within.status, 201, JSON.stringify(within.body));
});

test('finding 3: a member reads the audit events of its own account only', async (t) => {
  const w = await setup(t);
  const seen: any[] = [];
  let cursor: string | null = null;
  do {
    const res = await api(
      w.live,
      w.keys.Q,
      'GET',
      `/api/audit_events?limit=200${cursor ? `&cursor=${cursor}` : ''}`,
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    seen.push(...res.body.data);
    cursor = res.body.next_cursor;
  } while (cursor);
  assert.ok(seen.length > 0, 'Q sees its account’s events');
  assert.deepEqual([...new Set(seen.map((e) => e.account_id))], [w.a1]);
  assert.ok(!JSON.stringify(seen).includes(w.users.W.email), 'nothing of W, who is only in A2');

  // The export is scoped the same way.
  const exported = await fetch(`${w.live.base}/api/audit_events/export?format=jsonl`, {
    headers: { authorization: `Bearer ${w.keys.Q}` },
  });
  const text = await exported.text();
  assert.equal(exported.status, 200, text);
  const lines = text
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual([...new Set(lines.map((e) => e.account_id))], [w.a1]);

  // The owner still reads everything, organization-level events included.
  const all = (await api(w.live, w.owner, 'GET', '/api/audit_events?limit=500')).body.data as any[];
  assert.ok(all.some((e) => e.account_id === w.a2));
  assert.ok(all.some((e) => e.account_id === null));
});

test('finding 4: a member cannot deactivate a user who belongs to other accounts', async (t) => {
  const w = await setup(t);
  const { V, U } = w.users;
  const before = await membershipsOf(V.id);
  const res = await api(w.live, w.keys.M, 'POST', `/api/users/${V.id}/deactivate`);
  assert.equal(res.status, 403, JSON.stringify(res.body));
  assert.deepEqual(await membershipsOf(V.id), before);
  assert.equal((await userRow(V.id)).status, 'active');
  // Through a session too.
  const mSession = await sessionOf(w, w.users.M.id, w.a1);
  assert.equal((await mSession('POST', `/api/users/${V.id}/deactivate`)).status, 403);
  // Closing V's membership in A1 alone stays within A1 (eSignature's "close users").
  const closed = await api(w.live, w.keys.M, 'DELETE', `/restapi/v2.1/accounts/${w.a1}/users`, {
    users: [{ userId: V.id }],
  });
  assert.equal(closed.status, 200, JSON.stringify(closed.body));
  const after = await membershipsOf(V.id);
  assert.deepEqual(
    after.map((m) => [m.account_id, m.status]),
    before.map((m) => [m.account_id, m.account_id === w.a1 ? 'closed' : m.status]),
  );
  // Within reach: U, in A1 only, is deactivated and reactivated.
  assert.equal((await api(w.live, w.keys.M, 'POST', `/api/users/${U.id}/deactivate`)).status, 200);
  assert.equal((await api(w.live, w.keys.M, 'POST', `/api/users/${U.id}/reactivate`)).status, 200);
  // The owner may deactivate V; M may then not reactivate V (it would reopen V's A2 membership).
  assert.equal((await api(w.live, w.owner, 'POST', `/api/users/${V.id}/deactivate`)).status, 200);
  assert.equal((await api(w.live, w.keys.M, 'POST', `/api/users/${V.id}/reactivate`)).status, 403);
});

test('a deactivated user still belongs to the accounts its deactivation closed: out of reach, and not shown', async (t) => {
  // Found by the generated account-boundary matrix (test/matrices.test.ts): once an owner had deactivated V
  // (DS Admin of A2), M changed V's job title and email and erased V's personal data, since V had no open
  // membership left; and every view of V showed M V's memberships in A2.
  const w = await setup(t);
  const { V } = w.users;
  assert.equal((await api(w.live, w.owner, 'POST', `/api/users/${V.id}/deactivate`)).status, 200);
  const before = await userRow(V.id);
  const mSession = await sessionOf(w, w.users.M.id, w.a1);
  for (const call of [
    () => api(w.live, w.keys.M, 'PATCH', `/api/users/${V.id}`, { job_title: 'CEO' }),
    () => mSession('PATCH', `/api/users/${V.id}`, { email: email('mallory') }),
    () =>
      api(w.live, w.keys.M, 'POST', `/management/v2/organizations/${w.org}/users/email_addresses`, {
        users: [{ id: V.id, email: email('mallory2') }],
      }),
    () =>
      api(w.live, w.keys.M, 'POST', `/management/v2/data_redaction/organizations/${w.org}/user`, {
        user_id: V.id,
        memberships: [{ account_id: w.a1 }],
      }),
  ]) {
    const res = await call();
    const refused =
      res.status === 403 ||
      res.body?.users?.every((u: any) => u.error_details?.error === 'permission_denied');
    assert.ok(refused, JSON.stringify(res.body));
    assert.ok(!JSON.stringify(res.body).includes(w.a2), 'the refusal does not name A2');
  }
  assert.deepEqual(await userRow(V.id), before, "V's row is unchanged");
  // An owner may: V's data goes.
  const erased = await api(
    w.live,
    w.owner,
    'POST',
    `/management/v2/data_redaction/organizations/${w.org}/user`,
    {
      user_id: V.id,
      memberships: [{ account_id: w.a1 }],
    },
  );
  assert.equal(erased.status, 200, JSON.stringify(erased.body));

  // Every view of a user shows a member the user's membership in its own account only.
  const { N } = w.users; // active in A1 and A2
  const views = [
    (await api(w.live, w.keys.M, 'GET', `/api/users/${N.id}`)).body.memberships,
    (await api(w.live, w.keys.M, 'GET', `/api/users/${N.id}/memberships`)).body.data,
    (await mSession('GET', `/api/users/${N.id}`)).body.memberships,
    (await api(w.live, w.keys.M, 'GET', `/api/users?account_id=${w.a1}&limit=100`)).body.data.find(
      (u: { id: string }) => u.id === N.id,
    ).memberships,
  ];
  for (const memberships of views)
    assert.deepEqual(
      memberships.map((m: { account_id: string }) => m.account_id),
      [w.a1],
    );
  const profile = await api(
    w.live,
    w.keys.M,
    'GET',
    `/management/v2.1/organizations/${w.org}/users/${N.id}/dsprofile`,
  );
  assert.equal(profile.status, 200, JSON.stringify(profile.body));
  assert.ok(!JSON.stringify(profile.body).includes(w.a2), 'the DocuSign profile names no other account');
  // The owner sees both.
  const all = (await api(w.live, w.owner, 'GET', `/api/users/${N.id}`)).body.memberships;
  assert.deepEqual(all.map((m: { account_id: string }) => m.account_id).sort(), [w.a1, w.a2].sort());
});

test('finding 5: a restricted key revokes no key beyond it; a read-only key deletes no export', async (t) => {
  const w = await setup(t);
  const key = async (scopes: string[] | null) =>
    (await api(w.live, w.owner, 'POST', '/api/api_keys', { name: unique('k'), scopes })).body;
  const keysWriter = await key(['keys:write']);
  const unrestricted = await key(null);
  const keysReader = await key(['keys:read']);
  const refused = await api(w.live, keysWriter.key, 'DELETE', `/api/api_keys/${unrestricted.id}`);
  assert.equal(refused.status, 403, JSON.stringify(refused.body));
  assert.equal((await api(w.live, keysWriter.key, 'DELETE', `/api/api_keys/${w.ownerKeyId}`)).status, 403);
  assert.equal((await api(w.live, unrestricted.key, 'GET', '/api/users')).status, 200, 'still works');
  assert.equal((await api(w.live, w.owner, 'GET', '/api/users')).status, 200, 'the owner key too');
  // Within it: a key restricted to keys:read.
  assert.equal((await api(w.live, keysWriter.key, 'DELETE', `/api/api_keys/${keysReader.id}`)).status, 200);

  // Exports: a key with only read permissions reads them but does not delete them (/api, /management).
  const reader = await key(['users:read', 'account:read']);
  const made = await api(w.live, w.owner, 'POST', '/api/exports', { kind: 'users' });
  assert.equal(made.status, 202);
  const settings = await api(w.live, w.owner, 'POST', '/api/exports', { kind: 'account_settings' });
  assert.equal(settings.status, 202);
  assert.equal((await api(w.live, reader.key, 'GET', `/api/exports/${made.body.id}`)).status, 200);
  assert.equal((await api(w.live, reader.key, 'DELETE', `/api/exports/${made.body.id}`)).status, 403);
  const mgmt = `/management/v2/organizations/${w.org}/exports`;
  assert.equal((await api(w.live, reader.key, 'DELETE', `${mgmt}/user_list/${made.body.id}`)).status, 403);
  assert.equal(
    (await api(w.live, reader.key, 'DELETE', `${mgmt}/account_settings/${settings.body.id}`)).status,
    403,
  );
  assert.equal((await api(w.live, w.owner, 'GET', `/api/exports/${made.body.id}`)).status, 200, 'kept');
  // A writer deletes them.
  assert.equal((await api(w.live, w.owner, 'DELETE', `/api/exports/${made.body.id}`)).status, 204);
});

test('finding 7: the DocuSign organization listing shows a member its own accounts only', async (t) => {
  const w = await setup(t);
  const asMember = await new admin.AccountsApi(adminClient(w.live, w.keys.M)).getOrganizations();
  const accounts = asMember.organizations[0].accounts.map((a: { id: string }) => a.id);
  assert.deepEqual(accounts, [w.a1]);
  const native = (await api(w.live, w.keys.M, 'GET', '/api/accounts')).body.data.map((a: any) => a.id);
  assert.deepEqual(accounts, native, 'the same accounts as /api/accounts');
  const asOwner = await new admin.AccountsApi(adminClient(w.live, w.owner)).getOrganizations();
  assert.deepEqual(
    asOwner.organizations[0].accounts.map((a: { id: string }) => a.id).sort(),
    [w.a1, w.a2].sort(),
  );
});

test('nobody manages someone above them: a member with manage_users cannot change, close or take over a DS Admin', async (t) => {
  const w = await setup(t);
  const { U } = w.users;
  const dsAdmin = w.profiles.a1['DS Admin']!;
  const dsSender = w.profiles.a1['DS Sender']!;
  // S is in A1 only (within M's account), with a profile above M's.
  const made = await api(w.live, w.owner, 'POST', '/api/users', {
    email: email('s'),
    first_name: 'Sam',
    account_id: w.a1,
    permission_profile_id: dsAdmin,
  });
  assert.equal(made.status, 201);
  const S = made.body as { id: string; email: string; memberships: { id: string }[] };
  const membership = S.memberships[0]!.id;
  const [userBefore, membershipsBefore] = [await userRow(S.id), await membershipsOf(S.id)];

  const refused = async (method: string, path: string, body?: unknown) => {
    const res = await api(w.live, w.keys.M, method, path, body);
    assert.equal(res.status, 403, `${method} ${path}: ${JSON.stringify(res.body)}`);
    return res.body;
  };
  const named = await refused('PATCH', `/api/users/${S.id}`, { first_name: 'Mallory' });
  assert.match(named.error.message, /nobody manages someone above themselves/);
  assert.ok(named.error.details[0].missing.includes('manage_api_keys'));
  await refused('POST', `/api/users/${S.id}/password_reset`);
  await refused('POST', `/api/users/${S.id}/deactivate`);
  await refused('PATCH', `/api/users/${S.id}/memberships/${membership}`, { permission_profile_id: dsSender });
  await refused('PATCH', `/api/users/${S.id}/memberships/${membership}`, { status: 'closed' });
  // The DocuSign faces call the same core operations.
  const esign = await api(w.live, w.keys.M, 'PUT', `/restapi/v2.1/accounts/${w.a1}/users/${S.id}`, {
    firstName: 'Mallory',
  });
  assert.notEqual(esign.status, 200, JSON.stringify(esign.body));
  // Import rows: an identity change, a profile change and a close are each refused for S.
  const rows = await runImport(
    w,
    w.keys.M,
    `operation=update&account_id=${w.a1}`,
    `APIUserName,UserEmail,FirstName\n${S.id},,Mallory\n`,
  );
  assert.deepEqual(
    rows.map((r) => r.error_type),
    ['account_admin_access_denied'],
  );
  const profileRows = await runImport(
    w,
    w.keys.M,
    `operation=update&account_id=${w.a1}`,
    `APIUserName,UserEmail,PermissionSet\n${S.id},,DS Sender\n`,
  );
  assert.deepEqual(
    profileRows.map((r) => r.error_type),
    ['account_admin_access_denied'],
  );
  const closeRows = await runImport(
    w,
    w.keys.M,
    `operation=close&account_id=${w.a1}`,
    `UserEmail\n${S.email}\n`,
  );
  assert.deepEqual(
    closeRows.map((r) => r.error_type),
    ['account_admin_access_denied'],
  );
  assert.deepEqual(await userRow(S.id), userBefore);
  assert.deepEqual(await membershipsOf(S.id), membershipsBefore);

  // Within M's holding, the same changes go through (U holds DS Sender).
  assert.equal(
    (await api(w.live, w.keys.M, 'PATCH', `/api/users/${U.id}`, { first_name: 'Una' })).status,
    200,
  );
  const uMembership = (await api(w.live, w.owner, 'GET', `/api/users/${U.id}/memberships`)).body.data[0].id;
  assert.equal(
    (
      await api(w.live, w.keys.M, 'PATCH', `/api/users/${U.id}/memberships/${uMembership}`, {
        status: 'closed',
      })
    ).status,
    200,
  );
  // The owner (and any admin) still manages S.
  assert.equal(
    (await api(w.live, w.owner, 'PATCH', `/api/users/${S.id}`, { first_name: 'Samantha' })).status,
    200,
  );
});
