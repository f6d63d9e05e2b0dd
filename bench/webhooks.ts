// `node --import tsx bench/webhooks.ts`: webhook delivery throughput and latency (issue 13).
//   (a) Signed deliveries per second from the outbox to a local receiver that answers 200 at once: events are
//       written to the outbox (recordWebhookEvents, the audit writer's path), then the relay of one process
//       (the same options as `signet worker`) claims, signs, POSTs and records every attempt in the delivery
//       log; against, in the same run, a baseline loop that only signs and POSTs the same payloads with the
//       same HTTP client (guardedPost) at the same concurrency. Target: at least 50% of the baseline.
//   (b) The delay from an event's commit to its first delivery attempt, with events committed one by one at
//       BENCH_RATE per second (default 200). Target: p99 under 1 s.
// Environment: BENCH_EVENTS (per round of (a), default 2000), BENCH_ENDPOINTS (default 8: 8 × 4 per endpoint
// = the relay's 32 in flight), BENCH_ROUNDS (default 2), BENCH_RATE (default 200), BENCH_SECONDS (for (b),
// default 10). The database is the embedded PostgreSQL in a temp folder, or a scratch database on
// DATABASE_URL's server.
import { createServer } from 'node:http';
import { loadConfig } from '../src/config.ts';
import type { AuditInput } from '../src/core/audit/writer.ts';
import { newId } from '../src/core/ids.ts';
import { Mailer } from '../src/core/mail/mailer.ts';
import { guardedPost, resolverFor } from '../src/core/net/outbound.ts';
import { systemPrincipal } from '../src/core/principal.ts';
import { contextOf } from '../src/core/secret-box.ts';
import { ConnectTokens } from '../src/core/webhooks/connect-oauth.ts';
import { recordWebhookEvents } from '../src/core/webhooks/events.ts';
import { MAX_IN_FLIGHT, WebhookRelay } from '../src/core/webhooks/relay.ts';
import { bodyOf, signingHeaders } from '../src/core/webhooks/signing.ts';
import { createServices } from '../src/services.ts';
import { benchTenant, cleanupAll, envNumber, log, machine, openScratchDb, table, watchdog } from './lib.ts';

const EVENTS = envNumber('BENCH_EVENTS', 2000);
const ENDPOINTS = envNumber('BENCH_ENDPOINTS', 8);
const ROUNDS = envNumber('BENCH_ROUNDS', 2);
const RATE = envNumber('BENCH_RATE', 200);
const SECONDS = envNumber('BENCH_SECONDS', 10);

watchdog(1800);
const scratch = await openScratchDb();
try {
  const { handle, boot } = await benchTenant(scratch.url);
  const db = handle.db;
  const org = boot.organization_id;
  const config = loadConfig(
    { SIGNET_ENV: 'test', LOG_LEVEL: 'silent' },
    { databaseUrl: scratch.url, outboundAllow: ['127.0.0.1'], outboundAllowHttp: true },
  );
  const services = createServices(db, config);
  const ctx = { principal: systemPrincipal(org, 'test'), meta: {} };

  // The receiver: 200 at once, counting.
  let received = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received++;
      res.writeHead(200);
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`;

  const hooks = [];
  for (let i = 0; i < ENDPOINTS; i++) {
    hooks.push(
      await services.webhookEndpoints.create(ctx, {
        account_id: boot.account_id,
        url,
        events: ['group.created'],
      }),
    );
  }
  const latencyHook = await services.webhookEndpoints.create(ctx, {
    account_id: boot.account_id,
    url,
    events: ['group.updated'],
  });

  const policy = { allow: config.outboundAllow, allowHttp: true };
  const resolve = resolverFor([]);
  const relayOptions = {
    policy,
    resolve,
    timeoutMs: config.webhookTimeoutMs,
    retrySeconds: config.webhookRetrySeconds,
    disableAfterSeconds: config.webhookDisableAfterSeconds,
    perEndpoint: config.webhookEndpointConcurrency,
    tokens: new ConnectTokens(policy, resolve, config.webhookTimeoutMs, services.secretBox),
    mailer: new Mailer(db, config),
    publicUrl: config.publicUrl,
    box: services.secretBox,
  };

  const input = (action: string): AuditInput => ({
    action,
    targetType: 'group',
    targetId: String(Math.floor(Math.random() * 1e9)),
    accountId: boot.account_id,
  });
  const pending = async () =>
    Number(
      (
        await db
          .selectFrom('webhook_deliveries')
          .select((eb) => eb.fn.countAll<string>().as('n'))
          .where('status', '=', 'pending')
          .executeTakeFirstOrThrow()
      ).n,
    );

  // (a) throughput: relay vs baseline, interleaved rounds.
  const rows: string[][] = [];
  const ratios: number[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    // The outbox: EVENTS events, each owed to every endpoint, written in batches of 500 as an import does.
    const perEndpoint = Math.ceil(EVENTS / ENDPOINTS);
    for (let i = 0; i < perEndpoint; i += 500) {
      await db.transaction().execute((trx) =>
        recordWebhookEvents(
          trx,
          org,
          Array.from({ length: Math.min(500, perEndpoint - i) }, () => input('group.created')),
          new Date().toISOString(),
        ),
      );
    }
    const deliveries = perEndpoint * ENDPOINTS;
    // Baseline: the same bodies and signatures, POSTed by the same client, 32 at a time.
    const events = await db
      .selectFrom('webhook_deliveries as d')
      .innerJoin('webhook_events as e', 'e.id', 'd.event_id')
      .innerJoin('webhook_endpoints as p', 'p.id', 'd.endpoint_id')
      .innerJoin('webhook_secrets as s', 's.endpoint_id', 'p.id')
      .select([
        'e.id',
        'e.type',
        'e.occurred_at',
        'e.account_id',
        'e.payload',
        'p.id as endpoint',
        's.id as secret_id',
        's.secret',
      ])
      .where('d.status', '=', 'pending')
      .execute();
    // The baseline signs with the secrets as they are: opened before it is timed (the relay opens them per
    // delivery, which is part of what it is measured doing).
    const plain = new Map<string, string>();
    for (const e of events) {
      if (!plain.has(e.endpoint)) {
        plain.set(
          e.endpoint,
          await services.secretBox.open(e.secret, contextOf('webhook_secrets', e.secret_id)),
        );
      }
    }
    received = 0;
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: MAX_IN_FLIGHT }, async () => {
        while (next < events.length) {
          const e = events[next++]!;
          const event = { ...e, occurred_at: new Date(e.occurred_at) };
          const body = bodyOf('standard', event, e.endpoint, 1);
          const headers = signingHeaders('standard', [plain.get(e.endpoint)!], e.id, new Date(), body);
          const answer = await guardedPost(new URL(url), headers, body, policy, resolve, 10_000);
          if (answer.status !== 200) throw new Error(`baseline: ${answer.status}`);
        }
      }),
    );
    const baseline = events.length / ((performance.now() - t0) / 1000);
    // Signet: the relay empties the outbox, recording every attempt.
    received = 0;
    const relay = new WebhookRelay(db, relayOptions, log);
    const t1 = performance.now();
    relay.start();
    while ((await pending()) > 0) await new Promise((r) => setTimeout(r, 20));
    const relayRate = deliveries / ((performance.now() - t1) / 1000);
    await relay.stop();
    if (received !== deliveries) throw new Error(`relay: ${received} of ${deliveries} received`);
    ratios.push(relayRate / baseline);
    rows.push([
      String(round),
      String(deliveries),
      baseline.toFixed(0),
      relayRate.toFixed(0),
      `${((relayRate / baseline) * 100).toFixed(1)}%`,
    ]);
    log(`round ${round}: baseline ${baseline.toFixed(0)}/s, relay ${relayRate.toFixed(0)}/s`);
  }

  // (b) commit to first attempt, events committed one by one at RATE per second.
  const relay = new WebhookRelay(db, relayOptions, log);
  relay.start();
  const committed = new Map<string, number>();
  const total = RATE * SECONDS;
  const start = Date.now();
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / RATE;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const id = newId();
    void db
      .transaction()
      .execute(async (trx) => {
        await recordWebhookEvents(
          trx,
          org,
          [{ ...input('group.updated'), targetId: id }],
          new Date().toISOString(),
        );
      })
      .then(() => committed.set(id, Date.now()));
  }
  while ((await pending()) > 0 || committed.size < total) await new Promise((r) => setTimeout(r, 50));
  await relay.stop();
  const firsts = await db
    .selectFrom('webhook_attempts as a')
    .innerJoin('webhook_deliveries as d', 'd.id', 'a.delivery_id')
    .innerJoin('webhook_events as e', 'e.id', 'd.event_id')
    .select(['a.started_at', 'e.payload'])
    .where('d.endpoint_id', '=', latencyHook.id)
    .where('a.attempt', '=', 1)
    .execute();
  const delays = firsts
    .map((f) => new Date(f.started_at).getTime() - committed.get(String(f.payload.id))!)
    .sort((a, b) => a - b);
  const pct = (p: number) => delays[Math.min(delays.length - 1, Math.floor((p / 100) * delays.length))]!;
  server.close();
  await handle.close();

  const m = machine();
  console.log(
    `\n${m.date} · ${m.cpu} × ${m.nproc} · Node ${m.node} · ${scratch.version} (${scratch.kind})\n`,
  );
  console.log('(a) signed deliveries per second to a local receiver answering 200 at once\n');
  console.log(table([['round', 'deliveries', 'baseline /s', 'Signet /s', 'Signet / baseline'], ...rows]));
  const worst = Math.min(...ratios);
  console.log(
    `\ntarget ≥ 50% of the baseline: ${worst >= 0.5 ? 'met' : 'not met'} (worst round ${(worst * 100).toFixed(1)}%)`,
  );
  console.log(`\n(b) commit → first attempt, ${delays.length} events at ${RATE}/s (ms)\n`);
  console.log(table([['p50', 'p90', 'p99', 'max'], [pct(50), pct(90), pct(99), delays.at(-1)!].map(String)]));
  console.log(`\ntarget p99 < 1000 ms: ${pct(99) < 1000 ? 'met' : 'not met'}`);
} finally {
  await cleanupAll();
}
