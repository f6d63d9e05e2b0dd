// The layering rules of biome.json, proved on sources that break them: faces import neither src/db nor a
// repository, core imports neither src/jobs nor a face. The sources are written to a temporary tree with a copy
// of biome.json (so the overrides for src/faces/** and src/core/** apply) and linted there.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

const biome = createRequire(import.meta.url).resolve('@biomejs/biome/bin/biome');

function lint(file: string, source: string): { ok: boolean; output: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'signet-layering-'));
  try {
    copyFileSync('biome.json', path.join(dir, 'biome.json'));
    mkdirSync(path.join(dir, path.dirname(file)), { recursive: true });
    writeFileSync(path.join(dir, file), source);
    const run = spawnSync(process.execPath, [biome, 'lint', '--vcs-enabled=false', file], {
      cwd: dir,
      encoding: 'utf8',
    });
    return { ok: run.status === 0, output: `${run.stdout}${run.stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('lint refuses a face that imports src/db or a repository, and core that imports src/jobs or a face', () => {
  const refused: [string, string, RegExp][] = [
    [
      'src/faces/api/x.ts',
      "import type { Db } from '../../db/connection.ts';\nexport type X = Db;\n",
      /faces do not import src\/db/,
    ],
    [
      'src/faces/management/x.ts',
      "import { findUser } from '../../core/users/repository.ts';\nexport const x = findUser;\n",
      /faces do not import repositories/,
    ],
    [
      'src/core/x/service.ts',
      "import { enqueueImport } from '../../jobs/queue.ts';\nexport const x = enqueueImport;\n",
      /core does not import src\/jobs/,
    ],
    [
      'src/core/x.ts',
      "import { ctxOf } from '../faces/ctx.ts';\nexport const x = ctxOf;\n",
      /core does not import the faces/,
    ],
  ];
  for (const [file, source, message] of refused) {
    const { ok, output } = lint(file, source);
    assert.equal(ok, false, `${file} should be refused`);
    assert.match(output, message, file);
  }
  // The allowed ways: a face names core's types and services; core reads src/db.
  const allowed: [string, string][] = [
    [
      'src/faces/api/x.ts',
      "import type { Db } from '../../core/types.ts';\nimport type { UserView } from '../../core/users/service.ts';\nexport type X = Db | UserView;\n",
    ],
    ['src/core/x/service.ts', "import type { Db } from '../../db/connection.ts';\nexport type X = Db;\n"],
  ];
  for (const [file, source] of allowed) {
    const { ok, output } = lint(file, source);
    assert.equal(ok, true, `${file}: ${output}`);
  }
});
