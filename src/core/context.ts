// The unit of work every mutation runs in: one transaction that holds the change and its audit events.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Db } from '../db/connection.ts';
import { AuditBuffer, appendAudit, type RequestMeta } from './audit/writer.ts';
import { AppError, fromDatabaseError, isRetryableConflict } from './errors.ts';
import type { Principal } from './principal.ts';

export type { RequestMeta } from './audit/writer.ts';

/** Who is asking, and the request facts the audit log records. */
export interface Ctx {
  principal: Principal;
  meta: RequestMeta;
  /**
   * Runs inside mutate()'s transaction after the service function and its audit events, just before
   * commit, with the function's result. The idempotency layer (src/faces/idempotency.ts) stores the
   * response here, so a request's effect and its stored response commit together or not at all.
   */
  beforeCommit?: (trx: Db, result: unknown) => Promise<void>;
}

/**
 * The audit buffer of each transaction a mutate() owns. A mutate that joins one records its events there, so
 * they are appended once, at the end: the organization's chain tip (audit_heads) is locked only in the last
 * step before commit, never while the transaction goes on to lock other rows. Holding the tip early is what
 * turned concurrent writes into deadlocks (one transaction holding the tip and waiting for a group row, the
 * other holding that row and waiting for the tip).
 */
const openUnits = new WeakMap<Db, AuditBuffer>();

/**
 * What runs once the transaction a mutate() owns has committed (afterCommit): handing the mail it queued to
 * SMTP, which reads the mail's row and so must not run before the row is there. An attempt that is rolled
 * back and run again drops the hooks it registered.
 */
const commitHooks = new WeakMap<Db, (() => void)[]>();

/**
 * Runs `hook` once `trx`, a transaction a mutate() owns (a joined mutate's is its owner's), has committed;
 * never if it rolls back. Outside a transaction, at once. A transaction opened elsewhere cannot tell when it
 * commits: registering there is a bug.
 */
export function afterCommit(trx: Db, hook: () => void): void {
  if (!trx.isTransaction) {
    hook();
    return;
  }
  const hooks = commitHooks.get(trx);
  if (!hooks) throw new Error('afterCommit needs a transaction opened by mutate()');
  hooks.push(hook);
}

/** How often a transaction PostgreSQL aborted for a deadlock or a serialization failure is run again. */
const ATTEMPTS = 4;

/**
 * Runs `fn` in a transaction, then appends the audit events it recorded, then commits. Database errors with
 * a domain meaning become AppErrors (`hints` maps constraint names to the error to show); the rest are bugs.
 *
 * A transaction PostgreSQL aborts to break a deadlock (40P01) or a serialization failure (40001) changed
 * nothing, so it is run again from the start, a few times with a short random pause; if it still cannot
 * commit, the caller gets 503 `busy` (safe to retry) rather than a 500. `fn` must therefore keep its effects
 * inside `trx` (mail goes through the outbox, jobs are enqueued in the transaction).
 */
export async function mutate<T>(
  db: Db,
  ctx: Ctx,
  fn: (trx: Db, audit: AuditBuffer) => Promise<T>,
  hints: Record<string, AppError> = {},
): Promise<T> {
  const outer = db.isTransaction ? openUnits.get(db) : undefined;
  try {
    if (outer) return await fn(db, outer);
    // Inside a transaction opened elsewhere (not by mutate): join it and append the events now.
    if (db.isTransaction) return await unit(db, ctx, fn, false);
    for (let attempt = 1; ; attempt++) {
      try {
        const hooks: (() => void)[] = [];
        const result = await db.transaction().execute((trx) => {
          commitHooks.set(trx, hooks);
          return unit(trx, ctx, fn, true);
        });
        for (const hook of hooks) hook();
        return result;
      } catch (err) {
        if (!isRetryableConflict(err) || attempt >= ATTEMPTS) throw err;
        await sleep(Math.floor(Math.random() * 20 * attempt) + 5);
      }
    }
  } catch (err) {
    if (err instanceof AppError) throw err;
    // Inside a joined transaction, a deadlock aborts the whole transaction: leave it as it is, so the mutate
    // that owns the transaction sees it and runs everything again.
    if (db.isTransaction && isRetryableConflict(err)) throw err;
    return fromDatabaseError(err, hints);
  }
}

async function unit<T>(
  trx: Db,
  ctx: Ctx,
  fn: (trx: Db, audit: AuditBuffer) => Promise<T>,
  owner: boolean,
): Promise<T> {
  const audit = new AuditBuffer();
  if (owner) openUnits.set(trx, audit);
  const result = await fn(trx, audit);
  await appendAudit(trx, ctx.principal, ctx.meta, audit.drain());
  // Only the transaction's owner runs the hook: a joined mutate's result is not the request's.
  if (owner && ctx.beforeCommit) await ctx.beforeCommit(trx, result);
  return result;
}
