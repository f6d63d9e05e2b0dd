// The dashboard is a client of Signet's public API and nothing else: /api (docs/api.md) and the people
// endpoints (/signup, /login, /session, /logout, …; docs/people-and-sessions.md). The session is the
// signet_session cookie (HttpOnly: this code never sees it); writes carry the session's CSRF token, and the
// account the person acts in is named by the Signet-Account header.

export interface ErrorDetail {
  field?: string;
  message: string;
  [k: string]: unknown;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: ErrorDetail[] = [],
    readonly retryAfter: number | null = null,
  ) {
    super(message);
  }
}

export interface User {
  id: string;
  organization_id: string;
  email: string;
  first_name: string;
  last_name: string;
  job_title: string | null;
  department: string | null;
  company: string | null;
  language: string | null;
  role: 'owner' | 'admin' | 'member';
  status: string;
  email_verified_at: string | null;
  pending_email: string | null;
  created_at: string;
  updated_at: string;
  memberships?: Membership[];
}

export interface Membership {
  id: string;
  account_id: string;
  user_id: string;
  status: string;
  permission_profile_id: number | null;
  group_ids: number[];
  created_at: string;
  closed_at: string | null;
}

export interface Account {
  id: string;
  organization_id: string;
  name: string;
  seat_limit: number | null;
  seats_used: number;
  external_account_id: number;
  created_at: string;
}

export interface Organization {
  id: string;
  name: string;
}

export interface Session {
  user: User;
  organization: Organization;
  account: Account | null;
  csrf_token: string;
  expires_at: string;
  /** Set by the sign-in contract when the account requires MFA and the person has none yet. */
  mfa_enrollment_required?: boolean;
  /** The password is older than the account's password_policy.max_age_days: it must be changed first. */
  password_change_required?: boolean;
}

export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

let csrf: string | null = null;
let account: string | null = sessionStorage.getItem('signet.account');

export function setSessionToken(token: string | null): void {
  csrf = token;
}

/** The account the person acts in (Signet-Account), kept for this tab. */
export function setActingAccount(id: string | null): void {
  account = id;
  if (id) sessionStorage.setItem('signet.account', id);
  else sessionStorage.removeItem('signet.account');
}

export function actingAccount(): string | null {
  return account;
}

export interface CallOptions {
  signal?: AbortSignal;
  /** A raw body (a CSV, an image) with its content type, instead of JSON. */
  raw?: { body: Blob | string; type: string };
  idempotent?: boolean;
}

const WRITE = new Set(['POST', 'PATCH', 'PUT', 'DELETE']);

export async function call<T = unknown>(
  method: string,
  path: string,
  body?: unknown,
  opts: CallOptions = {},
): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (WRITE.has(method) && csrf) headers['x-csrf-token'] = csrf;
  if (account && (path.startsWith('/api/') || path === '/session')) headers['signet-account'] = account;
  if (opts.idempotent) headers['idempotency-key'] = crypto.randomUUID();
  let payload: BodyInit | undefined;
  if (opts.raw) {
    headers['content-type'] = opts.raw.type;
    payload = opts.raw.body;
  } else if (body !== undefined) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const res = await fetch(path, {
    method,
    headers,
    body: payload ?? null,
    credentials: 'same-origin',
    signal: opts.signal ?? null,
  });
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!res.ok) {
    const err = (json as { error?: { code?: string; message?: string; details?: ErrorDetail[] } } | null)
      ?.error;
    const retry = Number(res.headers.get('retry-after'));
    throw new ApiError(
      res.status,
      err?.code ?? `http_${res.status}`,
      err?.message ?? `the server answered ${res.status}`,
      err?.details ?? [],
      Number.isFinite(retry) && retry > 0 ? retry : null,
    );
  }
  return json as T;
}

export const get = <T>(path: string, signal?: AbortSignal) => call<T>('GET', path, undefined, { signal });
export const post = <T>(path: string, body?: unknown, opts?: CallOptions) =>
  call<T>('POST', path, body, opts);
export const patch = <T>(path: string, body?: unknown) => call<T>('PATCH', path, body);
export const del = <T>(path: string, body?: unknown) => call<T>('DELETE', path, body);

/** A query string from the defined, non-empty values. */
export function qs(params: Record<string, string | number | boolean | null | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params))
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** Every page of a listing (for short lists: accounts, profiles, groups). */
export async function all<T>(path: string, signal?: AbortSignal): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | null = null;
  for (let i = 0; i < 50; i++) {
    const sep = path.includes('?') ? '&' : '?';
    const page: Page<T> = await get<Page<T>>(
      `${path}${sep}limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      signal,
    );
    out.push(...page.data);
    cursor = page.next_cursor;
    if (!cursor) break;
  }
  return out;
}

/** The token a mailed link carries in its fragment (#token=…), which never reaches a server. */
export function fragmentToken(): string | null {
  const params = new URLSearchParams(location.hash.replace(/^#/, ''));
  return params.get('token');
}

export function describe(err: unknown): string {
  if (err instanceof ApiError) {
    const fields = err.details
      .map((d) => (d.field ? `${d.field}: ${d.message}` : d.message))
      .filter((m) => m && m !== err.message);
    const retry = err.retryAfter ? ` Try again in ${err.retryAfter} s.` : '';
    return `${err.message}${fields.length ? ` (${fields.join('; ')})` : ''}${retry}`;
  }
  if (err instanceof Error)
    return err.name === 'TypeError'
      ? 'Signet could not be reached: check your connection and try again.'
      : err.message;
  return String(err);
}
