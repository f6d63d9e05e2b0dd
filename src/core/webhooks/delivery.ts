// Delivery: the relay that empties the outbox (docs/webhooks.md, "Delivery"). Due deliveries are claimed with
// FOR UPDATE SKIP LOCKED and a lease (several workers share the work; a crashed worker's claim lapses and the
// delivery is sent again), POSTed through the outbound guard, and each attempt is logged. At least once: the
// webhook-id is the event's id on every attempt, so a receiver deduplicates on it.
import { sql } from 'kysely';
import type { Db } from '../../db/connection.ts';
import type { WebhookAttemptRow, WebhookFormat } from '../../db/schema.ts';
import { newId } from '../ids.ts';
import { guardedPost, type OutboundPolicy, OutboundRefused, type Resolve } from '../net/outbound.ts';
import { forgetSubscribers } from './events.ts';
import { bodyOf, signingHeaders } from './signing.ts';

/**
 * Seconds to wait after each failed attempt: Atlas's ladder (1 min, 5 min, 30 min, 2 h), then Standard
 * Webhooks' example (5 h, 10 h, 14 h, 20 h, 24 h): about three days, then the delivery has failed.
 */
export const RETRY_LADDER_SECONDS = [60, 300, 1800, 7200, 18_000, 36_000, 50_400, 72_000, 86_400] as const;
export const MAX_ATTEMPTS = RETRY_LADDER_SECONDS.length + 1;
/** A Retry-After longer than this is cut to it. */
const MAX_RETRY_AFTER_SECONDS = 24 * 3600;

export interface DeliveryOptions {
  policy: OutboundPolicy;
  resolve: Resolve;
  timeoutMs: number;
}

/** The wait before the next attempt: Retry-After when the receiver sent one, else the ladder, ±20% jitter. */
export function retryDelaySeconds(attempt: number, retryAfter: string | undefined, now = Date.now()): number {
  if (retryAfter !== undefined) {
    const secs = /^\d+$/.test(retryAfter.trim())
      ? Number(retryAfter.trim())
      : (Date.parse(retryAfter) - now) / 1000;
    if (Number.isFinite(secs)) return Math.min(Math.max(Math.ceil(secs), 0), MAX_RETRY_AFTER_SECONDS);
  }
  const base = RETRY_LADDER_SECONDS[Math.min(attempt - 1, RETRY_LADDER_SECONDS.length - 1)]!;
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

export interface Claimed {
  id: string;
  attempts: number;
  endpoint_id: string;
  url: string;
  format: WebhookFormat;
  event_id: string;
  type: string;
  occurred_at: Date;
  account_id: string | null;
  payload: Record<string, unknown>;
}

export interface ClaimOptions {
  /** How many deliveries to claim at most. */
  limit: number;
  /** How many deliveries of one endpoint may be in flight at once (in this process). */
  perEndpoint: number;
  /** How many of each endpoint's deliveries this process already has in flight. */
  busy: ReadonlyMap<string, number>;
  /** How long a claim holds (then another worker may send the delivery again). */
  leaseMs: number;
}

/**
 * Claims due deliveries, the oldest first, at most `perEndpoint` in flight per endpoint, so a slow or dead
 * receiver holds a few of this process's slots and never the others' deliveries. A disabled endpoint's
 * deliveries wait (enabling it sends them), but its `webhook.test` events go out.
 */
export async function claimDue(db: Db, opts: ClaimOptions): Promise<Claimed[]> {
  // Sent as text and cast: a string bound to a jsonb parameter would arrive as a JSON string.
  const busy = JSON.stringify(Object.fromEntries(opts.busy));
  return (
    await sql<Claimed>`
      WITH candidates AS (
        SELECT d.id, row_number() OVER (PARTITION BY d.endpoint_id ORDER BY d.next_attempt_at) AS n,
               ${opts.perEndpoint} - COALESCE((${busy}::text::jsonb ->> d.endpoint_id::text)::int, 0) AS room
        FROM (
          SELECT d.id, d.endpoint_id, d.next_attempt_at FROM webhook_deliveries d
          JOIN webhook_endpoints e ON e.id = d.endpoint_id
          JOIN webhook_events ev ON ev.id = d.event_id
          WHERE d.status = 'pending' AND d.next_attempt_at <= now()
            AND (d.locked_until IS NULL OR d.locked_until < now())
            AND (e.enabled OR ev.type = 'webhook.test')
          ORDER BY d.next_attempt_at
          LIMIT 1000
        ) d
      ), due AS (
        SELECT d.id FROM webhook_deliveries d JOIN candidates c ON c.id = d.id
        WHERE c.n <= c.room
        ORDER BY d.next_attempt_at
        LIMIT ${opts.limit}
        FOR UPDATE OF d SKIP LOCKED
      )
      UPDATE webhook_deliveries d SET locked_until = now() + ${`${opts.leaseMs} milliseconds`}::interval
      FROM due, webhook_endpoints e, webhook_events ev
      WHERE d.id = due.id AND e.id = d.endpoint_id AND ev.id = d.event_id
      RETURNING d.id, d.attempts, d.endpoint_id, e.url, e.format, ev.id AS event_id, ev.type, ev.occurred_at,
                ev.account_id, ev.payload`.execute(db)
  ).rows;
}

/** Sends one claimed delivery and records the attempt (and what it decides: delivered, retry, failed). */
export async function attemptDelivery(db: Db, d: Claimed, opts: DeliveryOptions): Promise<void> {
  const number = d.attempts + 1;
  const started = new Date();
  const secrets = (
    await db
      .selectFrom('webhook_secrets')
      .select('secret')
      .where('endpoint_id', '=', d.endpoint_id)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', started)]))
      .orderBy('created_at')
      .execute()
  ).map((s) => s.secret);
  const event = { ...d, id: d.event_id, occurred_at: new Date(d.occurred_at) };
  const body = bodyOf(d.format, event, d.endpoint_id, number);
  const headers = signingHeaders(d.format, secrets, d.event_id, started, body);
  let status: number | null = null;
  let excerpt = '';
  let error: string | null = null;
  let retryAfter: string | undefined;
  try {
    const answer = await guardedPost(
      new URL(d.url),
      headers,
      body,
      opts.policy,
      opts.resolve,
      opts.timeoutMs,
    );
    status = answer.status;
    excerpt = answer.excerpt;
    retryAfter = answer.retryAfter;
  } catch (err) {
    error =
      err instanceof OutboundRefused
        ? `refused by the outbound guard: ${err.message}`
        : (err as Error).name === 'TimeoutError' || (err as Error).name === 'AbortError'
          ? `no answer within ${opts.timeoutMs} ms`
          : `${(err as { code?: string }).code ?? 'error'}: ${(err as Error).message}`;
  }
  const latency = Date.now() - started.getTime();
  const delivered = status !== null && status >= 200 && status < 300;
  // 410 Gone: the receiver says the endpoint is no more (Standard Webhooks); stop sending it anything.
  const gone = status === 410;
  const exhausted = number >= MAX_ATTEMPTS;
  const next =
    delivered || gone || exhausted
      ? null
      : new Date(Date.now() + retryDelaySeconds(number, retryAfter) * 1000);
  await db.transaction().execute(async (trx) => {
    await trx
      .insertInto('webhook_attempts')
      .values({
        id: newId(),
        delivery_id: d.id,
        attempt: number,
        started_at: started,
        status_code: status,
        latency_ms: latency,
        response_excerpt: excerpt,
        error,
        next_retry_at: next,
      })
      .execute();
    await trx
      .updateTable('webhook_deliveries')
      .set({
        attempts: number,
        status: delivered ? 'delivered' : next === null ? 'failed' : 'pending',
        next_attempt_at: next,
        locked_until: null,
        updated_at: new Date(),
      })
      .where('id', '=', d.id)
      .execute();
    if (gone) {
      const ep = await trx
        .updateTable('webhook_endpoints')
        .set({ enabled: false, disabled_reason: 'the receiver answered 410 Gone', updated_at: new Date() })
        .where('id', '=', d.endpoint_id)
        .returning('organization_id')
        .executeTakeFirst();
      if (ep) forgetSubscribers(ep.organization_id);
    }
  });
}

/** One attempt as the delivery log shows it. */
export type AttemptView = Omit<WebhookAttemptRow, 'id' | 'delivery_id'>;

export interface DeliveryView {
  id: string;
  event_id: string;
  event_type: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: AttemptView[];
  next_attempt_at: Date | null;
  created_at: Date;
}

/** An endpoint's deliveries, newest first, with their attempts (the caller has checked the endpoint). */
export async function deliveryLog(db: Db, endpointId: string, limit: number): Promise<DeliveryView[]> {
  const rows = await db
    .selectFrom('webhook_deliveries as d')
    .innerJoin('webhook_events as e', 'e.id', 'd.event_id')
    .select(['d.id', 'd.event_id', 'e.type as event_type', 'd.status', 'd.next_attempt_at', 'd.created_at'])
    .where('d.endpoint_id', '=', endpointId)
    .orderBy('d.id', 'desc')
    .limit(limit)
    .execute();
  if (rows.length === 0) return [];
  const attempts = await db
    .selectFrom('webhook_attempts')
    .select([
      'delivery_id',
      'attempt',
      'started_at',
      'status_code',
      'latency_ms',
      'response_excerpt',
      'error',
      'next_retry_at',
    ])
    .where(
      'delivery_id',
      'in',
      rows.map((r) => r.id),
    )
    .orderBy('attempt')
    .execute();
  return rows.map((r) => ({
    ...r,
    attempts: attempts.filter((a) => a.delivery_id === r.id).map(({ delivery_id: _, ...a }) => a),
  }));
}
