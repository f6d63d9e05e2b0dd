// Webhook delivery a receiver can rely on (issue 13): an outage of the receiver while 2,000 events are made
// loses none and repeats only with the same webhook-id; an endpoint that fails for longer than the limit is
// disabled and the organization's admins are mailed; the per-endpoint limit holds across processes; one
// endpoint's backlog does not hold up another's deliveries. Short retry ladders keep it fast.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { testDb, unique } from './helper.ts';
import { importCsv, runWorker } from './imports-helper.ts';
import { setup, until } from './webhooks-helper.ts';

const db = () => testDb().db;

async function statuses(endpointId: string): Promise<Record<string, number>> {
  const rows = await db()
    .selectFrom('webhook_deliveries')
    .select(['status', (eb) => eb.fn.countAll<string>().as('n')])
    .where('endpoint_id', '=', endpointId)
    .groupBy('status')
    .execute();
  return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
}

test('outage: the receiver is down while 2,000 events are made; once it is back every event arrives, repeats only with the same id', async (t) => {
  const { api, rx, endpoint, tenant, config } = await setup(t, {
    // Retries every ~2 s, 40 of them: far more than the outage lasts.
    webhookRetrySeconds: Array.from({ length: 40 }, () => 2),
    webhookTimeoutMs: 2000,
    importBatchSize: 500,
  });
  const hook = await endpoint('/outage', 'standard', ['user.created']);
  const other = await endpoint('/other', 'standard', ['group.created']);
  await rx.stop();
  const t0 = Date.now();

  const emails = Array.from({ length: 2000 }, (_, i) => `${unique(`o${i}`)}@example.test`);
  const csv = `UserEmail,FirstName,LastName,PermissionSet\n${emails.map((e) => `${e},A,B,DS Sender`).join('\n')}\n`;
  const imported = await importCsv(api, `account_id=${tenant.accountId}&operation=add`, csv);
  assert.equal(imported.status, 'completed', JSON.stringify(imported));
  const tImported = Date.now() - t0;
  const events = await db()
    .selectFrom('webhook_events')
    .select('id')
    .where('organization_id', '=', tenant.organizationId)
    .where('type', '=', 'user.created')
    .execute();
  assert.equal(events.length, 2000);
  // The outage is seen: attempts failed with the connection refused, and are due again.
  await until(
    () =>
      db()
        .selectFrom('webhook_attempts as a')
        .innerJoin('webhook_deliveries as d', 'd.id', 'a.delivery_id')
        .select('a.error')
        .where('d.endpoint_id', '=', hook.id)
        .limit(1)
        .execute(),
    (rows) => rows.length > 0,
  );
  const failed = await db()
    .selectFrom('webhook_attempts as a')
    .innerJoin('webhook_deliveries as d', 'd.id', 'a.delivery_id')
    .select('a.error')
    .where('d.endpoint_id', '=', hook.id)
    .executeTakeFirstOrThrow();
  assert.match(String(failed.error), /ECONNREFUSED/);

  // Back: every event arrives.
  await rx.start();
  // Another endpoint's delivery goes out at once, whatever the backlog of the first.
  const started = Date.now();
  await api('POST', `/api/webhook_endpoints/${other.id}/test`);
  await rx.wait('/other', 1);
  const otherMs = Date.now() - started;
  const tBack = Date.now() - t0;
  await rx.wait('/outage', 2000);
  const tAll = Date.now() - t0;
  await until(
    () => statuses(hook.id),
    (s) => s.delivered === 2000,
  );
  const ids = rx.ids('/outage');
  const want = new Set(events.map((e) => e.id));
  assert.equal(ids.size, 2000, 'every event arrived');
  for (const id of ids.keys()) assert.ok(want.has(id), `an event of this endpoint: ${id}`);
  const requests = rx.got.filter((r) => r.path === '/outage');
  const repeats = requests.length - ids.size;
  // Every request verifies, and a repeat is the same event again (same id, same body).
  const bodies = new Map<string, string>();
  for (const r of requests) {
    new Webhook(hook.secret).verify(r.body, r.headers as Record<string, string>);
    const id = String(r.headers['webhook-id']);
    if (bodies.has(id)) assert.equal(bodies.get(id), r.body);
    bodies.set(id, r.body);
  }
  t.diagnostic(
    `2,000 events: ${requests.length} requests (${repeats} repeats); other endpoint after ${otherMs} ms; imported at ${tImported} ms, back at ${tBack} ms, all in at ${tAll} ms`,
  );
  assert.ok(otherMs < 5000, `another endpoint waited ${otherMs} ms behind the backlog`);
  void config;
});

test('an endpoint failing for longer than the limit is disabled and the organization’s admins are mailed; enabled again, it gets what waited', async (t) => {
  const { api, rx, endpoint, tenant, config } = await setup(t, {
    webhookRetrySeconds: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
    webhookDisableAfterSeconds: 2,
  });
  const hook = await endpoint('/down', 'standard', ['group.created']);
  let up = false;
  rx.answer(() => ({ status: up ? 200 : 500 }));
  const group = await api('POST', `/api/accounts/${tenant.accountId}/groups`, { name: unique('G') });
  assert.equal(group.statusCode, 201, group.body);
  const ep = await until(
    async () => (await api('GET', `/api/webhook_endpoints/${hook.id}`)).json(),
    (e) => !e.enabled,
  );
  assert.match(ep.disabled_reason, /every attempt failed for 2 s .*last: status 500/);
  const mails = await db()
    .selectFrom('outbox_mail')
    .select(['to', 'subject', 'text'])
    .where('organization_id', '=', tenant.organizationId)
    .where('subject', 'like', 'Webhook endpoint disabled%')
    .execute();
  assert.deepEqual(
    mails.map((m) => m.to),
    [tenant.email],
  );
  assert.match(mails[0]!.text, new RegExp(rx.url('/down').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  assert.match(mails[0]!.text, new RegExp(`${config.publicUrl}/api/webhook_endpoints/${hook.id}`));

  // Disabled: new events are not even queued for it; the waiting delivery goes once it is enabled again.
  const before = rx.got.filter((r) => r.path === '/down').length;
  up = true;
  const enabled = await api('PATCH', `/api/webhook_endpoints/${hook.id}`, { enabled: true });
  assert.equal(enabled.json().disabled_reason, null);
  await until(
    () => statuses(hook.id),
    (s) => s.delivered === 1,
  );
  assert.ok(rx.got.filter((r) => r.path === '/down').length > before);
  const row = await db()
    .selectFrom('webhook_endpoints')
    .select('failing_since')
    .where('id', '=', hook.id)
    .executeTakeFirstOrThrow();
  assert.equal(row.failing_since, null, 'a success ends the run of failures');
});

test('the per-endpoint limit holds across processes: two relays, a receiver that hangs, at most 4 of its deliveries in flight; a fast endpoint is not held up', async (t) => {
  const { api, rx, endpoint, config, tenant } = await setup(t, { webhookTimeoutMs: 60_000 });
  // A second process's relay on the same database.
  await runWorker(t, { ...config, webhookOrganizations: [tenant.organizationId] });
  const slow = await endpoint('/slow', 'standard', ['group.created']);
  const fast = await endpoint('/fast', 'standard', ['group.created']);
  rx.hold('/slow');
  for (let i = 0; i < 12; i++) {
    assert.equal((await api('POST', `/api/webhook_endpoints/${slow.id}/test`)).statusCode, 202);
  }
  await until(
    async () => rx.got.filter((r) => r.path === '/slow').length,
    (n) => n >= 4,
  );
  await api('POST', `/api/webhook_endpoints/${fast.id}/test`);
  await rx.wait('/fast', 1);
  // Both relays had room for more (32 each), and each would have taken 4 under a per-process limit.
  await new Promise((r) => setTimeout(r, 600));
  assert.equal(rx.got.filter((r) => r.path === '/slow').length, 4);
  rx.release();
  await rx.wait('/slow', 12);
});
