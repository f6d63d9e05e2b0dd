// Signing (issue 12 part 6; docs/envelopes.md "Signing"): an envelope made through the API with a real PDF,
// sent, its parties following the links mailed to them (read from the outbox), the page with its strict CSP
// and labelled form, both parties signing in turn, the envelope completed with a signed PDF one page longer
// whose SHA-256 the history holds; and the refusals: wrong, altered or expired links, out of turn, twice,
// from another site, without consent; decline; expiry at read time and by the sweep; no token in a log line.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { inflateSync } from 'node:zlib';
import { PDFArray, PDFDocument, PDFRawStream } from 'pdf-lib';
import { verifyHistory } from '../src/core/envelopes/history.ts';
import { SCRUBBED_TOKEN } from '../src/core/mail/mailer.ts';
import type { Services } from '../src/services.ts';
import { grantCredits, makePdf } from './envelope-helper.ts';
import {
  as,
  buildApp,
  type Caller,
  createTenant,
  type Tenant,
  testConfig,
  testDb,
  unique,
} from './helper.ts';
import { tinyPng } from './images.ts';
import { loggedApp, type Res } from './people-helper.ts';

type App = Awaited<ReturnType<typeof buildApp>>['app'];
const db = () => testDb().db;
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

function twoParties() {
  return [1, 2].map((order) => ({
    email: `${unique(`party${order}`)}@example.test`,
    name: order === 1 ? 'Ada Lovelace' : 'Grace Hopper',
    role: 'signer' as const,
    order,
  }));
}

async function sentEnvelope(call: Caller, tenant: Tenant, pdf: Buffer, extra: Record<string, unknown> = {}) {
  const parties = twoParties();
  const created = await call('POST', '/api/envelope', {
    title: 'Mutual NDA',
    message: 'Please sign by Friday.',
    document: pdf.toString('base64'),
    filename: 'nda.pdf',
    parties,
    ...extra,
  });
  assert.equal(created.statusCode, 201, created.body);
  const id = created.json().envelope_id as string;
  const sent = await call('POST', `/api/envelope/${id}/send`);
  assert.equal(sent.statusCode, 200, sent.body);
  const partyIds = (sent.json().parties as { id: string; email: string }[]).map((p) => p.id);
  return { id, parties, partyIds, tenant };
}

/** The signing link in the newest mail to `to`, as a path with its query (from the outbox, as an operator reads it). */
async function mailedLink(
  services: Services,
  to: string,
): Promise<{ path: string; token: string; subject: string; html: string }> {
  const [mail] = await services.mailer.list({ to });
  assert.ok(mail, `a mail to ${to}`);
  const m = /https?:\/\/[^/\s]+(\/sign\/[0-9a-f-]{36}\?t=([^\s"<]+))/.exec(mail.text);
  assert.ok(m, `a signing link in: ${mail.text}`);
  return { path: m[1]!, token: decodeURIComponent(m[2]!), subject: mail.subject, html: mail.html };
}

function form(fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString();
}

async function post(
  app: App,
  id: string,
  fields: Record<string, string>,
  ip = '127.0.0.1',
  headers = {},
): Promise<Res> {
  return (await app.inject({
    method: 'POST',
    url: `/sign/${id}`,
    headers: { ...FORM, ...headers },
    payload: form(fields),
    remoteAddress: ip,
  })) as Res;
}

function errorCode(res: Res): string | undefined {
  return /Error code: <code>([a-z_]+)<\/code>/.exec(res.body)?.[1];
}

/** The text a PDF page draws (pdf-lib writes standard-font text as hex strings in a Flate stream). */
function pageText(doc: PDFDocument, index: number): string {
  const contents = doc.getPage(index).node.Contents();
  const streams =
    contents instanceof PDFArray ? contents.asArray().map((r) => doc.context.lookup(r)) : [contents];
  let text = '';
  for (const s of streams) {
    if (!(s instanceof PDFRawStream)) continue;
    const raw = Buffer.from(s.contents);
    const ops = (s.dict.toString().includes('FlateDecode') ? inflateSync(raw) : raw).toString('latin1');
    for (const m of ops.matchAll(/<([0-9A-Fa-f]*)>\s*Tj/g))
      text += `${Buffer.from(m[1]!, 'hex').toString('latin1')}\n`;
  }
  return text;
}

test('an envelope from upload to a signed PDF through the signing page, party after party', async (t) => {
  const { app, services, lines } = await loggedApp(t, { authRateLimitPerMinute: 0 });
  const config = testConfig();
  const tenant = await createTenant(services, config);
  const call = as(app, tenant.key);
  await grantCredits(services, tenant.organizationId, 5);
  // The account's brand: on the page and the mail.
  const brand = await call('POST', `/api/accounts/${tenant.accountId}/brands`, {
    name: 'Acme',
    company: 'Acme Corp',
    email_sender_name: 'Acme Legal',
    colors: { primary: '#0b5394', button: '#0b5394', button_text: '#ffffff' },
    is_sending_default: true,
    is_signing_default: true,
  });
  assert.equal(brand.statusCode, 201, brand.body);
  const logo = await call(
    'PUT',
    `/api/accounts/${tenant.accountId}/brands/${brand.json().id}/logos/primary`,
    tinyPng(),
    { 'content-type': 'image/png' },
  );
  assert.equal(logo.statusCode, 200, logo.body);
  // A webhook endpoint for the envelope events: they go to the outbox with the change.
  const hook = await call('POST', '/api/webhook_endpoints', {
    account_id: tenant.accountId,
    url: 'https://hooks.example/signing',
    events: ['*'],
  });
  assert.equal(hook.statusCode, 201, hook.body);

  const pdf = await makePdf(2);
  const env = await sentEnvelope(call, tenant, pdf);
  const [p1, p2] = env.parties as [ReturnType<typeof twoParties>[0], ReturnType<typeof twoParties>[0]];

  // Only the first party is mailed; the mail is branded and carries the link.
  const first = await mailedLink(services, p1.email);
  assert.equal((await services.mailer.list({ to: p2.email })).length, 0, 'the second party waits');
  assert.match(first.subject, /^Acme Legal sent you "Mutual NDA" to sign$/);
  assert.ok(first.html.includes('#0b5394'), 'the brand colour is on the mail');
  const [row] = await db().selectFrom('outbox_mail').selectAll().where('to', '=', p1.email).execute();
  assert.equal(row!.from_name, 'Acme Legal');
  assert.ok(!row!.text.includes(first.token), 'the token waits apart from the stored text');

  // The page: branded, strict CSP (no inline script or style allowed but its one hashed block), labelled form.
  const page = await app.inject({ method: 'GET', url: first.path });
  assert.equal(page.statusCode, 200, page.body);
  const csp = String(page.headers['content-security-policy']);
  assert.ok(csp.includes("default-src 'none'") && !csp.includes('unsafe-inline'), csp);
  const style = /<style>([\s\S]*?)<\/style>/.exec(page.body)![1]!;
  const hash = createHash('sha256').update(style, 'utf8').digest('base64');
  assert.ok(csp.includes(`style-src 'sha256-${hash}'`), 'the style block is allowed by its hash');
  assert.ok(!/<script|\sstyle=|\son[a-z]+=/i.test(page.body), 'no script, no inline style or handler');
  assert.equal(page.headers['cache-control'], 'no-store');
  assert.equal(page.headers['referrer-policy'], 'no-referrer');
  assert.ok(style.includes('#0b5394'), 'brand colour on the page');
  assert.ok(page.body.includes('Acme Legal'));
  assert.ok(page.body.includes(`/sign/${env.id}/logo?t=`), 'brand logo on the page');
  assert.ok(page.body.includes('<label for="name">') && page.body.includes('id="name"'));
  assert.ok(page.body.includes('<label for="consent">') && page.body.includes('type="checkbox"'));
  assert.ok(page.body.includes(`<iframe class="doc" src="/sign/${env.id}/document?t=`));
  assert.ok(page.body.includes(`<form method="post" action="/sign/${env.id}"`), 'no token in the action URL');
  assert.ok(page.body.includes('Please sign by Friday.'));

  const doc = await app.inject({ method: 'GET', url: `/sign/${env.id}/document?t=${first.token}` });
  assert.equal(doc.statusCode, 200);
  assert.equal(doc.headers['content-type'], 'application/pdf');
  assert.deepEqual(doc.rawPayload, pdf, 'the document as sent');
  const logoRes = await app.inject({ method: 'GET', url: `/sign/${env.id}/logo?t=${first.token}` });
  assert.equal(logoRes.statusCode, 200);
  assert.equal(logoRes.headers['content-type'], 'image/png');
  // A second look records nothing more.
  assert.equal((await app.inject({ method: 'GET', url: first.path })).statusCode, 200);

  // Out of turn: the second party's own link (made as the mail would make it) cannot sign yet.
  const sentRow = await db()
    .selectFrom('envelopes')
    .selectAll()
    .where('id', '=', env.id)
    .executeTakeFirstOrThrow();
  const p2Url = new URL(await services.signing.signUrl(sentRow, env.partyIds[1]!));
  const p2Token = p2Url.searchParams.get('t')!;
  const early = await post(app, env.id, { t: p2Token, action: 'sign', name: p2.name, consent: 'yes' });
  assert.equal(early.statusCode, 409, early.body);
  assert.equal(errorCode(early), 'not_your_turn');
  const earlyPage = await app.inject({ method: 'GET', url: `${p2Url.pathname}${p2Url.search}` });
  assert.equal(earlyPage.statusCode, 200);
  assert.ok(earlyPage.body.includes('not your turn') && !earlyPage.body.includes('id="consent"'));

  // Consent and name are required; the form comes back with the error on its field.
  const noConsent = await post(app, env.id, { t: first.token, action: 'sign', name: p1.name });
  assert.equal(noConsent.statusCode, 422, noConsent.body);
  assert.ok(noConsent.body.includes('role="alert"') && noConsent.body.includes('aria-invalid="true"'));
  assert.ok(noConsent.body.includes(`value="${p1.name}"`), 'the typed name is kept');
  const noName = await post(app, env.id, { t: first.token, action: 'sign', name: '  ', consent: 'yes' });
  assert.equal(noName.statusCode, 400, noName.body);
  // From another site: refused whatever the token.
  const forged = await post(
    app,
    env.id,
    { t: first.token, action: 'sign', name: p1.name, consent: 'yes' },
    '127.0.0.1',
    {
      origin: 'https://evil.example',
    },
  );
  assert.equal(forged.statusCode, 403);
  assert.equal(errorCode(forged), 'csrf_failed');

  // Party 1 signs.
  const signed1 = await post(
    app,
    env.id,
    { t: first.token, action: 'sign', name: 'Ada King Lovelace', consent: 'yes' },
    '192.0.2.10',
  );
  assert.equal(signed1.statusCode, 200, signed1.body);
  assert.ok(signed1.body.includes('you signed'));
  let state = (await call('GET', `/api/envelope/${env.id}`)).json();
  assert.equal(state.status, 'sent');
  assert.deepEqual(
    state.parties.map((p: { status: string }) => p.status),
    ['signed', 'pending'],
  );
  const twice = await post(app, env.id, { t: first.token, action: 'sign', name: p1.name, consent: 'yes' });
  assert.equal(twice.statusCode, 409);
  assert.equal(errorCode(twice), 'already_signed');
  // Party 1's link left the outbox once used.
  assert.ok((await services.mailer.list({ to: p1.email }))[0]!.text.includes(SCRUBBED_TOKEN));

  // Party 2 is mailed now, follows the link and signs: the envelope completes.
  const second = await mailedLink(services, p2.email);
  assert.equal(second.token, p2Token, "the link mailed is the party's one link");
  assert.equal((await app.inject({ method: 'GET', url: second.path })).statusCode, 200);
  const signed2 = await post(
    app,
    env.id,
    { t: second.token, action: 'sign', name: p2.name, consent: 'yes' },
    '198.51.100.20',
  );
  assert.equal(signed2.statusCode, 200, signed2.body);
  assert.ok(signed2.body.includes('every party has now signed'));
  state = (await call('GET', `/api/envelope/${env.id}`)).json();
  assert.equal(state.status, 'completed');

  // The signed PDF: parses, one page more, the parties with their time and IP on it, its SHA-256 in the events.
  const signedPdf = await call('GET', `/api/envelope/${env.id}/pdf`);
  assert.equal(signedPdf.statusCode, 200);
  const bytes = signedPdf.rawPayload;
  const parsed = await PDFDocument.load(bytes);
  assert.equal(parsed.getPageCount(), 3);
  const text = pageText(parsed, 2);
  for (const want of [
    'Signature page',
    'Ada King Lovelace',
    p1.email,
    '192.0.2.10',
    p2.email,
    '198.51.100.20',
  ]) {
    assert.ok(text.includes(want), `the signature page shows ${want}:\n${text}`);
  }
  const sha = createHash('sha256').update(bytes).digest('hex');
  const events = (await call('GET', `/api/envelope/${env.id}/events?limit=100`)).json().data as {
    type: string;
    party_id: string | null;
    payload: Record<string, unknown>;
    ip: string | null;
  }[];
  assert.deepEqual(
    events.map((e) => e.type),
    [
      'envelope.created',
      'envelope.sent',
      'envelope.viewed',
      'envelope.signed',
      'envelope.viewed',
      'envelope.signed',
      'envelope.completed',
    ],
  );
  const completed = events.find((e) => e.type === 'envelope.completed')!;
  assert.equal(completed.payload.signed_sha256, sha);
  assert.equal(events[3]!.party_id, env.partyIds[0]);
  assert.equal(events[3]!.ip, '192.0.2.10');
  const rows = await db()
    .selectFrom('envelope_events')
    .selectAll()
    .where('envelope_id', '=', env.id)
    .orderBy('seq')
    .execute();
  assert.equal(verifyHistory(rows), null, 'the history chain holds');
  // The webhook outbox got the same events, in their transactions.
  const hooks = await db()
    .selectFrom('webhook_events')
    .select('type')
    .where('organization_id', '=', tenant.organizationId)
    .where('type', 'like', 'envelope.%')
    .execute();
  const counts = new Map<string, number>();
  for (const h of hooks) counts.set(h.type, (counts.get(h.type) ?? 0) + 1);
  assert.equal(counts.get('envelope.viewed'), 2);
  assert.equal(counts.get('envelope.signed'), 2);
  assert.equal(counts.get('envelope.completed'), 1);

  // After completion the link shows the signed copy and takes no signature.
  const done = await app.inject({ method: 'GET', url: second.path });
  assert.equal(done.statusCode, 200);
  assert.ok(!done.body.includes('id="consent"'));
  const signedDoc = await app.inject({ method: 'GET', url: `/sign/${env.id}/document?t=${p2Token}` });
  assert.deepEqual(signedDoc.rawPayload, bytes);

  // No log line carries a token, though every request was logged.
  for (const token of [first.token, second.token]) {
    assert.deepEqual(
      lines.filter((l) => l.includes(token)),
      [],
    );
  }
  assert.ok(lines.some((l) => l.includes(`/sign/${env.id}?t=[redacted]`)));
});

test('bad links are clear 4xx pages; a party declines; envelopes expire when a link is used and by the sweep', async (t) => {
  const { app, services, config } = await buildApp(t);
  const tenant = await createTenant(services, config);
  const call = as(app, tenant.key);
  await grantCredits(services, tenant.organizationId, 5);
  const pdf = await makePdf(1);

  const env = await sentEnvelope(call, tenant, pdf);
  const link = await mailedLink(services, env.parties[0]!.email);
  const [pid, exp, mac] = link.token.split('.') as [string, string, string];
  const other = await sentEnvelope(call, tenant, pdf);
  const cases: [string, string, number, string][] = [
    ['no token', `/sign/${env.id}`, 403, 'signing_link_invalid'],
    [
      'altered',
      `/sign/${env.id}?t=${pid}.${exp}.${mac.startsWith('A') ? 'B' : 'A'}${mac.slice(1)}`,
      403,
      'signing_link_invalid',
    ],
    ['expiry moved', `/sign/${env.id}?t=${pid}.${Number(exp) + 1}.${mac}`, 403, 'signing_link_invalid'],
    ["another envelope's", `/sign/${other.id}?t=${link.token}`, 403, 'signing_link_invalid'],
    ['not an id', `/sign/nope?t=${link.token}`, 403, 'signing_link_invalid'],
    [
      'document, altered',
      `/sign/${env.id}/document?t=${pid}.${exp}.x${mac.slice(1)}`,
      403,
      'signing_link_invalid',
    ],
  ];
  for (const [name, url, status, code] of cases) {
    const res = (await app.inject({ method: 'GET', url })) as Res;
    assert.equal(res.statusCode, status, `${name}: ${res.body}`);
    assert.equal(res.headers['content-type'], 'text/html; charset=utf-8', name);
    assert.equal(errorCode(res), code, name);
    assert.ok(res.body.includes('role="alert"'), name);
  }
  // An expired link: 410.
  const envRow = await db()
    .selectFrom('envelopes')
    .selectAll()
    .where('id', '=', env.id)
    .executeTakeFirstOrThrow();
  const stale = new URL(
    await services.signing.signUrl({ ...envRow, expires_at: new Date(Date.now() - 60_000) }, pid),
  ).searchParams.get('t')!;
  const gone = (await app.inject({ method: 'GET', url: `/sign/${env.id}?t=${stale}` })) as Res;
  assert.equal(gone.statusCode, 410);
  assert.equal(errorCode(gone), 'signing_link_expired');
  // The form needs its own encoding.
  const asJson = await app.inject({
    method: 'POST',
    url: `/sign/${env.id}`,
    payload: { t: link.token, action: 'sign' },
  });
  assert.equal(asJson.statusCode, 415);

  // Decline: the envelope stops, nobody else is mailed, the link takes nothing more.
  const declined = await post(app, env.id, {
    t: link.token,
    action: 'decline',
    reason: 'Wrong counterparty',
  });
  assert.equal(declined.statusCode, 200, declined.body);
  const after = (await call('GET', `/api/envelope/${env.id}`)).json();
  assert.equal(after.status, 'declined');
  assert.deepEqual(
    after.parties.map((p: { status: string }) => p.status),
    ['declined', 'waiting'],
  );
  assert.equal((await services.mailer.list({ to: env.parties[1]!.email })).length, 0);
  const events = (await call('GET', `/api/envelope/${env.id}/events`)).json().data;
  const decline = events.find((e: { type: string }) => e.type === 'envelope.declined');
  assert.equal(decline.party_id, env.partyIds[0]);
  assert.equal(decline.payload.reason, 'Wrong counterparty');
  const closed = (await app.inject({ method: 'GET', url: link.path })) as Res;
  assert.equal(closed.statusCode, 409);
  assert.equal(errorCode(closed), 'envelope_not_signable');
  const late = await post(app, env.id, { t: link.token, action: 'sign', name: 'Ada', consent: 'yes' });
  assert.equal(late.statusCode, 409);

  // Expiry when a link is used: the envelope past its expires_at is expired there and then.
  const otherLink = await mailedLink(services, other.parties[0]!.email);
  await db()
    .updateTable('envelopes')
    .set({ expires_at: new Date(Date.now() - 1000) })
    .where('id', '=', other.id)
    .execute();
  const expired = (await app.inject({ method: 'GET', url: otherLink.path })) as Res;
  assert.equal(expired.statusCode, 409);
  assert.equal(errorCode(expired), 'envelope_not_signable');
  assert.ok(expired.body.includes('expired'));
  assert.equal((await call('GET', `/api/envelope/${other.id}`)).json().status, 'expired');
  const otherEvents = (await call('GET', `/api/envelope/${other.id}/events`)).json().data;
  assert.equal(otherEvents.at(-1).type, 'envelope.expired');

  // Expiry by the sweep, with nobody opening the link.
  const third = await sentEnvelope(call, tenant, pdf);
  await db()
    .updateTable('envelopes')
    .set({ expires_at: new Date(Date.now() - 1000) })
    .where('id', '=', third.id)
    .execute();
  assert.ok((await services.signing.sweepExpired()) >= 1);
  assert.equal((await call('GET', `/api/envelope/${third.id}`)).json().status, 'expired');
  assert.equal(await services.signing.expireIfDue(third.id), false, 'once only');
});
