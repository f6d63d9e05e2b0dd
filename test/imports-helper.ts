// Shared by the import tests: an in-process job runner over the test database, and polling an import.
import type { TestContext } from 'node:test';
import type { Config } from '../src/config.ts';
import { startJobRunner } from '../src/jobs/queue.ts';
import { as, buildApp, type Caller, createTenant, everyoneGroupId, testDb, testDbUrl } from './helper.ts';

export async function runWorker(t: TestContext, config: Config, concurrency = 1) {
  const runner = await startJobRunner({ url: testDbUrl(), db: testDb().db, config, concurrency });
  t.after(() => runner.stop());
  return runner;
}

/** An app with an in-process worker, a tenant, its API caller and a group "Sales" (batch size per test). */
export async function importSetup(t: TestContext, overrides: Partial<Config> = {}) {
  const built = await buildApp(t, { importBatchSize: 3, ...overrides });
  await runWorker(t, built.config);
  const tenant = await createTenant(built.services, built.config);
  const api = as(built.app, tenant.key);
  const group = await api('POST', `/api/accounts/${tenant.accountId}/groups`, { name: 'Sales' });
  if (group.statusCode !== 201) throw new Error(`POST group: ${group.statusCode} ${group.body}`);
  // Every membership is also in the account's built-in Everyone group (which leads its group_ids).
  const everyoneId = await everyoneGroupId(built.services, tenant.accountId);
  return { ...built, tenant, api, groupId: group.json().id as number, everyoneId };
}

const TERMINAL = new Set(['completed', 'failed', 'canceled']);

/** Polls an import until it ends; returns it. */
export async function waitFor(api: Caller, id: string, timeoutMs = 30_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await api('GET', `/api/imports/${id}`);
    const body = res.json();
    if (res.statusCode !== 200) throw new Error(`GET import: ${res.statusCode} ${res.body}`);
    if (TERMINAL.has(body.status)) return body;
    if (Date.now() > deadline) throw new Error(`import ${id} still ${body.status} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** POSTs a CSV as text/csv and waits for the import to end. */
export async function importCsv(api: Caller, query: string, csv: string | Buffer): Promise<any> {
  const res = await api('POST', `/api/imports?${query}`, csv, { 'content-type': 'text/csv' });
  if (res.statusCode !== 202) throw new Error(`POST import: ${res.statusCode} ${res.body}`);
  return waitFor(api, res.json().id);
}

export async function allRows(api: Caller, id: string, status = 'all'): Promise<any[]> {
  const out: any[] = [];
  let cursor: string | null = null;
  do {
    const res = await api(
      'GET',
      `/api/imports/${id}/rows?status=${status}&limit=500${cursor ? `&cursor=${cursor}` : ''}`,
    );
    if (res.statusCode !== 200) throw new Error(`rows: ${res.statusCode} ${res.body}`);
    out.push(...res.json().data);
    cursor = res.json().next_cursor;
  } while (cursor);
  return out;
}
