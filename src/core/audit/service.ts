// Reading the audit log: filtered keyset pages, a streamed export, and chain verification.
import type { Db } from '../../db/connection.ts';
import type { AuditEventRow } from '../../db/schema.ts';
import type { Ctx } from '../context.ts';
import { DEFAULT_LIMIT, decodeCursor, type Page, toPage } from '../pagination.ts';
import type { Principal } from '../principal.ts';
import { chainedFields, eventHash, GENESIS_HASH } from './chain.ts';

export interface AuditFilter {
  actor_id?: string;
  action?: string;
  target_id?: string;
  target_type?: string;
  since?: string;
  until?: string;
}

/** Newest first (`desc`, the default of the list) or in chain order (`asc`, the export's order). */
export type AuditOrder = 'asc' | 'desc';

export type AuditEventView = AuditEventRow;
/** Matches no account: a member without one reads nothing. */
const NO_ACCOUNT = '00000000-0000-0000-0000-000000000000';
const view = (row: AuditEventRow): AuditEventView => row;

export interface VerifyResult {
  ok: boolean;
  organizations: number;
  events: number;
  broken?: { organization_id: string; seq: number; event_id: string | null; reason: string };
}

export class AuditService {
  constructor(private readonly db: Db) {}

  // Ids are time-ordered (UUIDv7), so the id is the keyset: `after` is the last id of the previous page, and
  // the next page continues past it in the list's own direction.
  private query(principal: Principal, f: AuditFilter, after: string | undefined, order: AuditOrder = 'asc') {
    let q = this.db
      .selectFrom('audit_events')
      .selectAll()
      .where('organization_id', '=', principal.organizationId)
      .orderBy('id', order);
    // Reads are scoped like writes: a member reads the events of its own account only; events of the
    // organization itself (no account: users' identities, keys revoked org-wide…) are for owners and admins.
    if (principal.role === 'member') q = q.where('account_id', '=', principal.accountId ?? NO_ACCOUNT);
    if (after) q = q.where('id', order === 'asc' ? '>' : '<', after);
    if (f.actor_id) q = q.where('actor_id', '=', f.actor_id);
    if (f.action)
      q = f.action.endsWith('.*')
        ? q.where('action', 'like', `${f.action.slice(0, -1)}%`)
        : q.where('action', '=', f.action);
    if (f.target_id) q = q.where('target_id', '=', f.target_id);
    if (f.target_type) q = q.where('target_type', '=', f.target_type);
    if (f.since) q = q.where('occurred_at', '>=', new Date(f.since));
    if (f.until) q = q.where('occurred_at', '<', new Date(f.until));
    return q;
  }

  /** A page of events, newest first unless `order` is `asc`; a cursor continues in the order it was made in. */
  async list(
    ctx: Ctx,
    f: AuditFilter & { limit?: number; cursor?: string; order?: AuditOrder },
  ): Promise<Page<AuditEventView>> {
    const limit = f.limit ?? DEFAULT_LIMIT;
    const rows = await this.query(ctx.principal, f, decodeCursor(f.cursor), f.order ?? 'desc')
      .limit(limit + 1)
      .execute();
    const page = toPage(rows, limit, (r) => r.id);
    return { data: page.data.map(view), next_cursor: page.next_cursor };
  }

  /** Every matching event in order, fetched in bounded batches so an export never holds the log in memory. */
  async *export(ctx: Ctx, f: AuditFilter): AsyncGenerator<AuditEventView> {
    let after: string | undefined;
    for (;;) {
      const rows = await this.query(ctx.principal, f, after).limit(1000).execute();
      for (const row of rows) yield view(row);
      if (rows.length < 1000) return;
      after = rows[rows.length - 1]!.id;
    }
  }

  /** Recomputes every organization's chain (or one's) and names the first event that does not fit. */
  async verify(organizationId?: string): Promise<VerifyResult> {
    let orgQuery = this.db.selectFrom('audit_heads').selectAll().orderBy('organization_id');
    if (organizationId) orgQuery = orgQuery.where('organization_id', '=', organizationId);
    const heads = await orgQuery.execute();
    let events = 0;
    for (const head of heads) {
      let prev = GENESIS_HASH;
      let expectedSeq = 1;
      let lastSeq = 0;
      for (;;) {
        const rows = await this.db
          .selectFrom('audit_events')
          .selectAll()
          .where('organization_id', '=', head.organization_id)
          .where('seq', '>=', expectedSeq)
          .orderBy('seq')
          .limit(2000)
          .execute();
        for (const row of rows) {
          const seq = row.seq;
          const broken = (reason: string): VerifyResult => ({
            ok: false,
            organizations: heads.length,
            events,
            broken: { organization_id: head.organization_id, seq, event_id: row.id, reason },
          });
          if (seq !== expectedSeq)
            return broken(`event ${expectedSeq} is missing (next stored event is ${seq})`);
          if (row.prev_hash !== prev) return broken('prev_hash does not match the previous event');
          if (eventHash(prev, chainedFields(row)) !== row.hash)
            return broken('content does not match its hash (edited)');
          prev = row.hash;
          lastSeq = seq;
          expectedSeq += 1;
          events += 1;
        }
        if (rows.length < 2000) break;
      }
      if (lastSeq !== head.last_seq || prev !== head.last_hash) {
        return {
          ok: false,
          organizations: heads.length,
          events,
          broken: {
            organization_id: head.organization_id,
            seq: lastSeq + 1,
            event_id: null,
            reason: `chain ends at event ${lastSeq} but its head records event ${head.last_seq} (events deleted)`,
          },
        };
      }
    }
    return { ok: true, organizations: heads.length, events };
  }
}
