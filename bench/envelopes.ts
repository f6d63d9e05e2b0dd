// `node --import tsx bench/envelopes.ts`: issue 12's two envelope targets, each measured side by side in one run
// (interleaved rounds, the order rotating each round) because the machine is shared and its speed drifts:
//   (a) create + send: POST /api/envelope (multipart, a ~100 KB PDF of text pages, two parties) then
//       POST /api/envelope/{id}/send, as one operation, by BENCH_CONNECTIONS (default 8) closed loops, on
//       `signet start` (s) and on bench/envelopes-bare-server.ts (b): the same server with no PDF check and no
//       ledger write — target: s >= 50% of b's operations per second;
//   (b) GET /api/envelopes?limit=100 with 101,000 envelopes in the organization: the first page (p1) and the
//       page 100,000 deep (pdeep, by its keyset cursor), with autocannon — target: pdeep's rate >= p1's / 1.5
//       (latency within 1.5x). The plans of both queries (EXPLAIN ANALYZE) are printed.
// Environment: BENCH_SECONDS (per measurement, default 10), BENCH_WARMUP_SECONDS (default 3),
// BENCH_CONNECTIONS (default 8), BENCH_ROUNDS (default 3), BENCH_ONLY=send|list, BENCH_QUIET_WAIT,
// BENCH_TIMEOUT (s, default 1500), BENCH_CPU_PROF=<folder> (V8 CPU profiles of the servers), BENCH_JSON=file.
// The database is the embedded PostgreSQL in a temp folder, or a scratch database on DATABASE_URL's server.
// Prints Markdown tables and the targets; exits 1 on any error or non-2xx response.
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import { PDFDocument, StandardFonts } from 'pdf-lib';
import type postgres from 'postgres';
import { postCredit } from '../src/core/credits/ledger.ts';
import { encodeCursor } from '../src/core/pagination.ts';
import * as lib from './lib.ts';

const SECONDS = lib.envNumber('BENCH_SECONDS', 10);
const WARMUP = lib.envNumber('BENCH_WARMUP_SECONDS', 3);
const CONNECTIONS = lib.envNumber('BENCH_CONNECTIONS', 8);
const ROUNDS = lib.envNumber('BENCH_ROUNDS', 3);
const ONLY = process.env.BENCH_ONLY ?? '';
const LISTED = 101_000;
const DEEP = 100_000;

interface Row {
  id: string;
  label: string;
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  bad: number;
  cpu: lib.CpuSplit | null;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const cpuText = (c: lib.CpuSplit | null) =>
  c ? [c.subject, c.client, c.postgres, c.foreign, c.steal].map((v) => v.toFixed(2)).join(' / ') : 'n/a';

/** A PDF of text pages, as a contract is, grown page by page to at least `size` bytes. */
async function textPdf(size: number): Promise<Buffer> {
  for (let pages = 10; ; pages += 5) {
    const doc = await PDFDocument.create();
    const font = await doc.embedFont(StandardFonts.TimesRoman);
    for (let p = 1; p <= pages; p++) {
      const page = doc.addPage([595, 842]);
      for (let line = 0; line < 60; line++) {
        const words = Array.from({ length: 14 }, (_, i) => `clause${(p * 131 + line * 17 + i * 7) % 997}`);
        page.drawText(`${p}.${line} ${words.join(' ')}`, { x: 40, y: 800 - line * 12.5, size: 9, font });
      }
    }
    // No object streams: the classic layout most PDF writers produce, an xref table pdf-lib walks in full.
    const bytes = Buffer.from(await doc.save({ useObjectStreams: false }));
    if (bytes.length >= size) return bytes;
  }
}

function multipart(pdf: Buffer): { body: Buffer; contentType: string } {
  const boundary = 'signetbench7d3f1a';
  const field = (name: string, value: string) =>
    `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
  const parties = JSON.stringify([
    { email: 'ada@example.test', name: 'Ada Lovelace', role: 'signer', order: 1 },
    { email: 'grace@example.test', name: 'Grace Hopper', role: 'signer', order: 2 },
  ]);
  const head =
    field('title', 'Master services agreement') +
    field('parties', parties) +
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="msa.pdf"\r\n` +
    'Content-Type: application/pdf\r\n\r\n';
  return {
    body: Buffer.concat([Buffer.from(head), pdf, Buffer.from(`\r\n--${boundary}--\r\n`)]),
    contentType: `multipart/form-data; boundary=${boundary}`,
  };
}

/** One HTTP request on a keep-alive agent; the status and the body as text. */
function call(
  agent: http.Agent,
  base: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: Buffer,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${base}${path}`,
      {
        method,
        agent,
        headers: { ...headers, ...(body ? { 'content-length': String(body.length) } : {}) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * `connections` closed loops of create + send for `seconds`: operations per second, and each operation's
 * latency (both requests) at p50 and p99.
 */
async function createAndSend(
  base: string,
  key: string,
  upload: { body: Buffer; contentType: string },
  seconds: number,
): Promise<{ rps: number; p50: number; p99: number; requests: number; bad: number; firstBad: string }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const auth = { authorization: `Bearer ${key}` };
  const latencies: number[] = [];
  let bad = 0;
  let firstBad = '';
  const start = performance.now();
  const end = start + seconds * 1000;
  const loop = async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      try {
        const created = await call(
          agent,
          base,
          'POST',
          '/api/envelope',
          { ...auth, 'content-type': upload.contentType },
          upload.body,
        );
        if (created.status !== 201)
          throw new Error(`create: ${created.status} ${created.text.slice(0, 300)}`);
        const id = (JSON.parse(created.text) as { envelope_id: string }).envelope_id;
        const sent = await call(agent, base, 'POST', `/api/envelope/${id}/send`, auth);
        if (sent.status !== 200) throw new Error(`send: ${sent.status} ${sent.text.slice(0, 300)}`);
        latencies.push(performance.now() - t0);
      } catch (err) {
        bad += 1;
        firstBad ||= String(err);
      }
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, loop));
  const wall = (performance.now() - start) / 1000;
  agent.destroy();
  const sorted = latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0);
  return {
    rps: latencies.length / wall,
    p50: at(0.5),
    p99: at(0.99),
    requests: latencies.length,
    bad,
    firstBad,
  };
}

let postmasterPid: number | null = null;

async function quiet(): Promise<void> {
  const waited = await lib.waitForQuiet();
  if (waited > 1) lib.log(`waited ${waited.toFixed(0)} s for the machine to go quiet`);
}

async function measureSend(
  id: string,
  label: string,
  base: string,
  key: string,
  upload: { body: Buffer; contentType: string },
  server: ChildProcess,
): Promise<Row> {
  await quiet();
  await createAndSend(base, key, upload, WARMUP);
  const endCpu = lib.cpuWindow(server.pid!, postmasterPid);
  const r = await createAndSend(base, key, upload, SECONDS);
  const cpu = endCpu();
  if (r.bad > 0) lib.log(`${id}: ${r.bad} failed operations, the first: ${r.firstBad}`);
  return { id, label, rps: r.rps, p50: r.p50, p99: r.p99, requests: r.requests, bad: r.bad, cpu };
}

async function measureList(id: string, label: string, url: string, key: string, server: ChildProcess) {
  await quiet();
  const opts = { url, headers: { authorization: `Bearer ${key}` }, connections: CONNECTIONS };
  await autocannon({ ...opts, duration: WARMUP });
  const endCpu = lib.cpuWindow(server.pid!, postmasterPid);
  const r = await autocannon({ ...opts, duration: SECONDS });
  const cpu = endCpu();
  const bad = r.non2xx + r.errors + r.timeouts;
  if (bad > 0) lib.log(`${id}: ${bad} bad responses (non-2xx ${r.non2xx}, errors ${r.errors})`);
  return {
    id,
    label,
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    requests: r.requests.total,
    bad,
    cpu,
  };
}

/** Runs each group's members once per round, in an order rotating per round; the rounds' rows. */
async function rounds(
  groups: [string, string[]][],
  run: (id: string) => Promise<Row>,
): Promise<Record<string, Row>[]> {
  const out: Record<string, Row>[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const rows: Record<string, Row> = {};
    for (const [, members] of groups) {
      const shift = round % members.length;
      for (const id of [...members.slice(shift), ...members.slice(0, shift)]) {
        rows[id] = await run(id);
        lib.log(`round ${round + 1}: ${id} ${rows[id]!.rps.toFixed(1)}/s`);
      }
    }
    out.push(rows);
  }
  return out;
}

function report(title: string, unit: string, pair: [string, string], all: Record<string, Row>[]): number {
  const [a, b] = pair;
  const ratios = all.map((r) => r[a]!.rps / r[b]!.rps);
  const med = median(ratios);
  const r = all[ratios.indexOf(med)]!;
  const rows: string[][] = [
    [
      '',
      'measurement',
      'conns',
      unit,
      'p50 ms',
      'p99 ms',
      'server CPU ms/op',
      'CPU cores: server/client/pg/foreign/steal',
    ],
  ];
  for (const id of [b, a]) {
    const row = r[id]!;
    rows.push([
      id,
      row.label,
      String(CONNECTIONS),
      row.rps.toFixed(1),
      String(row.p50),
      String(row.p99),
      row.cpu ? ((row.cpu.subject * 1000) / row.rps).toFixed(2) : 'n/a',
      cpuText(row.cpu),
    ]);
  }
  process.stdout.write(`\n${title} (median round of ${ROUNDS})\n\n${lib.table(rows)}\n`);
  const per: string[][] = [['round', `${a} / ${b}`]];
  for (const [i, x] of ratios.entries()) per.push([String(i + 1), pct(x)]);
  process.stdout.write(lib.table(per));
  return med;
}

async function main(): Promise<void> {
  lib.watchdog(1500);
  const m = lib.machine();
  lib.log(
    `${m.cpu}, ${m.nproc} cores, node ${m.node}, load ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  const db = await lib.openScratchDb();
  postmasterPid = db.postmasterPid;
  const { handle, boot } = await lib.benchTenant(db.url);
  // Credits for every send of the run (a grant, as `signet credits grant` posts one).
  await handle.db.transaction().execute((trx) =>
    postCredit(trx, {
      organizationId: boot.organization_id,
      kind: 'grant',
      amount: 10_000_000,
      actor: { kind: 'system', id: 'bench', label: 'bench/envelopes.ts' },
      reason: 'benchmark',
    }),
  );

  const env = {
    DATABASE_URL: db.url,
    LOG_LEVEL: 'warn',
    SIGNET_RATE_LIMIT_PER_MINUTE: '0',
    SIGNET_WORKERS: '0',
  };
  const signetPort = await lib.freePort();
  const barePort = await lib.freePort();
  const signetBase = `http://127.0.0.1:${signetPort}`;
  const bareBase = `http://127.0.0.1:${barePort}`;
  const signet = lib.spawnNode(
    ['bin/signet.js', 'start'],
    { ...env, PORT: String(signetPort), SIGNET_PUBLIC_URL: signetBase },
    true,
  );
  lib.track(signet);
  const bare = lib.spawnNode(
    ['bench/envelopes-bare-server.ts'],
    { ...env, PORT: String(barePort), SIGNET_PUBLIC_URL: bareBase },
    true,
  );
  lib.track(bare);
  await lib.waitForHttp(`${signetBase}/readyz`, signet);
  await lib.waitForHttp(`${bareBase}/readyz`, bare);

  const pdf = await textPdf(100 * 1024);
  const upload = multipart(pdf);
  lib.log(`the PDF: ${pdf.length} bytes`);
  const results: Record<string, unknown> = { machine: m };
  const verdicts: string[] = [];

  if (ONLY === '' || ONLY === 'send') {
    // Both answer before anything is timed (and a non-PDF is refused by Signet only: the check is there).
    for (const base of [signetBase, bareBase]) {
      const r = await createAndSend(base, boot.api_key, upload, 0.01);
      if (r.bad > 0) throw new Error(`${base}: ${r.firstBad}`);
    }
    const servers: Record<string, [string, string, ChildProcess]> = {
      s: [signetBase, 'Signet: create (100 KB PDF) + send', signet],
      b: [bareBase, 'same, no PDF check, no ledger write', bare],
    };
    const all = await rounds([['send', ['s', 'b']]], (id) => {
      const [base, label, server] = servers[id]!;
      return measureSend(id, label, base, boot.api_key, upload, server);
    });
    results.send = all;
    const med = report(
      `Envelope create + send, ${pdf.length}-byte PDF (${m.date}, ${db.kind}, ${db.version})`,
      'ops/s',
      ['s', 'b'],
      all,
    );
    verdicts.push(`create + send at >= 50% of the baseline: ${pct(med)}, ${med >= 0.5 ? 'met' : 'NOT met'}`);
  }

  if (ONLY === '' || ONLY === 'list') {
    lib.log(`seeding ${LISTED} envelopes`);
    const t0 = performance.now();
    await seedEnvelopes(handle.sql, boot.organization_id, boot.account_id, LISTED);
    lib.log(`seeded in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    // The id after which the page 100,000 deep starts, newest first (the order the list pages in).
    const [row] = await handle.sql`
      SELECT id FROM envelopes WHERE organization_id = ${boot.organization_id}
      ORDER BY id DESC OFFSET ${DEEP - 1}::int LIMIT 1`;
    const cursor = encodeCursor(String(row!.id));
    const first = `${signetBase}/api/envelopes?limit=100`;
    const deep = `${first}&cursor=${cursor}`;
    for (const url of [first, deep]) {
      const res = await fetch(url, { headers: { authorization: `Bearer ${boot.api_key}` } });
      const page = (await res.json()) as { data: unknown[] };
      if (res.status !== 200 || page.data.length !== 100) throw new Error(`${url}: ${res.status}`);
    }
    const plans: string[] = [];
    for (const [name, after] of [
      ['first page', null],
      [`${DEEP} deep`, String(row!.id)],
    ] as const) {
      const plan = await handle.sql.unsafe(
        `EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT * FROM envelopes WHERE organization_id = $1
         ${after ? 'AND id < $2' : ''} ORDER BY id DESC LIMIT 101`,
        after ? [boot.organization_id, after] : [boot.organization_id],
      );
      plans.push(`-- ${name}\n${plan.map((p) => p['QUERY PLAN']).join('\n')}`);
    }
    process.stdout.write(`\nPlans of the list's query:\n\n${plans.join('\n\n')}\n`);
    const targets: Record<string, [string, string]> = {
      p1: [first, 'GET /api/envelopes?limit=100, first page'],
      pdeep: [deep, `same, ${DEEP.toLocaleString('en')} deep (cursor)`],
    };
    const all = await rounds([['list', ['pdeep', 'p1']]], (id) => {
      const [url, label] = targets[id]!;
      return measureList(id, label, url, boot.api_key, signet);
    });
    results.list = all;
    const med = report(
      `Listing envelopes, ${LISTED.toLocaleString('en')} in the organization (${m.date}, ${db.kind}, ${db.version})`,
      'req/s',
      ['pdeep', 'p1'],
      all,
    );
    verdicts.push(
      `the page ${DEEP.toLocaleString('en')} deep within 1.5x of the first (rate >= 66.7% of it): ${pct(med)}, ${med >= 1 / 1.5 ? 'met' : 'NOT met'}`,
    );
  }
  await handle.close();

  process.stdout.write(`\nTargets (medians of the rounds):\n${verdicts.map((v) => `  ${v}\n`).join('')}`);
  if (process.env.BENCH_JSON) writeFileSync(process.env.BENCH_JSON, JSON.stringify(results, null, 2));
  const bad = [results.send, results.list].some(
    (rs) => Array.isArray(rs) && rs.some((r: Record<string, Row>) => Object.values(r).some((x) => x.bad > 0)),
  );
  await lib.cleanupAll();
  process.exit(bad ? 1 : 0);
}

/**
 * `n` sent envelopes of one account, in one INSERT … SELECT. Ids are UUIDv7-shaped (48-bit millisecond
 * timestamp first, one millisecond apart, before the run's own), so id order is creation order, as newId().
 */
async function seedEnvelopes(sql: postgres.Sql, orgId: string, accountId: string, n: number): Promise<void> {
  const base = String(Date.now() - n - 3_600_000);
  await sql`
    INSERT INTO envelopes (id, organization_id, account_id, status, title, external_id, metadata,
                           created_by_type, created_by_id, created_by_label, payer_organization_id,
                           sent_at, expires_at, created_at, updated_at)
    SELECT (lpad(to_hex(${base}::bigint + i), 12, '0') || '7' || substr(h, 1, 3) || '8' || substr(h, 4, 15))::uuid,
           ${orgId}, ${accountId}, 'sent', 'Agreement ' || i, 'ext-' || i, jsonb_build_object('external_id', 'ext-' || i),
           'api_key', NULL, 'bench seed', ${orgId},
           to_timestamp((${base}::bigint + i) / 1000.0), now() + interval '30 days',
           to_timestamp((${base}::bigint + i) / 1000.0), to_timestamp((${base}::bigint + i) / 1000.0)
    FROM generate_series(1, ${n}::int) AS i, LATERAL (SELECT md5('e' || i) AS h) AS r`;
  await sql`VACUUM ANALYZE envelopes`;
}

main().catch(async (err) => {
  lib.log(String(err?.stack ?? err));
  await lib.cleanupAll();
  process.exit(1);
});
