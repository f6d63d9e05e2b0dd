// The `signet` command line as a user runs it: bin/signet.js in a child process, with environment variables.
import { spawn } from 'node:child_process';
import path from 'node:path';

export const BIN = path.resolve('bin/signet.js');

/** Runs `signet …args` with `env` added to this process's environment (logs silenced); resolves on exit. */
export function runSignet(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, LOG_LEVEL: 'silent', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => {
      stdout += c;
    });
    child.stderr.on('data', (c) => {
      stderr += c;
    });
    child.on('exit', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}
