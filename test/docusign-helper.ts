// Harness for the DocuSign faces: the real app listening on a loopback port, driven by DocuSign's official
// SDKs (docusign-admin, docusign-esign) exactly as a customer's script would. Each client gets its token
// through its own `authentications.docusignAccessCode` — never addDefaultHeader/setJWTToken, which write a
// header map shared by every client in the process (shared/reference/docusign-admin-api.md §6.1).
import assert from 'node:assert/strict';
import admin from 'docusign-admin';
import esign from 'docusign-esign';
import { createTenant, type LiveApp, startApp, type Tenant, unique } from './helper.ts';

export { type LiveApp, startApp };

export async function liveTenant(live: LiveApp): Promise<Tenant> {
  return createTenant(live.services, live.config);
}

// The SDKs are untyped (docusign-admin) or loosely typed; tests use them as untyped customer scripts do.
type Sdk = any;

/** A docusign-admin ApiClient aimed at this server's /management, authenticated with `token`. */
export function adminClient(live: LiveApp, token: string): Sdk {
  const client = new (admin as Sdk).ApiClient({ basePath: `${live.base}/management` });
  client.authentications.docusignAccessCode.accessToken = token;
  return client;
}

/** A docusign-esign ApiClient aimed at this server's /restapi, authenticated with `token`. */
export function esignClient(live: LiveApp, token: string): Sdk {
  const client = new (esign as Sdk).ApiClient({ basePath: `${live.base}/restapi` });
  client.authentications.docusignAccessCode.accessToken = token;
  return client;
}

export { admin, esign };

/**
 * The SDKs reject with `{statusCode, header, body}` on an HTTP error (and with `null` when there was no
 * response). Runs `call` and returns that rejection, failing the test if the call succeeded.
 */
export async function sdkError(call: Promise<unknown>): Promise<{ statusCode: number; body: any }> {
  try {
    await call;
  } catch (err) {
    const e = err as {
      statusCode?: number;
      status?: number;
      response?: { status: number; data: unknown };
      body?: unknown;
    };
    if (e?.response) return { statusCode: e.response.status, body: e.response.data };
    if (typeof e?.statusCode === 'number') return { statusCode: e.statusCode, body: e.body };
    throw err;
  }
  throw new Error('expected the SDK call to fail');
}

/** A DocuSign (Admin API) GUID. */
export const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A fresh email address (`tag-<random>@example.test`). */
export const email = (tag = 'user'): string => `${unique(tag)}@example.test`;

/**
 * One HTTP call to the live app with `key` as its Bearer token, outside the SDKs: `path` is the whole path
 * (/api/…, /management/…, /restapi/…), `body` is sent as JSON, `headers` are added (an Idempotency-Key…).
 * The body comes back parsed (null when empty) and as the bytes received, with the response headers.
 */
export async function api(
  live: LiveApp,
  key: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any; bytes: Buffer; headers: Headers }> {
  const res = await fetch(`${live.base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const bytes = Buffer.from(await res.arrayBuffer());
  const text = bytes.toString();
  return { status: res.status, body: text ? JSON.parse(text) : null, bytes, headers: res.headers };
}

/** `api` bound to a key and to /api, Signet's native face (what a dashboard or a Signet script calls). */
export function nativeApi(live: LiveApp, key: string) {
  return (method: string, path: string, body?: unknown) => api(live, key, method, `/api${path}`, body);
}

/** A key restricted to Signet scopes, made through /api as an administrator would. */
export async function restrictedKey(live: LiveApp, tenant: Tenant, scopes: string[]): Promise<string> {
  const res = await api(live, tenant.key, 'POST', '/api/api_keys', { name: unique('key'), scopes });
  assert.equal(res.status, 201);
  return res.body.key;
}
