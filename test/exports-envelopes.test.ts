// Exports for the warehouse (docs/exports.md, "Envelopes" and "The credit ledger"): envelopes and the credit
// ledger through the export jobs, CSV and JSONL, per organization (a connected account's through
// Atlas-Account), within the account boundary, and `updated_since` for a nightly mirror of what changed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { systemPrincipal } from '../src/core/principal.ts';
import { grantCredits, makePdf, parties } from './envelope-helper.ts';
import { as, buildApp, type Caller, createTenant, unique } from './helper.ts';
import { runWorker } from './imports-helper.ts';
import { connect, platformOf } from './platform-helper.ts';

async function exported(api: Caller, body: Record<string, unknown>): Promise<{ view: any; text: string }> {
  const res = await api('POST', '/api/exports', body);
  assert.equal(res.statusCode, 202, res.body);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const got = await api('GET', `/api/exports/${res.json().id}`);
    const view = got.json();
    if (view.status === 'completed' || view.status === 'failed') {
      assert.equal(view.status, 'completed', got.body);
      const file = await api('GET', `/api/exports/${view.id}/download`);
      assert.equal(file.statusCode, 200, file.body);
      return { view, text: file.body };
    }
    if (Date.now() > deadline) throw new Error(`export ${view.id} still ${view.status}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const jsonl = (text: string) =>
  text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l));
const csv = (text: string) => parse(text, { bom: true, columns: true }) as Record<string, string>[];

async function envelope(call: Caller, body: Record<string, unknown> = {}): Promise<string> {
  const pdf = await makePdf(1);
  const res = await call('POST', '/api/envelope', {
    document: pdf.toString('base64'),
    parties: parties(2),
    ...body,
  });
  assert.equal(res.statusCode, 201, res.body);
  return res.json().id;
}

test('envelopes and the credit ledger export per organization, CSV and JSONL, with updated_since', async (t) => {
  const { app, services, config } = await buildApp(t);
  await runWorker(t, config);
  const tp = await createTenant(services, config);
  const P = await platformOf(app, services, tp);
  const c = await connect(P.caller);
  const asC = P.actingFor(c.id);
  await grantCredits(services, tp.organizationId, 5);

  // The platform: two envelopes (one sent) in its first account, one in a second account.
  const e1 = await envelope(P.caller, { metadata: { external_id: '=cmd()' } });
  const e2 = await envelope(P.caller);
  assert.equal((await P.caller('POST', `/api/envelope/${e1}/send`)).statusCode, 200);
  const second = await P.owner('POST', '/api/accounts', { name: 'Second' });
  assert.equal(second.statusCode, 201, second.body);
  const e3 = await envelope(P.caller, { account_id: second.json().id });
  // The connected account: one envelope, sent at the platform's expense.
  const ec = await envelope(asC);
  assert.equal((await asC('POST', `/api/envelope/${ec}/send`)).statusCode, 200);

  // JSONL: each line is the object GET /api/envelope/{id} answers, the organization's own envelopes only.
  const all = await exported(P.caller, { kind: 'envelopes', format: 'jsonl' });
  assert.equal(all.view.kind, 'envelopes');
  assert.equal(all.view.row_count, 3);
  const lines = jsonl(all.text);
  assert.deepEqual(lines.map((l) => l.id).sort(), [e1, e2, e3].sort());
  for (const line of lines) {
    const api = (await P.caller('GET', `/api/envelope/${line.id}`)).json();
    assert.deepEqual(line, api, `${line.id} as the API answers it`);
  }
  // The account filter, and CSV under snake_case names (formula-like cells neutralised).
  const first = await exported(P.caller, { kind: 'envelopes', account_ids: [tp.accountId] });
  const rows = csv(first.text);
  assert.deepEqual(rows.map((r) => r.envelope_id).sort(), [e1, e2].sort());
  const r1 = rows.find((r) => r.envelope_id === e1)!;
  assert.equal(r1.status, 'sent');
  assert.equal(r1.payer_organization_id, tp.organizationId);
  assert.equal(r1.total, '2');
  assert.equal(r1.external_id, "'=cmd()");
  assert.match(r1.document_sha256!, /^[0-9a-f]{64}$/);
  // Through Atlas-Account: the connected account's envelopes, and nothing of the platform's.
  const ofC = csv((await exported(asC, { kind: 'envelopes' })).text);
  assert.deepEqual(
    ofC.map((r) => r.envelope_id),
    [ec],
  );

  // The ledger: the platform's pool, its own send and the connected account's (naming that organization).
  const ledger = jsonl((await exported(P.caller, { kind: 'credit_ledger', format: 'jsonl' })).text);
  assert.deepEqual(
    ledger.map((e) => [e.kind, e.amount, e.envelope_id]),
    [
      ['grant', 5, null],
      ['send', -1, e1],
      ['send', -1, ec],
    ],
  );
  assert.equal(ledger[2].envelope_organization_id, c.id);
  assert.deepEqual(
    ledger,
    (await P.caller('GET', '/api/credits')).json().data.reverse(),
    'as GET /api/credits',
  );
  const ledgerCsv = csv((await exported(P.caller, { kind: 'credit_ledger' })).text);
  assert.deepEqual(Object.keys(ledgerCsv[0]!), [
    'id',
    'organization_id',
    'kind',
    'amount',
    'balance_after',
    'envelope_id',
    'envelope_organization_id',
    'actor_type',
    'actor_id',
    'actor_label',
    'reason',
    'created_at',
  ]);
  assert.equal(ledgerCsv.length, 3);
  assert.equal((await exported(asC, { kind: 'credit_ledger' })).view.row_count, 0, 'the platform paid');

  // updated_since: what changed since a mark, for a nightly mirror.
  const mark = new Date().toISOString();
  await new Promise((r) => setTimeout(r, 5));
  const voided = await P.caller('POST', `/api/envelope/${e1}/void`);
  assert.equal(voided.json().refunded, true, voided.body);
  const changed = await exported(P.caller, { kind: 'envelopes', updated_since: mark });
  assert.equal(changed.view.updated_since, mark);
  assert.deepEqual(
    csv(changed.text).map((r) => [r.envelope_id, r.status]),
    [[e1, 'voided']],
  );
  const newEntries = jsonl(
    (await exported(P.caller, { kind: 'credit_ledger', format: 'jsonl', updated_since: mark })).text,
  );
  assert.deepEqual(
    newEntries.map((e) => [e.kind, e.envelope_id]),
    [['refund', e1]],
  );
});

test('export refusals: the ledger is the organization’s, updated_since only where rows carry a time, roles', async (t) => {
  const { app, services, config } = await buildApp(t);
  const tenant = await createTenant(services, config);
  const owner = as(app, tenant.key);
  const refuse = async (body: Record<string, unknown>, status: number, code: string) => {
    const res = await owner('POST', '/api/exports', body);
    assert.equal(res.statusCode, status, `${JSON.stringify(body)}: ${res.body}`);
    assert.equal(res.json().error.code, code, res.body);
  };
  await refuse({ kind: 'credit_ledger', account_ids: [tenant.accountId] }, 400, 'validation_failed');
  await refuse({ kind: 'users', updated_since: new Date().toISOString() }, 400, 'validation_failed');
  await refuse({ kind: 'envelopes', updated_since: 'yesterday' }, 400, 'validation_failed');

  // A member (the default profile sends envelopes) exports its own account's envelopes, never the ledger.
  const member = await owner('POST', '/api/users', { email: `${unique('m')}@example.test` });
  const key = await services.apiKeys.create(
    { principal: systemPrincipal(tenant.organizationId, 'test'), meta: {} },
    { name: 'member', account_id: tenant.accountId, created_by: member.json().id, role: 'member' },
  );
  const own = await as(app, key.key)('POST', '/api/exports', { kind: 'envelopes' });
  assert.equal(own.statusCode, 202, own.body);
  assert.deepEqual(own.json().account_ids, [tenant.accountId]);
  const ledger = await as(app, key.key)('POST', '/api/exports', { kind: 'credit_ledger' });
  assert.equal(ledger.statusCode, 403, ledger.body);
  assert.equal(ledger.json().error.code, 'permission_denied');
  assert.match(ledger.json().error.message, /owner or admin/);
});
