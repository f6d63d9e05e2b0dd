import assert from 'node:assert/strict';
import { test } from 'node:test';
import { as, buildApp, createTenant, testDb } from './helper.ts';

test('every mutation is audited in the same transaction, with before/after, actor and request facts', async (t) => {
  const { app, services, config } = await buildApp(t);
  const tenant = await createTenant(services, config);
  const api = as(app, tenant.key);
  const created = (
    await api(
      'POST',
      '/api/users',
      { email: 'audited@example.test', first_name: 'A' },
      { 'user-agent': 'audit-test/1.0' },
    )
  ).json();
  await api('PATCH', `/api/users/${created.id}`, { first_name: 'B' }, { 'x-request-id': 'req-patch-1' });

  const page = (await api('GET', `/api/audit_events?target_id=${created.id}&order=asc`)).json();
  const actions = page.data.map((e: any) => e.action);
  assert.deepEqual(actions, ['user.created', 'user.updated']);
  const [create, update] = page.data;
  assert.equal(create.user_agent, 'audit-test/1.0');
  assert.equal(create.actor_type, 'api_key');
  assert.ok(create.actor_id);
  assert.equal(create.ip, '127.0.0.1');
  assert.deepEqual(create.changes.email, { before: null, after: 'audited@example.test' });
  assert.deepEqual(update.changes, { first_name: { before: 'A', after: 'B' } });
  assert.equal(update.request_id, 'req-patch-1');
  const all = (await api('GET', '/api/audit_events?limit=500')).json().data;
  const previous = all.find((e: any) => e.seq === update.seq - 1);
  assert.equal(update.prev_hash, previous.hash, 'each event links to the one before it');

  // A failed mutation leaves no audit event.
  const before = (await api('GET', '/api/audit_events?limit=500')).json().data.length;
  const dup = await api('POST', '/api/users', { email: 'audited@example.test' });
  assert.equal(dup.statusCode, 409);
  assert.equal((await api('GET', '/api/audit_events?limit=500')).json().data.length, before);

  // Filters: action prefix, actor, time range.
  const userEvents = (await api('GET', '/api/audit_events?action=user.*&limit=500')).json().data;
  assert.ok(userEvents.length >= 2 && userEvents.every((e: any) => e.action.startsWith('user.')));
  const byActor = (await api('GET', `/api/audit_events?actor_id=${create.actor_id}&limit=500`)).json().data;
  assert.ok(byActor.every((e: any) => e.actor_id === create.actor_id));
  const future = (await api('GET', '/api/audit_events?since=2999-01-01T00:00:00Z')).json().data;
  assert.deepEqual(future, []);
});

test('audit export streams CSV (formula cells neutralised) and JSON Lines', async (t) => {
  const { app, services, config } = await buildApp(t);
  const tenant = await createTenant(services, config);
  const api = as(app, tenant.key);
  // A key's name is recorded as the actor label of everything it does: a cell an attacker controls.
  const evil = (await api('POST', '/api/api_keys', { name: '=HYPERLINK("http://evil")' })).json();
  await as(app, evil.key)('POST', '/api/users', { email: 'formula@example.test' });

  const csv = await api('GET', '/api/audit_events/export?format=csv');
  assert.equal(csv.statusCode, 200);
  assert.match(csv.headers['content-type'] as string, /text\/csv/);
  const lines = csv.body.trim().split('\n');
  assert.match(lines[0]!, /^seq,occurred_at,actor_type/);
  assert.ok(csv.body.includes(`'=HYPERLINK`), 'a formula is prefixed with a quote');
  assert.ok(!/(^|,)"?=HYPERLINK/m.test(csv.body), 'no cell starts with =');

  const jsonl = await api('GET', '/api/audit_events/export?format=jsonl&action=user.created');
  const events = jsonl.body
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(events.length, 2); // the owner and the new user
  assert.ok(events.every((e) => e.action === 'user.created'));
});

test('the hash chain verifies, and names the first event edited or deleted by hand', async (t) => {
  const { app, services, config } = await buildApp(t);
  const tenant = await createTenant(services, config);
  const api = as(app, tenant.key);
  for (let i = 0; i < 3; i++) await api('POST', '/api/users', { email: `chain${i}@example.test` });
  assert.deepEqual((await services.audit.verify(tenant.organizationId)).ok, true);

  const db = testDb().db;
  const target = await db
    .selectFrom('audit_events')
    .select(['id', 'seq'])
    .where('organization_id', '=', tenant.organizationId)
    .where('seq', '=', 5)
    .executeTakeFirstOrThrow();
  await db.updateTable('audit_events').set({ action: 'user.tampered' }).where('id', '=', target.id).execute();
  const edited = await services.audit.verify(tenant.organizationId);
  assert.equal(edited.ok, false);
  assert.equal(edited.broken?.seq, 5);
  assert.equal(edited.broken?.event_id, target.id);
  assert.match(edited.broken!.reason, /edited/);
});

test('audit events list newest first by default, oldest first with order=asc; cursors page both ways', async (t) => {
  const { app, services, config } = await buildApp(t);
  const tenant = await createTenant(services, config);
  const api = as(app, tenant.key);
  for (let i = 0; i < 5; i++) await api('POST', '/api/users', { email: `order${i}@example.test` });

  const walk = async (order: '' | 'asc' | 'desc') => {
    const seqs: number[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const qs = `limit=2${order ? `&order=${order}` : ''}${cursor ? `&cursor=${cursor}` : ''}`;
      const res = await api('GET', `/api/audit_events?${qs}`);
      assert.equal(res.statusCode, 200, res.body);
      const page = res.json();
      seqs.push(...page.data.map((e: any) => Number(e.seq)));
      cursor = page.next_cursor;
      // An event written while a client pages does not shift the pages: the cursor is a keyset.
      if (pages++ === 0)
        await api('POST', '/api/users', { email: `during-${order || 'default'}@example.test` });
    } while (cursor);
    return seqs;
  };

  // Newest first: from the newest event at the first page down to event 1, each once, none skipped; events
  // written meanwhile are newer than the first page and so are not on later pages.
  const newest = await walk('');
  assert.ok(newest.length >= 6, 'the owner and five users at least');
  assert.deepEqual(
    newest,
    Array.from({ length: newest.length }, (_, i) => newest.length - i),
  );
  const desc = await walk('desc');
  assert.ok(desc.length > newest.length, 'sees what the first walk wrote');
  assert.deepEqual(
    desc,
    Array.from({ length: desc.length }, (_, i) => desc.length - i),
  );
  // Oldest first: the chain order, complete, including what was written while paging.
  const oldest = await walk('asc');
  assert.ok(oldest.length > desc.length, 'sees what the earlier walks wrote, the one it wrote itself too');
  assert.deepEqual(
    oldest,
    Array.from({ length: oldest.length }, (_, i) => i + 1),
  );

  const bad = await api('GET', '/api/audit_events?order=sideways');
  assert.equal(bad.statusCode, 400);
});
