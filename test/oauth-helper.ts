// What the OAuth tests share: an integration with a secret, an RSA key pair and (optionally) consent, and
// the JWT assertions DocuSign's SDKs sign.
import net from 'node:net';
import type { TestContext } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { SignJWT } from 'jose';
import type { Config } from '../src/config.ts';
import { bootstrap } from '../src/core/bootstrap.ts';
import { hashPassword } from '../src/core/passwords.ts';
import type { Services } from '../src/services.ts';
import { as, buildApp, type LiveApp, type Tenant, unique } from './helper.ts';

export const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

export interface TestIntegration {
  id: string;
  clientId: string;
  secret: string;
  /** The PEM of the private key whose public half is registered (PKCS#1, as Signet generates it). */
  privateKey: string;
  kid: string;
}

/**
 * An integration of `tenant`'s organization, made through the API by its owner: a client secret (confidential
 * ones), and an RSA pair Signet generates (the private key comes back once, as from DocuSign's console).
 */
export async function makeIntegration(
  app: FastifyInstance,
  tenant: Tenant,
  opts: {
    clientType?: 'confidential' | 'public';
    grants?: string[];
    redirectUris?: string[];
    name?: string;
  } = {},
): Promise<TestIntegration> {
  const owner = as(app, tenant.key);
  const clientType = opts.clientType ?? 'confidential';
  const created = await owner('POST', '/api/integrations', {
    name: opts.name ?? unique('Integration'),
    client_type: clientType,
    redirect_uris: opts.redirectUris ?? ['https://app.example/cb'],
    allowed_grants: opts.grants ?? [
      'authorization_code',
      'refresh_token',
      ...(clientType === 'confidential' ? [JWT_BEARER, 'client_credentials'] : []),
    ],
  });
  if (created.statusCode !== 201) throw new Error(`integration: ${created.statusCode} ${created.body}`);
  const integration = created.json();
  const key = await owner('POST', `/api/integrations/${integration.id}/rsa_keys`, { generate: true });
  if (key.statusCode !== 201) throw new Error(`RSA key: ${key.statusCode} ${key.body}`);
  return {
    id: integration.id,
    clientId: integration.client_id,
    secret: integration.client_secret ?? '',
    privateKey: key.json().private_key,
    kid: key.json().id,
  };
}

/** A consent granted through the API by the tenant's owner (userId null: for every user of the organization). */
export async function consent(
  app: FastifyInstance,
  tenant: Tenant,
  integration: TestIntegration,
  scopes: string[],
  userId: string | null,
): Promise<string> {
  const res = await as(app, tenant.key)('POST', `/api/integrations/${integration.id}/consents`, {
    scopes,
    user_id: userId,
  });
  if (res.statusCode >= 300) throw new Error(`consent: ${res.statusCode} ${res.body}`);
  return res.json().id;
}

export async function revokeConsent(
  app: FastifyInstance,
  tenant: Tenant,
  integration: TestIntegration,
  id: string,
): Promise<void> {
  const res = await as(app, tenant.key)('DELETE', `/api/integrations/${integration.id}/consents/${id}`);
  if (res.statusCode !== 200) throw new Error(`revoke consent: ${res.statusCode} ${res.body}`);
}

/** A JWT assertion as DocuSign's SDK signs it (RS256; iss, sub, aud, iat, exp, scope), with overrides. */
export async function assertion(
  integration: TestIntegration,
  claims: Record<string, unknown>,
  header: Record<string, unknown> = {},
): Promise<string> {
  const { createPrivateKey } = await import('node:crypto');
  const now = Math.floor(Date.now() / 1000);
  const payload = {
    iss: integration.clientId,
    iat: now,
    exp: now + 600,
    scope: 'signature impersonation',
    ...claims,
  };
  for (const [k, v] of Object.entries(payload))
    if (v === undefined) delete (payload as Record<string, unknown>)[k];
  return new SignJWT(payload)
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT', ...header })
    .sign(createPrivateKey(integration.privateKey));
}

/** application/x-www-form-urlencoded, as OAuth clients send. */
export function form(fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString();
}

export const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

export function basic(integration: TestIntegration): string {
  return `Basic ${Buffer.from(`${integration.clientId}:${integration.secret}`).toString('base64')}`;
}

// --- a browser and a listening server, for the flows that need HTTP redirects and cookies ----------------------

export const PASSWORD = 'Correct horse battery staple 1';

/** A tenant whose owner can sign in with PASSWORD. */
export async function tenantWithPassword(services: Services, config: Config): Promise<Tenant> {
  const email = `${unique('owner')}@example.test`;
  const result = await bootstrap(services.db, services.apiKeys, config.environment, {
    email,
    organizationName: unique('Org'),
    accountName: 'Main',
    passwordHash: await hashPassword(PASSWORD),
  });
  return {
    organizationId: result.organization_id,
    accountId: result.account_id,
    ownerId: result.user_id,
    key: result.api_key,
    email,
  };
}

/** The app listening on a loopback port that its own SIGNET_PUBLIC_URL names (the issuer must be right). */
export async function startOAuthApp(t: TestContext, overrides: Partial<Config> = {}): Promise<LiveApp> {
  const port = await new Promise<number>((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port: p } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(p));
    });
  });
  const base = `${overrides.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  const built = await buildApp(t, { publicUrl: base, ...overrides });
  await built.app.listen({ port, host: '127.0.0.1' });
  return { ...built, base };
}

/** A cookie jar and fetch that never follows redirects: each hop of a browser's flow is checked. */
export class Browser {
  readonly cookies = new Map<string, string>();

  async fetch(url: string | URL, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size > 0) {
      headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    }
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const expired = attrs.some(
        (a) => /^\s*expires=/i.test(a) && new Date(a.split('=')[1]!).getTime() < Date.now(),
      );
      if (value === '' || expired) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return res;
  }

  async post(url: string | URL, fields: Record<string, string>): Promise<Response> {
    return this.fetch(url, { method: 'POST', headers: FORM, body: form(fields) });
  }
}

/** The Location of a 303 after a form post (never 307, which would post the password again). */
export function seeOther(res: Response, base: string): URL {
  if (res.status !== 303) throw new Error(`expected 303 See Other after a form post, got ${res.status}`);
  return location(res, base);
}

/** The Location of a redirect, resolved against `base`; fails the test when the answer is not a redirect. */
export function location(res: Response, base: string): URL {
  const to = res.headers.get('location');
  if (res.status < 300 || res.status >= 400 || !to) {
    throw new Error(`expected a redirect, got ${res.status} ${res.headers.get('content-type')}`);
  }
  return new URL(to, base);
}

/**
 * Follows an authorization request through Signet's pages as a person would: signs in (unless the browser
 * is signed in already), allows the consent page (when one is shown), and returns where the browser is sent
 * at the end (the client's redirect URI, with the code or the error).
 */
export async function authorize(
  browser: Browser,
  base: string,
  authUrl: URL,
  who: { email: string; password?: string } | null,
): Promise<{ redirect: URL; pages: string[] }> {
  const pages: string[] = [];
  let url = location(await browser.fetch(authUrl), base);
  for (let hop = 0; hop < 10; hop++) {
    if (!url.pathname.startsWith('/oauth/')) return { redirect: url, pages };
    if (url.pathname.startsWith('/oauth/interaction/')) {
      const page = await browser.fetch(url);
      if (page.status === 303) {
        pages.push('signed-in-by-session');
        url = location(page, base);
        continue;
      }
      const html = await page.text();
      if (page.status !== 200) throw new Error(`interaction page ${page.status}: ${html}`);
      if (html.includes('name="password"')) {
        pages.push('login');
        if (!who) throw new Error('a sign-in page, and no one to sign in');
        url = seeOther(
          await browser.post(`${base}${url.pathname}/login`, {
            email: who.email,
            password: who.password ?? PASSWORD,
          }),
          base,
        );
      } else {
        pages.push('consent');
        url = seeOther(await browser.post(`${base}${url.pathname}/consent`, {}), base);
      }
      continue;
    }
    url = location(await browser.fetch(url), base);
  }
  throw new Error('too many redirects');
}
