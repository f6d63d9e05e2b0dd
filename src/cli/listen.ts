// `signet webhooks listen --forward-to URL` (docs/webhooks.md, "Listening from your machine"): for developers,
// like Stripe's CLI. It listens on loopback, registers a webhook endpoint there for the key's account, prints
// each event it receives (after checking its Standard Webhooks signature with the secret it was shown) and
// forwards it, body and headers unchanged, to URL, answering Signet with URL's status. Ctrl-C deletes the
// endpoint. Signet must be allowed to reach the listener: a development server on the same machine with
// SIGNET_OUTBOUND_ALLOW_HTTP=true and SIGNET_OUTBOUND_ALLOW=127.0.0.1.
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { parseArgs } from 'node:util';
import { Webhook } from 'standardwebhooks';
import { apiError, CliError, remoteFromEnv, send } from './client.ts';

/** Headers that belong to one hop, not to the delivery. */
const HOP = new Set(['host', 'connection', 'content-length', 'transfer-encoding', 'keep-alive']);

export async function runListen(
  args: string[],
  out: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
  stop: Promise<void> = new Promise((r) => {
    process.once('SIGINT', () => r());
    process.once('SIGTERM', () => r());
  }),
): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      'forward-to': { type: 'string' },
      events: { type: 'string', default: '*' },
      account: { type: 'string' },
      port: { type: 'string', default: '0' },
    },
  });
  const target = values['forward-to'];
  if (!target) throw new CliError('--forward-to URL is required (where to forward each event)', 2);
  let forwardTo: URL;
  try {
    forwardTo = new URL(target);
  } catch {
    throw new CliError(`--forward-to is not a URL: "${target}"`, 2);
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CliError('--port is 0 to 65535', 2);
  const remote = remoteFromEnv();
  let accountId = values.account;
  if (!accountId) {
    const me = await send(remote, 'GET', '/api/me');
    if (!me.ok) throw await apiError(me, 'GET /api/me');
    accountId = ((await me.json()) as { account_id: string | null }).account_id ?? undefined;
    if (!accountId) throw new CliError('this key has no account of its own: name one with --account ID', 2);
  }

  let secret: Webhook | null = null;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let event: { type?: string };
      try {
        if (!secret) throw new Error('not registered yet');
        event = secret.verify(body, req.headers as Record<string, string>) as { type?: string };
      } catch (err) {
        out(`refused a request with no valid signature: ${(err as Error).message}`);
        res.writeHead(401).end();
        return;
      }
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers as IncomingHttpHeaders)) {
        if (!HOP.has(k) && typeof v === 'string') headers[k] = v;
      }
      let status = 502;
      try {
        const answer = await fetch(forwardTo, { method: 'POST', headers, body, redirect: 'manual' });
        status = answer.status;
        await answer.arrayBuffer();
      } catch (err) {
        out(`  could not forward to ${forwardTo.href}: ${(err as Error).message}`);
      }
      out(`${new Date().toISOString()}  ${event.type}  ${req.headers['webhook-id']}  → ${status}`);
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
  const made = await send(remote, 'POST', '/api/webhook_endpoints', {
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      account_id: accountId,
      url,
      events: values.events!.split(',').map((e) => e.trim()),
      format: 'standard',
      description: `signet webhooks listen → ${forwardTo.href}`.slice(0, 500),
    }),
  });
  if (!made.ok) {
    server.close();
    throw await apiError(made, 'POST /api/webhook_endpoints');
  }
  const endpoint = (await made.json()) as { id: string; secret: string };
  secret = new Webhook(endpoint.secret);
  out(`Ready: endpoint ${endpoint.id} at ${url} forwards to ${forwardTo.href} (Ctrl-C to stop)`);
  out(`Signing secret, to verify in your receiver: ${endpoint.secret}`);
  await stop;
  server.close();
  server.closeAllConnections();
  const gone = await send(remote, 'DELETE', `/api/webhook_endpoints/${endpoint.id}`);
  if (!gone.ok && gone.status !== 404) throw await apiError(gone, 'DELETE /api/webhook_endpoints');
  out(`Deleted endpoint ${endpoint.id}`);
  return 0;
}
