// `signet webhooks listen --forward-to URL` (src/cli/listen.ts): against a live server whose worker delivers to
// loopback, it registers an endpoint, prints each event and forwards it unchanged (so the developer's receiver
// verifies the signature it was shown), answers with the receiver's status, and deletes the endpoint on stop.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { runListen } from '../src/cli/listen.ts';
import { as, createTenant, startApp, unique } from './helper.ts';
import { runWorker } from './imports-helper.ts';
import { receiver } from './webhooks-helper.ts';

test('webhooks listen: registers, prints and forwards the account’s events, then deletes its endpoint', async (t) => {
  const live = await startApp(t, {
    outboundAllowHttp: true,
    outboundAllow: ['127.0.0.1'],
    webhookDelivery: true,
  });
  const tenant = await createTenant(live.services, live.config);
  await runWorker(t, { ...live.config, webhookOrganizations: [tenant.organizationId] });
  const api = as(live.app, tenant.key);
  const rx = await receiver(t);
  rx.answer(() => ({ status: 204 }));
  process.env.SIGNET_URL = live.base;
  process.env.SIGNET_API_KEY = tenant.key;

  const lines: string[] = [];
  let seen: (() => void) | null = null;
  const out = (l: string) => {
    lines.push(l);
    seen?.();
  };
  const waitFor = async (re: RegExp) => {
    while (!lines.some((l) => re.test(l))) await new Promise<void>((r) => (seen = r));
  };
  let stop!: () => void;
  const stopped = new Promise<void>((r) => (stop = r));
  const running = runListen(['--forward-to', rx.url('/dev'), '--events', 'user.created'], out, stopped);

  await waitFor(/^Ready: endpoint /);
  const secret = /Signing secret, to verify in your receiver: (whsec_\S+)/.exec(lines.join('\n'))?.[1];
  assert.ok(secret, lines.join('\n'));
  const endpoints = (await api('GET', '/api/webhook_endpoints')).json().data;
  assert.equal(endpoints.length, 1);
  assert.equal(endpoints[0].account_id, tenant.accountId, 'the key’s account by default');

  const user = await api('POST', '/api/users', {
    email: `${unique('u')}@example.test`,
    account_id: tenant.accountId,
  });
  assert.equal(user.statusCode, 201, user.body);
  const [forwarded] = await rx.wait('/dev', 1);
  const event = new Webhook(secret).verify(forwarded!.body, forwarded!.headers as Record<string, string>) as {
    type: string;
    data: { id: string };
  };
  assert.equal(event.type, 'user.created');
  assert.equal(event.data.id, user.json().id);
  await waitFor(/user\.created .* → 204$/);

  stop();
  assert.equal(await running, 0);
  assert.ok(
    lines.some((l) => l.startsWith('Deleted endpoint')),
    lines.join('\n'),
  );
  assert.deepEqual((await api('GET', '/api/webhook_endpoints')).json().data, []);
  await assert.rejects(runListen([], out, stopped), /--forward-to URL is required/);
});
