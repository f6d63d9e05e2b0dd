// Batches with per-item outcomes inside one transaction. DocuSign's batch operations (eSignature's
// createGroups, deleteBrands, _delete users…, the Admin API's updateUser) report each item's outcome: an item
// that fails says why and the others apply. Signet runs such a batch as ONE transaction with a savepoint per
// item, so the batch commits once, with the response the idempotency layer stores (Ctx.beforeCommit), and a
// retry replays the whole first answer instead of applying any item again (docs/idempotency-and-rate-limits.md).
import { sql } from 'kysely';
import type { Db } from '../db/connection.ts';
import type { AuditBuffer } from './audit/writer.ts';
import { AppError } from './errors.ts';

/** One item's outcome: its result, or the error that refused it (nothing of the item was kept). */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: AppError };

/**
 * An item the face could not read (a missing name, a malformed id) is already a refused outcome; the rest
 * run. Runs `parse` and keeps its refusal as the item's outcome (a bug still throws).
 */
export function outcomeOf<T>(parse: () => T): Outcome<T> {
  try {
    return { ok: true, value: parse() };
  } catch (err) {
    if (!(err instanceof AppError) || err.status >= 500) throw err;
    return { ok: false, error: err };
  }
}

/**
 * Runs `run` for each item, in order, inside `trx` (a mutate()'s transaction, whose audit buffer is `audit`),
 * each behind a savepoint: an item refused with a 4xx AppError is rolled back, with the audit events it
 * recorded, and the next item runs; an item already refused (a parse error) is reported as it is. Anything
 * else (a bug, a deadlock) aborts the whole batch, which mutate() runs again or fails as a whole.
 */
export async function eachItem<I, T>(
  trx: Db,
  audit: AuditBuffer,
  items: readonly Outcome<I>[],
  run: (item: I) => Promise<T>,
): Promise<Outcome<T>[]> {
  const outcomes: Outcome<T>[] = [];
  for (const item of items) {
    if (!item.ok) {
      outcomes.push(item);
      continue;
    }
    // A failed statement aborts the whole transaction in PostgreSQL; rolling back to the savepoint undoes
    // this item's change and lets the next item run. The audit events the change recorded (into this
    // transaction's buffer, appended at commit) are forgotten with it.
    const recorded = audit.size;
    await sql`SAVEPOINT batch_item`.execute(trx);
    try {
      const value = await run(item.value);
      await sql`RELEASE SAVEPOINT batch_item`.execute(trx);
      outcomes.push({ ok: true, value });
    } catch (err) {
      if (!(err instanceof AppError) || err.status >= 500) throw err;
      // ROLLBACK TO keeps the savepoint open; released, the next statements run in the transaction itself.
      await sql`ROLLBACK TO SAVEPOINT batch_item`.execute(trx);
      await sql`RELEASE SAVEPOINT batch_item`.execute(trx);
      audit.truncate(recorded);
      outcomes.push({ ok: false, error: err });
    }
  }
  return outcomes;
}
