// The HTTP side of `signet import` and `signet export`: they talk to a running Signet over its API (like any
// script would), not to the database, so they work from any machine that can reach the server.

/** A failure to report in one line and exit with `code` (1: the server or the job failed; 2: usage). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly code = 1,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export interface Remote {
  /** The server's base URL, without a trailing slash. */
  baseUrl: string;
  key: string;
}

/** SIGNET_URL (default http://127.0.0.1:8080) and SIGNET_API_KEY (required). */
export function remoteFromEnv(env: NodeJS.ProcessEnv = process.env): Remote {
  const key = env.SIGNET_API_KEY?.trim();
  if (!key) {
    throw new CliError(
      'SIGNET_API_KEY is not set: export SIGNET_API_KEY=sk_… (a key with users:write to import, users:read ' +
        'to export; `signet bootstrap` prints one)',
      2,
    );
  }
  const raw = env.SIGNET_URL?.trim() || 'http://127.0.0.1:8080';
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new CliError(`SIGNET_URL is not a URL: "${raw}" (e.g. http://127.0.0.1:8080)`, 2);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new CliError(`SIGNET_URL must be http:// or https://, got "${raw}"`, 2);
  }
  return { baseUrl: raw.replace(/\/+$/, ''), key };
}

/** Sends a request; a connection problem becomes a CliError that says where it tried to connect. */
export async function send(remote: Remote, method: string, path: string, init: RequestInit = {}) {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${remote.key}`);
  try {
    return await fetch(`${remote.baseUrl}${path}`, { ...init, method, headers });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new CliError(
      `cannot reach Signet at ${remote.baseUrl} (${cause?.code ?? cause?.message ?? (err as Error).message}); ` +
        'is it running? Set SIGNET_URL to its address',
    );
  }
}

/** A non-2xx answer as a CliError with the API's error code and message. */
export async function apiError(res: Response, what: string): Promise<CliError> {
  const text = await res.text().catch(() => '');
  let detail = text.slice(0, 500) || res.statusText;
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string } };
    if (body.error?.code) detail = `${body.error.code}: ${body.error.message ?? ''}`;
  } catch {
    // not JSON: show the text as it came
  }
  const hint =
    res.status === 401
      ? ' (check SIGNET_API_KEY)'
      : res.status === 403
        ? ' (the API key lacks the permission)'
        : '';
  return new CliError(`${what} failed: HTTP ${res.status} ${detail}${hint}`);
}

/** GETs or POSTs JSON and returns the parsed answer, or throws the API's error. */
export async function call<T>(
  remote: Remote,
  method: string,
  path: string,
  what: string,
  body?: unknown,
): Promise<T> {
  const res = await send(remote, method, path, {
    ...(body === undefined
      ? {}
      : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  if (!res.ok) throw await apiError(res, what);
  return (await res.json()) as T;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
