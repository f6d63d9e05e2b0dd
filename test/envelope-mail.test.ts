// The mail an envelope causes beyond the first signing link (docs/envelopes.md, "Mail"): POST …/remind mails
// the party whose turn it is its link again (branded, through the outbox, the same link, said to be a
// reminder; nobody else); and the last signature mails every party (signers and cc) its link to the signed
// copy and the sender a link to the signed PDF. No token in the stored mail text or in a log line.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Services } from '../src/services.ts';
import { grantCredits, makePdf } from './envelope-helper.ts';
import { as, createTenant, testConfig, testDb, unique } from './helper.ts';
import { loggedApp } from './people-helper.ts';

async function mailsTo(services: Services, to: string) {
  return services.mailer.list({ to });
}

/** The signing link's path and token in a mail's text. */
function linkIn(text: string): { path: string; token: string } {
  const m = /https?:\/\/[^/\s]+(\/sign\/[0-9a-f-]{36}\?t=([^\s"<]+))/.exec(text);
  assert.ok(m, `a signing link in: ${text}`);
  return { path: m[1]!, token: decodeURIComponent(m[2]!) };
}

test('remind mails the party whose turn it is; completion mails every party and the sender', async (t) => {
  const { app, services, lines } = await loggedApp(t, { authRateLimitPerMinute: 0 });
  const tenant = await createTenant(services, testConfig());
  const call = as(app, tenant.key);
  await grantCredits(services, tenant.organizationId, 5);
  const brand = await call('POST', `/api/accounts/${tenant.accountId}/brands`, {
    name: 'Acme',
    company: 'Acme Corp',
    email_sender_name: 'Acme Legal',
    colors: { primary: '#0b5394' },
    is_sending_default: true,
  });
  assert.equal(brand.statusCode, 201, brand.body);
  const [ada, grace, carol] = ['ada', 'grace', 'carol'].map((n) => `${unique(n)}@example.test`) as [
    string,
    string,
    string,
  ];
  const created = await call('POST', '/api/envelope', {
    title: 'Supply contract',
    document: (await makePdf(1)).toString('base64'),
    parties: [
      { email: ada, name: 'Ada Lovelace', role: 'signer', order: 1 },
      { email: grace, name: 'Grace Hopper', role: 'signer', order: 2 },
      { email: carol, name: 'Carol Copy', role: 'cc', order: 3 },
    ],
  });
  assert.equal(created.statusCode, 201, created.body);
  const id = created.json().envelope_id as string;

  // A draft cannot be reminded (nobody has a link yet): 409, no mail.
  const early = await call('POST', `/api/envelope/${id}/remind`);
  assert.equal(early.statusCode, 409, early.body);
  assert.equal(early.json().error.code, 'invalid_envelope_state');
  assert.equal((await mailsTo(services, ada)).length, 0, 'no mail for a draft');

  assert.equal((await call('POST', `/api/envelope/${id}/send`)).statusCode, 200);
  const [first] = await mailsTo(services, ada);
  const firstLink = linkIn(first!.text);

  // The reminder: a second mail to Ada, branded, saying it is one, with the same link; nobody else mailed.
  const reminded = await call('POST', `/api/envelope/${id}/remind`);
  assert.equal(reminded.statusCode, 200, reminded.body);
  assert.equal(reminded.json().reminder_count, 1);
  const adaMails = await mailsTo(services, ada);
  assert.equal(adaMails.length, 2, 'the first mail and the reminder');
  const reminder = adaMails[0]!;
  assert.equal(reminder.subject, 'Reminder: Acme Legal sent you "Supply contract" to sign');
  assert.ok(reminder.text.includes('reminds you'), reminder.text);
  assert.ok(reminder.html.includes('#0b5394'), 'the brand colour is on the reminder');
  assert.equal(reminder.from_name, 'Acme Legal');
  assert.equal(linkIn(reminder.text).token, firstLink.token, "the party's one link");
  assert.equal((await mailsTo(services, grace)).length, 0, 'the second signer waits');
  assert.equal((await mailsTo(services, carol)).length, 0, 'the cc party waits');
  const stored = await testDb()
    .db.selectFrom('outbox_mail')
    .select(['text', 'html'])
    .where('to', '=', ada)
    .execute();
  for (const row of stored) {
    assert.ok(!row.text.includes(firstLink.token) && !row.html.includes(firstLink.token), 'token kept apart');
  }
  // Reminders are free.
  const credits = (await call('GET', '/api/credits')).json();
  assert.equal(credits.balance, 4, 'one credit for the send, none for the reminder');

  // Ada signs; Grace is mailed; a reminder now goes to Grace, not to Ada.
  const sign = (path: string, name: string) =>
    app.inject({
      method: 'POST',
      url: path.replace(/\?.*$/, ''),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({
        t: linkIn(`http://x${path}`).token,
        action: 'sign',
        name,
        consent: 'yes',
      }).toString(),
    });
  assert.equal((await sign(firstLink.path, 'Ada Lovelace')).statusCode, 200);
  assert.equal((await call('POST', `/api/envelope/${id}/remind`)).statusCode, 200);
  const graceMails = await mailsTo(services, grace);
  assert.deepEqual(
    graceMails.map((m) => m.subject),
    [
      'Reminder: Acme Legal sent you "Supply contract" to sign',
      'Acme Legal sent you "Supply contract" to sign',
    ],
  );
  assert.equal((await mailsTo(services, ada)).length, 2, 'no reminder to a party that signed');
  const graceLink = linkIn(graceMails[0]!.text);

  // Grace signs: the envelope completes, and every party and the sender are told.
  assert.equal((await sign(graceLink.path, 'Grace Hopper')).statusCode, 200);
  const env = (await call('GET', `/api/envelope/${id}`)).json();
  assert.equal(env.status, 'completed');
  const sha = env.document.signed_sha256 as string;
  for (const [to, name] of [
    [ada, 'Ada Lovelace'],
    [grace, 'Grace Hopper'],
    [carol, 'Carol Copy'],
  ] as const) {
    const [done] = await mailsTo(services, to);
    assert.equal(done!.subject, '"Supply contract" is signed by every party', to);
    assert.ok(done!.text.includes(`Hello ${name},`) && done!.text.includes(sha), done!.text);
    assert.equal(done!.from_name, 'Acme Legal');
    // Its link opens the signed copy: the page says so, and the document is the signed PDF.
    const link = linkIn(done!.text);
    const page = await app.inject({ method: 'GET', url: link.path });
    assert.equal(page.statusCode, 200, page.body);
    assert.ok(page.body.includes('Every party has signed this document'), to);
    const doc = await app.inject({
      method: 'GET',
      url: `/sign/${id}/document?t=${encodeURIComponent(link.token)}`,
    });
    assert.equal(doc.statusCode, 200);
    const signed = await call('GET', `/api/envelope/${id}/pdf`);
    assert.deepEqual(doc.rawPayload, signed.rawPayload, 'the signed PDF');
  }
  // The sender (the key's creator, the owner) gets the API's link to the signed PDF, no signing token.
  const [senderMail] = await mailsTo(services, tenant.email);
  assert.ok(senderMail, 'a mail to the sender');
  assert.equal(senderMail.subject, '"Supply contract" is signed by every party');
  assert.ok(senderMail.text.includes(`/api/envelope/${id}/pdf`), senderMail.text);
  assert.ok(senderMail.text.includes(sha));
  assert.ok(!/\/sign\//.test(senderMail.text), 'the sender gets no signing link');

  // No log line carries any of the tokens, though every request was logged.
  for (const token of [firstLink.token, graceLink.token]) {
    assert.deepEqual(
      lines.filter((l) => l.includes(token)),
      [],
    );
  }
});
