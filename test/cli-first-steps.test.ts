// The first steps a person takes with the command line: help for every command, one-line errors for every
// configuration mistake and a taken port (no stack trace), run as a user runs them (child processes).
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { runSignet } from './cli-helper.ts';
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
  const runs = COMMANDS.flatMap((c) => [
    runSignet([c, '--help'], broken).then((r) => ({ c, how: `${c} --help`, r })),
    runSignet(['help', c], broken).then((r) => ({ c, how: `help ${c}`, r })),
  ]);
  for (const { c, how, r } of await Promise.all(runs)) {
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
  const runs = cases.flatMap(([env, pattern]) =>
    ['start', 'migrate'].map(async (command) => ({
      what: `${command} ${JSON.stringify(env)}`,
      pattern,
      r: await runSignet([command], { LOG_LEVEL: 'info', DATABASE_URL: testDbUrl(), ...env }),
    })),
  );
  for (const { what, pattern, r } of await Promise.all(runs)) {
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
