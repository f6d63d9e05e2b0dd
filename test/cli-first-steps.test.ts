// The first steps a person takes with the command line: help for every command, one-line errors for every
// configuration mistake and a taken port (no stack trace), and the README's first-steps block pasted whole,
// run as a user runs them (child processes).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { BIN, runSignet } from './cli-helper.ts';
import { testDbUrl } from './helper.ts';

const COMMANDS = ['start', 'worker', 'migrate', 'bootstrap', 'audit', 'mail', 'import', 'export'];

/** One line on stderr, and nothing that looks like a stack trace. */
function assertOneLine(stderr: string, pattern: RegExp): void {
  const lines = stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line, got:\n${stderr}`);
  assert.match(lines[0]!, /^signet: /);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(stderr, /\n\s+at /);
}

test('help: signet --help lists every command; signet CMD --help and signet help CMD print its usage', async () => {
  const top = await runSignet(['--help']);
  assert.equal(top.code, 0, top.stderr);
  for (const c of COMMANDS) assert.match(top.stdout, new RegExp(`^  ${c}\\b`, 'm'), c);
  // Help needs no valid configuration (a broken environment is often why someone asks for it).
  const broken = { PORT: 'not-a-port', SIGNET_ENV: 'prod', DATABASE_URL: 'postgres://nobody@127.0.0.1:1/x' };
  // Every command's --help; `help CMD` for two of them (it is the same text). Few processes at a time.
  const runs = [
    ...COMMANDS.map((c) => ({ c, how: `${c} --help`, args: [c, '--help'] })),
    ...['bootstrap', 'export'].map((c) => ({ c, how: `help ${c}`, args: ['help', c] })),
  ];
  const results: { c: string; how: string; r: Awaited<ReturnType<typeof runSignet>> }[] = [];
  for (let i = 0; i < runs.length; i += 4) {
    const batch = runs.slice(i, i + 4);
    results.push(
      ...(await Promise.all(batch.map(async (x) => ({ ...x, r: await runSignet(x.args, broken) })))),
    );
  }
  for (const { c, how, r } of results) {
    assert.equal(r.code, 0, `${how}: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^Usage: signet ${c}\\b`), how);
    assert.equal(r.stderr, '', how);
  }
  const sub = await runSignet(['audit', 'verify', '--help'], broken);
  assert.equal(sub.code, 0);
  assert.match(sub.stdout, /^Usage: signet audit verify/);
  const unknown = await runSignet(['help', 'frobnicate']);
  assert.equal(unknown.code, 2);
  assertOneLine(unknown.stderr, /unknown command "frobnicate"; try: signet --help/);
  const unknownCommand = await runSignet(['frobnicate']);
  assert.equal(unknownCommand.code, 2);
  assertOneLine(unknownCommand.stderr, /unknown command/);
  const badOption = await runSignet(['bootstrap', '--frob'], { DATABASE_URL: testDbUrl() });
  assert.equal(badOption.code, 2);
  assertOneLine(badOption.stderr, /'--frob'.*signet bootstrap --help/);
});

test('every configuration error is one line naming the variable, and a non-zero exit', async () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ PORT: 'eighty' }, /PORT must be an integer, got "eighty"/],
    [{ PORT: '99999' }, /invalid PORT/],
    [{ SIGNET_ENV: 'prod' }, /invalid SIGNET_ENV \(test \| live\).*got "prod"/],
    [{ LOG_LEVEL: 'loud' }, /invalid LOG_LEVEL.*got "loud"/],
    [{ SIGNET_TRUST_PROXY: 'proxy.example' }, /SIGNET_TRUST_PROXY: "proxy.example"/],
    [{ DATABASE_URL: 'mysql://x' }, /invalid DATABASE_URL/],
    [{ SIGNET_PUBLIC_URL: 'example.com' }, /invalid SIGNET_PUBLIC_URL/],
  ];
  // `migrate` for each (start reads the same configuration, checked once below), a few processes at a time.
  const runs: { what: string; pattern: RegExp; r: Awaited<ReturnType<typeof runSignet>> }[] = [];
  const all = [
    ...cases.map(([env, pattern]) => ({ command: 'migrate', env, pattern })),
    {
      command: 'start',
      env: { SIGNET_ENV: 'prod' },
      pattern: /invalid SIGNET_ENV/,
    },
  ];
  for (let i = 0; i < all.length; i += 4) {
    runs.push(
      ...(await Promise.all(
        all.slice(i, i + 4).map(async ({ command, env, pattern }) => ({
          what: `${command} ${JSON.stringify(env)}`,
          pattern,
          r: await runSignet([command], { LOG_LEVEL: 'info', DATABASE_URL: testDbUrl(), ...env }),
        })),
      )),
    );
  }
  for (const { what, pattern, r } of runs) {
    assert.notEqual(r.code, 0, what);
    assertOneLine(r.stderr, pattern);
  }
});

test('a taken port is one line naming the port and PORT, exit 1; a database it cannot reach is one line too', async () => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const { port } = blocker.address() as { port: number };
  try {
    const r = await runSignet(['start'], {
      LOG_LEVEL: 'info',
      PORT: String(port),
      DATABASE_URL: testDbUrl(),
    });
    assert.equal(r.code, 1);
    assertOneLine(r.stderr, new RegExp(`port ${port} is already in use.*set PORT`));
  } finally {
    await new Promise((resolve) => blocker.close(resolve));
  }

  // Unexpected failures are one line too; --verbose (or LOG_LEVEL=debug) adds the details.
  const unreachable = { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/nothing' };
  const quiet = await runSignet(['migrate'], unreachable);
  assert.equal(quiet.code, 1);
  assertOneLine(quiet.stderr, /migrate failed: .*ECONNREFUSED.*--verbose/);
  const verbose = await runSignet(['migrate', '--verbose'], unreachable);
  assert.equal(verbose.code, 1);
  assert.match(verbose.stderr, /\n\s+at /, 'the stack, on request');
  const debug = await runSignet(['migrate'], { ...unreachable, LOG_LEVEL: 'debug' });
  assert.match(debug.stderr, /\n\s+at /);
});

// ---------------------------------------------------------------------------------------------------------
// The README's "First steps" block, pasted whole: the server starts in the background on a fresh data folder
// and bootstrap runs at once, while the server is still creating its database.

/** The commands of README.md's first-steps block: comments dropped, continuation lines joined. */
async function firstStepsBlock(): Promise<string[]> {
  const readme = await readFile('README.md', 'utf8');
  const section = readme.slice(readme.indexOf('## First steps'));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(block, 'README.md has a First steps sh block');
  return block
    .replace(/\\\n\s*/g, '')
    .split('\n')
    .map((l) => l.replace(/\s{2,}#.*$/, '').trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

/** A `curl` made of fetch, put first on PATH when the machine has none: the block's curl lines run as written. */
async function curlShim(dir: string): Promise<string | null> {
  if (spawnSync('sh', ['-c', 'command -v curl']).status === 0) return null;
  const bin = path.join(dir, 'bin');
  await mkdir(bin);
  await writeFile(
    path.join(bin, 'curl'),
    `#!${process.execPath}
const args = process.argv.slice(2); let url; const headers = {}; let body;
for (let i = 0; i < args.length; i++) {
  if (args[i] === '-H') { const h = args[++i]; headers[h.slice(0, h.indexOf(':')).trim()] = h.slice(h.indexOf(':') + 1).trim(); }
  else if (args[i] === '-d') body = args[++i];
  else if (!args[i].startsWith('-')) url = args[i];
}
const res = await fetch(url.startsWith('http') ? url : 'http://' + url, { method: body ? 'POST' : 'GET', headers, body });
process.stdout.write(await res.text());
`,
    { mode: 0o755 },
  );
  return bin;
}

function run(
  command: string,
  env: NodeJS.ProcessEnv,
  timeoutMs = 180_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', command], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: timeoutMs,
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

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as { port: number };
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

test("README's first steps, pasted whole on a fresh data folder: bootstrap waits for the server, curl works; wrong folder, environment or owner are refused in one line", {
  timeout: 300_000,
}, async () => {
  const steps = await firstStepsBlock();
  assert.equal(steps[0], 'npm ci', 'the block starts with npm ci (already done for the tests: skipped)');
  const startLine = steps[1]!;
  assert.match(startLine, /^npm start &$/);
  const bootstrapLine = steps[2]!;
  assert.match(bootstrapLine, /^npx signet bootstrap .*--json$/);
  const exportLine = steps[3]!;
  assert.match(exportLine, /^export KEY=sk_test_/);
  const curls = steps.slice(4);
  assert.equal(curls.length, 2);
  assert.ok(curls.every((c) => c.startsWith('curl ')));

  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'signet-first-'));
  const elsewhere = await mkdtemp(path.join(os.tmpdir(), 'signet-other-'));
  const port = await freePort();
  const shim = await curlShim(elsewhere);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    SIGNET_DATA_DIR: dataDir,
    PORT: String(port),
    LOG_LEVEL: 'warn',
    npm_config_update_notifier: 'false',
    npm_config_fund: 'false',
    ...(shim ? { PATH: `${shim}:${process.env.PATH}` } : {}),
  };
  delete env.DATABASE_URL;
  delete env.SIGNET_ENV;
  const local = (line: string) => line.replaceAll('localhost:8080', `localhost:${port}`);

  // `npm start &`: its own process group, so the test can stop npm and the server together.
  const server = spawn('sh', ['-c', startLine.replace(/\s*&$/, '')], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  let serverErr = '';
  server.stderr!.on('data', (c) => {
    serverErr += c;
  });
  const serverExit = new Promise<number | null>((resolve) => server.once('exit', resolve));
  try {
    const boot = await run(local(bootstrapLine), env);
    assert.equal(boot.code, 0, `bootstrap: ${boot.stderr}\nserver: ${serverErr}`);
    assert.doesNotMatch(boot.stderr, /\n\s+at |Error|lock file/, 'no stack trace, no lock-file error');
    // Whichever of the two created the database said so while initdb ran (issue 15).
    assert.match(`${serverErr}${boot.stderr}`, /first start: creating the PostgreSQL database in /);
    const out = JSON.parse(boot.stdout);
    assert.deepEqual(Object.keys(out).sort(), ['account_id', 'api_key', 'organization_id', 'user_id']);
    assert.match(out.api_key, /^sk_test_/);

    // The curl lines as written, with the key bootstrap printed.
    const withKey = { ...env, KEY: out.api_key };
    const list = await run(local(curls[0]!), withKey, 30_000);
    assert.equal(list.code, 0, list.stderr);
    const listed = JSON.parse(list.stdout);
    assert.deepEqual(
      listed.data.map((u: any) => u.email),
      ['you@example.com'],
      list.stdout,
    );
    const created = await run(local(curls[1]!), withKey, 30_000);
    assert.equal(created.code, 0, created.stderr);
    assert.equal(JSON.parse(created.stdout).email, 'ada@example.com', created.stdout);

    const again = (extra: Record<string, string>, args: string[] = []) =>
      run(
        `node ${JSON.stringify(BIN)} bootstrap --email you@example.com --org Acme --account "Acme Inc" --json ${args.join(' ')}`,
        { ...env, ...extra },
      );
    const [same, live, otherDir, otherDb, otherOwner] = await Promise.all([
      again({}),
      again({ SIGNET_ENV: 'live' }),
      again({ SIGNET_DATA_DIR: elsewhere }),
      again({ DATABASE_URL: testDbUrl() }),
      run(
        `node ${JSON.stringify(BIN)} bootstrap --email eve@example.com --org Acme --account Other --json`,
        env,
      ),
    ]);
    // Idempotent: the same organization, account and owner, and a fresh key.
    assert.equal(same.code, 0, same.stderr);
    const sameOut = JSON.parse(same.stdout);
    assert.equal(sameOut.organization_id, out.organization_id);
    assert.equal(sameOut.user_id, out.user_id);
    // Another environment than the server's: no key.
    assert.equal(live.code, 1);
    assertOneLine(live.stderr, /SIGNET_ENV=test.*sk_live_ key would be refused/);
    assert.equal(live.stdout, '');
    // Another data folder while this server answers on PORT: no key, and no second database made there.
    assert.equal(otherDir.code, 1);
    assertOneLine(otherDir.stderr, new RegExp(`server at http://127.0.0.1:${port} uses another database`));
    assert.equal(existsSync(path.join(elsewhere, 'pg')), false, 'nothing created in the other folder');
    // Another database altogether (DATABASE_URL) while this server answers on PORT: no key either.
    assert.equal(otherDb.code, 1);
    assertOneLine(otherDb.stderr, /uses another database \(it is not the database of DATABASE_URL\)/);
    // The organization's name with another email: refused unless a new organization is asked for.
    assert.equal(otherOwner.code, 1);
    assertOneLine(otherOwner.stderr, /organization named "Acme" exists already.*--new-organization/);
    const second = await run(
      `node ${JSON.stringify(BIN)} bootstrap --email eve@example.com --org Acme --account Other --json --new-organization`,
      env,
    );
    assert.equal(second.code, 0, second.stderr);
    assert.notEqual(JSON.parse(second.stdout).organization_id, out.organization_id);

    // The server still serves (nothing above stopped its database), then stops cleanly with its database.
    const res = await fetch(`http://127.0.0.1:${port}/api/users`, {
      headers: { authorization: `Bearer ${out.api_key}` },
    });
    assert.equal(res.status, 200);
  } finally {
    if (server.exitCode === null) process.kill(-server.pid!, 'SIGTERM');
    await serverExit;
    // PostgreSQL's last WAL files can land while the tree is being removed (ENOTEMPTY): fs.rm retries those.
    const gone = { recursive: true, force: true, maxRetries: 10, retryDelay: 200 };
    await rm(dataDir, gone);
    await rm(elsewhere, gone);
  }
  assert.equal(existsSync(path.join(dataDir, 'pg', 'postmaster.pid')), false);
});
