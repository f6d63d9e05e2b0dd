// docs/platform.md's quickstart works when pasted (issue 12, "Done when"): a real Signet (`signet start`, a
// child process on the test database), an owner's key from `signet bootstrap`, a contract.pdf in the folder
// the commands run in; then the block's commands as written (port aside), one after another in one bash, as a
// person pastes them. Each must exit 0 and answer no error; afterwards the connected account exists, the
// envelope made on its behalf is sent, and exactly one credit left the platform's pool for it.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { BIN, runSignet } from './cli-helper.ts';
import { makePdf } from './envelope-helper.ts';
import { testDbUrl, unique } from './helper.ts';

/** The commands of the quickstart's sh block: continuation lines joined, comments and blank lines dropped. */
export async function quickstartCommands(): Promise<string[]> {
  const doc = await readFile('docs/platform.md', 'utf8');
  const section = doc.slice(doc.indexOf('## Quickstart'));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(block, 'docs/platform.md has a Quickstart sh block');
  return block
    .replace(/\\\n\s*/g, '')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as { port: number };
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

/** Polls /readyz until the server answers, or fails with what it wrote if it exits first. */
async function waitReady(base: string, server: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 180_000;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) assert.fail(`signet start exited with ${server.exitCode}: ${stderr()}`);
    try {
      const res = await fetch(`${base}/readyz`);
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail(`signet start was not ready within 180 s: ${stderr()}`);
}

function bash(
  script: string,
  cwd: string,
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', script], {
      cwd,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 300_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => {
      stdout += c;
    });
    child.stderr.on('data', (c) => {
      stderr += c;
    });
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

test("docs/platform.md's quickstart, pasted: platform, key, connected account, credits, an envelope sent for it", {
  timeout: 480_000,
}, async () => {
  const commands = await quickstartCommands();
  assert.ok(commands.length >= 10, `the block has its commands: ${commands.join('\n')}`);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  // A folder inside the checkout, so `npx signet` finds this package's own bin (npm looks up from the
  // working folder); npm is kept offline, so a missing bin fails instead of being fetched from a registry.
  const work = await mkdtemp(path.resolve('.quickstart-'));
  await writeFile(path.join(work, 'contract.pdf'), await makePdf(2));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: testDbUrl(),
    PORT: String(port),
    SIGNET_PUBLIC_URL: `http://localhost:${port}`,
    SIGNET_WORKERS: '0',
    LOG_LEVEL: 'warn',
    npm_config_update_notifier: 'false',
    npm_config_fund: 'false',
    npm_config_offline: 'true',
  };
  delete env.SIGNET_ENV;
  delete env.SIGNET_DATA_DIR;
  const server = spawn(process.execPath, [BIN, 'start'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let serverErr = '';
  server.stderr!.on('data', (c) => {
    serverErr += c;
  });
  const serverExit = new Promise<void>((resolve) => server.once('exit', () => resolve()));
  try {
    await waitReady(base, server, () => serverErr);
    const boot = await runSignet(
      [
        'bootstrap',
        '--email',
        `${unique('founder')}@example.com`,
        '--org',
        unique('Platform'),
        '--account',
        'Main',
        '--json',
      ],
      { DATABASE_URL: env.DATABASE_URL!, PORT: String(port) },
    );
    assert.equal(boot.code, 0, boot.stderr);
    const owner = JSON.parse(boot.stdout) as { api_key: string; organization_id: string };

    // The block as one shell session (its exports feed later lines), each command followed by a marker with
    // its exit status; `npx signet` is this checkout's bin (npm resolves the package's own bin by name).
    const names = [...new Set(commands.flatMap((c) => /^export ([A-Z_]+)=/.exec(c)?.[1] ?? []))];
    const script = [
      ...commands.flatMap((c, i) => [
        c.replaceAll('localhost:8080', `localhost:${port}`),
        `rc=$?; printf '\\n@@step ${i} %d\\n' "$rc"`,
      ]),
      ...names.map((n) => `printf '@@var ${n}=%s\\n' "$${n}"`),
    ].join('\n');
    const run = await bash(script, work, { ...env, KEY: owner.api_key });
    assert.equal(run.code, 0, run.stderr);
    const outputs = new Map<number, string>();
    let rest = run.stdout;
    for (let i = 0; i < commands.length; i++) {
      const m = new RegExp(`\\n?@@step ${i} (\\d+)\\n`).exec(rest);
      assert.ok(m, `step ${i} ran: ${commands[i]}\n${run.stdout}\n${run.stderr}`);
      const out = rest.slice(0, m.index);
      rest = rest.slice(m.index + m[0].length);
      outputs.set(i, out);
      assert.equal(m[1], '0', `exit status of: ${commands[i]}\n${out}\n${run.stderr}`);
      assert.doesNotMatch(out, /"error"\s*:/, `an error answered: ${commands[i]}\n${out}`);
      if (out.trimStart().startsWith('{')) JSON.parse(out); // a whole JSON answer, not a cut one
    }
    const vars = Object.fromEntries(
      [...rest.matchAll(/^@@var ([A-Z_]+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!] as const),
    );
    for (const n of names) {
      assert.ok(vars[n] && vars[n] !== 'null', `$${n} was set from its answer (got "${vars[n]}")`);
    }

    // The final state, read back through the API.
    const get = async (p: string, key: string, headers: Record<string, string> = {}) => {
      const res = await fetch(`${base}${p}`, { headers: { authorization: `Bearer ${key}`, ...headers } });
      const body = (await res.json()) as any;
      assert.equal(res.status, 200, `GET ${p}: ${JSON.stringify(body)}`);
      return body;
    };
    const platformKey = vars.PLATFORM_KEY!;
    const accounts = await get('/api/platform/connected-accounts?external_id=acme-corp-42', platformKey);
    assert.equal(accounts.data.length, 1, 'one connected account');
    const acme = accounts.data[0];
    assert.equal(acme.status, 'active', 'reactivated after the suspension');
    assert.equal(acme.platform_organization_id, owner.organization_id);
    const envelope = await get(`/api/envelope/${vars.ENVELOPE}`, platformKey, {
      'atlas-account': 'ext_acme-corp-42',
    });
    assert.equal(envelope.status, 'sent');
    assert.equal(envelope.organization_id, acme.id, "made in the customer's account");
    assert.equal(envelope.payer_organization_id, owner.organization_id, 'paid by the platform');
    assert.deepEqual(
      envelope.parties.map((p: any) => [p.email, p.status]),
      [['jane@example.com', 'pending']],
    );
    const credits = await get('/api/credits', owner.api_key);
    const sends = credits.data.filter((e: any) => e.kind === 'send');
    assert.deepEqual(
      sends.map((e: any) => [e.amount, e.envelope_id]),
      [[-1, vars.ENVELOPE]],
      'one credit debited, once, for that envelope',
    );
    const granted = credits.data
      .filter((e: any) => e.kind === 'grant')
      .reduce((sum: number, e: any) => sum + e.amount, 0);
    assert.equal(credits.balance, granted - 1, 'the balance is the grant less the send');
  } finally {
    if (server.exitCode === null) server.kill('SIGTERM');
    await serverExit;
    await rm(work, { recursive: true, force: true });
  }
});
