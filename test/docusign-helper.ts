// Harness for the DocuSign faces: the real app listening on a loopback port, driven by DocuSign's official
// SDKs (docusign-admin, docusign-esign) exactly as a customer's script would. Each client gets its token
// through its own `authentications.docusignAccessCode` — never addDefaultHeader/setJWTToken, which write a
// header map shared by every client in the process (shared/reference/docusign-admin-api.md §6.1).
import type { TestContext } from 'node:test';
import admin from 'docusign-admin';
import esign from 'docusign-esign';
import type { Config } from '../src/config.ts';
import { buildApp, createTenant, type Tenant, type TestApp } from './helper.ts';

export interface LiveApp extends TestApp {
  /** http://127.0.0.1:PORT */
  base: string;
}

export async function startApp(t: TestContext, overrides: Partial<Config> = {}): Promise<LiveApp> {
  const built = await buildApp(t, overrides);
  await built.app.listen({ port: 0, host: '127.0.0.1' });
  const address = built.app.server.address();
  if (!address || typeof address === 'string') throw new Error('no TCP address');
  return { ...built, base: `http://127.0.0.1:${address.port}` };
}

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
