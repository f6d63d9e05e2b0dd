// Every operation of DocuSign's Admin API (the spec's 74) is routed in the /management face: it works or it
// answers a deliberate 501 not_supported with its reason (scripts/compatibility.ts builds the table from the
// app's real route table; docs/compatibility.md carries it).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { compatibilityRows, SDK_METHODS, toMarkdown } from '../scripts/compatibility.ts';

test('all 74 Admin API operations are routed in /management, each declaring the spec’s scope', async () => {
  const rows = await compatibilityRows();
  assert.equal(rows.length, 74);
  assert.equal(Object.keys(SDK_METHODS).length, 74);
  assert.ok(
    rows.every((r) => r.sdkMethod !== '(unknown)'),
    'every operation has its SDK method',
  );
  const missing = rows
    .filter((r) => r.status === 'missing')
    .map((r) => `${r.method} ${r.path} (${r.sdkMethod})`);
  assert.deepEqual(missing, [], `operations with no route:\n${missing.join('\n')}`);
  const wrongScope = rows
    .filter((r) => r.routeScope !== undefined)
    .map((r) => `${r.sdkMethod}: spec ${r.scope}, route ${r.routeScope}`);
  assert.deepEqual(wrongScope, [], 'routes declare the scope the spec gives');
  for (const r of rows.filter((x) => x.status === 'not_supported')) {
    assert.ok((r.reason ?? '').length > 20, `${r.sdkMethod} gives a reason for its 501`);
  }
  const table = toMarkdown(rows);
  assert.equal(table.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| Method')).length, 74);
});

test('at least 60 of the 74 operations work (issue 5); the rest answer 501 with a reason', async () => {
  const rows = await compatibilityRows();
  const works = rows.filter((r) => r.status === 'works').length;
  assert.ok(works >= 60, `${works} of 74 operations work`);
});

test('docs/compatibility.md carries the table the code generates', async () => {
  const doc = readFileSync(new URL('../docs/compatibility.md', import.meta.url), 'utf8');
  const match = /<!-- admin-table:start -->\n([\s\S]*?)<!-- admin-table:end -->/.exec(doc);
  assert.ok(match, 'docs/compatibility.md has the admin-table markers');
  assert.equal(
    match[1],
    toMarkdown(await compatibilityRows()),
    'regenerate the table: node --import tsx scripts/compatibility.ts',
  );
});
