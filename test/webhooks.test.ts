// Webhooks, part one (issue 13): the outbox is written in the change's own transaction, from its audit
// events, only for organizations with an endpoint that wants the event; the endpoints API (secret shown
// once, rotation, test events, permissions, account scoping).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { systemPrincipal } from '../src/core/principal.ts';
import { contextOf, SecretBox } from '../src/core/secret-box.ts';
import {
  as,
  buildApp,
  type Caller,
  createTenant,
  type Tenant,
  type TestApp,
  testDb,
  unique,
} from './helper.ts';
import { importCsv, runWorker } from './imports-helper.ts';

const db = () => testDb().db;

async function eventsOf(orgId: string) {
  return db()
    .selectFrom('webhook_events')
    .selectAll()
    .where('organization_id', '=', orgId)
    .orderBy('id')
    .execute();
}

async function endpoint(call: Caller, body: Record<string, unknown>): Promise<any> {
  const res = await call('POST', '/api/webhook_endpoints', body);
  assert.equal(res.statusCode, 201, res.body);
  return res.json();
}

/** A member's API key in `accountId`, with a profile holding `permissions`. */
async function memberKey(
  { app, services }: TestApp,
  tenant: Tenant,
  accountId: string,
  permissions: string[],
): Promise<string> {
  const owner = as(app, tenant.key);
  const profile = await owner('POST', `/api/accounts/${accountId}/permission_profiles`, {
    name: unique('P'),
    permissions,
  });
  assert.equal(profile.statusCode, 201, profile.body);
  const user = await owner('POST', '/api/users', {
    email: `${unique('m')}@example.test`,
    account_id: accountId,
    permission_profile_id: profile.json().id,
  });
  assert.equal(user.statusCode, 201, user.body);
  const key = await services.apiKeys.create(
    { principal: systemPrincipal(tenant.organizationId, 'test'), meta: {} },
    { name: 'member key', account_id: accountId, created_by: user.json().id, role: 'member' },
  );
  return key.key;
}

test('outbox: nothing without an endpoint; then each change writes its events and deliveries in its transaction', async (t) => {
  const built = await buildApp(t);
  const tenant = await createTenant(built.services, built.config);
  const api = as(built.app, tenant.key);

  // No endpoint: changes write no event.
  const before = await api('POST', '/api/users', { email: `${unique('u')}@example.test` });
  assert.equal(before.statusCode, 201, before.body);
  assert.equal((await eventsOf(tenant.organizationId)).length, 0);

  const hook = await endpoint(api, {
    account_id: tenant.accountId,
    url: 'https://hooks.example/a',
    events: ['user.created', 'membership.created', 'user.updated'],
  });
  assert.match(hook.secret, /^whsec_[A-Za-z0-9+/]{43}=$/);

  const email = `${unique('u')}@example.test`;
  const created = await api('POST', '/api/users', { email, account_id: tenant.accountId });
  assert.equal(created.statusCode, 201, created.body);
  const userId = created.json().id;
  const events = await eventsOf(tenant.organizationId);
  assert.deepEqual(events.map((e) => e.type).sort(), ['membership.created', 'user.created']);
  const userEvent = events.find((e) => e.type === 'user.created')!;
  assert.deepEqual(userEvent.payload, { object: 'user', id: userId, account_id: tenant.accountId });
  assert.ok(!JSON.stringify(events).includes(email), 'the payload is thin: no e-mail address');
  // Written with the audit event, from it: the same transaction's timestamp.
  const audit = await db()
    .selectFrom('audit_events')
    .select('occurred_at')
    .where('organization_id', '=', tenant.organizationId)
    .where('action', '=', 'user.created')
    .where('target_id', '=', userId)
    .executeTakeFirstOrThrow();
  assert.equal(new Date(userEvent.occurred_at).getTime(), new Date(audit.occurred_at).getTime());
  const deliveries = await db()
    .selectFrom('webhook_deliveries')
    .selectAll()
    .where('endpoint_id', '=', hook.id)
    .execute();
  assert.equal(deliveries.length, 2);
  assert.ok(deliveries.every((d) => d.status === 'pending' && d.attempts === 0 && d.next_attempt_at));

  // An update names the changed fields, never their values (an organization-level event: the owner's
  // endpoint hears it).
  const patched = await api('PATCH', `/api/users/${userId}`, { job_title: 'Secret Agent' });
  assert.equal(patched.statusCode, 200, patched.body);
  const update = (await eventsOf(tenant.organizationId)).find((e) => e.type === 'user.updated')!;
  assert.deepEqual(update.payload, {
    object: 'user',
    id: userId,
    account_id: null,
    changed_fields: ['job_title'],
  });
  assert.ok(!JSON.stringify(update.payload).includes('Secret Agent'));

  // A refused change writes nothing: the event commits with the change or not at all.
  const count = (await eventsOf(tenant.organizationId)).length;
  const dup = await api('POST', '/api/users', { email, account_id: tenant.accountId });
  assert.equal(dup.statusCode, 409, dup.body);
  // A type the endpoint does not subscribe to writes nothing either.
  const group = await api('POST', `/api/accounts/${tenant.accountId}/groups`, { name: unique('G') });
  assert.equal(group.statusCode, 201, group.body);
  assert.equal((await eventsOf(tenant.organizationId)).length, count);

  // Disabled: nothing more is written.
  const off = await api('PATCH', `/api/webhook_endpoints/${hook.id}`, { enabled: false });
  assert.equal(off.statusCode, 200, off.body);
  await api('POST', '/api/users', { email: `${unique('u')}@example.test`, account_id: tenant.accountId });
  assert.equal((await eventsOf(tenant.organizationId)).length, count);
});

test('outbox: an endpoint hears its own account; organization-level events only reach owners’ and admins’ endpoints', async (t) => {
  const built = await buildApp(t);
  const tenant = await createTenant(built.services, built.config);
  const api = as(built.app, tenant.key);
  const other = await api('POST', '/api/accounts', { name: unique('A2') });
  assert.equal(other.statusCode, 201, other.body);
  const a2 = other.json().id;
  const mine = await endpoint(api, {
    account_id: tenant.accountId,
    url: 'https://hooks.example/1',
    events: ['*'],
  });
  assert.equal(mine.organization_events, true);
  const memberCall = as(built.app, await memberKey(built, tenant, a2, ['manage_account_settings']));
  const theirs = await endpoint(memberCall, {
    account_id: a2,
    url: 'https://hooks.example/2',
    events: ['*'],
  });
  assert.equal(theirs.organization_events, false);

  const u = await api('POST', '/api/users', { email: `${unique('u')}@example.test`, account_id: a2 });
  assert.equal(u.statusCode, 201, u.body);
  await api('PATCH', `/api/users/${u.json().id}`, { job_title: 'x' });
  const owed = async (id: string) =>
    (
      await db()
        .selectFrom('webhook_deliveries as d')
        .innerJoin('webhook_events as e', 'e.id', 'd.event_id')
        .select(['e.type', 'e.account_id'])
        .where('d.endpoint_id', '=', id)
        .where((eb) =>
          eb.or([
            eb('e.payload', '@>', { id: u.json().id } as never),
            eb('e.payload', '@>', { id: u.json().memberships[0].id } as never),
          ]),
        )
        .orderBy('e.type')
        .execute()
    ).map((r) => `${r.type}@${r.account_id === a2 ? 'a2' : r.account_id}`);
  assert.deepEqual(await owed(theirs.id), ['membership.created@a2', 'user.created@a2']);
  assert.deepEqual(await owed(mine.id), ['user.updated@null']);
});

test('outbox: a bulk import writes one event per change, through its own audit path', async (t) => {
  const built = await buildApp(t, { importBatchSize: 3 });
  await runWorker(t, built.config);
  const tenant = await createTenant(built.services, built.config);
  const api = as(built.app, tenant.key);
  const hook = await endpoint(api, {
    account_id: tenant.accountId,
    url: 'https://hooks.example/imports',
    events: ['user.created'],
  });
  const emails = Array.from({ length: 7 }, () => `${unique('imp')}@example.test`);
  const csv = `UserEmail,FirstName,LastName,PermissionSet\n${emails.map((e) => `${e},A,B,DS Sender`).join('\n')}\n`;
  const done = await importCsv(api, `account_id=${tenant.accountId}&operation=add`, csv);
  assert.equal(done.status, 'completed', JSON.stringify(done));
  assert.equal(done.added_user_count, 7);
  const events = (await eventsOf(tenant.organizationId)).filter((e) => e.type === 'user.created');
  assert.equal(events.length, 7);
  const deliveries = await db()
    .selectFrom('webhook_deliveries')
    .select('event_id')
    .where('endpoint_id', '=', hook.id)
    .execute();
  assert.deepEqual(deliveries.map((d) => d.event_id).sort(), events.map((e) => e.id).sort());
});

test('endpoints API: secret once, validation, rotation with a window, test events, audit, scoping', async (t) => {
  const built = await buildApp(t);
  const tenant = await createTenant(built.services, built.config);
  const api = as(built.app, tenant.key);
  const base = '/api/webhook_endpoints';

  const bad = async (body: Record<string, unknown>, field: string) => {
    const res = await api('POST', base, { account_id: tenant.accountId, events: ['*'], ...body });
    assert.equal(res.statusCode, 400, res.body);
    assert.equal(res.json().error.code, 'validation_failed');
    assert.equal(res.json().error.details[0].field, field, res.body);
  };
  await bad({ url: 'http://hooks.example/x' }, 'url');
  await bad({ url: 'not a url' }, 'url');
  await bad({ url: 'https://user:pw@hooks.example/x' }, 'url');
  await bad({ url: 'https://127.0.0.1/x' }, 'url');
  await bad({ url: 'https://[::1]/x' }, 'url');
  await bad({ url: 'https://169.254.169.254/latest' }, 'url');
  await bad({ url: 'https://hooks.example/x', events: ['user.exploded'] }, 'events');
  const wrongAccount = await api('POST', base, {
    account_id: '0190a0b0-0000-7000-8000-00000000abcd',
    url: 'https://hooks.example/x',
    events: ['*'],
  });
  assert.equal(wrongAccount.statusCode, 422, wrongAccount.body);

  const created = await endpoint(api, {
    account_id: tenant.accountId,
    url: 'https://hooks.example/x',
    events: ['user.created', 'user.created', 'group.created'],
    format: 'connect',
    description: ' CRM sync ',
  });
  assert.deepEqual(created.events, ['group.created', 'user.created']);
  assert.equal(created.format, 'connect');
  assert.equal(created.description, 'CRM sync');
  assert.equal(created.previous_secrets_expire_at, null);

  const got = await api('GET', `${base}/${created.id}`);
  assert.equal(got.statusCode, 200, got.body);
  assert.equal(got.json().secret, undefined, 'the secret is shown once');
  assert.ok(!got.body.includes(created.secret));
  const list = await api('GET', `${base}?account_id=${tenant.accountId}`);
  assert.deepEqual(
    list.json().data.map((e: any) => e.id),
    [created.id],
  );

  // Rotation: a new secret; the old one signs until the window ends.
  const rotated = await api('POST', `${base}/${created.id}/rotate_secret`, { expires_in_seconds: 3600 });
  assert.equal(rotated.statusCode, 200, rotated.body);
  assert.notEqual(rotated.json().secret, created.secret);
  const until = new Date(rotated.json().previous_secrets_expire_at).getTime();
  assert.ok(Math.abs(until - (Date.now() + 3600_000)) < 60_000, rotated.body);
  // Stored sealed (src/core/secret-box.ts): never as they are; opened with the database's own key.
  const box = new SecretBox(db());
  const secrets = await db()
    .selectFrom('webhook_secrets')
    .select(['id', 'secret', 'expires_at'])
    .where('endpoint_id', '=', created.id)
    .orderBy('created_at')
    .execute();
  for (const s of secrets) assert.match(s.secret, /^sb1\.db1\./, 'sealed');
  assert.deepEqual(
    await Promise.all(
      secrets.map(async (s) => [
        await box.open(s.secret, contextOf('webhook_secrets', s.id)),
        s.expires_at === null,
      ]),
    ),
    [
      [created.secret, false],
      [rotated.json().secret, true],
    ],
  );
  const tooLong = await api('POST', `${base}/${created.id}/rotate_secret`, { expires_in_seconds: 10 ** 9 });
  assert.equal(tooLong.statusCode, 400, tooLong.body);

  // A test event for this endpoint alone.
  const tested = await api('POST', `${base}/${created.id}/test`);
  assert.equal(tested.statusCode, 202, tested.body);
  const ev = await db()
    .selectFrom('webhook_events')
    .selectAll()
    .where('id', '=', tested.json().event_id)
    .executeTakeFirstOrThrow();
  assert.equal(ev.type, 'webhook.test');

  // Every change is audited, secrets masked.
  const audit = await api('GET', '/api/audit_events?action=webhook_endpoint.*&order=asc');
  assert.equal(audit.statusCode, 200, audit.body);
  assert.deepEqual(
    audit.json().data.map((e: any) => e.action),
    ['webhook_endpoint.created', 'webhook_endpoint.secret_rotated', 'webhook_endpoint.tested'],
  );
  assert.ok(!audit.body.includes(created.secret) && !audit.body.includes(rotated.json().secret));

  // Members: without manage_account_settings, no access; with it, their own account only.
  const plain = as(built.app, await memberKey(built, tenant, tenant.accountId, []));
  const denied = await plain('GET', base);
  assert.equal(denied.statusCode, 403, denied.body);
  const other = await api('POST', '/api/accounts', { name: unique('A2') });
  const a2 = other.json().id;
  const admin2 = as(built.app, await memberKey(built, tenant, a2, ['manage_account_settings']));
  assert.deepEqual((await admin2('GET', base)).json().data, []);
  assert.equal((await admin2('GET', `${base}/${created.id}`)).statusCode, 404);
  assert.equal((await admin2('PATCH', `${base}/${created.id}`, { enabled: false })).statusCode, 404);
  const foreign = await admin2('POST', base, {
    account_id: tenant.accountId,
    url: 'https://hooks.example/y',
    events: ['*'],
  });
  assert.equal(foreign.statusCode, 403, foreign.body);

  // Delete: gone, with its secrets and deliveries.
  const del = await api('DELETE', `${base}/${created.id}`);
  assert.equal(del.statusCode, 204, del.body);
  assert.equal((await api('GET', `${base}/${created.id}`)).statusCode, 404);
  const left = await db()
    .selectFrom('webhook_deliveries')
    .select('id')
    .where('endpoint_id', '=', created.id)
    .execute();
  assert.equal(left.length, 0);
});
