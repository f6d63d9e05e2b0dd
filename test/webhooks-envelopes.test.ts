// Webhooks, part three (issue 13): Atlas's per-envelope webhook_url. The envelope's events reach its URL
// through the outbox and relay (a real receiver on loopback), signed X-Atlas-Signature with the account's
// default secret; a rotation of that secret re-signs the attempts still to come; the envelope's own delivery
// log; nothing for an envelope without one; a private URL is refused when the envelope is made.
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { test } from 'node:test';
import { grantCredits, makePdf, parties } from './envelope-helper.ts';
import { testDb } from './helper.ts';
import { type Received, setup, until } from './webhooks-helper.ts';

/** The Atlas check a receiver makes (docs/webhooks.md): the hex HMAC-SHA256 of the raw body, in constant time. */
function atlasVerifies(r: Received, secret: string | null): boolean {
  if (secret === null) return false;
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(r.body).digest('hex')}`);
  const got = Buffer.from(String(r.headers['x-atlas-signature'] ?? ''));
  return got.length === expected.length && timingSafeEqual(got, expected);
}

test("envelope webhook_url: the envelope's events, signed with the account's default secret, through the outbox", async (t) => {
  // Retries a second apart: the receiver refuses what it cannot verify until it has the secret.
  const { api, rx, tenant, services } = await setup(t, { webhookRetrySeconds: Array(10).fill(1) });
  await grantCredits(services, tenant.organizationId, 5);
  let known: string | null = null;
  rx.answer((r) => ({ status: atlasVerifies(r, known) ? 200 : 401 }));
  const secretPath = `/api/accounts/${tenant.accountId}/webhook_secret`;

  const none = await api('GET', secretPath);
  assert.equal(none.statusCode, 200, none.body);
  assert.deepEqual(none.json(), { account_id: tenant.accountId, created_at: null });

  const pdf = (await makePdf(1)).toString('base64');
  const created = await api('POST', '/api/envelope', {
    document: pdf,
    parties: parties(1),
    webhook_url: rx.url('/envelope-hook'),
  });
  assert.equal(created.statusCode, 201, created.body);
  const env = created.json();
  assert.equal(env.webhook_url, rx.url('/envelope-hook'));
  // The account's default secret was made by the first delivery, unseen: deliveries signed with it are
  // refused by this receiver, and retried.
  const [first] = await rx.wait('/envelope-hook', 1);
  assert.equal(atlasVerifies(first!, known), false, 'nobody knows the secret yet');
  const made = (await api('GET', secretPath)).json();
  assert.ok(made.created_at, `the secret was made: ${JSON.stringify(made)}`);

  // The owner takes a new secret (shown once); the retry comes signed with it and is accepted.
  const rotated = await api('POST', secretPath);
  assert.equal(rotated.statusCode, 200, rotated.body);
  known = rotated.json().secret as string;
  assert.match(known, /^whsec_/);
  assert.equal(JSON.stringify((await api('GET', secretPath)).json()).includes(known), false);
  const sent = await api('POST', `/api/envelope/${env.id}/send`);
  assert.equal(sent.statusCode, 200, sent.body);

  const log = await until(
    () => api('GET', `/api/envelope/${env.id}/webhook_deliveries`),
    (res) =>
      res.statusCode !== 200 ||
      (res.json().data.length === 2 &&
        res.json().data.every((d: { status: string }) => d.status === 'delivered')),
  );
  assert.equal(log.statusCode, 200, log.body);
  const deliveries = log.json().data as { event_type: string; attempts: { status_code: number }[] }[];
  assert.deepEqual(deliveries.map((d) => d.event_type).sort(), ['envelope.created', 'envelope.sent']);
  const createdLog = deliveries.find((d) => d.event_type === 'envelope.created')!;
  assert.equal(createdLog.attempts[0]!.status_code, 401, 'the first attempt was refused');
  assert.equal(createdLog.attempts.at(-1)!.status_code, 200, 'the retry, signed anew, was accepted');

  const accepted = rx.got.filter((r) => r.path === '/envelope-hook' && atlasVerifies(r, known));
  const bodies = accepted.map((r) => JSON.parse(r.body));
  assert.deepEqual(bodies.map((b) => b.event).sort(), ['envelope.created', 'envelope.sent']);
  for (const [i, b] of bodies.entries()) {
    assert.equal(b.data.object, 'envelope');
    assert.equal(b.data.id, env.id);
    assert.equal(b.data.account_id, tenant.accountId);
    assert.equal(accepted[i]!.headers['webhook-id'], b.id, 'the body id is the webhook-id');
  }

  // The envelope's endpoint is the envelope's: not among the account's endpoints, nor one of their 20.
  const listed = await api('GET', '/api/webhook_endpoints');
  assert.deepEqual(listed.json().data, []);
  const hook = await testDb()
    .db.selectFrom('webhook_endpoints')
    .select(['id', 'format', 'account_id'])
    .where('envelope_id', '=', env.id)
    .executeTakeFirstOrThrow();
  assert.equal(hook.format, 'atlas');
  assert.equal((await api('GET', `/api/webhook_endpoints/${hook.id}`)).statusCode, 404);

  // An envelope without webhook_url, in an organization without endpoints, writes no event at all.
  const plain = await api('POST', '/api/envelope', { document: pdf, parties: parties(1) });
  assert.equal(plain.statusCode, 201, plain.body);
  const plainEvents = await testDb()
    .db.selectFrom('webhook_events')
    .select('id')
    .where('organization_id', '=', tenant.organizationId)
    .where((eb) => eb(eb.ref('payload', '->>').key('id'), '=', plain.json().id))
    .execute();
  assert.deepEqual(plainEvents, []);
  const plainLog = await api('GET', `/api/envelope/${plain.json().id}/webhook_deliveries`);
  assert.deepEqual(plainLog.json(), { data: [] });

  // A URL the outbound guard would refuse is refused when the envelope is made, naming the field.
  const privateUrl = await api('POST', '/api/envelope', {
    document: pdf,
    parties: parties(1),
    webhook_url: 'http://10.1.2.3/hook',
  });
  assert.equal(privateUrl.statusCode, 400, privateUrl.body);
  assert.equal(privateUrl.json().error.code, 'validation_failed');
  assert.equal(privateUrl.json().error.details[0].field, 'webhook_url');

  // Rotation and the log are audited actions of the account, without the secret.
  const audit = await api('GET', '/api/audit_events?action=webhook_account_secret.rotated');
  assert.equal(audit.statusCode, 200, audit.body);
  assert.equal(audit.json().data.length, 1, audit.body);
  assert.equal(audit.body.includes(known), false);
});

test("envelope webhook_url: another organization's envelope, and its account secret, are not reachable", async (t) => {
  const a = await setup(t);
  const b = await setup(t);
  const created = await a.api('POST', '/api/envelope', {
    document: (await makePdf(1)).toString('base64'),
    parties: parties(1),
    webhook_url: a.rx.url('/a'),
  });
  assert.equal(created.statusCode, 201, created.body);
  const id = created.json().id;
  assert.equal((await b.api('GET', `/api/envelope/${id}/webhook_deliveries`)).statusCode, 404);
  assert.equal((await b.api('GET', `/api/accounts/${a.tenant.accountId}/webhook_secret`)).statusCode, 404);
  assert.equal((await b.api('POST', `/api/accounts/${a.tenant.accountId}/webhook_secret`)).statusCode, 404);
  assert.equal((await b.api('GET', `/api/envelope/not-an-id/webhook_deliveries`)).statusCode, 400);
});
