// Audit events are collected during a mutation and appended to the organization's chain just before the
// transaction commits, in that same transaction: the change and its evidence commit together or not at all.
// The webhook events the change makes are derived from them here too, so the outbox commits with them.
import type { Db } from '../../db/connection.ts';
import { newId } from '../ids.ts';
import type { Principal } from '../principal.ts';
import { recordWebhookEvents } from '../webhooks/events.ts';
import { type ChainedFields, eventHash, GENESIS_HASH } from './chain.ts';
import { diffChanges } from './changes.ts';

export interface RequestMeta {
  ip?: string | null;
  userAgent?: string | null;
  requestId?: string | null;
}

export interface AuditInput {
  action: string;
  targetType: string;
  targetId: string | null;
  accountId?: string | null;
  before?: Record<string, unknown> | null;
  after?: Record<string, unknown> | null;
  /** Extra facts recorded as-is (e.g. a reason, a count); never secrets. */
  extra?: Record<string, unknown>;
  /**
   * For events written after the fact, several requests' at once (the token endpoint's, src/core/oauth/
   * audit.ts): who acted, from where and when, instead of appendAudit's principal, meta and now.
   */
  recorded?: { principal: Principal; meta: RequestMeta; occurredAt: string };
}

export class AuditBuffer {
  private readonly events: AuditInput[] = [];
  record(event: AuditInput): void {
    this.events.push(event);
  }
  get size(): number {
    return this.events.length;
  }
  drain(): AuditInput[] {
    return this.events.splice(0);
  }
  /** Forgets the events recorded after the first `size`: the change they describe was rolled back. */
  truncate(size: number): void {
    this.events.length = Math.min(size, this.events.length);
  }
}

export async function appendAudit(
  trx: Db,
  principal: Principal,
  meta: RequestMeta,
  inputs: AuditInput[],
): Promise<void> {
  if (inputs.length === 0) return;
  const orgId = principal.organizationId;
  // Lock this organization's chain tip (creating it on first use); concurrent writers queue here.
  await trx
    .insertInto('audit_heads')
    .values({ organization_id: orgId, last_seq: 0, last_hash: GENESIS_HASH })
    .onConflict((oc) => oc.column('organization_id').doNothing())
    .execute();
  const head = await trx
    .selectFrom('audit_heads')
    .select(['last_seq', 'last_hash'])
    .where('organization_id', '=', orgId)
    .forUpdate()
    .executeTakeFirstOrThrow();

  let seq = head.last_seq;
  let prev = head.last_hash;
  const occurredAt = new Date().toISOString();
  const rows = inputs.map((input) => {
    seq += 1;
    const actor = input.recorded?.principal ?? principal;
    const from = input.recorded?.meta ?? meta;
    const fields: ChainedFields = {
      id: newId(),
      organization_id: orgId,
      seq: seq.toString(),
      occurred_at: input.recorded?.occurredAt ?? occurredAt,
      actor_type: actor.kind,
      actor_id: actor.id,
      actor_label: actor.label,
      action: input.action,
      target_type: input.targetType,
      target_id: input.targetId,
      account_id: input.accountId ?? null,
      changes: {
        ...diffChanges(input.before ?? null, input.after ?? null),
        ...(input.extra ? { _meta: input.extra } : {}),
      },
      ip: from.ip ?? null,
      user_agent: from.userAgent ?? null,
      request_id: from.requestId ?? null,
    };
    const hash = eventHash(prev, fields);
    const row = { ...fields, seq, prev_hash: prev, hash };
    prev = hash;
    return row;
  });
  // Insert in chunks: PostgreSQL caps a statement at 65,535 parameters.
  for (let i = 0; i < rows.length; i += 1000) {
    await trx
      .insertInto('audit_events')
      .values(rows.slice(i, i + 1000))
      .execute();
  }
  await trx
    .updateTable('audit_heads')
    .set({ last_seq: seq, last_hash: prev })
    .where('organization_id', '=', orgId)
    .execute();
  // The webhook outbox, from the same events, in the same transaction (src/core/webhooks/events.ts).
  await recordWebhookEvents(trx, orgId, inputs, occurredAt);
}
