// Webhook test harness: a real HTTP receiver on loopback, a poller, and an app whose job runner sends
// webhooks to loopback (SIGNET_OUTBOUND_ALLOW=127.0.0.1, http allowed).
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { TestContext } from 'node:test';
import type { Config } from '../src/config.ts';
import { as, buildApp, createTenant } from './helper.ts';
import { runWorker } from './imports-helper.ts';

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A receiver on 127.0.0.1: records every request; answers what `answer` says (200 by default). */
export async function receiver(t: TestContext) {
  const got: Received[] = [];
  const waiters: (() => void)[] = [];
  const held = new Set<string>();
  const parked: (() => void)[] = [];
  let answer: (r: Received) => { status: number; headers?: Record<string, string> } = () => ({ status: 200 });
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r = { path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      got.push(r);
      const reply = () => {
        const a = answer(r);
        res.writeHead(a.status, a.headers ?? {});
        res.end('ok');
      };
      // A held path answers only once released (a receiver that hangs).
      if (held.has(r.path)) parked.push(reply);
      else reply();
      for (const w of waiters.splice(0)) w();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  let listening = true;
  t.after(() => {
    for (const reply of parked.splice(0)) reply();
    if (!listening) return;
    return new Promise<void>((r) => server.close(() => r()));
  });
  const port = (server.address() as { port: number }).port;
  return {
    /** An outage: the port refuses connections (open ones are cut) until start(). */
    async stop() {
      listening = false;
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
      await closed;
    },
    /** Back on the same port. */
    async start() {
      await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
      listening = true;
    },
    url: (path: string) => `http://127.0.0.1:${port}${path}`,
    got,
    answer(fn: typeof answer) {
      answer = fn;
    },
    hold(path: string) {
      held.add(path);
    },
    release() {
      held.clear();
      for (const reply of parked.splice(0)) reply();
    },
    /** Resolves once `n` requests have arrived at `path`. */
    async wait(path: string, n: number): Promise<Received[]> {
      for (;;) {
        const here = got.filter((r) => r.path === path);
        if (here.length >= n) return here;
        await new Promise<void>((r) => waiters.push(r));
      }
    },
    /** The webhook-ids received at `path`, each with how many times it came. */
    ids(path: string): Map<string, number> {
      const seen = new Map<string, number>();
      for (const r of got) {
        if (r.path !== path) continue;
        const id = String(r.headers['webhook-id']);
        seen.set(id, (seen.get(id) ?? 0) + 1);
      }
      return seen;
    },
  };
}

/** Calls `read` until `done` holds for its result (the worker runs on its own; this waits for it). */
export async function until<T>(read: () => Promise<T>, done: (v: T) => boolean): Promise<T> {
  for (;;) {
    const v = await read();
    if (done(v)) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function setup(t: TestContext, overrides: Partial<Config> = {}) {
  const built = await buildApp(t, {
    outboundAllowHttp: true,
    outboundAllow: ['127.0.0.1'],
    webhookDelivery: true,
    ...overrides,
  });
  const tenant = await createTenant(built.services, built.config);
  // This runner sends this test's organization's webhooks only: other test files share the database, and
  // their endpoints' deliveries (to hosts that do not exist) are not this test's to send.
  await runWorker(t, { ...built.config, webhookOrganizations: [tenant.organizationId] });
  const api = as(built.app, tenant.key);
  const rx = await receiver(t);
  const endpoint = async (path: string, format: string, events = ['user.created']) => {
    const res = await api('POST', '/api/webhook_endpoints', {
      account_id: tenant.accountId,
      url: rx.url(path),
      events,
      format,
    });
    assert.equal(res.statusCode, 201, res.body);
    return res.json();
  };
  return { ...built, tenant, api, rx, endpoint };
}
