// The dashboard in a real browser: Debian's Chromium (/usr/bin/chromium, installed by .ci/run and by
// scripts/test.ts when missing) driven by playwright-core, against the real server (test/helper.ts
// startApp) on the test database. Axe-core runs on every page a journey visits.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { TestContext } from 'node:test';
import axe from 'axe-core';
import { type Browser, chromium, type Page } from 'playwright-core';

export const CHROMIUM = process.env.SIGNET_CHROMIUM ?? '/usr/bin/chromium';
const WEB = path.resolve('web');
const BUILT = path.join(WEB, 'dist', 'index.html');

function newest(dir: string): number {
  let t = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    t = Math.max(t, entry.isDirectory() ? newest(full) : statSync(full).mtimeMs);
  }
  return t;
}

/**
 * Builds the dashboard when web/dist is missing or older than any source under web/ (so a test never runs
 * against a stale build): `npm ci` builds it once (prepare), an edit rebuilds it here.
 */
export function ensureDashboardBuilt(): void {
  const sources = Math.max(
    newest(path.join(WEB, 'src')),
    statSync(path.join(WEB, 'index.html')).mtimeMs,
    statSync(path.join(WEB, 'vite.config.ts')).mtimeMs,
  );
  if (existsSync(BUILT) && statSync(BUILT).mtimeMs >= sources) return;
  execFileSync('npm', ['run', 'build:web'], { stdio: 'inherit' });
}

export async function launch(t: TestContext): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is not at ${CHROMIUM}: install it (apt-get install -y chromium), or set SIGNET_CHROMIUM`,
    );
  }
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  t.after(() => browser.close());
  return browser;
}

/** Fails the test on any Content-Security-Policy violation or uncaught error the page reports. */
export function watch(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error' && /Content Security Policy|Refused to/i.test(msg.text()))
      problems.push(msg.text());
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  return problems;
}

export interface AxeFinding {
  id: string;
  impact: string | null | undefined;
  help: string;
  nodes: string[];
}

/**
 * Axe-core's serious and critical findings on the page as it is now. The engine is evaluated through the
 * DevTools protocol, which the page's CSP does not govern (an injected <script> would be refused, rightly).
 */
export async function axeFindings(page: Page): Promise<AxeFinding[]> {
  await page.evaluate(axe.source);
  const results = await page.evaluate(async () => {
    const w = window as unknown as { axe: typeof axe };
    const r = await w.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ')),
    }));
  });
  return results.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/** Where screenshots go: docs/screenshots when SIGNET_SCREENSHOTS=1 (to refresh the committed ones), else nowhere. */
export async function screenshot(page: Page, name: string): Promise<void> {
  if (process.env.SIGNET_SCREENSHOTS !== '1') return;
  const dir = path.resolve('docs', 'screenshots');
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: path.join(dir, `${name}.png`), fullPage: false });
}
