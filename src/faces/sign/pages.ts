// The signing page a party reaches from its mail (GET /sign/{envelope_id}?t=…), and the pages that answer a
// signature, a refusal or a bad link. Server-rendered HTML with every value escaped and no script at all; the
// one <style> block is allowed by its SHA-256 in the Content-Security-Policy (it carries the account's brand
// colours, so it differs per account, and no style attribute is used anywhere). The document is embedded from
// GET /sign/{id}/document, same origin; nothing loads from anywhere else.
//
// Accessibility (WCAG 2.2 AA as far as a server-rendered form goes): one <main> with headings, every control
// with a <label>, native controls only (so the keyboard reaches all of them in order), a visible focus ring,
// errors announced with role="alert" and tied to their field with aria-describedby, and brand colours used
// only when their contrast with the text on them is at least 4.5:1 (else Signet's own).
import { createHash } from 'node:crypto';
import type { SigningPageView } from '../../core/signing/view.ts';
import { escapeHtml } from '../oauth/pages.ts';

const e = escapeHtml;

/** Signet's own colours, used where a brand sets none (or one too faint to read). */
const DEFAULTS = {
  header: '#1f4e79',
  header_text: '#ffffff',
  button: '#1f4e79',
  button_text: '#ffffff',
  background: '#ffffff',
  text: '#222222',
  link: '#1f4e79',
};
type Palette = typeof DEFAULTS;

function luminance(hex: string): number {
  const c = [1, 3, 5].map((i) => {
    const v = Number.parseInt(hex.slice(i, i + 2), 16) / 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  }) as [number, number, number];
  return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
}

/** WCAG 2 contrast ratio of two #RRGGBB colours. */
export function contrast(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (hi + 0.05) / (lo + 0.05);
}

/** The brand's colours in pairs (text on its background), each pair kept only if it reads at 4.5:1. */
export function palette(colors: Partial<Record<string, string>>): Palette {
  const p = { ...DEFAULTS };
  const pair = (bg: keyof Palette, fg: keyof Palette) => {
    const b = colors[bg] ?? (bg === 'header' || bg === 'button' ? colors.primary : undefined);
    const f = colors[fg] ?? DEFAULTS[fg];
    if (b && contrast(b, f) >= 4.5) {
      p[bg] = b;
      p[fg] = f;
    }
  };
  pair('background', 'text');
  pair('header', 'header_text');
  pair('button', 'button_text');
  const link = colors.link ?? colors.primary;
  if (link && contrast(link, p.background) >= 4.5) p.link = link;
  return p;
}

function css(p: Palette): string {
  return `
:root { --bg: ${p.background}; --fg: ${p.text}; --head: ${p.header}; --head-fg: ${p.header_text};
  --btn: ${p.button}; --btn-fg: ${p.button_text}; --link: ${p.link}; }
* { box-sizing: border-box; }
body { margin: 0; font-family: system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; background: var(--bg);
  color: var(--fg); line-height: 1.5; }
header { background: var(--head); color: var(--head-fg); padding: .75rem 1rem; display: flex; gap: .75rem; align-items: center; }
header img { max-height: 40px; max-width: 160px; background: #fff; padding: 2px; }
header .sender { font-weight: 600; }
main { max-width: 52rem; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.5rem; margin: .5rem 0; } h2 { font-size: 1.15rem; margin-top: 1.5rem; }
a { color: var(--link); }
.doc { width: 100%; height: 70vh; min-height: 24rem; border: 1px solid #767676; }
.message { border-left: 4px solid var(--head); padding: .25rem .75rem; margin: .5rem 0; white-space: pre-wrap; }
label { display: block; margin: .75rem 0 .25rem; font-weight: 600; }
.check { display: flex; gap: .5rem; align-items: flex-start; margin: .75rem 0; }
.check label { margin: 0; font-weight: normal; }
.check input { width: 1.25rem; height: 1.25rem; margin-top: .15rem; flex: none; }
input[type=text], textarea { width: 100%; max-width: 28rem; padding: .5rem; font: inherit; border: 1px solid #767676;
  border-radius: 4px; background: #fff; color: #222; }
.hint { font-size: .9rem; margin: .25rem 0; }
button { font: inherit; padding: .6rem 1.2rem; border-radius: 4px; border: 2px solid var(--btn); cursor: pointer;
  background: var(--btn); color: var(--btn-fg); margin-top: .75rem; }
button.secondary { background: #fff; color: #222; border-color: #767676; }
:focus-visible { outline: 3px solid #ffbf47; outline-offset: 2px; }
.alert { border: 2px solid #b00020; padding: .5rem .75rem; color: #b00020; background: #fff; }
.notice { border: 2px solid var(--head); padding: .5rem .75rem; }
ol.parties li { margin: .2rem 0; }
.status { font-size: .9rem; }
`;
}

export interface PageOut {
  status: number;
  html: string;
  /** The page's Content-Security-Policy: its one style block by hash, nothing loaded from elsewhere. */
  csp: string;
}

function page(title: string, p: Palette, header: string, body: string, status = 200): PageOut {
  const style = css(p);
  const hash = createHash('sha256').update(style, 'utf8').digest('base64');
  const html = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${e(title)}</title>
<style>${style}</style>
</head>
<body>
${header}
<main id="main">
${body}
</main>
</body>
</html>
`;
  const csp = [
    "default-src 'none'",
    `style-src 'sha256-${hash}'`,
    "img-src 'self'",
    "frame-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
  return { status, html, csp };
}

const STATUS_WORDS: Record<string, string> = {
  pending: 'signing now',
  waiting: 'waiting for their turn',
  signed: 'signed',
  declined: 'declined',
};

function when(d: Date | null): string {
  return d ? `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC` : '';
}

export interface FormState {
  /** An error to show above the form, and the field it is about. */
  error?: { message: string; field?: 'name' | 'consent' | 'reason' };
  name?: string;
  /** A notice after an action (e.g. "You signed"). */
  done?: string;
}

/** The signing page: the document, the parties in order, and the sign and decline forms when it is the party's turn. */
export function signingPage(
  view: SigningPageView,
  token: string,
  state: FormState = {},
  status = 200,
): PageOut {
  const p = palette(view.brand?.colors ?? {});
  const base = `/sign/${encodeURIComponent(view.envelope.id)}`;
  const t = encodeURIComponent(token);
  const docUrl = `${base}/document?t=${t}`;
  const header = `<header>
${view.brand?.logo ? `<img src="${base}/logo?t=${t}" alt="">` : ''}
<span class="sender">${e(view.sender)}</span>
</header>`;
  const parts: string[] = [];
  parts.push(`<h1>${e(view.envelope.title)}</h1>`);
  if (state.done) parts.push(`<p class="notice" role="status">${e(state.done)}</p>`);
  parts.push(
    view.envelope.status === 'completed'
      ? `<p>Every party has signed this document. The document below is the signed copy, with its signature page.</p>`
      : `<p>${e(view.sender)} asks ${e(view.party.name)} (${e(view.party.email)}) to review and sign this document.</p>`,
  );
  if (view.envelope.message && view.envelope.status === 'sent') {
    parts.push(
      `<p class="message"><span class="status">Message from ${e(view.sender)}:</span>\n${e(view.envelope.message)}</p>`,
    );
  }
  parts.push(`<h2 id="document-heading">Document</h2>
<iframe class="doc" src="${docUrl}" title="${e(view.envelope.title)} (PDF document)"></iframe>
<p><a href="${docUrl}">Open the document (PDF)</a> if it does not show above.</p>`);
  parts.push(`<h2>Parties, in signing order</h2>
<ol class="parties">
${view.parties
  .map(
    (x) =>
      `<li>${e(x.name)}${x.role === 'cc' ? ' (receives a copy)' : ` <span class="status">(${e(STATUS_WORDS[x.status] ?? x.status)})</span>`}</li>`,
  )
  .join('\n')}
</ol>`);
  if (view.can_sign) {
    const err = state.error;
    const alert = err ? `<p class="alert" role="alert" id="form-error">${e(err.message)}</p>` : '';
    // A field's hint, and the error when it is about the field.
    const described = (field: string, hint = '') => {
      const ids = [hint, err?.field === field ? 'form-error' : ''].filter(Boolean).join(' ');
      return `${ids ? ` aria-describedby="${ids}"` : ''}${err?.field === field ? ' aria-invalid="true"' : ''}`;
    };
    parts.push(`<h2 id="sign-heading">Sign</h2>
${err?.field === 'reason' ? '' : alert}
<form method="post" action="${base}" aria-labelledby="sign-heading">
<input type="hidden" name="t" value="${e(token)}">
<input type="hidden" name="action" value="sign">
<label for="name">Type your full name</label>
<input id="name" name="name" type="text" autocomplete="name" required maxlength="200" value="${e(state.name ?? '')}"${described('name', 'name-hint')}>
<p class="hint" id="name-hint">Your typed name is your signature.</p>
<div class="check">
<input id="consent" name="consent" type="checkbox" value="yes" required${described('consent')}>
<label for="consent">I have reviewed the document and agree to sign it electronically. I understand my typed name is my signature.</label>
</div>
<button type="submit">Sign the document</button>
</form>
<h2 id="decline-heading">Decline</h2>
${err?.field === 'reason' ? alert : ''}
<form method="post" action="${base}" aria-labelledby="decline-heading">
<input type="hidden" name="t" value="${e(token)}">
<input type="hidden" name="action" value="decline">
<label for="reason">Why you decline (optional, shown to the sender)</label>
<textarea id="reason" name="reason" rows="3" maxlength="500"${described('reason')}></textarea>
<button type="submit" class="secondary">Decline to sign</button>
</form>`);
  } else if (!state.done) {
    parts.push(`<p class="notice" role="status">${e(notice(view))}</p>`);
  }
  return page(`${view.envelope.title} · ${view.sender}`, p, header, parts.join('\n'), status);
}

function notice(view: SigningPageView): string {
  if (view.envelope.status === 'completed') return 'This envelope is complete: nothing more to do.';
  if (view.party.role === 'cc') return 'You receive a copy of this envelope; you do not sign it.';
  if (view.party.status === 'signed') {
    return `You signed at ${when(view.party.signed_at)} as "${view.party.signed_name}". The other parties sign next; nothing more to do.`;
  }
  return 'Parties sign in order and it is not your turn yet. You will get a mail when it is.';
}

/** After a decline: the envelope stops here. */
export function declinedPage(): PageOut {
  return page(
    'Declined',
    DEFAULTS,
    '',
    `<h1>You declined to sign</h1>
<p class="notice" role="status">The sender is told. Nobody else is asked to sign this envelope; nothing more to do.</p>`,
  );
}

const ERROR_TITLES: Record<string, string> = {
  signing_link_invalid: 'This signing link is not valid',
  signing_link_expired: 'This signing link has expired',
  envelope_not_signable: 'This envelope takes no more signatures',
  already_signed: 'You have signed already',
  not_your_turn: 'It is not your turn yet',
  csrf_failed: 'This form came from another site',
};

/** A refusal as a page, with the status and the stable code a program (or support) can go by. */
export function errorPage(status: number, code: string, message: string): PageOut {
  return page(
    ERROR_TITLES[code] ?? 'Cannot continue',
    DEFAULTS,
    '',
    `<h1>${e(ERROR_TITLES[code] ?? 'Cannot continue')}</h1>
<p class="alert" role="alert">${e(message)}</p>
<p class="status">Error code: <code>${e(code)}</code> (HTTP ${status})</p>`,
    status,
  );
}
