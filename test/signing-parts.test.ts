// The parts of signing that stand alone: signing-link tokens (HMAC, constant-time check, expiry, one secret per
// database), the redaction of `t=` in logged URLs, the signature page appended to a completed PDF, and the
// signing page's rendering (escaping, CSP, labels, legible brand colours).
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { PDFDocument, StandardFonts } from 'pdf-lib';
import { AppError } from '../src/core/errors.ts';
import { completedPdf, sha256Hex } from '../src/core/signing/certificate.ts';
import { SigningTokens } from '../src/core/signing/tokens.ts';
import { redactUrl } from '../src/faces/log-redact.ts';
import { contrast, errorPage, palette, signingPage } from '../src/faces/sign/pages.ts';
import { testDb } from './helper.ts';

async function refusal(p: Promise<unknown>): Promise<AppError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof AppError, String(err));
    return err;
  }
  assert.fail('expected a refusal');
}

test('signing links: made and checked under the database secret; altered, foreign or expired ones refused', async () => {
  const tokens = new SigningTokens(testDb().db);
  const envelopeId = randomUUID();
  const partyId = randomUUID();
  const expiresAt = new Date(Date.now() + 3600_000);
  const token = await tokens.issue({ envelopeId, partyId, expiresAt });
  assert.match(token, /^[0-9a-f-]{36}\.\d+\.[A-Za-z0-9_-]{43}$/);
  // Deterministic: the reminder carries the same link as the first mail.
  assert.equal(await tokens.issue({ envelopeId, partyId, expiresAt }), token);
  // Another process on the same database (a new instance) accepts it: one secret per database.
  const other = new SigningTokens(testDb().db);
  const ok = await other.verify(envelopeId, token);
  assert.equal(ok.partyId, partyId);
  assert.equal(ok.expiresAt.getTime(), Math.floor(expiresAt.getTime() / 1000) * 1000);

  const [pid, exp, mac] = token.split('.') as [string, string, string];
  const flip = (s: string) => (s[0] === 'A' ? 'B' : 'A') + s.slice(1);
  for (const bad of [
    `${pid}.${exp}.${flip(mac)}`, // altered mac
    `${pid}.${Number(exp) + 86_400}.${mac}`, // expiry pushed back
    `${randomUUID()}.${exp}.${mac}`, // another party
    `${pid}.${exp}.${mac.slice(0, 20)}`, // cut short
    '',
    'x'.repeat(500),
  ]) {
    const err = await refusal(tokens.verify(envelopeId, bad));
    assert.equal(err.code, 'signing_link_invalid', bad);
    assert.equal(err.status, 403);
  }
  assert.equal((await refusal(tokens.verify(randomUUID(), token))).code, 'signing_link_invalid');
  assert.equal((await refusal(tokens.verify('not-a-uuid', token))).code, 'signing_link_invalid');
  // A different secret (another database) refuses it.
  const foreign = new SigningTokens(testDb().db, Buffer.alloc(32, 7));
  assert.equal((await refusal(foreign.verify(envelopeId, token))).code, 'signing_link_invalid');

  const past = await tokens.issue({ envelopeId, partyId, expiresAt: new Date(Date.now() - 1000) });
  const expired = await refusal(tokens.verify(envelopeId, past));
  assert.equal(expired.code, 'signing_link_expired');
  assert.equal(expired.status, 410);
});

test('logged URLs carry no signing token', () => {
  const token = `${randomUUID()}.1893456000.${'A'.repeat(43)}`;
  assert.equal(redactUrl(`/sign/abc?t=${token}`), '/sign/abc?t=[redacted]');
  assert.equal(redactUrl(`/sign/abc/document?x=1&t=${token}`), '/sign/abc/document?x=1&t=[redacted]');
  assert.equal(redactUrl('/api/envelopes?status=sent'), '/api/envelopes?status=sent');
});

test('completed PDF: the original pages unchanged, one signature page more, its SHA-256 that of the bytes', async () => {
  const src = await PDFDocument.create();
  const font = await src.embedFont(StandardFonts.Helvetica);
  for (let i = 1; i <= 2; i++)
    src.addPage([595, 842]).drawText(`Contract page ${i}`, { x: 50, y: 780, font });
  const original = await src.save();

  const completedAt = new Date('2026-12-03T17:00:00Z');
  const out = await completedPdf(original, { id: randomUUID(), title: 'NDA', completedAt }, [
    {
      order: 2,
      name: 'Bob Ng',
      email: 'bob@example.test',
      signedName: 'Bob Ng',
      signedAt: completedAt,
      ip: '192.0.2.7',
    },
    {
      order: 1,
      // Outside WinAnsi: drawn as "?", never a failure.
      name: 'Zoë 王',
      email: 'zoe@example.test',
      signedName: 'Zoë 王',
      signedAt: new Date('2026-12-03T16:00:00Z'),
      ip: null,
    },
  ]);
  assert.equal(out.sha256, sha256Hex(out.bytes));
  const parsed = await PDFDocument.load(out.bytes);
  assert.equal(parsed.getPageCount(), 3);
  assert.equal(out.pageCount, 3);
  assert.deepEqual(
    parsed.getPages().map((p) => p.getSize().width),
    [595, 595, 612],
    'the original pages keep their size; the signature page is Letter',
  );
  // Many parties flow onto more pages rather than off the page.
  const many = Array.from({ length: 30 }, (_, i) => ({
    order: i + 1,
    name: `Party ${i + 1}`,
    email: `p${i + 1}@example.test`,
    signedName: `Party ${i + 1}`,
    signedAt: completedAt,
    ip: '198.51.100.1',
  }));
  const long = await completedPdf(original, { id: randomUUID(), title: 'Board', completedAt }, many);
  assert.ok(long.pageCount > 3, `${long.pageCount} pages`);
});

test('signing page: every value escaped, no script, its one style block allowed by hash, brand colours only when legible', () => {
  const hostile = '<script>alert(1)</script>"\'';
  const out = signingPage(
    {
      envelope: { id: randomUUID(), title: hostile, message: hostile, status: 'sent', completed_at: null },
      party: {
        id: randomUUID(),
        name: hostile,
        email: 'a@example.test',
        role: 'signer',
        order: 1,
        status: 'pending',
        signed_at: null,
        signed_name: null,
      },
      parties: [{ order: 1, name: hostile, role: 'signer', status: 'pending' }],
      sender: hostile,
      // A yellow button with the default white text is unreadable (1.1:1): Signet's own colours are used.
      brand: { name: 'Acme', colors: { primary: '#0b5394', button: '#ffee00' }, logo: false },
      can_sign: true,
    },
    'tok"en',
  );
  assert.ok(!out.html.includes('<script'), 'escaped');
  assert.ok(out.html.includes('&lt;script&gt;'));
  assert.ok(out.html.includes('value="tok&quot;en"'));
  const style = /<style>([\s\S]*?)<\/style>/.exec(out.html)![1]!;
  const hash = createHash('sha256').update(style, 'utf8').digest('base64');
  assert.ok(out.csp.includes(`style-src 'sha256-${hash}'`));
  assert.ok(!out.csp.includes('unsafe'));
  assert.ok(style.includes('--head: #0b5394'), 'the legible primary colour is the header');
  assert.ok(style.includes('--btn: #1f4e79'), 'the illegible button colour is not used');
  // Every control is labelled.
  for (const id of ['name', 'consent', 'reason']) {
    assert.ok(out.html.includes(`<label for="${id}">`) && out.html.includes(`id="${id}"`), id);
  }
  assert.ok(contrast('#000000', '#ffffff') > 20 && contrast('#777777', '#ffffff') < 4.5);
  assert.deepEqual(
    palette({}),
    palette({ background: '#111111' }),
    'dark background with default dark text: kept default',
  );
  const err = errorPage(403, 'signing_link_invalid', 'not valid');
  assert.equal(err.status, 403);
  assert.ok(err.html.includes('signing_link_invalid') && err.html.includes('role="alert"'));
});
