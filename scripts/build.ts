// `npm run build:server` (run by `npm ci` through `prepare`): compiles src/ to dist/ (tsconfig.build.json), so
// `signet` starts from JavaScript instead of transforming TypeScript at every start (issue 15). Then it marks
// the build with dist/.built, dated when the compile *started*: bin/signet.js runs dist/ only while no .ts file
// under src/ is newer than that mark, so a file edited during or after the build is never run from old code.
import { spawnSync } from 'node:child_process';
import { utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const started = new Date();
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
if (result.status !== 0) process.exit(result.status ?? 1);
writeFileSync('dist/.built', `${started.toISOString()}\n`);
utimesSync('dist/.built', started, started);
