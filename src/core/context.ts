// The unit of work every mutation runs in: one transaction that holds the change and its audit events.
import type { Db } from '../db/connection.ts';
import { AuditBuffer, appendAudit, type RequestMeta } from './audit/writer.ts';
import { AppError, fromDatabaseError } from './errors.ts';
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
 * Runs `fn` in a transaction, then appends the audit events it recorded, then commits. Database errors with
 * a domain meaning become AppErrors (`hints` maps constraint names to the error to show); the rest are bugs.
 */
export async function mutate<T>(
  db: Db,
  ctx: Ctx,
  fn: (trx: Db, audit: AuditBuffer) => Promise<T>,
  hints: Record<string, AppError> = {},
): Promise<T> {
  const unit = async (trx: Db): Promise<T> => {
    const audit = new AuditBuffer();
    const result = await fn(trx, audit);
    await appendAudit(trx, ctx.principal, ctx.meta, audit.drain());
    // Only the transaction's owner runs the hook: a joined mutate's result is not the request's.
    if (ctx.beforeCommit && !joined) await ctx.beforeCommit(trx, result);
    return result;
  };
  const joined = db.isTransaction;
  try {
    // Inside a caller's transaction, join it rather than nest (Kysely has no nested transactions).
    return joined ? await unit(db) : await db.transaction().execute(unit);
  } catch (err) {
    if (err instanceof AppError) throw err;
    return fromDatabaseError(err, hints);
  }
}
