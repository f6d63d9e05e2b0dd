// The pages a person sees while an integration asks for access: sign in, consent, and the error page shown
// when the request cannot be answered at the client's redirect URI. Plain server-rendered HTML, every value
// escaped; no script. The forms post to /oauth/interaction/{uid}/..., which only the browser holding that
// interaction's cookie (SameSite=Lax, path-scoped by oidc-provider) can complete.
import { scopeWords } from '../../core/oauth/scopes.ts';

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/**
 * Headers every page carries: never framed (clickjacking; RFC 9700 section 4.16), never cached, and no
 * resource loaded from anywhere but the page itself (it loads none).
 */
export const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'content-security-policy':
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

function layout(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · Signet</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 28rem; margin: 3rem auto; padding: 0 1rem; color: #222; }
h1 { font-size: 1.3rem; } label { display: block; margin: .8rem 0 .2rem; }
input[type=email], input[type=password] { width: 100%; padding: .4rem; box-sizing: border-box; }
button { margin-top: 1rem; padding: .45rem 1rem; } .error { color: #a00; } li { margin: .3rem 0; }
</style>
</head>
<body>
${body}
</body>
</html>
`;
}

export function loginPage(opts: { uid: string; clientName: string; email?: string; error?: string }): string {
  const action = `/oauth/interaction/${encodeURIComponent(opts.uid)}`;
  return layout(
    'Sign in',
    `<h1>Sign in to continue to ${escapeHtml(opts.clientName)}</h1>
${opts.error ? `<p class="error" role="alert">${escapeHtml(opts.error)}</p>` : ''}
<form method="post" action="${action}/login">
<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="username" required value="${escapeHtml(opts.email ?? '')}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>
<form method="post" action="${action}/abort"><button type="submit">Cancel</button></form>`,
  );
}

export function consentPage(opts: {
  uid: string;
  clientName: string;
  email: string;
  scopes: string[];
}): string {
  const action = `/oauth/interaction/${encodeURIComponent(opts.uid)}`;
  const items = opts.scopes
    .map((s) => `<li><strong>${escapeHtml(s)}</strong>: ${escapeHtml(scopeWords(s))}</li>`)
    .join('\n');
  return layout(
    'Allow access',
    `<h1>${escapeHtml(opts.clientName)} asks for access</h1>
<p>Signed in as ${escapeHtml(opts.email)}. If you allow it, ${escapeHtml(opts.clientName)} may act as you in Signet to:</p>
<ul>
${items}
</ul>
<p>It can never do more than you can. You can withdraw this consent later (an administrator can too).</p>
<form method="post" action="${action}/consent"><button type="submit">Allow</button></form>
<form method="post" action="${action}/abort"><button type="submit">Deny</button></form>`,
  );
}

export function errorPage(error: string, description?: string): string {
  return layout(
    'Cannot continue',
    `<h1>The application's request cannot be completed</h1>
<p class="error"><strong>${escapeHtml(error)}</strong>${description ? `: ${escapeHtml(description)}` : ''}</p>
<p>Nothing was sent back to the application. Tell its developers what this page says.</p>`,
  );
}
