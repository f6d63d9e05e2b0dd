// The receiver examples of docs/webhooks.md ("Receivers"), read from the page and run as they are written
// against real deliveries to a receiver on loopback: each verifies its format's delivery with the endpoint's
// secret, and refuses another secret and an altered body; the Connect one accepts either signature of a
// rotation's window.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { unique } from './helper.ts';
import { setup } from './webhooks-helper.ts';

type Verify = (rawBody: string, headers: Record<string, unknown>, secret: string) => any;

/** The ```js verify-<name> block of docs/webhooks.md, imported as a module (its bare imports resolved here). */
async function documented(name: string): Promise<Verify> {
  const page = readFileSync(new URL('../docs/webhooks.md', import.meta.url), 'utf8');
  const block = new RegExp(`\`\`\`js verify-${name}\\n([\\s\\S]*?)\`\`\``).exec(page);
  assert.ok(block, `docs/webhooks.md has a verify-${name} block`);
  const code = block[1]!.replace(
    /from 'standardwebhooks'/,
    `from '${import.meta.resolve('standardwebhooks')}'`,
  );
  const mod = await import(`data:text/javascript,${encodeURIComponent(code)}`);
  const fn = Object.values(mod)[0];
  assert.equal(typeof fn, 'function', `verify-${name} exports a function`);
  return fn as Verify;
}

test('docs/webhooks.md receivers verify real deliveries of each format, and refuse forgeries', async (t) => {
  const { api, rx, endpoint, tenant } = await setup(t);
  const verify = {
    standard: await documented('standard'),
    atlas: await documented('atlas'),
    connect: await documented('connect'),
  };
  const hooks = {
    standard: await endpoint('/standard', 'standard'),
    atlas: await endpoint('/atlas', 'atlas'),
    connect: await endpoint('/connect', 'connect'),
  };
  const user = await api('POST', '/api/users', {
    email: `${unique('u')}@example.test`,
    account_id: tenant.accountId,
  });
  assert.equal(user.statusCode, 201, user.body);
  const id = user.json().id as string;

  for (const format of ['standard', 'atlas', 'connect'] as const) {
    const [got] = await rx.wait(`/${format}`, 1);
    const event = verify[format](got!.body, got!.headers, hooks[format].secret);
    assert.equal(event.data.id, id, `${format}: the event is the user's`);
    const other = hooks[format === 'standard' ? 'atlas' : 'standard'].secret;
    assert.throws(() => verify[format](got!.body, got!.headers, other), `${format}: another secret`);
    const altered = got!.body.replace(
      id,
      id.replace(/.$/, (c) => (c === '0' ? '1' : '0')),
    );
    assert.throws(
      () => verify[format](altered, got!.headers, hooks[format].secret),
      `${format}: an altered body`,
    );
  }

  // A rotation's window: Connect sends one signature per secret, and the documented check takes either.
  const rotated = await api('POST', `/api/webhook_endpoints/${hooks.connect.id}/rotate_secret`, {
    expires_in_seconds: 3600,
  });
  assert.equal(rotated.statusCode, 200, rotated.body);
  const sent = await api('POST', `/api/webhook_endpoints/${hooks.connect.id}/test`);
  assert.equal(sent.statusCode, 202, sent.body);
  const all = await rx.wait('/connect', 2);
  const windowed = all.find((r) => r.headers['webhook-id'] === sent.json().event_id)!;
  assert.ok(windowed.headers['x-docusign-signature-2'], 'two signatures in the window');
  for (const secret of [hooks.connect.secret, rotated.json().secret as string]) {
    assert.equal(verify.connect(windowed.body, windowed.headers, secret).event, 'webhook.test');
  }
});
