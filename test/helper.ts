// The test harness: the real app over the test run's real PostgreSQL (see scripts/test.ts), driven through
// inject(). Every test makes its own tenants, so tests never depend on each other's data.
import { randomBytes } from 'node:crypto';
import { after, type TestContext } from 'node:test';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { type Config, loadConfig } from '../src/config.ts';
import { bootstrap } from '../src/core/bootstrap.ts';
import { connect, type DbHandle } from '../src/db/connection.ts';
import { buildServer } from '../src/server.ts';
import { createServices, type Services } from '../src/services.ts';

let shared: DbHandle | null = null;

export function testDbUrl(): string {
  const url = process.env.SIGNET_TEST_DB_URL;
  if (!url) throw new Error('SIGNET_TEST_DB_URL is not set: run the tests with `npm test`');
  return url;
}

/** One pool per test process, closed when the process's tests are done. */
export function testDb(): DbHandle {
  if (!shared) shared = connect(testDbUrl(), 5);
  return shared;
}

// Open connections keep the test process alive; close them once this file's tests are done. Registered at
// import time, so the hook belongs to the file's root, not to whichever test first asked for the pool.
after(async () => {
  await shared?.close();
  shared = null;
});

export function testConfig(overrides: Partial<Config> = {}): Config {
  return loadConfig(
    // Webhooks are sent only by the runners of tests that ask (webhookDelivery: true): see scripts/test.ts.
    { SIGNET_ENV: 'test', LOG_LEVEL: 'silent', SIGNET_WEBHOOK_DELIVERY: 'false' },
    { databaseUrl: testDbUrl(), ...overrides },
  );
}

export interface TestApp {
  app: FastifyInstance;
  services: Services;
  config: Config;
}

export async function buildApp(t: TestContext, overrides: Partial<Config> = {}): Promise<TestApp> {
  const config = testConfig(overrides);
  const services = createServices(testDb().db, config);
  const app = await buildServer(config, services, { logger: false });
  await app.ready();
  t.after(() => app.close());
  return { app, services, config };
}

export interface LiveApp extends TestApp {
  /** http://127.0.0.1:PORT, or https:// when the config has `tls` (test/tls-helper.ts makes a certificate). */
  base: string;
}

/** The app listening on a loopback port, for clients that speak HTTP (the SDKs, the CLI). */
export async function startApp(t: TestContext, overrides: Partial<Config> = {}): Promise<LiveApp> {
  const built = await buildApp(t, overrides);
  await built.app.listen({ port: 0, host: '127.0.0.1' });
  const address = built.app.server.address();
  if (!address || typeof address === 'string') throw new Error('no TCP address');
  return { ...built, base: `${built.config.tls ? 'https' : 'http'}://127.0.0.1:${address.port}` };
}

export const unique = (prefix: string): string => `${prefix}-${randomBytes(5).toString('hex')}`;

export interface Tenant {
  organizationId: string;
  accountId: string;
  ownerId: string;
  key: string;
  email: string;
}

/**
 * The id of an account's built-in Everyone group, which every membership of the account is in (so it leads
 * every membership's group_ids: it is made with the account, before any group of its own).
 */
export async function everyoneGroupId(services: Services, accountId: string): Promise<number> {
  const row = await services.db
    .selectFrom('groups')
    .select('id')
    .where('account_id', '=', accountId)
    .where('group_type', '=', 'everyone')
    .executeTakeFirstOrThrow();
  return Number(row.id);
}

/** A new organization with one account, an owner and an owner's API key. */
export async function createTenant(services: Services, config: Config): Promise<Tenant> {
  const email = `${unique('owner')}@example.test`;
  const result = await bootstrap(services.db, services.apiKeys, config.environment, {
    email,
    organizationName: unique('Org'),
    accountName: 'Main',
  });
  return {
    organizationId: result.organization_id,
    accountId: result.account_id,
    ownerId: result.user_id,
    key: result.api_key,
    email,
  };
}

export type Caller = (
  method: InjectOptions['method'],
  url: string,
  body?: unknown,
  headers?: Record<string, string>,
) => Promise<LightMyRequestResponse & { json<T = any>(): T }>;

/** A request function bound to one API key. */
export function as(app: FastifyInstance, key: string | null): Caller {
  return async (method, url, body, headers = {}) => {
    const res = await app.inject({
      method,
      url,
      headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...headers },
      ...(body === undefined
        ? {}
        : typeof body === 'string' || Buffer.isBuffer(body)
          ? { body }
          : { payload: body as object }),
    });
    return res as LightMyRequestResponse & { json<T = any>(): T };
  };
}
