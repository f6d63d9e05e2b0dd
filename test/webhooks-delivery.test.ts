// Webhooks, part two (issue 13): delivery to a real HTTP receiver on loopback, verified with the official
// `standardwebhooks` package (and the Atlas and Connect HMACs); retries keep the webhook-id and honour
// Retry-After; rotation signs with both secrets; 410 disables the endpoint; the outbound guard's ranges.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { checkedAddress, isBlockedAddress, OutboundRefused } from '../src/core/net/outbound.ts';
import { startDnsServer } from './dns-server.ts';
import { testDb, unique } from './helper.ts';
import { setup, until } from './webhooks-helper.ts';

test('delivery: the three formats, signed, verified by the receiver; the webhook-id is the event id', async (t) => {
  const { api, rx, endpoint, tenant } = await setup(t);
  const std = await endpoint('/std', 'standard');
  const atlas = await endpoint('/atlas', 'atlas');
  const connect = await endpoint('/connect', 'connect');
  const user = await api('POST', '/api/users', {
    email: `${unique('u')}@example.test`,
    account_id: tenant.accountId,
  });
  assert.equal(user.statusCode, 201, user.body);
  const event = await testDb()
    .db.selectFrom('webhook_events')
    .selectAll()
    .where('organization_id', '=', tenant.organizationId)
    .where('type', '=', 'user.created')
    .executeTakeFirstOrThrow();

  const [s] = await rx.wait('/std', 1);
  const verified = new Webhook(std.secret).verify(s!.body, s!.headers as Record<string, string>) as any;
  assert.equal(verified.type, 'user.created');
  assert.equal(verified.data.id, user.json().id);
  assert.equal(s!.headers['webhook-id'], event.id);
  assert.throws(() => new Webhook(atlas.secret).verify(s!.body, s!.headers as Record<string, string>));

  const [a] = await rx.wait('/atlas', 1);
  const hex = createHmac('sha256', atlas.secret).update(a!.body).digest('hex');
  assert.equal(a!.headers['x-atlas-signature'], `sha256=${hex}`);
  assert.equal(JSON.parse(a!.body).event, 'user.created');

  const [c] = await rx.wait('/connect', 1);
  const b64 = createHmac('sha256', connect.secret).update(c!.body).digest('base64');
  assert.equal(c!.headers['x-docusign-signature-1'], b64);
  assert.equal(c!.headers['x-docusign-signature-2'], undefined);
  const body = JSON.parse(c!.body);
  assert.equal(body.event, 'user.created');
  assert.equal(body.configurationId, connect.id);

  const log = await until(
    () => api('GET', `/api/webhook_endpoints/${std.id}/deliveries`),
    (res) => res.statusCode !== 200 || res.json().data[0]?.status !== 'pending',
  );
  assert.equal(log.statusCode, 200, log.body);
  const d = log.json().data[0];
  assert.equal(d.status, 'delivered');
  assert.equal(d.event_id, event.id);
  assert.equal(d.attempts[0].status_code, 200);
  assert.equal(d.attempts[0].response_excerpt, 'ok');
});

test('delivery: a failure is retried with the same webhook-id, after Retry-After; 410 disables the endpoint', async (t) => {
  const { api, rx, endpoint, tenant } = await setup(t);
  const hook = await endpoint('/flaky', 'standard', ['group.created']);
  let first = true;
  rx.answer(() => {
    if (!first) return { status: 200 };
    first = false;
    return { status: 503, headers: { 'retry-after': '1' } };
  });
  const sent = await api('POST', `/api/webhook_endpoints/${hook.id}/test`);
  assert.equal(sent.statusCode, 202, sent.body);
  const [one, two] = await rx.wait('/flaky', 2);
  assert.equal(one!.headers['webhook-id'], sent.json().event_id);
  assert.equal(two!.headers['webhook-id'], sent.json().event_id);
  assert.ok(Number(two!.headers['webhook-timestamp']) >= Number(one!.headers['webhook-timestamp']));
  for (const r of [one!, two!]) new Webhook(hook.secret).verify(r.body, r.headers as Record<string, string>);
  const log = await until(
    async () => (await api('GET', `/api/webhook_endpoints/${hook.id}/deliveries`)).json().data[0],
    (d) => d.status !== 'pending',
  );
  assert.equal(log.status, 'delivered');
  assert.deepEqual(
    log.attempts.map((a: any) => a.status_code),
    [503, 200],
  );
  const gap = new Date(log.attempts[1].started_at).getTime() - new Date(log.attempts[0].started_at).getTime();
  assert.ok(gap >= 1000, `Retry-After: 1 was honoured (${gap} ms)`);

  // 410: the delivery fails for good and the endpoint is disabled, saying why.
  const gone = await endpoint('/gone', 'standard', ['user.created']);
  rx.answer((r) => ({ status: r.path === '/gone' ? 410 : 200 }));
  await api('POST', '/api/users', { email: `${unique('u')}@example.test`, account_id: tenant.accountId });
  await rx.wait('/gone', 1);
  const ep = await until(
    async () => (await api('GET', `/api/webhook_endpoints/${gone.id}`)).json(),
    (e) => !e.enabled,
  );
  assert.equal(ep.disabled_reason, 'the receiver answered 410 Gone');
});

test('delivery: during a rotation window every delivery is signed with both secrets', async (t) => {
  const { api, rx, endpoint } = await setup(t);
  const std = await endpoint('/rot-std', 'standard', ['group.created']);
  const con = await endpoint('/rot-con', 'connect', ['group.created']);
  const newStd = (
    await api('POST', `/api/webhook_endpoints/${std.id}/rotate_secret`, { expires_in_seconds: 600 })
  ).json();
  const newCon = (
    await api('POST', `/api/webhook_endpoints/${con.id}/rotate_secret`, { expires_in_seconds: 600 })
  ).json();
  await api('POST', `/api/webhook_endpoints/${std.id}/test`);
  await api('POST', `/api/webhook_endpoints/${con.id}/test`);
  const [s] = await rx.wait('/rot-std', 1);
  assert.equal(String(s!.headers['webhook-signature']).split(' ').length, 2);
  for (const secret of [std.secret, newStd.secret]) {
    new Webhook(secret).verify(s!.body, s!.headers as Record<string, string>);
  }
  const [c] = await rx.wait('/rot-con', 1);
  const mac = (k: string) => createHmac('sha256', k).update(c!.body).digest('base64');
  assert.equal(c!.headers['x-docusign-signature-1'], mac(con.secret));
  assert.equal(c!.headers['x-docusign-signature-2'], mac(newCon.secret));

  // A window of 0: the old secret stops at once.
  const again = (
    await api('POST', `/api/webhook_endpoints/${std.id}/rotate_secret`, { expires_in_seconds: 0 })
  ).json();
  await api('POST', `/api/webhook_endpoints/${std.id}/test`);
  const [, s2] = await rx.wait('/rot-std', 2);
  assert.equal(String(s2!.headers['webhook-signature']).split(' ').length, 1);
  new Webhook(again.secret).verify(s2!.body, s2!.headers as Record<string, string>);
});

test('outbound guard: every private, loopback, link-local, CGNAT, ULA, multicast and mapped range is refused', async () => {
  for (const ip of [
    '127.0.0.1',
    '127.255.0.9',
    '0.0.0.0',
    '10.1.2.3',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '224.0.0.1',
    '255.255.255.255',
    '::1',
    '::',
    'fe80::1',
    'fc00::1',
    'fd12:3456::1',
    'ff02::1',
    '::ffff:127.0.0.1',
    '::ffff:10.0.0.1',
    '64:ff9b::a00:1',
  ]) {
    assert.ok(isBlockedAddress(ip), ip);
  }
  for (const ip of ['93.184.216.34', '8.8.8.8', '172.32.0.1', '100.128.0.1', '2606:4700::1111']) {
    assert.ok(!isBlockedAddress(ip), ip);
  }
  const policy = { allow: ['10.20.0.0/16', 'hooks.internal'], allowHttp: false };
  const noDns = async (): Promise<string[]> => {
    throw Object.assign(new Error('no DNS here'), { code: 'ENOTFOUND' });
  };
  await assert.rejects(checkedAddress(new URL('https://10.1.0.1/'), policy, noDns), OutboundRefused);
  assert.equal(await checkedAddress(new URL('https://10.20.3.4/'), policy, noDns), '10.20.3.4');
  await assert.rejects(checkedAddress(new URL('http://8.8.8.8/'), policy, noDns), /https only/);
  await assert.rejects(
    checkedAddress(new URL('https://nowhere.test/'), policy, noDns),
    /could not be resolved/,
  );
});

test('outbound guard at delivery: names resolving to private addresses are refused, redirects are not followed, the checked address is the one connected to', async (t) => {
  const dns = await startDnsServer();
  t.after(() => dns.close());
  const { api, rx, endpoint } = await setup(t, { dnsServers: [dns.address] });
  const port = new URL(rx.url('/')).port;
  // Known to this DNS server only: the system's resolver cannot find them.
  dns.addresses.set('private.hooks.test', ['10.0.0.5']);
  dns.addresses.set('metadata.hooks.test', ['169.254.169.254']);
  dns.addresses.set('mixed.hooks.test', ['127.0.0.1', 'fd00::7']);
  dns.addresses.set('allowed.hooks.test', ['127.0.0.1']);

  const lastAttempt = async (id: string) =>
    until(
      async () => (await api('GET', `/api/webhook_endpoints/${id}/deliveries`)).json().data[0],
      (d) => d?.attempts.length > 0,
    ).then((d) => d.attempts[d.attempts.length - 1]);

  for (const [host, ip] of [
    ['private.hooks.test', '10.0.0.5'],
    ['metadata.hooks.test', '169.254.169.254'],
    ['mixed.hooks.test', 'fd00::7'],
  ] as const) {
    const hook = await endpoint(`/never-${host}`, 'standard', ['group.created']);
    const patched = await api('PATCH', `/api/webhook_endpoints/${hook.id}`, {
      url: `http://${host}:${port}/never`,
    });
    assert.equal(patched.statusCode, 200, patched.body);
    await api('POST', `/api/webhook_endpoints/${hook.id}/test`);
    const attempt = await lastAttempt(hook.id);
    assert.equal(attempt.status_code, null);
    assert.match(attempt.error, new RegExp(`refused by the outbound guard: ${host} resolves to ${ip}`));
    assert.ok(attempt.next_retry_at, 'refused is a failure like any other: retried, checked again then');
  }
  assert.equal(rx.got.filter((r) => r.path === '/never').length, 0, 'nothing reached the receiver');

  // Allowed by SIGNET_OUTBOUND_ALLOW (127.0.0.1). The name is unknown to the system's resolver, so a delivery
  // that arrives proves the connection went to the address the guard checked, not to a second lookup.
  const ok = await endpoint('/pinned', 'standard', ['group.created']);
  await api('PATCH', `/api/webhook_endpoints/${ok.id}`, { url: `http://allowed.hooks.test:${port}/pinned` });
  await api('POST', `/api/webhook_endpoints/${ok.id}/test`);
  const [pinned] = await rx.wait('/pinned', 1);
  assert.equal(pinned!.headers.host, `allowed.hooks.test:${port}`);

  // A redirect (here to a private address) is an answer, not followed: the attempt failed with 302.
  rx.answer((r) =>
    r.path === '/redirect'
      ? { status: 302, headers: { location: `http://private.hooks.test:${port}/never` } }
      : { status: 200 },
  );
  const redirect = await endpoint('/redirect', 'standard', ['group.created']);
  await api('POST', `/api/webhook_endpoints/${redirect.id}/test`);
  const attempt = await lastAttempt(redirect.id);
  assert.equal(attempt.status_code, 302);
  assert.ok(attempt.next_retry_at);
  assert.equal(rx.got.filter((r) => r.path === '/never').length, 0);
});

test('delivery: a receiver that hangs holds a few slots of its own; other endpoints’ deliveries go on', async (t) => {
  // A minute's timeout: the hung requests stay open for the whole test.
  const { api, rx, endpoint } = await setup(t, { webhookTimeoutMs: 60_000 });
  const slow = await endpoint('/slow', 'standard', ['group.created']);
  const fast = await endpoint('/fast', 'standard', ['group.created']);
  rx.hold('/slow');
  // More than one endpoint may have in flight, all due before the fast endpoint's one.
  for (let i = 0; i < 12; i++) {
    assert.equal((await api('POST', `/api/webhook_endpoints/${slow.id}/test`)).statusCode, 202);
  }
  await api('POST', `/api/webhook_endpoints/${fast.id}/test`);
  await rx.wait('/fast', 1);
  // The slow receiver has not answered anything yet: the fast delivery did not wait for it.
  const slowAttempts = await testDb()
    .db.selectFrom('webhook_attempts as a')
    .innerJoin('webhook_deliveries as d', 'd.id', 'a.delivery_id')
    .select('a.id')
    .where('d.endpoint_id', '=', slow.id)
    .execute();
  assert.equal(slowAttempts.length, 0);
  const inFlight = rx.got.filter((r) => r.path === '/slow').length;
  assert.ok(inFlight >= 1 && inFlight <= 4, `at most 4 of one endpoint in flight (${inFlight})`);
  rx.release();
  await rx.wait('/slow', 12);
});

test('delivery: redeliver one, replay a time range; each goes out again with the same webhook-id', async (t) => {
  const { api, rx, endpoint } = await setup(t);
  const hook = await endpoint('/again', 'standard', ['group.created']);
  const sent = (await api('POST', `/api/webhook_endpoints/${hook.id}/test`)).json();
  await rx.wait('/again', 1);
  await until(
    async () => (await api('GET', `/api/webhook_endpoints/${hook.id}/deliveries`)).json().data[0],
    (d) => d.status === 'delivered',
  );
  const base = `/api/webhook_endpoints/${hook.id}`;
  const again = await api('POST', `${base}/deliveries/${sent.delivery_id}/redeliver`);
  assert.equal(again.statusCode, 202, again.body);
  const [, second] = await rx.wait('/again', 2);
  assert.equal(second!.headers['webhook-id'], sent.event_id);
  new Webhook(hook.secret).verify(second!.body, second!.headers as Record<string, string>);
  const missing = await api('POST', `${base}/deliveries/0190a0b0-0000-7000-8000-00000000abcd/redeliver`);
  assert.equal(missing.statusCode, 404, missing.body);

  await until(
    async () => (await api('GET', `${base}/deliveries`)).json().data[0],
    (d) => d.status === 'delivered' && d.attempts.length === 2,
  );
  const since = new Date(Date.now() - 3600_000).toISOString();
  const failedOnly = await api('POST', `${base}/replay`, { since });
  assert.equal(failedOnly.statusCode, 202, failedOnly.body);
  assert.equal(failedOnly.json().queued, 0, 'nothing failed');
  const all = await api('POST', `${base}/replay`, { since, failed_only: false });
  assert.deepEqual(all.json(), { queued: 1 });
  const [, , third] = await rx.wait('/again', 3);
  assert.equal(third!.headers['webhook-id'], sent.event_id);
  const backwards = await api('POST', `${base}/replay`, { since, until: since });
  assert.equal(backwards.statusCode, 400, backwards.body);
  const audit = await api('GET', '/api/audit_events?action=webhook_endpoint.*&order=asc');
  assert.deepEqual(
    audit
      .json()
      .data.map((e: any) => e.action)
      .filter((a: string) => /redelivered|replayed/.test(a)),
    ['webhook_endpoint.redelivered', 'webhook_endpoint.replayed', 'webhook_endpoint.replayed'],
  );
});
