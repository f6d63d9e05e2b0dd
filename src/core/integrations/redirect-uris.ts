// Which redirect URIs an integration may register. The authorization endpoint compares them exactly, string
// for string (RFC 9700 section 4.1.3), so they are stored as sent; what is refused here is what could never
// be safe to send a code to: a fragment (RFC 6749 section 3.1.2), credentials in the URI, plain http to
// anything but this machine (RFC 9700 section 2.1; RFC 8252 section 7.3, loopback for native apps; DocuSign's
// own examples register http://localhost:3000/ds/callback), and a private-use scheme that is not
// reverse-domain (RFC 8252 section 7.1: com.example.app:/callback), which keeps out javascript:, data:, file:.
import { AppError } from '../errors.ts';

export const MAX_REDIRECT_URIS = 20;
const MAX_LENGTH = 2000;
const LOOPBACK = new Set(['127.0.0.1', '[::1]', 'localhost']);

function refused(index: number, uri: string, why: string): AppError {
  const field = `redirect_uris[${index}]`;
  return new AppError('validation_failed', `${field}: "${uri.slice(0, 200)}" ${why}`, [
    { field, message: why },
  ]);
}

/** The URIs, duplicates dropped (first kept), or a 400 naming the first one refused and why. */
export function checkRedirectUris(uris: readonly string[]): string[] {
  if (uris.length > MAX_REDIRECT_URIS) {
    throw new AppError('validation_failed', `redirect_uris: at most ${MAX_REDIRECT_URIS} URIs`, [
      { field: 'redirect_uris', message: `at most ${MAX_REDIRECT_URIS}` },
    ]);
  }
  uris.forEach((uri, i) => {
    if (uri.length === 0 || uri.length > MAX_LENGTH)
      throw refused(i, uri, `must be 1 to ${MAX_LENGTH} characters`);
    if (/[\s*]/.test(uri))
      throw refused(i, uri, 'has a space or a wildcard; redirect URIs are matched exactly');
    if (uri.includes('#')) throw refused(i, uri, 'has a fragment (#), which a redirect URI must not have');
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      throw refused(i, uri, 'is not an absolute URI');
    }
    if (url.username || url.password) throw refused(i, uri, 'carries a user name or password');
    const scheme = url.protocol.slice(0, -1);
    if (scheme === 'https') return;
    if (scheme === 'http') {
      if (LOOPBACK.has(url.hostname)) return;
      throw refused(
        i,
        uri,
        'uses http to another machine; use https (http is for 127.0.0.1, [::1] or localhost)',
      );
    }
    if (!scheme.includes('.')) {
      throw refused(
        i,
        uri,
        `uses the scheme "${scheme}:"; use https, http to this machine, or an app's reverse-domain scheme (com.example.app:/callback)`,
      );
    }
  });
  return [...new Set(uris)];
}
