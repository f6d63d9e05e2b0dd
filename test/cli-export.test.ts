// `signet import` and `signet export` as a user runs them: child processes talking HTTP to a real Signet
// server (the app listening on a port, with a job worker), configured by SIGNET_URL and SIGNET_API_KEY.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { runSignet } from './cli-helper.ts';
import { grantCredits, makePdf, parties } from './envelope-helper.ts';
import { as, createTenant, startApp } from './helper.ts';
import { runWorker } from './imports-helper.ts';

/** A listening app with a job worker, a tenant, a scratch folder and the CLI's environment for them. */
async function server(t: any) {
  const live = await startApp(t);
  await runWorker(t, live.config);
  const tenant = await createTenant(live.services, live.config);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'signet-cli-bulk-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = async (name: string, text: string) => {
    const p = path.join(dir, name);
    await writeFile(p, text);
    return p;
  };
  return {
    ...live,
    tenant,
    url: live.base,
    dir,
    file,
    api: as(live.app, tenant.key),
    env: { SIGNET_URL: live.base, SIGNET_API_KEY: tenant.key },
  };
}

const HEADER = 'FirstName,LastName,UserEmail,PermissionSet,UserTitle\n';

test('import: progress lines on stderr, a summary with the results URL, exit 0 when every row succeeded', async (t) => {
  const { file, env, url, api, tenant } = await server(t);
  const csv = await file(
    'ok.csv',
    `${HEADER}Ada,Lovelace,ada@example.test,DS Sender,Analyst\nAlan,Turing,alan@example.test,DS Viewer,\nGrace,Hopper,grace@example.test,DS Admin,Admiral\n`,
  );
  const res = await runSignet(['import', csv, '--account', tenant.accountId], env);
  assert.equal(res.code, 0, res.stderr + res.stdout);
  const id = /import ([0-9a-f-]{36}): uploaded \d+ bytes/.exec(res.stderr)?.[1];
  assert.ok(id, res.stderr);
  // Not a terminal: plain progress lines, the last one complete.
  assert.match(res.stderr, new RegExp(`import ${id}: completed 3/3 rows \\(100%\\)`));
  assert.match(res.stdout, new RegExp(`Import ${id} completed in [\\d.]+ s: 3 rows`));
  assert.match(res.stdout, /added 3, updated 0, closed 0, no action 0, errors 0, warnings 0/);
  assert.ok(res.stdout.includes(`Row results: ${url}/api/imports/${id}/results.csv`), res.stdout);
  assert.doesNotMatch(res.stdout, /Errors by type/);

  const users = (await api('GET', '/api/users?q=example.test&limit=50')).json().data;
  assert.deepEqual(
    users
      .map((u: any) => u.email)
      .filter((e: string) => e !== tenant.email)
      .sort(),
    ['ada@example.test', 'alan@example.test', 'grace@example.test'],
  );
  const imp = (await api('GET', `/api/imports/${id}`)).json();
  assert.equal(imp.file_name, 'ok.csv', 'the file name is sent along');
});

test('import with failing rows: exit 3, the error rollup and where the failed rows are', async (t) => {
  const { file, env, url, tenant } = await server(t);
  const csv = await file(
    'bad.csv',
    `${HEADER}Ok,Person,ok@example.test,DS Sender,\nBad,Email,not-an-email,DS Sender,\nBad,Profile,bp@example.test,No Such Profile,\nBad,Profile2,bp2@example.test,Nope,\n`,
  );
  const res = await runSignet(['import', csv, '--account', tenant.accountId, '--operation', 'add'], env);
  assert.equal(res.code, 3, res.stderr + res.stdout);
  assert.match(res.stdout, /added 1, updated 0, closed 0, no action 0, errors 3, warnings 0/);
  assert.match(
    res.stdout,
    /Errors by type:\n {2}invalid_permissionset\s+2\n {2}invalid_useremail_address\s+1\n/,
  );
  const id = /Import ([0-9a-f-]{36})/.exec(res.stdout)![1];
  assert.ok(res.stdout.includes(`Failed rows: ${url}/api/imports/${id}/rows?status=error`), res.stdout);
});

test('import --dry-run: the plan, and nothing changed', async (t) => {
  const { file, env, api, tenant } = await server(t);
  const csv = await file(
    'dry.csv',
    `${HEADER}Dry,Run,dry@example.test,DS Sender,\nWet,Run,wet@example.test,DS Viewer,\n`,
  );
  const res = await runSignet(['import', csv, '--account', tenant.accountId, '--dry-run'], env);
  assert.equal(res.code, 0, res.stderr + res.stdout);
  assert.match(res.stderr, /dry run: nothing will be changed/);
  assert.match(res.stdout, /completed \(dry run: the plan; nothing was changed\)/);
  assert.match(res.stdout, /would add 2, updated 0/);
  const found = (await api('GET', '/api/users?email=dry@example.test')).json().data;
  assert.deepEqual(found, [], 'a dry run writes no user');
});

test('import failures: an unusable file exits 1 with its code; bad usage and no key exit 2; no server exits 1', async (t) => {
  const { file, env, tenant } = await server(t);
  const noEmail = await file('noemail.csv', 'FirstName,LastName,PermissionSet\nA,B,DS Sender\n');
  const failed = await runSignet(['import', noEmail, '--account', tenant.accountId], env);
  assert.equal(failed.code, 1, failed.stderr);
  assert.match(failed.stderr, /failed after [\d.]+ s: useremail_column_header_missing: /);

  const noKey = await runSignet(['import', noEmail], { SIGNET_URL: env.SIGNET_URL, SIGNET_API_KEY: '' });
  assert.equal(noKey.code, 2);
  assert.match(noKey.stderr, /SIGNET_API_KEY is not set/);
  const missing = await runSignet(['import', path.join(os.tmpdir(), 'no-such-file.csv')], env);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /cannot read .*no-such-file\.csv: no such file/);
  const op = await runSignet(['import', noEmail, '--operation', 'delete'], env);
  assert.equal(op.code, 2);
  assert.match(op.stderr, /--operation must be add, update or close/);
  const badKey = await runSignet(['import', noEmail], { ...env, SIGNET_API_KEY: 'sk_test_nope' });
  assert.equal(badKey.code, 1);
  assert.match(badKey.stderr, /HTTP 401 invalid_api_key: .*check SIGNET_API_KEY/);

  // A port nothing listens on: the app listened there, then closed.
  const gone = await startApp(t);
  await gone.app.close();
  const { port } = new URL(gone.base);
  const down = await runSignet(['import', noEmail], { ...env, SIGNET_URL: `http://127.0.0.1:${port}` });
  assert.equal(down.code, 1);
  assert.match(down.stderr, new RegExp(`cannot reach Signet at http://127.0.0.1:${port} \\(ECONNREFUSED\\)`));
});

test('export users > file: CSV with a row per membership, progress on stderr; JSONL with -o and an account', async (t) => {
  const { file, env, tenant, dir } = await server(t);
  const csv = await file(
    'people.csv',
    `${HEADER}Ada,Lovelace,ada@example.test,DS Sender,"=HYPERLINK(""http://x"")"\nAlan,Turing,alan@example.test,DS Viewer,\n`,
  );
  assert.equal((await runSignet(['import', csv, '--account', tenant.accountId], env)).code, 0);

  const res = await runSignet(['export', 'users', '--account', tenant.accountId], env);
  assert.equal(res.code, 0, res.stderr);
  const id = /export ([0-9a-f-]{36}): completed 100%/.exec(res.stderr)?.[1];
  assert.ok(id, res.stderr);
  assert.match(res.stderr, /: 3 rows, \d+ bytes/);
  const rows: Record<string, string>[] = parse(res.stdout, { bom: true, columns: true });
  assert.deepEqual(rows.map((r) => [r.UserEmail, r.PermissionSet, r.AccountID]).sort(), [
    ['ada@example.test', 'DS Sender', tenant.accountId],
    ['alan@example.test', 'DS Viewer', tenant.accountId],
    [tenant.email, 'DS Admin', tenant.accountId],
  ]);
  assert.equal(rows.find((r) => r.UserEmail === 'ada@example.test')!.UserTitle, `'=HYPERLINK("http://x")`);

  const out = path.join(dir, 'users.jsonl');
  const jsonl = await runSignet(['export', 'users', '--format', 'jsonl', '-o', out], env);
  assert.equal(jsonl.code, 0, jsonl.stderr);
  assert.equal(jsonl.stdout, '', 'with -o, nothing on stdout');
  assert.match(jsonl.stderr, new RegExp(`written to ${out.replace(/[.]/g, '\\.')}`));
  const lines = (await readFile(out, 'utf8'))
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(lines.length, 3);
  assert.ok(lines.every((l) => l.memberships[0].account_id === tenant.accountId));

  const usage = await runSignet(['export', 'groups'], env);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /usage: signet export users\|settings\|envelopes\|credits/);
});

test('export envelopes and credits: JSONL of the envelopes changed since an instant, the ledger as CSV; a bad instant is refused', async (t) => {
  const { env, api, tenant, services } = await server(t);
  const before = new Date(Date.now() - 1000).toISOString();
  await grantCredits(services, tenant.organizationId, 2);
  const pdf = (await makePdf(1)).toString('base64');
  const made = await api('POST', '/api/envelope', { document: pdf, parties: parties(1) });
  assert.equal(made.statusCode, 201, made.body);
  assert.equal((await api('POST', `/api/envelope/${made.json().id}/send`)).statusCode, 200);

  const envelopes = await runSignet(
    ['export', 'envelopes', '--format', 'jsonl', '--updated-since', before],
    env,
  );
  assert.equal(envelopes.code, 0, envelopes.stderr);
  const lines = envelopes.stdout
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual(
    lines.map((l) => [l.id, l.status]),
    [[made.json().id, 'sent']],
  );
  const later = new Date(Date.now() + 60_000).toISOString();
  const none = await runSignet(['export', 'envelopes', '--format', 'jsonl', '--updated-since', later], env);
  assert.equal(none.code, 0, none.stderr);
  assert.equal(none.stdout, '', 'nothing changed after a future instant');

  const credits = await runSignet(['export', 'credits'], env);
  assert.equal(credits.code, 0, credits.stderr);
  const rows: Record<string, string>[] = parse(credits.stdout, { bom: true, columns: true });
  assert.deepEqual(rows.map((r) => r.kind).sort(), ['grant', 'send']);

  const bad = await runSignet(['export', 'envelopes', '--updated-since', 'yesterday'], env);
  assert.equal(bad.code, 1, bad.stderr);
  assert.match(bad.stderr, /updated_since/);
});
