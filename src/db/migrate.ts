// Ordered SQL migrations from src/db/migrations (NNNN_name.sql; NNNNb_name.sql is a second one of a number,
// sorted after NNNN_name.sql since '_' < 'a'), each applied once in its own transaction.
// A session-level advisory lock makes concurrent starts safe: the second process waits, then finds the
// work done.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type postgres from 'postgres';

// The SQL files stay in src/ (the compiled build in dist/ holds JavaScript only): `../../src/db/migrations` from
// this file, whether it runs as src/db/migrate.ts or as dist/db/migrate.js.
const MIGRATIONS_DIR = fileURLToPath(new URL('../../src/db/migrations/', import.meta.url));
const LOCK_ID = 0x5349474e; // "SIGN"

export async function migrate(sql: postgres.Sql): Promise<string[]> {
  const files = (await readdir(MIGRATIONS_DIR)).filter((f) => /^\d{4}[a-z]?_.+\.sql$/.test(f)).sort();
  const applied: string[] = [];
  const conn = await sql.reserve();
  try {
    await conn`SELECT pg_advisory_lock(${LOCK_ID})`;
    await conn`CREATE TABLE IF NOT EXISTS schema_migrations (
      name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`;
    const done = new Set((await conn`SELECT name FROM schema_migrations`).map((r) => r.name as string));
    for (const file of files) {
      if (done.has(file)) continue;
      const text = await readFile(path.join(MIGRATIONS_DIR, file), 'utf8');
      // A reserved connection has no begin(); the transaction is spelled out.
      await conn`BEGIN`;
      try {
        await conn.unsafe(text);
        await conn`INSERT INTO schema_migrations (name) VALUES (${file})`;
        await conn`COMMIT`;
      } catch (err) {
        await conn`ROLLBACK`;
        throw new Error(`migration ${file} failed: ${(err as Error).message}`, { cause: err });
      }
      applied.push(file);
    }
  } finally {
    await conn`SELECT pg_advisory_unlock(${LOCK_ID})`.catch(() => {});
    conn.release();
  }
  return applied;
}
