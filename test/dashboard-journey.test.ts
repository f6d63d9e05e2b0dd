// The dashboard, end to end in Chromium against the real server and database (issue 14): a person signs
// up, verifies their address from the mailed link, invites a colleague, who accepts from their mailed link
// and enrols two-step verification (then signs in with a code);
// the admin imports a CSV (a dry run first, an error row fixed in place, then applied), rotates an API key,
// revokes the old one and reads both in the audit log. Axe-core checks every page visited (no serious or
// critical finding), every page is checked for CSP violations, and the main pages at 390×844 too.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Secret } from 'otpauth';
import type { Page } from 'playwright-core';
import { TOTP_PERIOD, totpAt } from '../src/core/auth/mfa.ts';
import { renderMail } from '../src/core/mail/mailer.ts';
import { axeFindings, ensureDashboardBuilt, launch, screenshot, watch } from './browser-helper.ts';
import { startApp, testDb, unique } from './helper.ts';
import { tinyPng } from './images.ts';
import { runWorker } from './imports-helper.ts';

/** The link of the newest mail to `to`, on this server's address (mail links use SIGNET_PUBLIC_URL). */
async function mailedLink(to: string, base: string): Promise<string> {
  const row = await testDb()
    .db.selectFrom('outbox_mail')
    .selectAll()
    .where('to', '=', to)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .executeTakeFirstOrThrow();
  const m = /https?:\/\/[^/\s]+(\/[^\s#]*#token=[A-Za-z0-9_-]+)/.exec(renderMail(row).text);
  assert.ok(m, `no link in the mail to ${to}`);
  return base + m[1];
}

const visited: string[] = [];

async function check(page: Page, name: string, problems: string[]): Promise<void> {
  await page.waitForLoadState('networkidle');
  const findings = await axeFindings(page);
  assert.deepEqual(findings, [], `axe on ${name} (${page.url()})`);
  assert.deepEqual(problems, [], `browser errors on ${name}`);
  visited.push(name);
  await screenshot(page, name);
}

async function narrowFits(page: Page, name: string): Promise<void> {
  await page.setViewportSize({ width: 390, height: 844 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  const wide = await page.evaluate(() =>
    [...document.querySelectorAll('body *')]
      .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1 && !e.closest('.table-wrap'))
      .map((e) => `${e.tagName.toLowerCase()}.${e.className}`)
      .slice(0, 5),
  );
  assert.ok(overflow <= 0, `${name} scrolls sideways at 390×844 by ${overflow}px: ${wide.join(', ')}`);
  assert.deepEqual(await axeFindings(page), [], `axe on ${name} at 390×844`);
  await page.setViewportSize({ width: 1280, height: 800 });
}

test('dashboard journey: sign up, verify, invite, accept and enrol MFA, import with a dry run, rotate and revoke a key, audit', async (t) => {
  ensureDashboardBuilt();
  const live = await startApp(t, { authRateLimitPerMinute: 0, importBatchSize: 2 });
  await runWorker(t, live.config);
  const browser = await launch(t);
  const base = live.base;
  const admin = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await admin.newPage();
  const problems = watch(page);
  try {
    // The server side of the app: strict CSP, immutable assets, no shadowing of the API.
    const index = await fetch(`${base}/login`);
    assert.equal(index.status, 200);
    assert.match(index.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(await index.text())?.[1];
    assert.ok(asset);
    assert.match((await fetch(base + asset)).headers.get('cache-control') ?? '', /immutable/);
    for (const [url, status] of [
      ['/api/users', 401],
      ['/healthz', 200],
      ['/login/nothing', 404],
    ] as const) {
      const res = await fetch(base + url);
      assert.equal(res.status, status, url);
      assert.match(res.headers.get('content-type') ?? '', /json/, url);
    }

    // 1. Sign up.
    const email = `${unique('ada')}@example.test`;
    const password = 'Correct horse battery staple 42';
    await page.goto(`${base}/signup`);
    await check(page, 'signup', problems);
    await page.getByLabel('Your name').fill('Ada Lovelace');
    await page.getByLabel('Work email').fill(email);
    await page.getByLabel('Password').fill(password);
    await page.getByLabel('Organization name').fill(unique('Analytical Engines'));
    await page.getByRole('button', { name: 'Create organization' }).click();
    await page.getByRole('heading', { name: 'Accounts' }).waitFor();
    await page.getByText(`We mailed a link to ${email}`).waitFor();
    await check(page, 'organization', problems);

    // 2. Verify the address from the mailed link.
    await page.goto(await mailedLink(email, base));
    await page.getByText(`Your email address ${email} is verified.`).waitFor();
    assert.ok(!page.url().includes('#token='), 'the token leaves the address bar');
    await check(page, 'verify-email', problems);

    // 3. Invite a colleague.
    const colleague = `${unique('grace')}@example.test`;
    await page.goto(`${base}/admin/invites`);
    await page.getByLabel('Email').fill(colleague);
    await page.getByLabel('Role').selectOption('admin');
    await page.getByRole('button', { name: 'Send invitation' }).click();
    await page.getByText(`Invitation mailed to ${colleague}`).waitFor();
    await page.getByRole('cell', { name: colleague, exact: true }).waitFor();
    await check(page, 'invites', problems);

    // 4. The colleague accepts from the mailed link, in a browser of their own.
    const other = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page2 = await other.newPage();
    const problems2 = watch(page2);
    await page2.goto(await mailedLink(colleague, base));
    await check(page2, 'accept-invite', problems2);
    await page2.getByLabel('Your name').fill('Grace Hopper');
    await page2.getByLabel('Password').fill('A ship in port is safe 1906');
    await page2.getByRole('button', { name: 'Accept invitation' }).click();
    await page2.getByRole('heading', { name: 'Accounts' }).waitFor();
    assert.match((await page2.locator('header').textContent()) ?? '', new RegExp(colleague));

    // 4b. The colleague enrols two-step verification (TOTP, the code computed as an authenticator app
    // would from the key the page shows), keeps the recovery codes, and signs in again with a code.
    await page2.goto(`${base}/me/mfa`);
    await page2.getByRole('button', { name: 'Set up an authenticator app' }).click();
    const secret = (await page2.getByTestId('totp-secret').textContent()) ?? '';
    assert.match(secret, /^[A-Z2-7]+$/, 'the page shows the base32 key');
    await page2.getByRole('img', { name: /QR code of the authenticator setup link/ }).waitFor();
    await check(page2, 'mfa-enrol', problems2);
    // The current step's code; the sign-in below uses the next step's (inside the drift window, and later
    // than this one: no code is accepted twice).
    await page2.getByLabel('Code from the app').fill(totpAt(Secret.fromBase32(secret).bytes, Date.now()));
    await page2.getByRole('button', { name: 'Turn on two-step verification' }).click();
    const codes = page2.getByTestId('recovery-codes');
    await codes.waitFor().catch(async (err) => {
      const alerts = await page2.locator('[role=alert]').allInnerTexts();
      throw new Error(`no recovery codes (alerts: ${alerts.join(' | ') || 'none'}): ${err}`);
    });
    const recovery = ((await codes.textContent()) ?? '').split('\n');
    assert.equal(recovery.length, 10, 'ten recovery codes are shown once');
    await check(page2, 'mfa-recovery-codes', problems2);
    await page2.getByRole('button', { name: 'Sign out' }).click();
    await page2.getByRole('heading', { name: 'Sign in to Signet' }).waitFor();
    await page2.getByLabel('Email').fill(colleague);
    await page2.getByLabel('Password').fill('A ship in port is safe 1906');
    await page2.getByRole('button', { name: 'Sign in' }).click();
    await page2.getByRole('heading', { name: 'Two-step verification' }).waitFor();
    await check(page2, 'login-mfa', problems2);
    await page2
      .getByLabel('Code')
      .fill(totpAt(Secret.fromBase32(secret).bytes, Date.now() + TOTP_PERIOD * 1000));
    await page2.getByRole('button', { name: 'Verify and sign in' }).click();
    await page2.getByRole('heading', { name: 'Accounts' }).waitFor();
    await other.close();

    // 5. Import a CSV: dry run, fix the error row, dry run again, apply.
    const p1 = `${unique('alan')}@example.test`;
    const p2 = `${unique('mary')}@example.test`;
    const csv = `FirstName,LastName,UserEmail,PermissionSet\nAlan,Turing,${p1},DS Sender\nMary,Somerville,${p2},No Such Profile\n`;
    await page.goto(`${base}/admin/imports`);
    await page.setInputFiles('#import-file', {
      name: 'people.csv',
      mimeType: 'text/csv',
      buffer: Buffer.from(csv),
    });
    await page.getByRole('button', { name: 'Check (dry run)' }).click();
    const dry = page.getByRole('region', { name: 'Dry run: what this file would do' });
    await dry.getByText('Checked: 2 rows.').waitFor();
    await dry.getByText('invalid_permissionset', { exact: false }).first().waitFor();
    await dry.getByRole('cell', { name: p2, exact: true }).waitFor();
    await check(page, 'import-dry-run', problems);
    await narrowFits(page, 'import-dry-run');
    const editor = page.getByLabel('The file (fix rows here, then check again)');
    await editor.fill(csv.replace('No Such Profile', 'DS Viewer'));
    await page.getByRole('button', { name: 'Check (dry run)' }).click();
    await dry.getByText('Checked: 2 rows.').waitFor();
    assert.equal(
      await dry.locator('.stats div').filter({ hasText: 'errors' }).locator('strong').textContent(),
      '0',
    );
    await page.getByRole('button', { name: 'Apply import' }).click();
    const applied = page.getByRole('region', { name: 'Import', exact: true });
    await applied.getByText('Done: 2 rows.').waitFor({ timeout: 30_000 });
    assert.equal(
      await applied.locator('.stats div').filter({ hasText: 'added' }).locator('strong').textContent(),
      '2',
    );
    await applied.getByRole('link', { name: /Download the results/ }).waitFor();
    await check(page, 'import-applied', problems);

    // The imported people are in the users table; search finds one.
    await page.goto(`${base}/admin/users`);
    await page.getByLabel('Search name or email').fill('somerville');
    // Debounced: the table shows the one match once the search has run.
    await page.waitForFunction(() => document.querySelectorAll('tbody tr').length === 1);
    await page.getByRole('link', { name: 'Mary Somerville' }).waitFor();
    await check(page, 'users', problems);
    await narrowFits(page, 'users');
    await page.getByRole('link', { name: 'Mary Somerville' }).click();
    await page.getByRole('heading', { name: 'Memberships' }).waitFor();
    await check(page, 'user', problems);

    // 6. Create an API key, rotate it, revoke the old one.
    await page.goto(`${base}/admin/api-keys`);
    await page.getByLabel('Name', { exact: true }).fill('HR sync');
    await page.getByRole('button', { name: 'Create key' }).click();
    const first = (await page.getByTestId('new-key').textContent()) ?? '';
    assert.match(first, /^sk_test_/);
    await page.getByRole('button', { name: 'I have stored it' }).click();
    const last4 = first.slice(-4);
    await page.getByRole('button', { name: `Rotate HR sync (…${last4})` }).click();
    await page.getByLabel('Old key HR sync keeps working for').selectOption('3600');
    await page.getByRole('button', { name: 'Rotate now' }).click();
    const second = (await page.getByTestId('new-key').textContent()) ?? '';
    assert.notEqual(second, first);
    await page.getByText(`The old key sk_test_…${last4} works until`).waitFor();
    await check(page, 'api-keys', problems);
    await page.getByRole('button', { name: 'I have stored it' }).click();
    await page.getByRole('button', { name: `Revoke HR sync (…${last4})` }).click();
    await page.getByText(`Revoked HR sync (…${last4}).`).waitFor();
    // The old key no longer works; the new one does.
    const withKey = (key: string) => fetch(`${base}/api/me`, { headers: { authorization: `Bearer ${key}` } });
    assert.equal((await withKey(first)).status, 401);
    assert.equal((await withKey(second)).status, 200);

    // 7. Both actions in the audit log, newest first; the chain verifies in the browser.
    await page.goto(`${base}/admin/audit`);
    await page.getByLabel('Action').fill('api_key.*');
    await page.getByRole('button', { name: 'Filter' }).click();
    const actions = page.locator('tbody tr td:nth-child(3)');
    await page.getByRole('cell', { name: 'api_key.revoked', exact: true }).waitFor();
    const shown = await actions.allInnerTexts();
    assert.deepEqual(shown.slice(0, 3), ['api_key.revoked', 'api_key.rotated', 'api_key.created']);
    await page.getByRole('button', { name: /Show details of event \d+, api_key.rotated/ }).click();
    await page.getByRole('columnheader', { name: 'Before' }).waitFor();
    await page.getByRole('button', { name: 'Verify the hash chain' }).click();
    await page.getByText(/Chain intact: \d+ events/).waitFor();
    await check(page, 'audit', problems);

    // 8. The other admin pages, each used once and checked by axe.
    await page.goto(`${base}/admin/groups`);
    await page.getByLabel('Group name').fill('Reviewers');
    await page.getByRole('button', { name: 'Create group' }).click();
    await page.getByRole('button', { name: 'Members of Reviewers' }).click();
    await page.getByLabel("Member's email").fill(p2);
    await page.getByRole('button', { name: 'Add member' }).click();
    await page.getByRole('button', { name: `Remove ${p2} from Reviewers` }).waitFor();
    await check(page, 'groups', problems);

    await page.goto(`${base}/admin/profiles`);
    await page.getByRole('button', { name: 'Edit DS Admin' }).waitFor();
    await check(page, 'profiles', problems);

    await page.goto(`${base}/admin/mapping-rules`);
    await page.getByLabel('Rule name').fill('Engineers');
    await page.getByLabel('Department is').fill('Engineering');
    await page.getByLabel('Profile', { exact: true }).selectOption({ label: 'DS Sender' });
    await page.getByRole('button', { name: 'Add rule' }).click();
    await page.getByRole('cell', { name: 'department = "Engineering"' }).waitFor();
    await page.getByLabel('Department', { exact: true }).fill('Engineering');
    await page.getByRole('button', { name: 'Test' }).click();
    await page.getByText('Rule "Engineers" matches: profile DS Sender').waitFor();
    await check(page, 'mapping-rules', problems);

    await page.goto(`${base}/admin/brands`);
    await page.getByLabel('Brand name').fill('Engines');
    await page.getByRole('button', { name: 'Create brand' }).click();
    await page.getByLabel('Company shown in mails').fill('Analytical Engines Ltd');
    await page
      .getByLabel('Logo (PNG, JPEG, GIF or SVG)')
      .setInputFiles({ name: 'logo.png', mimeType: 'image/png', buffer: tinyPng() });
    // The preview shows the chosen logo before it is uploaded, and the company as typed.
    await page.getByRole('img', { name: 'Analytical Engines Ltd logo' }).waitFor();
    await page.getByRole('button', { name: 'Save brand' }).click();
    await page.waitForFunction(() =>
      document.querySelector('.preview img')?.getAttribute('src')?.startsWith('/api/'),
    );
    await check(page, 'brands', problems);

    await page.goto(`${base}/admin/settings`);
    await page.getByRole('spinbutton', { name: 'session_timeout_minutes' }).fill('45');
    await page.getByRole('button', { name: 'Save session_timeout_minutes' }).click();
    await page.getByText('Saved.').waitFor();
    await check(page, 'settings', problems);

    await page.goto(`${base}/admin/exports`);
    await page.getByRole('button', { name: 'Start export' }).click();
    await page.getByRole('link', { name: 'Download' }).waitFor({ timeout: 30_000 });
    await check(page, 'exports', problems);

    await page.goto(`${base}/admin/domains`);
    const domain = `${unique('engines')}.example.com`;
    await page.getByLabel('Domain', { exact: true }).fill(domain);
    await page.getByRole('button', { name: 'Claim domain' }).click();
    await page.getByRole('cell', { name: new RegExp(`^${domain.replace(/\./g, '\\.')}`) }).waitFor();
    await check(page, 'domains', problems);

    for (const path of ['/me/sessions', '/me/password', '/me/mfa']) {
      await page.goto(base + path);
      await page.locator('main h1').waitFor();
      await check(page, path.slice(1).replace('/', '-'), problems);
    }

    // 9. My account page, then sign out.
    await page.goto(`${base}/me`);
    await check(page, 'me', problems);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to Signet' }).waitFor();
    await check(page, 'login', problems);
    assert.equal((await page.context().request.get(`${base}/session`)).status(), 401);
    assert.ok(visited.length >= 22);
  } catch (err) {
    // Say what the page said (its alerts) and keep a picture of it.
    const alerts = await page
      .locator('[role=alert]')
      .allInnerTexts()
      .catch(() => []);
    process.stderr.write(`page at ${page.url()}; alerts: ${alerts.join(' | ') || 'none'}\n`);
    await page.screenshot({ path: 'dashboard-journey-failure.png' }).catch(() => {});
    throw err;
  }
});
