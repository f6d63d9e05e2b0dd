// The dashboard's users table on an account with 100,000 users (issue 14): how long from a click on "Users"
// until the first page of 50 is rendered and interactive, against how long the API call that feeds it takes,
// both read in the same browser on the same run (the Resource Timing entry of GET /api/users, and the mark the
// page sets once React has committed the rows, when their handlers are attached). Run:
//   node --import tsx bench/dashboard.ts            (embedded PostgreSQL; DATABASE_URL=… for another server)
// Needs Chromium at /usr/bin/chromium (SIGNET_CHROMIUM) and a built dashboard (npm run build:web).
import os from 'node:os';
import { chromium } from 'playwright-core';
import { loadConfig } from '../src/config.ts';
import { hashPassword } from '../src/core/passwords.ts';
import { connect } from '../src/db/connection.ts';
import { buildServer } from '../src/server.ts';
import { createServices } from '../src/services.ts';
import { benchTenant, cleanupAll, envNumber, log, machine, openScratchDb, watchdog } from './lib.ts';
import { seed } from './seed.ts';

watchdog(900);
const USERS = envNumber('BENCH_USERS', 100_000);
const ROUNDS = envNumber('BENCH_ROUNDS', 15);
const PASSWORD = 'bench password 12345 Aa';

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

try {
  const db = await openScratchDb();
  const { handle, boot } = await benchTenant(db.url);
  log(`seeding ${USERS} users`);
  await seed(handle.sql, boot.organization_id, boot.account_id, USERS);
  await handle.sql`UPDATE users SET password_hash = ${await hashPassword(PASSWORD)}, email_verified_at = now() WHERE id = ${boot.user_id}`;
  await handle.close();

  const config = loadConfig(
    {
      SIGNET_ENV: 'test',
      LOG_LEVEL: 'silent',
      SIGNET_AUTH_RATE_LIMIT_PER_MINUTE: '0',
      SIGNET_RATE_LIMIT_PER_MINUTE: '0',
    },
    { databaseUrl: db.url },
  );
  const server = await buildServer(config, createServices(connect(db.url, 10).db, config), { logger: false });
  await server.listen({ port: 0, host: '127.0.0.1' });
  const address = server.server.address();
  if (!address || typeof address === 'string') throw new Error('no address');
  const base = `http://127.0.0.1:${address.port}`;

  const browser = await chromium.launch({
    executablePath: process.env.SIGNET_CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(`${base}/login`);
  await page.getByLabel('Email').fill('owner@example.test');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Accounts' }).waitFor();

  const api: number[] = [];
  const shown: number[] = [];
  const before: number[] = [];
  const after: number[] = [];
  for (let round = 0; round < ROUNDS + 2; round++) {
    await page.getByRole('link', { name: 'Organization' }).click();
    await page.getByRole('heading', { name: 'Accounts' }).waitFor();
    await page.evaluate(() => {
      performance.clearResourceTimings();
      performance.clearMarks();
    });
    // The click and its timestamp in the page, in one turn.
    await page.evaluate(() => {
      performance.mark('signet:users-click');
      document.querySelector<HTMLAnchorElement>('nav a[href="/admin/users"]')!.click();
    });
    await page.waitForFunction(() => performance.getEntriesByName('signet:users-rendered').length > 0);
    // Interactive: the search box takes a keystroke at once (its handler runs in the same task).
    const m = await page.evaluate(() => {
      const click = performance.getEntriesByName('signet:users-click')[0]!.startTime;
      const rendered = performance.getEntriesByName('signet:users-rendered')[0]!.startTime;
      const call = performance
        .getEntriesByType('resource')
        .find((e) => /\/api\/users\?/.test(e.name)) as PerformanceResourceTiming;
      return {
        shown: rendered - click,
        api: call.responseEnd - call.startTime,
        // Where the rest goes: before the users request starts (route, page render, effects) and after its
        // answer has arrived (JSON, React rendering the rows).
        before: call.startTime - click,
        after: rendered - call.responseEnd,
        rows: document.querySelectorAll('tbody tr').length,
      };
    });
    if (m.rows !== 50) throw new Error(`expected 50 rows, saw ${m.rows}`);
    if (round >= 2) {
      // The first two rounds warm the page's chunk and the server's statements.
      api.push(m.api);
      shown.push(m.shown);
      before.push(m.before);
      after.push(m.after);
    }
  }
  await browser.close();
  await server.close();
  const a = median(api);
  const s = median(shown);
  const info = machine();
  log(`${info.date} · ${info.cpu} × ${info.nproc} · Node ${info.node} · ${db.version} (${db.kind})`);
  log(
    `users table, ${USERS} users, ${ROUNDS} rounds: API call median ${a.toFixed(1)} ms; click → first page rendered and interactive median ${s.toFixed(1)} ms; ratio ${(s / a).toFixed(2)} (target ≤ 1.5); click → request start median ${median(before).toFixed(1)} ms, answer → rendered median ${median(after).toFixed(1)} ms; load average ${os.loadavg()[0]!.toFixed(1)}`,
  );
} finally {
  await cleanupAll();
}
