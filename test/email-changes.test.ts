// Verified email changes (issue 10: "the new address confirms, the old one is told; until then the old address
// stays the sign-in address"), through /api, both DocuSign faces (official SDKs) and the confirmation link.
// Import `update` rows take the same path: test/imports.test.ts and test/imports-bulk.test.ts confirm theirs;
// the account-boundary test shows the takeover of finding 1 no longer works.
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { admin, adminClient, api, esign, esignClient, startApp } from './docusign-helper.ts';
import { as, buildApp, createTenant, testDb, unique } from './helper.ts';
import { runWorker } from './imports-helper.ts';
import {
  browser,
  confirmEmail,
  fakeSmtp,
  loggedApp,
  mailsTo,
  outboxRows,
  PASSWORD,
} from './people-helper.ts';

/** Per-IP limits off: these tests log in many times from one address (the limit has its own test). */
const OPEN = { authRateLimitPerMinute: 0 };

const address = (tag: string) => `${unique(tag)}@example.test`;

async function auditOf(userId: string) {
  return testDb()
    .db.selectFrom('audit_events')
    .select(['action', 'changes'])
    .where('target_id', '=', userId)
    .where('action', 'like', 'email_change.%')
    .orderBy('seq')
    .execute();
}

/** An app, a tenant with its API caller, and a user of its account. */
async function withUser(t: TestContext) {
  const { app, services, config } = await buildApp(t, OPEN);
  const tenant = await createTenant(services, config);
  const call = as(app, tenant.key);
  const created = await call('POST', '/api/users', { email: address('u'), account_id: tenant.accountId });
  assert.equal(created.statusCode, 201, created.body);
  return { app, tenant, call, user: created.json() };
}

test('a change waits for the new address: the old one signs in and is told; following the link swaps them, once', async (t) => {
  const { app, services, lines } = await loggedApp(t, OPEN);

  const b = browser(app);
  const old = address('ada');
  const signup = await b.call('POST', '/signup', {
    email: old,
    password: PASSWORD,
    name: 'Ada Lovelace',
    organization_name: unique('Engines'),
  });
  assert.equal(signup.statusCode, 201, signup.body);
  const me = signup.json().user.id as string;
  const fresh = address('countess');

  const asked = await b.call('PATCH', `/api/users/${me}`, { email: fresh, job_title: 'Countess' });
  assert.equal(asked.statusCode, 200, asked.body);
  assert.deepEqual(
    [asked.json().email, asked.json().pending_email, asked.json().job_title],
    [old, fresh, 'Countess'],
    'the other fields change at once; the email waits',
  );

  // Until confirmed, the old address is the sign-in address and the one a reset goes to.
  const login = (email: string) => browser(app).call('POST', '/login', { email, password: PASSWORD });
  assert.equal((await login(fresh)).statusCode, 401);
  assert.equal((await login(old)).statusCode, 200);
  const reset = await app.inject({ method: 'POST', url: '/password_reset', payload: { email: fresh } });
  assert.equal(reset.statusCode, 202);
  await services.people.flush();
  const toNew = await mailsTo(fresh);
  assert.deepEqual(
    toNew.map((m) => m.subject),
    ['Confirm your new email address for Signet'],
    'the new address gets the link, and no reset',
  );
  const { token } = toNew[0]!;
  assert.ok(toNew[0]!.text.includes(`/confirm_email#token=${token}`), 'the token rides in the fragment');
  const [stored] = await outboxRows(fresh);
  assert.ok(!stored!.text.includes(token) && !stored!.html.includes(token), 'the text holds a placeholder');
  const notice = (await mailsTo(old)).at(-1)!;
  assert.equal(notice.subject, 'A change of your email address was requested');
  assert.equal(notice.token, '', 'the notice to the old address carries no link token');
  assert.ok(notice.text.includes(fresh), 'and names the new address');

  const confirmed = await confirmEmail(app, token);
  assert.equal(confirmed.statusCode, 200, confirmed.body);
  assert.deepEqual(confirmed.json(), { status: 'email_changed', user_id: me, email: fresh });
  const session = (await b.call('GET', '/session')).json().user;
  assert.deepEqual([session.email, session.pending_email], [fresh, null]);
  assert.ok(session.email_verified_at, 'following the link proves the new address');
  assert.equal((await login(fresh)).statusCode, 200);
  assert.equal((await login(old)).statusCode, 401);
  assert.equal((await mailsTo(old)).at(-1)!.subject, 'The email address of your account has changed');

  // Single use, and gone from the outbox once used.
  const again = await confirmEmail(app, token);
  assert.equal(again.statusCode, 400);
  assert.equal(again.json().error.code, 'invalid_token');
  assert.equal((await outboxRows(fresh))[0]!.secret, null, 'scrubbed once used');

  const events = await auditOf(me);
  assert.deepEqual(
    events.map((e) => e.action),
    ['email_change.requested', 'email_change.confirmed'],
  );
  assert.deepEqual((events[1]!.changes as any).email, { before: old, after: fresh });
  assert.ok(!JSON.stringify(events).includes(token), 'no token in the audit log');
  assert.ok(lines.length > 5, 'log lines were captured');
  assert.deepEqual(
    lines.filter((l) => l.includes(token)),
    [],
    'no log line carries the token',
  );
});

test('asking again replaces the link; the present address cancels; an expired link is refused with a clear 400', async (t) => {
  const { app, call, user } = await withUser(t);
  const patch = (email: string, headers?: Record<string, string>) =>
    call('PATCH', `/api/users/${user.id}`, { email }, headers);

  const first = address('first');
  assert.equal((await patch(first)).json().pending_email, first);
  const firstToken = (await mailsTo(first))[0]!.token;
  const second = address('second');
  assert.equal((await patch(second)).json().pending_email, second);
  const replaced = await confirmEmail(app, firstToken);
  assert.equal(replaced.statusCode, 400);
  assert.equal(replaced.json().error.code, 'invalid_token');
  assert.match(replaced.json().error.message, /replaced by a newer change/);
  assert.equal((await outboxRows(first))[0]!.secret, null, 'the replaced link left the outbox');
  const secondToken = (await mailsTo(second))[0]!.token;

  // The present address: nothing to confirm, and the waiting change is canceled.
  const canceled = await patch(user.email);
  assert.deepEqual([canceled.json().email, canceled.json().pending_email], [user.email, null]);
  assert.equal((await confirmEmail(app, secondToken)).statusCode, 400);
  assert.equal((await outboxRows(second))[0]!.secret, null);

  // A retried request (same Idempotency-Key) replays its answer and mails nothing more.
  const third = address('third');
  const key = { 'idempotency-key': unique('idem') };
  assert.equal((await patch(third, key)).statusCode, 200);
  assert.equal((await patch(third, key)).json().pending_email, third);
  assert.equal((await mailsTo(third)).length, 1);

  await testDb()
    .db.updateTable('user_tokens')
    .set({ expires_at: new Date(Date.now() - 1000) })
    .where('user_id', '=', user.id)
    .where('purpose', '=', 'email_change')
    .where('used_at', 'is', null)
    .execute();
  const late = await confirmEmail(app, (await outboxRows(third))[0]!.secret!);
  assert.equal(late.statusCode, 400);
  assert.equal(late.json().error.code, 'invalid_token');
  assert.match(late.json().error.message, /has expired .*ask for the change again/);
  const after = (await call('GET', `/api/users/${user.id}`)).json();
  assert.deepEqual([after.email, after.pending_email], [user.email, third], 'nothing changed');
  assert.deepEqual(
    (await auditOf(user.id)).map((e) => e.action),
    ['email_change.requested', 'email_change.requested', 'email_change.canceled', 'email_change.requested'],
  );
});

test('the pending address is not reserved: taken meanwhile, the link answers 409 email_taken and nothing changes', async (t) => {
  const { app, tenant, call, user } = await withUser(t);

  // An address another user signs in with is refused at once, case-insensitively.
  const taken = await call('PATCH', `/api/users/${user.id}`, { email: tenant.email.toUpperCase() });
  assert.equal(taken.statusCode, 409, taken.body);
  assert.equal(taken.json().error.code, 'email_taken');
  assert.equal((await mailsTo(tenant.email.toUpperCase())).length, 0);

  const wanted = address('wanted');
  assert.equal((await call('PATCH', `/api/users/${user.id}`, { email: wanted })).statusCode, 200);
  const other = await call('POST', '/api/users', { email: wanted, account_id: tenant.accountId });
  assert.equal(other.statusCode, 201, 'nobody signs in with a pending address: it holds nothing back');
  const { token } = (await mailsTo(wanted))[0]!;
  const late = await confirmEmail(app, token);
  assert.equal(late.statusCode, 409, late.body);
  assert.equal(late.json().error.code, 'email_taken');
  const after = (await call('GET', `/api/users/${user.id}`)).json();
  assert.deepEqual([after.email, after.pending_email], [user.email, wanted], 'nothing changed');
});

test('the DocuSign faces ask for the change as /api does, and answer as DocuSign answers an accepted change', async (t) => {
  const live = await startApp(t);
  const tenant = await createTenant(live.services, live.config);
  const create = async () =>
    (
      await api(live, tenant.key, 'POST', '/api/users', {
        email: address('ds'),
        account_id: tenant.accountId,
      })
    ).body;
  const read = async (id: string) => (await api(live, tenant.key, 'GET', `/api/users/${id}`)).body;

  // /management: UsersApi.updateUser with an email.
  const a = await create();
  const aNew = address('admin-api');
  const users = new admin.UsersApi(adminClient(live, tenant.key));
  const updated = await users.updateUser(
    { users: [{ id: a.id, site_id: 1, email: aNew, first_name: 'Ann' }] },
    tenant.organizationId,
  );
  assert.equal(updated.success, true, JSON.stringify(updated));
  assert.equal(updated.users[0].email, aNew);
  assert.deepEqual(
    [(await read(a.id)).email, (await read(a.id)).pending_email, (await read(a.id)).first_name],
    [a.email, aNew, 'Ann'],
  );

  // /restapi: PUT /users/{id} with an email answers the user as it is: the change waits.
  const b = await create();
  const bNew = address('esign');
  const esignUsers = new esign.UsersApi(esignClient(live, tenant.key));
  const info = await esignUsers.updateUser(tenant.accountId, b.id, { userInformation: { email: bNew } });
  assert.equal(info.email, b.email);
  assert.equal((await read(b.id)).pending_email, bNew);

  for (const [user, next] of [
    [a, aNew],
    [b, bNew],
  ] as const) {
    const [link] = await mailsTo(next);
    assert.equal((await confirmEmail(live.app, link!.token)).statusCode, 200);
    assert.equal((await read(user.id)).email, next);
  }
  const byEmail = await users.getUserProfiles(tenant.organizationId, { email: aNew });
  assert.equal(byEmail.users[0].id, a.id, 'the Admin API finds the user by the confirmed address');
  assert.equal((await esignUsers.getInformation(tenant.accountId, b.id)).email, bNew);
});

test('deleting a user’s data (Admin API redaction) erases the address they were moving to, and its mail', async (t) => {
  const live = await startApp(t);
  const tenant = await createTenant(live.services, live.config);
  const user = (
    await api(live, tenant.key, 'POST', '/api/users', {
      email: address('gone'),
      account_id: tenant.accountId,
    })
  ).body;
  const next = address('next');
  await api(live, tenant.key, 'PATCH', `/api/users/${user.id}`, { email: next });
  assert.equal((await outboxRows(next)).length, 1);
  const client = adminClient(live, tenant.key);
  const org = tenant.organizationId;
  await new admin.UsersApi(client).closeMemberships({ accounts: [{ id: tenant.accountId }] }, org, user.id);
  const done = await new admin.OrganizationsApi(client).redactIndividualUserData(
    { user_id: user.id, memberships: [{ account_id: tenant.accountId }] },
    org,
  );
  assert.equal(done.status, 'success');
  const native = (await api(live, tenant.key, 'GET', `/api/users/${user.id}`)).body;
  assert.deepEqual([native.email, native.pending_email], [`redacted-${user.id}@redacted.invalid`, null]);
  assert.deepEqual(await outboxRows(next), []);
});

test('with SMTP, the mails of a change reach the server once the change has committed, whichever path asked', async (t) => {
  const smtp = await fakeSmtp(t);
  // A queue of its own: a worker of another test file (with no SMTP) must not take this test's import.
  const live = await startApp(t, { ...OPEN, smtpUrl: smtp.url, importQueue: unique('email-smtp') });
  await runWorker(t, live.config);
  const tenant = await createTenant(live.services, live.config);
  const create = async () =>
    (
      await api(live, tenant.key, 'POST', '/api/users', {
        email: address('smtp'),
        account_id: tenant.accountId,
      })
    ).body;
  const [byApi, byBatch, byImport] = [await create(), await create(), await create()];
  const targets = [address('api'), address('batch'), address('import')];

  // /api (a transaction of its own), /management updateEmailAddress (a batch: one transaction, a savepoint a
  // user), and an import row (the job's batch transaction).
  await api(live, tenant.key, 'PATCH', `/api/users/${byApi.id}`, { email: targets[0] });
  const users = new admin.UsersApi(adminClient(live, tenant.key));
  await users.updateEmailAddress(
    { users: [{ id: byBatch.id, site_id: 1, email: targets[1] }] },
    tenant.organizationId,
  );
  const csv = `APIUserName,UserEmail\n${byImport.id},${targets[2]}\n`;
  const imported = await fetch(`${live.base}/api/imports?operation=update&account_id=${tenant.accountId}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${tenant.key}`, 'content-type': 'text/csv' },
    body: csv,
  });
  assert.equal(imported.status, 202, await imported.clone().text());
  const importId = ((await imported.json()) as { id: string }).id;

  // Each confirmation and each notice is handed to the server and leaves no token behind.
  const sentTo = async (to: string) => (await outboxRows(to)).filter((r) => r.sent_at !== null).length;
  const deadline = Date.now() + 30_000;
  for (const [i, user] of [byApi, byBatch, byImport].entries()) {
    while ((await sentTo(targets[i]!)) < 1 || (await sentTo(user.email)) < 1) {
      assert.ok(Date.now() < deadline, `mails of ${targets[i]} not sent`);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal((await outboxRows(targets[i]!))[0]!.secret, null, 'SMTP has it: no copy of the token kept');
    assert.ok(smtp.received().includes(`RCPT TO:<${targets[i]}>`));
  }
  const status = (await api(live, tenant.key, 'GET', `/api/imports/${importId}`)).body.status;
  assert.equal(status, 'completed');
  assert.ok(!smtp.received().includes('signet-link-token'), 'every link went out with its token put in');
});
