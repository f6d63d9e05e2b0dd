// The Ctx a DocuSign face hands the core services for a write, so that a retry with the same Idempotency-Key
// replays exactly the DocuSign-shaped response the client got (src/faces/idempotency.ts).
//
// /api's ctxOf(request) carries the idempotency hook that stores the core result, serialised, as the response,
// inside the effect's transaction. A DocuSign face never sends the core result as it is, so a write route
// never hands the core ctxOf(request); it uses one of these two:
//
//   translatingCtx(request, translate)  the route's write is ONE core transaction and its response is a
//                                       translation of that transaction's result: the translated body is
//                                       stored in the transaction, with the effect (a crash after the commit
//                                       still replays, never re-runs).
//   sentResponseCtx(request)            the route writes in several transactions (one per item of its body,
//                                       or several core calls), or its response is assembled after the write
//                                       (reads of other objects) or is no JSON value (an empty 200): no hook,
//                                       and the idempotency layer stores the response the route sends.
//
// Reads may use either, or ctxOf(request): without a mutation no hook runs.
import type { FastifyRequest } from 'fastify';
import type { Ctx } from '../../core/context.ts';
import { ctxOf } from '../ctx.ts';

/** The transaction a Ctx hook runs in. */
export type Trx = Parameters<NonNullable<Ctx['beforeCommit']>>[0];

/**
 * The Ctx for a route whose one core transaction returns what the route translates: with an Idempotency-Key,
 * `translate(result, trx)` (it may read in `trx`) is the body stored with the effect, and must equal the body
 * the route sends. The status stored is the route's (config.idempotency.status for a schemaless 201).
 * `alsoInTransaction`, when given, runs in the same transaction first, with or without a key (to record a
 * face-specific detail atomically with the effect).
 */
export function translatingCtx<R>(
  request: FastifyRequest,
  translate: (result: R, trx: Trx) => unknown,
  alsoInTransaction?: (result: R, trx: Trx) => Promise<void>,
): Ctx {
  const ctx = ctxOf(request);
  const store = ctx.beforeCommit;
  if (!store && !alsoInTransaction) return ctx;
  return {
    ...ctx,
    beforeCommit: async (trx, result) => {
      if (alsoInTransaction) await alsoInTransaction(result as R, trx);
      if (store) await store(trx, await translate(result as R, trx));
    },
  };
}

/**
 * The Ctx for a route that writes in more than one transaction (one per item of its body, or several core
 * calls), or whose response is not the translation of one transaction's result: without the idempotency hook,
 * which would store the first transaction's result as the response and then refuse the next transaction's
 * commit (idempotency_in_progress). The idempotency layer stores the response the route sends instead.
 */
export function sentResponseCtx(request: FastifyRequest): Ctx {
  const { principal, meta } = ctxOf(request);
  return { principal, meta };
}
