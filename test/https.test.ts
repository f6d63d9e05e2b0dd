// HTTPS (SIGNET_TLS_CERT / SIGNET_TLS_KEY): the app serves TLS with the configured certificate, clients that
// trust it (an https Agent's `ca`, NODE_EXTRA_CA_CERTS as docs/oauth.md says) get answers and others are
// refused; `signet start` serves HTTPS from the two files; every mistake in them is one configuration line.
// The certificate is made in the test (test/tls-helper.ts).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { request } from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { ConfigError, loadConfig } from '../src/config.ts';
import { BIN, runSignet } from './cli-helper.ts';
import { createTenant, startApp, testDbUrl } from './helper.ts';
import { selfSignedCertificate, type TestCertificate } from './tls-helper.ts';

/** GET over HTTPS; `ca` (PEM) is the one certificate to trust, absent = Node's default trust. */
function get(
  url: string,
  opts: { ca?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: string; peer: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca: opts.ca, headers: opts.headers }, (res: IncomingMessage) => {
      // Read while the connection is open: the socket is released once the body has ended.
      const peer = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
      let body = '';
      res.on('data', (c: Buffer) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, peer }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The certificate and key written to files, as SIGNET_TLS_CERT and SIGNET_TLS_KEY name them. */
async function files(t: { after(fn: () => Promise<void>): void }, pems: Record<string, string>) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'signet-tls-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const out: Record<string, string> = {};
  for (const [name, text] of Object.entries(pems)) {
    out[name] = path.join(dir, `${name}.pem`);
    await writeFile(out[name]!, text);
  }
  return out;
}

test('HTTPS: served with the configured certificate; trusted clients get answers, others are refused', async (t) => {
  const cert = await selfSignedCertificate();
  const live = await startApp(t, { tls: cert });
  assert.match(live.base, /^https:\/\/127\.0\.0\.1:\d+$/);
  const tenant = await createTenant(live.services, live.config);

  const health = await get(`${live.base}/healthz`, { ca: cert.cert });
  assert.equal(health.status, 200, health.body);
  assert.equal(health.peer, new X509Certificate(cert.cert).fingerprint256, 'the configured certificate');
  const me = await get(`${live.base}/api/me`, {
    ca: cert.cert,
    headers: { authorization: `Bearer ${tenant.key}` },
  });
  assert.equal(me.status, 200, me.body);
  assert.equal(JSON.parse(me.body).organization_id, tenant.organizationId);

  // A client that does not trust the certificate refuses the connection; plain HTTP gets no answer.
  await assert.rejects(get(`${live.base}/healthz`), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
  await assert.rejects(fetch(`${live.base.replace('https', 'http')}/healthz`));

  // NODE_EXTRA_CA_CERTS, as docs/oauth.md tells SDK users: a plain Node client then trusts the server.
  const { cert: certFile } = await files(t, { cert: cert.cert });
  // The response is destroyed once its status is read: a kept-alive connection would hold the child open.
  const script = `require('node:https').get(process.argv[1], (r) => { process.stdout.write(String(r.statusCode)); r.destroy(); })
    .on('error', (e) => process.stdout.write(e.code))`;
  const child = spawn(process.execPath, ['-e', script, `${live.base}/healthz`], {
    env: { ...process.env, NODE_EXTRA_CA_CERTS: certFile },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (c) => {
    out += c;
  });
  await new Promise((resolve) => child.on('exit', resolve));
  assert.equal(out, '200');
});

test('SIGNET_TLS_CERT / SIGNET_TLS_KEY: read and checked at load, each mistake one line naming the variable', async (t) => {
  const good = await selfSignedCertificate();
  const other = await selfSignedCertificate();
  const encrypted = generateKeyPairSync('ec', {
    namedCurve: 'P-256',
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'secret' },
  }).privateKey;
  const f = await files(t, {
    cert: good.cert,
    key: good.key,
    otherKey: other.key,
    encrypted,
    text: 'not a PEM file\n',
  });

  const loaded = loadConfig({ SIGNET_TLS_CERT: f.cert!, SIGNET_TLS_KEY: f.key! });
  assert.deepEqual(loaded.tls, { cert: good.cert, key: good.key });
  assert.equal(loaded.publicUrl, 'https://localhost:8080', 'the public URL defaults to https');
  assert.equal(loadConfig({}).tls, undefined);
  assert.equal(loadConfig({}).publicUrl, 'http://localhost:8080');

  const missing = path.join(path.dirname(f.cert!), 'missing.pem');
  const cases: [Record<string, string>, RegExp][] = [
    [{ SIGNET_TLS_CERT: f.cert! }, /go together: SIGNET_TLS_KEY is not set/],
    [{ SIGNET_TLS_KEY: f.key! }, /go together: SIGNET_TLS_CERT is not set/],
    [
      { SIGNET_TLS_CERT: missing, SIGNET_TLS_KEY: f.key! },
      /^SIGNET_TLS_CERT: cannot read ".*missing\.pem" \(ENOENT\)$/,
    ],
    [{ SIGNET_TLS_CERT: f.cert!, SIGNET_TLS_KEY: missing }, /^SIGNET_TLS_KEY: cannot read/],
    [
      { SIGNET_TLS_CERT: f.key!, SIGNET_TLS_KEY: f.key! },
      /^SIGNET_TLS_CERT: ".*key\.pem" is not a PEM certificate/,
    ],
    [
      { SIGNET_TLS_CERT: f.cert!, SIGNET_TLS_KEY: f.text! },
      /^SIGNET_TLS_KEY: ".*text\.pem" is not a PEM private key$/,
    ],
    [
      { SIGNET_TLS_CERT: f.cert!, SIGNET_TLS_KEY: f.encrypted! },
      /is not an unencrypted PEM private key \(remove its passphrase/,
    ],
    [
      { SIGNET_TLS_CERT: f.cert!, SIGNET_TLS_KEY: f.otherKey! },
      /is not the private key of the certificate in/,
    ],
  ];
  for (const [env, pattern] of cases) {
    assert.throws(
      () => loadConfig(env),
      (err: Error) => err instanceof ConfigError && pattern.test(err.message) && !err.message.includes('\n'),
      JSON.stringify(env),
    );
  }
  // The command line prints it as its one line.
  const r = await runSignet(['migrate'], { SIGNET_TLS_CERT: f.cert!, SIGNET_TLS_KEY: f.otherKey! });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /^signet: SIGNET_TLS_KEY: .* is not the private key of the certificate in .*\n$/);
});

test('signet start serves HTTPS from SIGNET_TLS_CERT and SIGNET_TLS_KEY, and stops cleanly', async (t) => {
  const cert: TestCertificate = await selfSignedCertificate();
  const f = await files(t, { cert: cert.cert, key: cert.key });
  const child = spawn(process.execPath, [BIN, 'start'], {
    env: {
      ...process.env,
      DATABASE_URL: testDbUrl(),
      PORT: '0',
      LOG_LEVEL: 'info',
      SIGNET_WORKERS: '0',
      SIGNET_TLS_CERT: f.cert!,
      SIGNET_TLS_KEY: f.key!,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  // The log says where it listens, then that it is ready.
  let url: string | undefined;
  for await (const line of createInterface({ input: child.stdout })) {
    const entry = JSON.parse(line) as { msg?: string };
    url ??= /^Server listening at (https:\/\/127\.0\.0\.1:\d+)$/.exec(entry.msg ?? '')?.[1];
    if (entry.msg === 'Signet is ready') break;
  }
  assert.ok(url, 'it listens on https://');
  const ready = await get(`${url}/readyz`, { ca: cert.cert });
  assert.equal(ready.status, 200, ready.body);
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
});
