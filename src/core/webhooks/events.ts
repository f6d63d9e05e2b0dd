// Webhook events come from the audit log's events: every change already records one in its transaction
// (src/core/audit/writer.ts), so deriving the webhook event there writes it in that same transaction — the
// outbox of DESIGN.md — without any service knowing about webhooks. The table below is the public contract:
// an audit action that is not in it (logins, sessions, integrations...) makes no webhook event, and an audit
// action renamed inside Signet keeps its public name here.
import type { Db } from '../../db/connection.ts';
import type { AuditInput } from '../audit/writer.ts';
import { newId } from '../ids.ts';

/** Audit action → public event type (docs/webhooks.md lists them). */
export const EVENT_TYPES_BY_ACTION: Readonly<Record<string, string>> = {
  'user.created': 'user.created',
  'user.updated': 'user.updated',
  'user.deactivated': 'user.deactivated',
  'user.reactivated': 'user.reactivated',
  'user.redacted': 'user.deleted',
  'membership.created': 'membership.created',
  // A closed membership opened again is, for a receiver, a member joining the account.
  'membership.reopened': 'membership.created',
  'membership.updated': 'membership.updated',
  'membership.closed': 'membership.closed',
  'membership.activated': 'membership.activated',
  'group.created': 'group.created',
  'group.updated': 'group.updated',
  'group.deleted': 'group.deleted',
  'group.member_added': 'group.member_added',
  'group.member_removed': 'group.member_removed',
  'permission_profile.created': 'permission_profile.created',
  'permission_profile.updated': 'permission_profile.updated',
  'permission_profile.deleted': 'permission_profile.deleted',
  'api_key.created': 'api_key.created',
  'api_key.rotated': 'api_key.rotated',
  'api_key.revoked': 'api_key.revoked',
  'api_key.revoked_all': 'api_key.revoked_all',
  'invite.created': 'invite.created',
  'invite.accepted': 'invite.accepted',
  'invite.revoked': 'invite.revoked',
  'account.created': 'account.created',
  'account.updated': 'account.updated',
  'account_settings.updated': 'settings.updated',
  'brand.created': 'brand.created',
  'brand.updated': 'brand.updated',
  'brand.deleted': 'brand.deleted',
  'organization.updated': 'organization.updated',
  'import.created': 'import.created',
  'import.canceled': 'import.canceled',
  'export.created': 'export.created',
  // Envelopes, under Atlas's event names (A-wh); a reminder makes no event.
  'envelope.created': 'envelope.created',
  'envelope.sent': 'envelope.sent',
  'envelope.viewed': 'envelope.viewed',
  'envelope.signed': 'envelope.signed',
  'envelope.completed': 'envelope.completed',
  'envelope.declined': 'envelope.declined',
  'envelope.voided': 'envelope.voided',
  'envelope.expired': 'envelope.expired',
};

/**
 * Events no audit action makes: a job's outcome, which a worker decides, not a request (recordOutcomeEvents).
 * Their payload is the thin one: the object and its ids (read the import or export for its counts).
 */
export const OUTCOME_EVENT_TYPES = [
  'import.completed',
  'import.failed',
  'export.completed',
  'export.failed',
] as const;
export type OutcomeEventType = (typeof OUTCOME_EVENT_TYPES)[number];

/** Every public event type, sorted; an endpoint subscribes to some of them or to '*'. */
export const EVENT_TYPES: readonly string[] = [
  ...new Set([...Object.values(EVENT_TYPES_BY_ACTION), ...OUTCOME_EVENT_TYPES]),
].sort();

/** What the outbox needs to know of an enabled endpoint to decide whether an event is owed to it. */
export interface Subscriber {
  id: string;
  /** NULL: an organization-level Connect configuration, for the accounts of account_ids (NULL: every one). */
  account_id: string | null;
  account_ids: string[] | null;
  events: string[];
  organization_events: boolean;
}

/**
 * An organization's enabled endpoints, cached for a moment per process: the check runs in every transaction
 * that records audit events (a bulk import's batches included), and nearly every organization has none. A
 * process that changes an endpoint forgets its organization's entry at once (forgetSubscribers); another
 * process sees the change within SUBSCRIBERS_TTL_MS, so an endpoint registered on one server may miss the
 * events other servers commit in its first two seconds (docs/webhooks.md).
 */
export const SUBSCRIBERS_TTL_MS = 2000;
const cache = new Map<string, { until: number; subscribers: Subscriber[] }>();

export function forgetSubscribers(organizationId: string): void {
  cache.delete(organizationId);
}

async function subscribersOf(trx: Db, organizationId: string): Promise<Subscriber[]> {
  const now = Date.now();
  const hit = cache.get(organizationId);
  if (hit && hit.until > now) return hit.subscribers;
  const subscribers = await trx
    .selectFrom('webhook_endpoints')
    .select(['id', 'account_id', 'account_ids', 'events', 'organization_events'])
    .where('organization_id', '=', organizationId)
    .where('enabled', '=', true)
    // Envelopes' own endpoints (webhook_url) are found by envelope (envelopeEndpoints), not here.
    .where('envelope_id', 'is', null)
    .execute();
  // Bounded: an entry per organization that wrote in the last moments, dropped when stale.
  if (cache.size > 10_000) cache.clear();
  cache.set(organizationId, { until: now + SUBSCRIBERS_TTL_MS, subscribers });
  return subscribers;
}

/** Whether an event of this type, in this account (null: organization-level), is owed to the endpoint. */
export function subscribes(s: Subscriber, type: string, accountId: string | null): boolean {
  if (!(s.events.includes('*') || s.events.includes(type))) return false;
  if (accountId === null) return s.organization_events;
  if (s.account_id === null) return s.account_ids === null || s.account_ids.includes(accountId);
  return s.account_id === accountId;
}

const SECRET_FIELD = /password|secret|token|hash|key$/i;

/**
 * The thin payload: what changed and its ids, never a value (a receiver reads the object through the API,
 * where its access is checked and audited). Field names that could only name a secret are left out too.
 */
export function thinPayload(input: AuditInput): Record<string, unknown> {
  const before = input.before ?? {};
  const after = input.after ?? {};
  const changed: string[] = [];
  if (input.before && input.after) {
    for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
      if (key === 'updated_at' || SECRET_FIELD.test(key)) continue;
      if (JSON.stringify(before[key]) !== JSON.stringify(after[key])) changed.push(key);
    }
    changed.sort();
  }
  return {
    object: input.targetType,
    id: input.targetId,
    account_id: input.accountId ?? null,
    ...(input.before && input.after ? { changed_fields: changed } : {}),
  };
}

/**
 * Writes the webhook events these audit events make, and one pending delivery per endpoint each is owed to,
 * in the caller's transaction. Nothing is written, and nothing read past the cache, when no endpoint of the
 * organization wants any of them.
 */
export async function recordWebhookEvents(
  trx: Db,
  organizationId: string,
  inputs: readonly AuditInput[],
  occurredAt: string,
): Promise<void> {
  if (!inputs.some((i) => EVENT_TYPES_BY_ACTION[i.action] !== undefined)) return;
  const made: NewEvent[] = [];
  for (const input of inputs) {
    const type = EVENT_TYPES_BY_ACTION[input.action];
    if (type !== undefined) {
      made.push({
        type,
        accountId: input.accountId ?? null,
        envelopeId: input.targetType === 'envelope' ? input.targetId : null,
        payload: () => thinPayload(input),
      });
    }
  }
  await writeEvents(trx, organizationId, made, occurredAt);
}

/**
 * Writes the outcome events of imports or exports (completed, failed) in the caller's transaction, the one
 * that records the outcome: `rows` are the jobs whose status it changed.
 */
export async function recordOutcomeEvents(
  trx: Db,
  type: OutcomeEventType,
  rows: readonly { id: string; organization_id: string; account_id: string | null }[],
): Promise<void> {
  const object = type.slice(0, type.indexOf('.'));
  const occurredAt = new Date().toISOString();
  for (const organizationId of new Set(rows.map((r) => r.organization_id))) {
    const made = rows
      .filter((r) => r.organization_id === organizationId)
      .map((r) => ({
        type,
        accountId: r.account_id,
        payload: () => ({ object, id: r.id, account_id: r.account_id }),
      }));
    await writeEvents(trx, organizationId, made, occurredAt);
  }
}

interface NewEvent {
  type: string;
  accountId: string | null;
  /** The envelope an envelope event is about: its webhook_url, if it has one, is owed the event too. */
  envelopeId?: string | null;
  /** Built only for events some endpoint wants. */
  payload: () => Record<string, unknown>;
}

/** The outbox rows of these events and one pending delivery per endpoint owed each (none if none wants it). */
async function writeEvents(
  trx: Db,
  organizationId: string,
  made: readonly NewEvent[],
  occurredAt: string,
): Promise<void> {
  if (made.length === 0) return;
  const subscribers = await subscribersOf(trx, organizationId);
  const envelopeIds = [...new Set(made.flatMap((e) => (e.envelopeId ? [e.envelopeId] : [])))];
  const hooks =
    envelopeIds.length === 0
      ? new Map<string, string>()
      : await envelopeEndpoints(trx, organizationId, envelopeIds);
  if (subscribers.length === 0 && hooks.size === 0) return;
  const events: {
    id: string;
    organization_id: string;
    account_id: string | null;
    type: string;
    occurred_at: string;
    payload: Record<string, unknown>;
  }[] = [];
  const deliveries: { id: string; endpoint_id: string; event_id: string; next_attempt_at: Date }[] = [];
  const now = new Date();
  for (const e of made) {
    const owed = subscribers.filter((s) => subscribes(s, e.type, e.accountId)).map((s) => s.id);
    const hook = e.envelopeId ? hooks.get(e.envelopeId) : undefined;
    if (hook) owed.push(hook);
    if (owed.length === 0) continue;
    const id = newId();
    events.push({
      id,
      organization_id: organizationId,
      account_id: e.accountId,
      type: e.type,
      occurred_at: occurredAt,
      payload: e.payload(),
    });
    for (const endpointId of owed)
      deliveries.push({ id: newId(), endpoint_id: endpointId, event_id: id, next_attempt_at: now });
  }
  // In chunks: PostgreSQL caps a statement at 65,535 parameters.
  for (let i = 0; i < events.length; i += 1000) {
    await trx
      .insertInto('webhook_events')
      .values(events.slice(i, i + 1000))
      .execute();
  }
  for (let i = 0; i < deliveries.length; i += 1000) {
    await trx
      .insertInto('webhook_deliveries')
      .values(deliveries.slice(i, i + 1000))
      .execute();
  }
}

/**
 * The one-off endpoints of these envelopes' webhook_url (Atlas: the URL given when the envelope was created
 * hears that envelope's events), by envelope id, enabled ones only. An envelope's endpoint is made with its
 * first event (envelope.created, in the envelope's own transaction), in the atlas format, signed with its
 * account's default secret (made by the first delivery if the account has none): so the envelope service needs to know
 * nothing of webhooks, and the deliveries go through the same outbox, relay, retries, delivery log and
 * outbound guard as every endpoint's. The URL was checked when the envelope was made, and is checked again by
 * the guard at each attempt.
 */
async function envelopeEndpoints(
  trx: Db,
  organizationId: string,
  envelopeIds: readonly string[],
): Promise<Map<string, string>> {
  const envelopes = await trx
    .selectFrom('envelopes')
    .select(['id', 'account_id', 'webhook_url'])
    .where('organization_id', '=', organizationId)
    .where('id', 'in', envelopeIds)
    .where('webhook_url', 'is not', null)
    .execute();
  if (envelopes.length === 0) return new Map();
  const made = await trx
    .selectFrom('webhook_endpoints')
    .select(['id', 'envelope_id', 'enabled'])
    .where(
      'envelope_id',
      'in',
      envelopes.map((e) => e.id),
    )
    .execute();
  const missing = envelopes.filter((e) => !made.some((m) => m.envelope_id === e.id));
  if (missing.length > 0) {
    const rows = await trx
      .insertInto('webhook_endpoints')
      .values(
        missing.map((e) => ({
          id: newId(),
          organization_id: organizationId,
          account_id: e.account_id,
          envelope_id: e.id,
          url: e.webhook_url!,
          description: `webhook_url of envelope ${e.id}`,
          format: 'atlas' as const,
          events: ['*'],
        })),
      )
      // Envelope changes lock the envelope row, so two of its events are never written at once; should they
      // be, the second finds the first's endpoint rather than failing.
      .onConflict((oc) => oc.column('envelope_id').where('envelope_id', 'is not', null).doNothing())
      .returning(['id', 'envelope_id', 'enabled'])
      .execute();
    made.push(...rows);
    if (rows.length < missing.length) {
      const raced = missing.filter((e) => !rows.some((r) => r.envelope_id === e.id)).map((e) => e.id);
      made.push(
        ...(await trx
          .selectFrom('webhook_endpoints')
          .select(['id', 'envelope_id', 'enabled'])
          .where('envelope_id', 'in', raced)
          .execute()),
      );
    }
  }
  return new Map(made.filter((m) => m.enabled).map((m) => [m.envelope_id!, m.id]));
}
