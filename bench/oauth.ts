// `node --import tsx bench/oauth.ts`: the token endpoint and token-authenticated requests (issue 11), measured
// with autocannon over loopback against servers in their own processes, in interleaved rounds:
//   (g1) POST /oauth/token, grant_type=client_credentials (HTTP Basic client authentication)
//   (g2) POST /oauth/token, the JWT bearer grant (an RS256 assertion for a consented user)
//        each on `signet start` and on a bare oidc-provider (bench/oauth-bare-server.ts: in-memory adapter,
//        the same client and grants) — target: Signet >= 70% of the bare provider's rate — and on the same
//        bare provider storing through Signet's PostgreSQL adapter and lookup (g1pg, g2pg: the same SQL per
//        grant in the smallest server that runs it, the limit of the stack);
//   (r1) GET /api/users/{id} authenticated with an API key, and (r2) with an access token from (g2);
//   (m1) GET /api/me with the API key, and (m2) with the access token
//        — target: the token costs no more than the key, within 10% (same route, same run).
// Environment: BENCH_SECONDS (per measurement, default 10), BENCH_WARMUP_SECONDS (default 3),
// BENCH_CONNECTIONS (default 8), BENCH_ROUNDS (default 3), BENCH_ONLY=g1,g2,r,m (the pairs to measure),
// BENCH_QUIET_WAIT, BENCH_TIMEOUT (s, default 1200), BENCH_CPU_PROF, BENCH_JSON=file (raw results). The
// database is the embedded PostgreSQL in a temp folder, or a scratch database on DATABASE_URL's server. The
// integration, its RSA key and the consent are made through Signet's API. Prints Markdown tables (with each
// server's CPU per request) and the targets; exits 1 on errors or non-2xx responses.
import type { ChildProcess } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { SignJWT } from 'jose';
import { JWT_BEARER } from '../src/core/oauth/clients.ts';
import * as lib from './lib.ts';

const SECONDS = lib.envNumber('BENCH_SECONDS', 10);
const WARMUP = lib.envNumber('BENCH_WARMUP_SECONDS', 3);
const CONNECTIONS = lib.envNumber('BENCH_CONNECTIONS', 8);
const ROUNDS = lib.envNumber('BENCH_ROUNDS', 3);
const SCOPE = 'signature impersonation';
/** BENCH_ONLY=g1,m: only the pairs named (g1, g2, r, m). */
const ONLY = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(',').map((s) => s.trim())) : null;

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

interface Target {
  url: string;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
}

let postmasterPid: number | null = null;

async function measure(id: string, label: string, target: Target, server: ChildProcess): Promise<Row> {
  const waited = await lib.waitForQuiet();
  if (waited > 1) lib.log(`waited ${waited.toFixed(0)} s for the machine to go quiet`);
  const opts = { ...target, connections: CONNECTIONS };
  await autocannon({ ...opts, duration: WARMUP });
  const end = lib.cpuWindow(server.pid!, postmasterPid);
  const r = await autocannon({ ...opts, duration: SECONDS });
  const cpu = end();
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

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const cpuText = (c: lib.CpuSplit | null) =>
  c ? [c.subject, c.client, c.postgres, c.foreign, c.steal].map((v) => v.toFixed(2)).join(' / ') : 'n/a';

async function assertionFor(
  privateKey: string,
  clientId: string,
  userId: string,
  audience: string,
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  // An hour, so one assertion serves the whole run (no jti: DocuSign's SDKs send none).
  return new SignJWT({ iss: clientId, sub: userId, aud: audience, iat: now, exp: now + 3600, scope: SCOPE })
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT' })
    .sign(createPrivateKey(privateKey));
}

async function main(): Promise<void> {
  lib.watchdog(1200);
  const m = lib.machine();
  lib.log(`${m.cpu}, ${m.nproc} cores, node ${m.node}`);
  const db = await lib.openScratchDb();
  postmasterPid = db.postmasterPid;

  const { handle, boot } = await lib.benchTenant(db.url);
  await handle.close();
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

  const signetPort = await lib.freePort();
  const barePort = await lib.freePort();
  const pgPort = await lib.freePort();
  const signetBase = `http://127.0.0.1:${signetPort}`;
  const bareBase = `http://127.0.0.1:${barePort}`;
  const pgBase = `http://127.0.0.1:${pgPort}`;
  const signet = lib.spawnNode(
    ['bin/signet.js', 'start'],
    {
      DATABASE_URL: db.url,
      PORT: String(signetPort),
      LOG_LEVEL: 'warn',
      SIGNET_PUBLIC_URL: signetBase,
      SIGNET_RATE_LIMIT_PER_MINUTE: '0',
      SIGNET_WORKERS: '0',
    },
    true,
  );
  lib.track(signet);
  await lib.waitForHttp(`${signetBase}/readyz`, signet);

  // An integration with a secret and the RSA key, and an organization-wide consent, made through the API.
  const api = async (path: string, body: unknown) => {
    const res = await fetch(`${signetBase}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${boot.api_key}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (res.status >= 300) throw new Error(`POST ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as Record<string, any>;
  };
  const integration = await api('/api/integrations', {
    name: 'Bench integration',
    client_type: 'confidential',
    allowed_grants: ['client_credentials', JWT_BEARER],
  });
  const clientId = integration.client_id as string;
  const secret = integration.client_secret as string;
  await api(`/api/integrations/${integration.id}/rsa_keys`, { public_key: publicPem });
  await api(`/api/integrations/${integration.id}/consents`, { scopes: SCOPE.split(' ') });
  const bareClient = {
    client_id: clientId,
    client_secret: secret,
    public_key_pem: publicPem,
    user_id: boot.user_id,
    integration_id: integration.id,
    organization_id: boot.organization_id,
  };
  const spawnBare = async (port: number, store: 'memory' | 'pg') => {
    const child = lib.spawnNode(
      ['bench/oauth-bare-server.ts'],
      {
        PORT: String(port),
        BARE_STORE: store,
        DATABASE_URL: db.url,
        BARE_CLIENT: JSON.stringify(bareClient),
      },
      true,
    );
    lib.track(child);
    await lib.waitForHttp(`http://127.0.0.1:${port}/.well-known/openid-configuration`, child);
    return child;
  };
  const bare = await spawnBare(barePort, 'memory');
  const barePg = await spawnBare(pgPort, 'pg');

  const basic = `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`;
  const formHeaders = { 'content-type': 'application/x-www-form-urlencoded', authorization: basic };
  const ccBody = new URLSearchParams({ grant_type: 'client_credentials', scope: 'signature' }).toString();
  const jwtBody = async (base: string) =>
    new URLSearchParams({
      grant_type: JWT_BEARER,
      assertion: await assertionFor(privatePem, clientId, boot.user_id, new URL(base).host),
    }).toString();
  const grant = (base: string, body: string): Target => ({
    url: `${base}/oauth/token`,
    method: 'POST',
    headers: formHeaders,
    body,
  });
  const targets = {
    g1bare: grant(bareBase, ccBody),
    g1: grant(signetBase, ccBody),
    g2bare: grant(bareBase, await jwtBody(bareBase)),
    g2: grant(signetBase, await jwtBody(signetBase)),
    g1pg: grant(pgBase, ccBody),
    g2pg: grant(pgBase, await jwtBody(pgBase)),
  };

  // Every target answers 200 before anything is timed.
  for (const [name, t] of Object.entries(targets)) {
    const res = await fetch(t.url, { method: t.method, headers: t.headers, body: t.body });
    if (res.status !== 200) throw new Error(`${name}: ${res.status} ${await res.text()}`);
  }
  const tokenRes = await fetch(targets.g2.url, {
    method: 'POST',
    headers: formHeaders,
    body: targets.g2.body,
  });
  const accessToken = ((await tokenRes.json()) as { access_token: string }).access_token;
  const read = (path: string, credential: string): Target => ({
    url: `${signetBase}${path}`,
    method: 'GET',
    headers: { authorization: `Bearer ${credential}` },
  });
  const userPath = `/api/users/${boot.user_id}`;
  const reads = {
    r1: read(userPath, boot.api_key),
    r2: read(userPath, accessToken),
    m1: read('/api/me', boot.api_key),
    m2: read('/api/me', accessToken),
  };
  for (const [name, t] of Object.entries(reads)) {
    if (ONLY && !ONLY.has(name[0]!)) continue;
    const res = await fetch(t.url, { headers: t.headers });
    if (res.status !== 200) throw new Error(`${name}: ${res.status} ${await res.text()}`);
  }

  const labels: Record<string, string> = {
    g1bare: 'bare oidc-provider, client_credentials',
    g1: 'Signet, client_credentials',
    g2bare: 'bare oidc-provider, JWT bearer grant',
    g2: 'Signet, JWT bearer grant',
    g1pg: 'bare oidc-provider + Signet SQL, client_credentials',
    g2pg: 'bare oidc-provider + Signet SQL, JWT bearer grant',
    r1: 'Signet, GET /api/users/{id}, API key',
    r2: 'Signet, GET /api/users/{id}, access token',
    m1: 'Signet, GET /api/me, API key',
    m2: 'Signet, GET /api/me, access token',
  };
  const servers: Record<string, ChildProcess> = { g1bare: bare, g2bare: bare, g1pg: barePg, g2pg: barePg };
  const all = { ...targets, ...reads } as Record<string, Target>;
  // Each group is measured once per round, its members in an order that rotates from round to round (so drift
  // in the host's speed favours none); the ratios pair the group's first member with each of the others.
  const groups = (
    [
      ['g1', ['g1', 'g1bare', 'g1pg']],
      ['g2', ['g2', 'g2bare', 'g2pg']],
      ['r', ['r2', 'r1']],
      ['m', ['m2', 'm1']],
    ] as const
  ).filter(([name]) => !ONLY || ONLY.has(name));
  const pairs = groups.flatMap(([, [a, ...others]]) => others.map((b) => [a, b] as [string, string]));
  const rounds: Record<string, Row>[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const rows: Record<string, Row> = {};
    for (const [, members] of groups) {
      const shift = round % members.length;
      const order = [...members.slice(shift), ...members.slice(0, shift)];
      for (const id of order) {
        rows[id] = await measure(id, labels[id]!, all[id]!, servers[id] ?? signet);
        lib.log(`round ${round + 1}: ${id} ${rows[id]!.rps.toFixed(0)} req/s`);
      }
    }
    rounds.push(rows);
  }

  const ratios = pairs.map(([a, b]) => rounds.map((r) => r[a]!.rps / r[b]!.rps));
  const medianRound = (i: number) => {
    const rs = ratios[i]!;
    const med = median(rs);
    return rounds[rs.indexOf(med)]!;
  };
  const out: string[][] = [
    [
      '',
      'measurement',
      'conns',
      'req/s',
      'p50 ms',
      'p99 ms',
      'server CPU ms/req',
      'CPU cores: server/client/pg/foreign/steal',
    ],
  ];
  pairs.forEach(([a, b], i) => {
    const r = medianRound(i);
    for (const id of [b, a]) {
      const row = r[id]!;
      out.push([
        id,
        row.label,
        String(CONNECTIONS),
        row.rps.toFixed(0),
        String(row.p50),
        String(row.p99),
        row.cpu ? ((row.cpu.subject * 1000) / row.rps).toFixed(2) : 'n/a',
        cpuText(row.cpu),
      ]);
    }
  });
  process.stdout.write(
    `\nOAuth (${m.date}, ${db.kind}, ${db.version}; median round of ${ROUNDS} per pair)\n\n`,
  );
  process.stdout.write(lib.table(out));
  process.stdout.write('\n');
  const names = pairs.map(([a, b]) => `${a} / ${b}`);
  const roundRows: string[][] = [['round', ...names]];
  for (let i = 0; i < ROUNDS; i++) roundRows.push([String(i + 1), ...ratios.map((rs) => pct(rs[i]!))]);
  process.stdout.write(lib.table(roundRows));
  const goals: Record<string, [string, number]> = {
    'g1/g1bare': ['client_credentials: Signet at >= 70% of the bare provider', 0.7],
    'g2/g2bare': ['JWT bearer grant: Signet at >= 70% of the bare provider', 0.7],
    'g1/g1pg': ['client_credentials: Signet at >= 70% of the bare provider running the same SQL', 0.7],
    'g2/g2pg': ['JWT bearer grant: Signet at >= 70% of the bare provider running the same SQL', 0.7],
    'r2/r1': ["GET /api/users/{id}: access token at >= 90% of the API key's rate", 0.9],
    'm2/m1': ["GET /api/me: access token at >= 90% of the API key's rate", 0.9],
  };
  process.stdout.write('\nTargets (medians of the rounds):\n');
  pairs.forEach(([a, b], i) => {
    const [what, floor] = goals[`${a}/${b}`]!;
    const med = median(ratios[i]!);
    // The cost side: what the pair's server spent per request (CPU-seconds per request), which other work on
    // the machine disturbs less than the rate does.
    const costs = rounds.map((r) => {
      const [x, y] = [r[pairs[i]![0]]!, r[pairs[i]![1]]!];
      return x.cpu && y.cpu ? y.cpu.subject / y.rps / (x.cpu.subject / x.rps) : Number.NaN;
    });
    process.stdout.write(
      `  ${what}: ${pct(med)}, ${med >= floor ? 'met' : 'NOT met'} (server CPU per request: ${pct(median(costs))} of Signet's is the other's)\n`,
    );
  });
  if (process.env.BENCH_JSON)
    writeFileSync(process.env.BENCH_JSON, JSON.stringify({ machine: m, rounds }, null, 2));
  const bad = rounds.some((r) => Object.values(r).some((row) => row.bad > 0));
  await lib.cleanupAll();
  process.exit(bad ? 1 : 0);
}

main().catch(async (err) => {
  lib.log(String(err?.stack ?? err));
  await lib.cleanupAll();
  process.exit(1);
});
