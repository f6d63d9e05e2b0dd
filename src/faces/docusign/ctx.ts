// The Ctx a DocuSign face hands the core services for a write, so that a retry with the same Idempotency-Key
// replays exactly the DocuSign-shaped response the client got (src/faces/idempotency.ts).
//
// /api's ctxOf(request) carries the idempotency hook that stores the core result, serialised, as the response,
// inside the effect's transaction. A DocuSign face never sends the core result as it is, so a write route
// never hands the core ctxOf(request); every write is ONE core transaction (a batch too: one savepoint per
// item, src/core/batch.ts) and uses one of these two:
//
//   translatingCtx(request, translate)  the response is a translation of the transaction's result: the
//                                       translated body is stored in the transaction, with the effect (a
//                                       crash after the commit still replays, never re-runs).
//   emptyResponseCtx(request)           the response is an empty 200 (eSignature's updateSettings,
//                                       deleteBrand…): the empty response is stored with the effect.
//
// Reads use readCtx(request), which has no hook (nothing to store, and no write can store by mistake).
import type { FastifyRequest } from 'fastify';
import type { Ctx } from '../../core/context.ts';
import { ctxOf } from '../ctx.ts';
import { NO_BODY } from '../idempotency.ts';

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

/** The Ctx for a write the route answers with an empty body: the empty response is stored with the effect. */
export function emptyResponseCtx(request: FastifyRequest): Ctx {
  return translatingCtx(request, () => NO_BODY);
}

/** The Ctx for reads: without the idempotency hook. */
export function readCtx(request: FastifyRequest): Ctx {
  const { principal, meta } = ctxOf(request);
  return { principal, meta };
}
