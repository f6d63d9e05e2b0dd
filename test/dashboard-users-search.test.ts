// The users table's search box in Chromium (issue 14: "typing in the search box never blocks input"): every
// key shows at once in the field, the search waits for a pause (debounced), and a search started before the
// person typed more is aborted, so a slow answer for an older query never replaces a newer one. The server's
// answers are held by the test (page.route) and released when it says, so nothing depends on timing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Request, Route } from 'playwright-core';
import { ensureDashboardBuilt, launch, watch } from './browser-helper.ts';
import { startApp, unique } from './helper.ts';

test('users search: typing never waits for the network; older searches are aborted; the last one is shown', async (t) => {
  ensureDashboardBuilt();
  const live = await startApp(t, { authRateLimitPerMinute: 0 });
  const browser = await launch(t);
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  const problems = watch(page);
  await page.goto(`${live.base}/signup`);
  await page.getByLabel('Your name').fill('Ada Lovelace');
  await page.getByLabel('Work email').fill(`${unique('ada')}@example.test`);
  await page.getByLabel('Password').fill('Correct horse battery staple 42');
  await page.getByLabel('Organization name').fill(unique('Engines'));
  await page.getByRole('button', { name: 'Create organization' }).click();
  await page.getByRole('heading', { name: 'Accounts' }).waitFor();

  // Searches (q=…) are held until released; the rest go through.
  const held: { q: string; route: Route }[] = [];
  let arrived: (() => void) | null = null;
  await page.route(/\/api\/users\?/, (route) => {
    const q = new URL(route.request().url()).searchParams.get('q');
    if (q === null) return route.continue();
    held.push({ q, route });
    arrived?.();
  });
  const nextSearch = () =>
    new Promise<void>((resolve) => {
      arrived = resolve;
    });
  const failed: string[] = [];
  page.on('requestfailed', (r: Request) => {
    const q = new URL(r.url()).searchParams.get('q');
    if (q !== null) failed.push(q);
  });

  await page.goto(`${live.base}/admin/users`);
  await page.getByRole('link', { name: 'Ada Lovelace' }).waitFor();
  const box = page.getByLabel('Search name or email');
  await box.click();
  // Each key is in the field as soon as it is typed, while searches are held unanswered.
  let waiting = nextSearch();
  for (const [i, key] of [...'lov'].entries()) {
    await page.keyboard.type(key);
    assert.equal(await box.inputValue(), 'lov'.slice(0, i + 1), 'the field shows every key at once');
  }
  await waiting;
  waiting = nextSearch();
  await page.keyboard.type('e');
  assert.equal(await box.inputValue(), 'love', 'typing goes on while a search is in flight');
  await waiting;
  const last = held[held.length - 1]!;
  assert.equal(last.q, 'love');
  // Keys typed within the pause made no search of their own: fewer searches than keys.
  assert.ok(held.length < 4, `searches: ${held.map((h) => h.q).join(', ')}`);
  // Every search but the last was aborted by the newer one (the browser reports each as failed).
  const older = held.slice(0, -1).map((h) => h.q);
  while (!older.every((q) => failed.includes(q))) {
    await page.waitForEvent('requestfailed', { timeout: 10_000 }).catch(() => {
      throw new Error(`not aborted: ${older.filter((q) => !failed.includes(q)).join(', ')}`);
    });
  }
  // The older answers, released now, change nothing; the last one fills the table.
  for (const h of held.slice(0, -1)) await h.route.continue().catch(() => {});
  await last.route.continue();
  await page.getByRole('link', { name: 'Ada Lovelace' }).waitFor();
  assert.equal(await box.inputValue(), 'love');
  assert.deepEqual(problems, []);
});
