// Delivery: the relay that empties the outbox (docs/webhooks.md, "Delivery"). Due deliveries are claimed with
// FOR UPDATE SKIP LOCKED and a lease (several workers share the work; a crashed worker's claim lapses and the
// delivery is sent again), POSTed through the outbound guard, and each attempt is logged. At least once: the
// webhook-id is the event's id on every attempt, so a receiver deduplicates on it.
import { sql } from 'kysely';
import { DEFAULT_RETRY_SECONDS } from '../../config.ts';
import type { Db } from '../../db/connection.ts';
import type { WebhookAttemptRow, WebhookFormat } from '../../db/schema.ts';
import { newId } from '../ids.ts';
import type { Mailer } from '../mail/mailer.ts';
import { webhookDisabledMail } from '../mail/templates.ts';
import { guardedPost, type OutboundPolicy, OutboundRefused, type Resolve } from '../net/outbound.ts';
import { contextOf, type SecretBox } from '../secret-box.ts';
import { ConnectTokenError, type ConnectTokens } from './connect-oauth.ts';
import { forgetSubscribers } from './events.ts';
import { bodyOf, newSigningSecret, signingHeaders } from './signing.ts';

/** A Retry-After longer than this is cut to it. */
const MAX_RETRY_AFTER_SECONDS = 24 * 3600;

export interface DeliveryOptions {
  policy: OutboundPolicy;
  resolve: Resolve;
  timeoutMs: number;
  /** Waits after each failed attempt (config.webhookRetrySeconds); one attempt more than its length. */
  retrySeconds: readonly number[];
  /** An endpoint failing for this long is disabled and its organization's admins mailed. */
  disableAfterSeconds: number;
  /** Tokens for Connect configurations with includeOAuth. */
  tokens: ConnectTokens;
  /** Queues the mail to the admins when an endpoint is disabled (and hands it to SMTP after the commit). */
  mailer: Mailer;
  /** Links in that mail. */
  publicUrl: string;
  /** Opens the stored signing secrets (src/core/secret-box.ts). */
  box: SecretBox;
}

/** The wait before the next attempt: Retry-After when the receiver sent one, else the ladder, ±20% jitter. */
export function retryDelaySeconds(
  attempt: number,
  retryAfter: string | undefined,
  ladder: readonly number[] = DEFAULT_RETRY_SECONDS,
  now = Date.now(),
): number {
  if (retryAfter !== undefined) {
    const secs = /^\d+$/.test(retryAfter.trim())
      ? Number(retryAfter.trim())
      : (Date.parse(retryAfter) - now) / 1000;
    if (Number.isFinite(secs)) return Math.min(Math.max(Math.ceil(secs), 0), MAX_RETRY_AFTER_SECONDS);
  }
  const base = ladder[Math.min(attempt - 1, ladder.length - 1)]!;
  return base * (0.8 + Math.random() * 0.4);
}

export interface Claimed {
  id: string;
  attempts: number;
  endpoint_id: string;
  organization_id: string;
  url: string;
  format: WebhookFormat;
  /** An organization-level Connect configuration's own fields (includeHMAC, includeOAuth…), else null. */
  connect: Record<string, unknown> | null;
  /** An envelope's one-off endpoint (its webhook_url): signed with its account's default secret. */
  envelope_id: string | null;
  endpoint_account_id: string | null;
  event_id: string;
  type: string;
  occurred_at: Date;
  account_id: string | null;
  payload: Record<string, unknown>;
}

export interface ClaimOptions {
  /** How many deliveries to claim at most. */
  limit: number;
  /** How many deliveries of one endpoint may be in flight at once, all processes together. */
  perEndpoint: number;
  /** How long a claim holds (then another worker may send the delivery again). */
  leaseMs: number;
  /** Only these organizations' deliveries (config.webhookOrganizations); empty: all. */
  organizations?: readonly string[];
}

/** Endpoints looked at per claim, those whose oldest due delivery is oldest first. */
const ENDPOINTS_PER_CLAIM = 200;

/**
 * Claims due deliveries, each endpoint's oldest first, keeping at most `perEndpoint` of one endpoint in flight
 * across every process: a delivery in flight is one whose lease has not lapsed, and the endpoints being
 * claimed for are row-locked (SKIP LOCKED) for the claim, so two processes never both fill one endpoint's room.
 * A slow or dead receiver holds its own few leases and never the others' deliveries; and one endpoint's
 * backlog does not hide other endpoints' deliveries behind it: candidates are picked per endpoint, and a
 * claim takes every endpoint's oldest before any endpoint's second (round robin). A disabled
 * endpoint's deliveries wait (enabling it sends them), but its `webhook.test` events go out.
 */
export async function claimDue(db: Db, opts: ClaimOptions): Promise<Claimed[]> {
  const orgs = [...(opts.organizations ?? [])];
  return db.transaction().execute(async (trx) => {
    // A claim lost in a crash only leaves its deliveries unleased, to be claimed again: no WAL flush to wait for.
    await sql`SET LOCAL synchronous_commit = off`.execute(trx);
    // The endpoints with a due delivery, locked for this claim; another process claiming now skips them.
    const endpoints = (
      await sql<{ id: string }>`
        SELECT e.id FROM webhook_endpoints e
        CROSS JOIN LATERAL (
          SELECT d.next_attempt_at FROM webhook_deliveries d
          JOIN webhook_events ev ON ev.id = d.event_id
          WHERE d.endpoint_id = e.id AND d.status = 'pending' AND d.next_attempt_at <= now()
            AND (d.locked_until IS NULL OR d.locked_until < now())
            AND (e.enabled OR ev.type = 'webhook.test')
          ORDER BY d.next_attempt_at LIMIT 1
        ) oldest
        WHERE ${orgs.length === 0} OR e.organization_id = ANY(${orgs}::uuid[])
        ORDER BY oldest.next_attempt_at
        LIMIT ${ENDPOINTS_PER_CLAIM}
        FOR NO KEY UPDATE OF e SKIP LOCKED`.execute(trx)
    ).rows.map((r) => r.id);
    if (endpoints.length === 0) return [];
    // A new statement, so a new snapshot: it sees the leases other processes committed before our locks.
    return (
      await sql<Claimed>`
        WITH room AS (
          SELECT e.id, e.enabled, ${opts.perEndpoint}::int - (
            SELECT count(*) FROM webhook_deliveries d
            WHERE d.endpoint_id = e.id AND d.locked_until >= now()
          ) AS free
          FROM webhook_endpoints e WHERE e.id = ANY(${endpoints}::uuid[])
        ), candidates AS (
          SELECT c.id FROM room r
          CROSS JOIN LATERAL (
            SELECT d.id, d.next_attempt_at, row_number() OVER (ORDER BY d.next_attempt_at) AS n
            FROM webhook_deliveries d
            JOIN webhook_events ev ON ev.id = d.event_id
            WHERE d.endpoint_id = r.id AND d.status = 'pending' AND d.next_attempt_at <= now()
              AND (d.locked_until IS NULL OR d.locked_until < now())
              AND (r.enabled OR ev.type = 'webhook.test')
            ORDER BY d.next_attempt_at
            LIMIT GREATEST(r.free, 0)
          ) c
          -- Round robin: every endpoint's oldest before any endpoint's second.
          ORDER BY c.n, c.next_attempt_at
          LIMIT ${opts.limit}
        )
        UPDATE webhook_deliveries d SET locked_until = now() + ${`${opts.leaseMs} milliseconds`}::interval
        FROM candidates, webhook_endpoints e, webhook_events ev
        WHERE d.id = candidates.id AND e.id = d.endpoint_id AND ev.id = d.event_id
        RETURNING d.id, d.attempts, d.endpoint_id, e.organization_id, e.url, e.format, e.connect,
                  e.envelope_id, e.account_id AS endpoint_account_id,
                  ev.id AS event_id, ev.type, ev.occurred_at, ev.account_id, ev.payload`.execute(trx)
    ).rows;
  });
}

/**
 * The secrets a delivery is signed with, oldest first: the endpoint's own (those still signing), or, for an
 * organization-level Connect configuration, the organization's Connect HMAC secrets when it has includeHMAC
 * "true" (and none otherwise: DocuSign sends no signature then), or, for an envelope's webhook_url, its
 * account's default secret.
 */
async function signingSecrets(db: Db, box: SecretBox, d: Claimed, at: Date): Promise<string[]> {
  if (d.envelope_id && d.endpoint_account_id) {
    const account = d.endpoint_account_id;
    const context = contextOf('webhook_account_secrets', account);
    // The account's first envelope endpoint makes its secret, unseen until the account takes a new one
    // (docs/webhooks.md); made here, outside any transaction, because it is sealed.
    await db
      .insertInto('webhook_account_secrets')
      .values({
        account_id: account,
        organization_id: d.organization_id,
        secret: await box.seal(newSigningSecret(), context),
      })
      .onConflict((oc) => oc.column('account_id').doNothing())
      .execute();
    const rows = await db
      .selectFrom('webhook_account_secrets')
      .select('secret')
      .where('account_id', '=', account)
      .execute();
    return Promise.all(rows.map((s) => box.open(s.secret, context)));
  }
  if (d.connect) {
    if (d.connect.includeHMAC !== 'true') return [];
    const rows = await db
      .selectFrom('connect_hmac_secrets')
      .select(['id', 'secret'])
      .where('organization_id', '=', d.organization_id)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return Promise.all(rows.map((s) => box.open(s.secret, contextOf('connect_hmac_secrets', s.id))));
  }
  const rows = await db
    .selectFrom('webhook_secrets')
    .select(['id', 'secret'])
    .where('endpoint_id', '=', d.endpoint_id)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', at)]))
    .orderBy('created_at')
    .execute();
  return Promise.all(rows.map((s) => box.open(s.secret, contextOf('webhook_secrets', s.id))));
}

/** Sends one claimed delivery and records the attempt (and what it decides: delivered, retry, failed). */
export async function attemptDelivery(db: Db, d: Claimed, opts: DeliveryOptions): Promise<void> {
  const number = d.attempts + 1;
  const started = new Date();
  const secrets = await signingSecrets(db, opts.box, d, started);
  const event = { ...d, id: d.event_id, occurred_at: new Date(d.occurred_at) };
  const body = bodyOf(d.format, event, d.endpoint_id, number);
  const headers = signingHeaders(d.format, secrets, d.event_id, started, body);
  let status: number | null = null;
  let excerpt = '';
  let error: string | null = null;
  let retryAfter: string | undefined;
  try {
    if (d.connect?.includeOAuth === 'true') {
      headers.authorization = `Bearer ${await opts.tokens.token(db, d.organization_id)}`;
    }
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
        : err instanceof ConnectTokenError
          ? err.message
          : (err as Error).name === 'TimeoutError' || (err as Error).name === 'AbortError'
            ? `no answer within ${opts.timeoutMs} ms`
            : `${(err as { code?: string }).code ?? 'error'}: ${(err as Error).message}`;
  }
  const latency = Date.now() - started.getTime();
  const delivered = status !== null && status >= 200 && status < 300;
  // 410 Gone: the receiver says the endpoint is no more (Standard Webhooks); stop sending it anything.
  const gone = status === 410;
  const exhausted = number >= opts.retrySeconds.length + 1;
  const next =
    delivered || gone || exhausted
      ? null
      : new Date(Date.now() + retryDelaySeconds(number, retryAfter, opts.retrySeconds) * 1000);
  const mails: string[] = [];
  await db.transaction().execute(async (trx) => {
    // The record of an attempt does not wait for its WAL flush (one fsync per delivery bounded the relay at
    // the disk's commit rate; docs/benchmarks.md, "Webhooks"). A crash can lose only the last moments'
    // records: such a delivery is still pending under a lease that lapses, so it is sent again with the same
    // webhook-id, which at-least-once delivery allows.
    await sql`SET LOCAL synchronous_commit = off`.execute(trx);
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
    if (delivered) {
      // The run of failures, if any, is over (written only when there was one).
      await trx
        .updateTable('webhook_endpoints')
        .set({ failing_since: null })
        .where('id', '=', d.endpoint_id)
        .where('failing_since', 'is not', null)
        .execute();
    } else if (gone) {
      await disable(trx, d.endpoint_id, 'the receiver answered 410 Gone');
    } else {
      mails.push(...(await noteFailure(trx, d, started, error ?? `status ${status}`, opts)));
    }
  });
  opts.mailer.dispatch(mails);
}

/** Disables an enabled endpoint, saying why; returns its organization when it was enabled. */
async function disable(trx: Db, endpointId: string, reason: string): Promise<string | null> {
  const ep = await trx
    .updateTable('webhook_endpoints')
    .set({ enabled: false, disabled_reason: reason, updated_at: new Date() })
    .where('id', '=', endpointId)
    .where('enabled', '=', true)
    .returning('organization_id')
    .executeTakeFirst();
  if (!ep) return null;
  forgetSubscribers(ep.organization_id);
  return ep.organization_id;
}

/**
 * A failed attempt: starts the endpoint's run of failures, or, when it has lasted `disableAfterSeconds`
 * (three days: the whole retry ladder), disables the endpoint and mails the organization's owners and admins
 * (Standard Webhooks: persistent failure → notify and disable). Returns the mails to hand to SMTP.
 */
async function noteFailure(
  trx: Db,
  d: Claimed,
  at: Date,
  why: string,
  opts: DeliveryOptions,
): Promise<string[]> {
  // Written once per run of failures (not on every failed attempt: an outage fails thousands).
  await trx
    .updateTable('webhook_endpoints')
    .set({ failing_since: at })
    .where('id', '=', d.endpoint_id)
    .where('failing_since', 'is', null)
    .execute();
  const ep = await trx
    .selectFrom('webhook_endpoints')
    .select(['failing_since', 'enabled', 'url'])
    .where('id', '=', d.endpoint_id)
    .executeTakeFirst();
  if (!ep?.enabled || !ep.failing_since) return [];
  const since = new Date(ep.failing_since);
  if (at.getTime() - since.getTime() < opts.disableAfterSeconds * 1000) return [];
  const days = Math.round((opts.disableAfterSeconds / 86_400) * 10) / 10;
  const reason = `every attempt failed for ${days >= 1 ? `${days} days` : `${opts.disableAfterSeconds} s`} (since ${since.toISOString()}); last: ${why}`;
  const org = await disable(trx, d.endpoint_id, reason.slice(0, 1000));
  if (!org) return [];
  const [organization, admins] = await Promise.all([
    trx.selectFrom('organizations').select('name').where('id', '=', org).executeTakeFirst(),
    trx
      .selectFrom('users')
      .select('email')
      .where('organization_id', '=', org)
      .where('role', 'in', ['owner', 'admin'])
      .where('status', '=', 'active')
      .execute(),
  ]);
  const mail = webhookDisabledMail({
    organization: organization?.name ?? org,
    url: ep.url,
    failingSince: since,
    lastError: why.slice(0, 300),
    endpointsUrl: `${opts.publicUrl}/api/webhook_endpoints/${d.endpoint_id}`,
  });
  const ids: string[] = [];
  for (const a of admins) ids.push(await opts.mailer.queue(trx, org, a.email, mail));
  return ids;
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
