// Credits (docs/platform.md, "Credits"): each organization's pool, kept as a balance row and an append-only
// ledger of every change (grants, signup credits, sends, refunds) with who made it and why. A send costs one
// credit from the organization that pays for it (Atlas's billing modes: the platform, or the connected account
// itself); a void before anyone signed gives it back. Both are written in the envelope's own transaction, and
// PostgreSQL keeps them exactly once (a unique index per envelope and kind) and the balance at or above zero
// (a CHECK), whatever the code above does.
import type { Db } from '../../db/connection.ts';
import type { CreditEntryRow, CreditKind } from '../../db/schema.ts';
import type { AuditBuffer } from '../audit/writer.ts';
import { type Ctx, mutate } from '../context.ts';
import { AppError, invalidField, notFound } from '../errors.ts';
import { newId } from '../ids.ts';
import { DEFAULT_LIMIT, decodeCursor, type Page, toPage } from '../pagination.ts';
import type { Principal } from '../principal.ts';

/** The most one grant may add (a typo of a few zeros should not mint a fortune). */
export const MAX_GRANT = 1_000_000;

export interface CreditEntryView {
  id: string;
  organization_id: string;
  kind: CreditKind;
  amount: number;
  balance_after: number;
  envelope_id: string | null;
  envelope_organization_id: string | null;
  actor: { type: string; id: string | null; label: string | null };
  reason: string;
  created_at: Date;
}

export function entryView(row: CreditEntryRow): CreditEntryView {
  return {
    id: row.id,
    organization_id: row.organization_id,
    kind: row.kind,
    amount: row.amount,
    balance_after: row.balance_after,
    envelope_id: row.envelope_id,
    envelope_organization_id: row.envelope_organization_id,
    actor: { type: row.actor_type, id: row.actor_id, label: row.actor_label },
    reason: row.reason,
    created_at: row.created_at,
  };
}

export interface Posting {
  organizationId: string;
  kind: CreditKind;
  amount: number;
  actor: Pick<Principal, 'kind' | 'id' | 'label'>;
  reason?: string;
  envelopeId?: string;
  envelopeOrganizationId?: string;
}

/**
 * Changes an organization's balance by `amount` and records the entry, in the caller's transaction. A debit
 * is one conditional UPDATE: concurrent debits queue on the balance row, and one that would take the balance
 * below zero changes nothing and throws 402 insufficient_credits. Returns the entry (with the balance after).
 */
export async function postCredit(trx: Db, p: Posting): Promise<CreditEntryRow> {
  let row = await trx
    .updateTable('credit_balances')
    .set((eb) => ({ balance: eb('balance', '+', p.amount), updated_at: new Date() }))
    .where('organization_id', '=', p.organizationId)
    .where((eb) => eb(eb('balance', '+', p.amount), '>=', 0))
    .returning('balance')
    .executeTakeFirst();
  if (!row && p.amount > 0) {
    // The organization's first credit: its balance row starts here (or was made by a concurrent grant).
    row = await trx
      .insertInto('credit_balances')
      .values({ organization_id: p.organizationId, balance: p.amount })
      .onConflict((oc) =>
        oc.column('organization_id').doUpdateSet((eb) => ({
          balance: eb('credit_balances.balance', '+', p.amount),
          updated_at: new Date(),
        })),
      )
      .returning('balance')
      .executeTakeFirstOrThrow();
  }
  if (!row) throw insufficientCredits(p.organizationId, await balanceOf(trx, p.organizationId));
  return trx
    .insertInto('credit_entries')
    .values({
      id: newId(),
      organization_id: p.organizationId,
      kind: p.kind,
      amount: p.amount,
      balance_after: row.balance,
      envelope_id: p.envelopeId ?? null,
      envelope_organization_id: p.envelopeOrganizationId ?? null,
      actor_type: p.actor.kind,
      actor_id: p.actor.id,
      actor_label: p.actor.label,
      reason: p.reason ?? '',
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function balanceOf(db: Db, organizationId: string): Promise<number> {
  const row = await db
    .selectFrom('credit_balances')
    .select('balance')
    .where('organization_id', '=', organizationId)
    .executeTakeFirst();
  return row?.balance ?? 0;
}

export function insufficientCredits(payerOrganizationId: string, balance: number): AppError {
  return new AppError(
    'insufficient_credits',
    `organization ${payerOrganizationId} has ${balance} credits and sending an envelope needs 1; ` +
      'drafts stay free. Credits are granted by the platform (POST /api/credits/grants) or by the operator (signet credits grant)',
    [{ message: 'no credit left', organization_id: payerOrganizationId, balance, needed: 1 }],
  );
}

/** A grant's answer: the ledger entry and the pool's balance after it. */
export type GrantView = CreditEntryView & { balance: number };

export function grantView(entry: CreditEntryRow): GrantView {
  return { ...entryView(entry), balance: entry.balance_after };
}

/**
 * The rule for every grant (operator, platform, a connected account's initial credits): a whole number from 1
 * to MAX_GRANT, and a reason, which stays in the ledger. Returns the reason trimmed.
 */
export function checkGrant(amount: number, reason: string, field = 'amount'): string {
  if (!Number.isInteger(amount) || amount < 1 || amount > MAX_GRANT) {
    throw invalidField(field, `must be a whole number from 1 to ${MAX_GRANT}`);
  }
  const why = reason.trim();
  if (why === '') throw invalidField('reason', 'say why the credits are granted (it stays in the ledger)');
  if (why.length > 500) throw invalidField('reason', 'is at most 500 characters');
  return why;
}

/**
 * Posts a grant (checked with checkGrant) and records `credits.granted` in `audit`, in the caller's
 * transaction: who (the principal) and why (the reason) are in both the ledger row and the audit event.
 */
export async function grantIn(
  trx: Db,
  audit: AuditBuffer,
  actor: Pick<Principal, 'kind' | 'id' | 'label'>,
  grant: { organizationId: string; amount: number; reason: string },
): Promise<CreditEntryRow> {
  const entry = await postCredit(trx, {
    organizationId: grant.organizationId,
    kind: 'grant',
    amount: grant.amount,
    actor,
    reason: grant.reason,
  });
  audit.record({
    action: 'credits.granted',
    targetType: 'organization',
    targetId: grant.organizationId,
    extra: {
      amount: grant.amount,
      reason: grant.reason,
      balance_after: entry.balance_after,
      entry_id: entry.id,
    },
  });
  return entry;
}

export interface CreditsView {
  organization_id: string;
  balance: number;
  data: CreditEntryView[];
  next_cursor: string | null;
}

export class CreditsService {
  constructor(private readonly db: Db) {}

  /**
   * The principal's organization's balance and a page of its ledger, newest first. The pool is the
   * organization's, so everyone who may read credits sees its balance; but a member (who reads credits through
   * send_envelopes in one account) sees only the entries of its own account's envelopes, never what other
   * accounts sent, nor the grants and their reasons, which are the administrators' business.
   */
  async list(ctx: Ctx, opts: { limit?: number; cursor?: string } = {}): Promise<CreditsView> {
    const { principal } = ctx;
    const organizationId = principal.organizationId;
    const limit = opts.limit ?? DEFAULT_LIMIT;
    const after = decodeCursor(opts.cursor);
    let q = this.db
      .selectFrom('credit_entries')
      .selectAll()
      .where('organization_id', '=', organizationId)
      .orderBy('id', 'desc')
      .limit(limit + 1);
    if (after) q = q.where('id', '<', after);
    if (principal.role === 'member') {
      // A member always acts in one account; without one it sees no entry rather than every account's.
      const accountIds = principal.accountId ? [principal.accountId] : [];
      q = q.where('envelope_id', 'in', (eb) =>
        eb
          .selectFrom('envelopes')
          .select('envelopes.id')
          .where('envelopes.organization_id', '=', organizationId)
          .where((w) => w('envelopes.account_id', '=', w.fn.any(w.val(accountIds)))),
      );
    }
    const [balance, rows] = await Promise.all([balanceOf(this.db, organizationId), q.execute()]);
    const page: Page<CreditEntryRow> = toPage(rows, limit, (r) => r.id);
    return {
      organization_id: organizationId,
      balance,
      data: page.data.map(entryView),
      next_cursor: page.next_cursor,
    };
  }

  /**
   * The server operator's grant (`signet credits grant`): credits to any organization, audited in that
   * organization's chain. A platform's grants to its connected accounts go through PlatformService.grantCredits,
   * which checks the account is one of its own first; both post through grantIn.
   */
  async grant(
    ctx: Ctx,
    input: { organization_id: string; amount: number; reason: string },
  ): Promise<GrantView> {
    const reason = checkGrant(input.amount, input.reason);
    return mutate(this.db, ctx, async (trx, audit) => {
      const org = await trx
        .selectFrom('organizations')
        .select('id')
        .where('id', '=', input.organization_id)
        .executeTakeFirst();
      if (!org) throw notFound('organization', input.organization_id);
      const entry = await grantIn(trx, audit, ctx.principal, {
        organizationId: org.id,
        amount: input.amount,
        reason,
      });
      return grantView(entry);
    });
  }
}
