// Envelopes and credits through the native API (docs/envelopes.md): create from each document source, send
// (one credit, exactly once, 402 when none is left), void (refund when nobody signed), decline, remind, the
// PDF, the hash-chained history, the list's filters and cursor, and credits under concurrent sends.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'kysely';
import { verifyHistory } from '../src/core/envelopes/history.ts';
import { grantCredits, makePdf, parties } from './envelope-helper.ts';
import { as, buildApp, createTenant, testDb } from './helper.ts';

test('an envelope from upload to send, void and refund, with its history chained', async (t) => {
  const { app, services, config } = await buildApp(t);
  const A = await createTenant(services, config);
  const call = as(app, A.key);
  const pdf = await makePdf(2);

  // base64 in JSON
  const created = await call('POST', '/api/envelope', {
    title: 'NDA',
    document: pdf.toString('base64'),
    filename: 'nda.pdf',
    parties: parties(2),
    metadata: { external_id: 'deal-42', crm: 'x' },
  });
  assert.equal(created.statusCode, 201, created.body);
  const env = created.json();
  assert.equal(env.status, 'draft');
  assert.equal(env.account_id, A.accountId);
  assert.ok(env.review_url.endsWith(`/envelopes/${env.envelope_id}`));
  assert.equal(env.document.page_count, 2);
  assert.equal(env.document.filename, 'nda.pdf');
  assert.equal(env.total, 2);
  assert.deepEqual(env.metadata, { external_id: 'deal-42', crm: 'x' });
  assert.equal(env.external_id, 'deal-42');

  // Drafts are free; sending with no credit is 402 and changes nothing.
  const broke = await call('POST', `/api/envelope/${env.id}/send`);
  assert.equal(broke.statusCode, 402, broke.body);
  assert.equal(broke.json().error.code, 'insufficient_credits');
  assert.equal(broke.json().error.details[0].balance, 0);
  assert.equal((await call('GET', `/api/envelope/${env.id}`)).json().status, 'draft');

  await grantCredits(services, A.organizationId, 3);
  const sent = await call('POST', `/api/envelope/${env.id}/send`);
  assert.equal(sent.statusCode, 200, sent.body);
  assert.equal(sent.json().status, 'sent');
  assert.equal(sent.json().payer_organization_id, A.organizationId);
  assert.deepEqual(
    sent.json().parties.map((p: { status: string }) => p.status),
    ['pending', 'waiting'],
  );
  // A second send is refused; the credit went once.
  const again = await call('POST', `/api/envelope/${env.id}/send`);
  assert.equal(again.statusCode, 409);
  assert.equal(again.json().error.code, 'invalid_envelope_state');
  let credits = (await call('GET', '/api/credits')).json();
  assert.equal(credits.balance, 2);
  assert.deepEqual(
    credits.data.map((e: { kind: string; amount: number }) => [e.kind, e.amount]),
    [
      ['send', -1],
      ['grant', 3],
    ],
  );
  assert.equal(credits.data[0].envelope_id, env.id);

  const status = (await call('GET', `/api/envelope/${env.id}/status`)).json();
  assert.deepEqual(
    { ...status, sign_url: undefined },
    {
      envelope_id: env.id,
      status: 'sent',
      signed_count: 0,
      total: 2,
      next_signer_email: 'signer1@example.test',
      sign_url: undefined,
    },
  );

  // Remind is free.
  const reminded = await call('POST', `/api/envelope/${env.id}/remind`);
  assert.equal(reminded.statusCode, 200, reminded.body);
  assert.equal(reminded.json().reminder_count, 1);
  assert.equal((await call('GET', '/api/credits')).json().balance, 2);

  // The PDF is the one uploaded.
  const file = await call('GET', `/api/envelope/${env.id}/pdf`);
  assert.equal(file.statusCode, 200);
  assert.equal(file.headers['content-type'], 'application/pdf');
  assert.ok(Buffer.from(file.rawPayload).equals(pdf));

  // Void before anyone signed: refunded once.
  const voided = await call('POST', `/api/envelope/${env.id}/void`, { reason: 'wrong terms' });
  assert.equal(voided.statusCode, 200, voided.body);
  assert.equal(voided.json().status, 'voided');
  assert.equal(voided.json().refunded, true);
  const twice = await call('POST', `/api/envelope/${env.id}/void`);
  assert.equal(twice.statusCode, 409, twice.body);
  credits = (await call('GET', '/api/credits')).json();
  assert.equal(credits.balance, 3);
  assert.equal(credits.data[0].kind, 'refund');

  // The history: every change, chained.
  const events = (await call('GET', `/api/envelope/${env.id}/events`)).json();
  assert.deepEqual(
    events.data.map((e: { type: string }) => e.type),
    ['envelope.created', 'envelope.sent', 'envelope.reminded', 'envelope.voided'],
  );
  assert.equal(events.data[0].prev_hash, '0'.repeat(64));
  assert.equal(events.data[1].prev_hash, events.data[0].hash);
  const rows = await testDb()
    .db.selectFrom('envelope_events')
    .selectAll()
    .where('envelope_id', '=', env.id)
    .orderBy('seq')
    .execute();
  assert.equal(verifyHistory(rows), null);
  // Append-only: PostgreSQL refuses to edit one, and an edited copy no longer verifies.
  await assert.rejects(
    sql`UPDATE envelope_events SET type = 'x' WHERE envelope_id = ${env.id}`.execute(testDb().db),
    /append-only/,
  );
  assert.deepEqual(verifyHistory([rows[0]!, { ...rows[1]!, payload: { forged: true } }]), {
    seq: 2,
    reason: 'hash does not match',
  });
  await assert.rejects(
    sql`DELETE FROM credit_entries WHERE organization_id = ${A.organizationId}`.execute(testDb().db),
    /append-only/,
  );

  // The audit log has the envelope's changes, in the same organization.
  const audit = (await call('GET', `/api/audit_events?target_id=${env.id}`)).json();
  assert.deepEqual(audit.data.map((e: { action: string }) => e.action).sort(), [
    'envelope.created',
    'envelope.reminded',
    'envelope.sent',
    'envelope.voided',
  ]);
});

test('documents: multipart file, document_url through the guard, and refusals', async (t) => {
  const { app, services, config } = await buildApp(t, { envelopeMaxBytes: 64 * 1024 });
  const A = await createTenant(services, config);
  const call = as(app, A.key);
  const pdf = await makePdf(1);

  const boundary = '----signet-test';
  const form = Buffer.concat([
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="parties"\r\n\r\n${JSON.stringify(parties(1))}\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n{"external_id":"mp-1"}\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="lease.pdf"\r\nContent-Type: application/pdf\r\n\r\n`,
    ),
    pdf,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  const multipart = await call('POST', '/api/envelope', form, {
    'content-type': `multipart/form-data; boundary=${boundary}`,
  });
  assert.equal(multipart.statusCode, 201, multipart.body);
  assert.equal(multipart.json().document.filename, 'lease.pdf');
  assert.equal(multipart.json().title, 'lease');
  assert.equal(multipart.json().external_id, 'mp-1');

  // Not a PDF: 422 invalid_document; a damaged one too; too large: 413.
  const notPdf = await call('POST', '/api/envelope', {
    document: Buffer.from('hello, not a pdf').toString('base64'),
    parties: parties(1),
  });
  assert.equal(notPdf.statusCode, 422, notPdf.body);
  assert.equal(notPdf.json().error.code, 'invalid_document');
  const damaged = await call('POST', '/api/envelope', {
    document: Buffer.from('%PDF-1.7\n1 0 obj garbage').toString('base64'),
    parties: parties(1),
  });
  assert.equal(damaged.statusCode, 422, damaged.body);
  const big = await call('POST', '/api/envelope', {
    document: (await makePdf(1, 80 * 1024)).toString('base64'),
    parties: parties(1),
  });
  assert.equal(big.statusCode, 413, big.body);
  assert.equal(big.json().error.code, 'document_too_large');

  // Two sources, or none: 400.
  const two = await call('POST', '/api/envelope', {
    document: pdf.toString('base64'),
    document_url: 'https://example.com/x.pdf',
    parties: parties(1),
  });
  assert.equal(two.statusCode, 400, two.body);
  // document_url to a private address: the outbound guard refuses it (no request is made).
  const ssrf = await call('POST', '/api/envelope', {
    document_url: 'https://127.0.0.1/x.pdf',
    parties: parties(1),
  });
  assert.equal(ssrf.statusCode, 400, ssrf.body);
  assert.equal(ssrf.json().error.details[0].field, 'document_url');
  // Two signers with one turn: 400.
  const sameOrder = await call('POST', '/api/envelope', {
    document: pdf.toString('base64'),
    parties: [
      { email: 'a@example.test', name: 'A', order: 1 },
      { email: 'b@example.test', name: 'B', order: 1 },
    ],
  });
  assert.equal(sameOrder.statusCode, 400, sameOrder.body);
});

test('document_url is fetched through the outbound guard when the host is allowed', async (t) => {
  const http = await import('node:http');
  const pdf = await makePdf(1);
  const server = http.createServer((req, res) => {
    if (req.url === '/doc.pdf') {
      res.writeHead(200, { 'content-type': 'application/pdf' });
      res.end(pdf);
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const port = (server.address() as { port: number }).port;
  const { app, services, config } = await buildApp(t, {
    outboundAllow: ['127.0.0.1'],
    outboundAllowHttp: true,
  });
  const A = await createTenant(services, config);
  const call = as(app, A.key);
  const ok = await call('POST', '/api/envelope', {
    document_url: `http://127.0.0.1:${port}/doc.pdf`,
    parties: parties(1),
  });
  assert.equal(ok.statusCode, 201, ok.body);
  assert.equal(ok.json().document.filename, 'doc.pdf');
  const missing = await call('POST', '/api/envelope', {
    document_url: `http://127.0.0.1:${port}/nope.pdf`,
    parties: parties(1),
  });
  assert.equal(missing.statusCode, 400, missing.body);
  assert.match(missing.json().error.message, /HTTP 404/);
});

test('50 concurrent sends against 10 credits: exactly 10 succeed, the balance ends at 0', async (t) => {
  const { app, services, config } = await buildApp(t);
  const A = await createTenant(services, config);
  const call = as(app, A.key);
  const document = (await makePdf(1)).toString('base64');
  const ids: string[] = [];
  for (let i = 0; i < 50; i++) {
    const res = await call('POST', '/api/envelope', { document, parties: parties(1) });
    assert.equal(res.statusCode, 201, res.body);
    ids.push(res.json().id);
  }
  await grantCredits(services, A.organizationId, 10);
  const answers = await Promise.all(ids.map((id) => call('POST', `/api/envelope/${id}/send`)));
  const codes = answers.map((r) => r.statusCode);
  assert.equal(codes.filter((c) => c === 200).length, 10, JSON.stringify(codes));
  assert.equal(codes.filter((c) => c === 402).length, 40, JSON.stringify(codes));
  const credits = (await call('GET', '/api/credits?limit=100')).json();
  assert.equal(credits.balance, 0);
  assert.equal(credits.data.filter((e: { kind: string }) => e.kind === 'send').length, 10);
  const sent = (await call('GET', '/api/envelopes?status=sent&limit=100')).json();
  assert.equal(sent.data.length, 10);
});

test('list: newest first, filters, keyset cursor; decline; members and other organizations', async (t) => {
  const { app, services, config } = await buildApp(t);
  const A = await createTenant(services, config);
  const B = await createTenant(services, config);
  const call = as(app, A.key);
  const document = (await makePdf(1)).toString('base64');
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) {
    const res = await call('POST', '/api/envelope', {
      document,
      parties: parties(1),
      metadata: { external_id: i % 2 === 0 ? 'even' : 'odd' },
    });
    ids.push(res.json().id);
  }
  const page1 = (await call('GET', '/api/envelopes?limit=2')).json();
  assert.deepEqual(
    page1.data.map((e: { id: string }) => e.id),
    [ids[4], ids[3]],
  );
  const page2 = (await call('GET', `/api/envelopes?limit=2&cursor=${page1.next_cursor}`)).json();
  assert.deepEqual(
    page2.data.map((e: { id: string }) => e.id),
    [ids[2], ids[1]],
  );
  const even = (await call('GET', '/api/envelopes?external_id=even')).json();
  assert.equal(even.data.length, 3);
  const future = new Date(Date.now() + 60_000).toISOString();
  assert.equal((await call('GET', `/api/envelopes?updated_since=${future}`)).json().data.length, 0);

  await grantCredits(services, A.organizationId, 1);
  await call('POST', `/api/envelope/${ids[0]}/send`);
  const declined = await call('POST', `/api/envelope/${ids[0]}/decline`, { reason: 'no' });
  assert.equal(declined.statusCode, 200, declined.body);
  assert.equal(declined.json().status, 'declined');
  assert.equal(declined.json().parties[0].status, 'declined');
  // No refund for a declined envelope, and it can no longer be voided.
  assert.equal((await call('POST', `/api/envelope/${ids[0]}/void`)).statusCode, 409);
  assert.equal((await call('GET', '/api/credits')).json().balance, 0);
  assert.equal((await call('GET', '/api/envelopes?status=declined')).json().data.length, 1);

  // Another organization sees none of it: 404, empty list.
  const other = as(app, B.key);
  assert.equal((await other('GET', `/api/envelope/${ids[1]}`)).statusCode, 404);
  assert.equal((await other('POST', `/api/envelope/${ids[1]}/send`)).statusCode, 404);
  assert.equal((await other('GET', '/api/envelopes')).json().data.length, 0);
});

test('Idempotency-Key on create: one envelope, the same answer replayed', async (t) => {
  const { app, services, config } = await buildApp(t);
  const A = await createTenant(services, config);
  const call = as(app, A.key);
  const body = { document: (await makePdf(1)).toString('base64'), parties: parties(1) };
  const first = await call('POST', '/api/envelope', body, { 'idempotency-key': 'env-1' });
  const second = await call('POST', '/api/envelope', body, { 'idempotency-key': 'env-1' });
  assert.equal(first.statusCode, 201);
  assert.equal(second.statusCode, 201);
  assert.equal(second.json().id, first.json().id);
  assert.equal((await call('GET', '/api/envelopes')).json().data.length, 1);
});

test('signup credits: a new self-service organization starts with SIGNET_SIGNUP_CREDITS', async (t) => {
  const { app } = await buildApp(t, { signupCredits: 5, authRateLimitPerMinute: 0 });
  const res = await app.inject({
    method: 'POST',
    url: '/signup',
    payload: {
      email: `signup-${Date.now()}@example.test`,
      password: 'Correct horse battery staple 1',
      name: 'Ada Lovelace',
      organization_name: 'Analytical',
    },
  });
  assert.equal(res.statusCode, 201, res.body);
  const entry = await testDb()
    .db.selectFrom('credit_entries')
    .selectAll()
    .where('organization_id', '=', res.json().organization.id)
    .executeTakeFirstOrThrow();
  assert.equal(entry.kind, 'signup');
  assert.equal(entry.amount, 5);
  assert.equal(entry.balance_after, 5);
});
