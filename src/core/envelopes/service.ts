// Envelopes (docs/envelopes.md), in Atlas's [A] shape: a PDF, parties who sign in order, metadata. An
// envelope belongs to an account of an organization (a connected account is an organization of its own);
// members reach only their own account's. Drafts are free; a send costs one credit from the organization that
// pays (payerOf: the platform or the connected account itself), debited exactly once in the send's
// transaction; a void before anyone signed refunds it. Every change writes its audit event (and so its webhook
// outbox row, src/core/webhooks/events.ts) and its entry in the envelope's hash-chained history, in one
// transaction with the change.
import type { Db } from '../../db/connection.ts';
import type {
  EnvelopeEventRow,
  EnvelopePartyRow,
  EnvelopeRow,
  EnvelopeStatus,
  PartyRole,
} from '../../db/schema.ts';
import type { AuditBuffer } from '../audit/writer.ts';
import { type Ctx, mutate } from '../context.ts';
import { postCredit } from '../credits/ledger.ts';
import { AppError, invalidField, notFound } from '../errors.ts';
import { isUuid, newId } from '../ids.ts';
import {
  checkUrlShape,
  guardedGet,
  type OutboundPolicy,
  OutboundRefused,
  type Resolve,
} from '../net/outbound.ts';
import { DEFAULT_LIMIT, decodeCursor, decodeIntCursor, type Page, toPage } from '../pagination.ts';
import { assertConnectedActive } from '../platform/billing.ts';
import { requireAccountAccess } from '../principal.ts';
import { accountInBody } from '../refs.ts';
import { actorOf, appendHistory, type HistoryEventView, type HistoryInput, historyView } from './history.ts';
import { envelopeParties } from './parties.ts';
import { checkPdf } from './pdf.ts';

export const ENVELOPE_STATUSES: readonly EnvelopeStatus[] = [
  'draft',
  'sent',
  'completed',
  'declined',
  'voided',
  'expired',
];
export const MAX_PARTIES = 50;
/** metadata is the caller's own: kept as given, within this many bytes of JSON. */
export const MAX_METADATA_BYTES = 8 * 1024;
/** An envelope sent without `expires_at` expires this long after its send. */
export const DEFAULT_EXPIRY_DAYS = 30;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export interface PartyInput {
  email: string;
  name: string;
  role?: PartyRole;
  order?: number;
}

/** Where the PDF comes from: the bytes (multipart `file`), base64 (`document`), or a URL (`document_url`). */
export type DocumentSource =
  | { kind: 'bytes'; bytes: Buffer; filename?: string }
  | { kind: 'base64'; data: string; filename?: string }
  | { kind: 'url'; url: string; filename?: string };

export interface EnvelopeInput {
  account_id?: string;
  title?: string;
  message?: string;
  document: DocumentSource;
  parties: PartyInput[];
  metadata?: Record<string, unknown>;
  webhook_url?: string;
  expires_at?: string;
}

export interface PartyView {
  id: string;
  email: string;
  name: string;
  role: PartyRole;
  order: number;
  status: EnvelopePartyRow['status'];
  viewed_at: Date | null;
  signed_at: Date | null;
  declined_at: Date | null;
}

export interface EnvelopeView {
  envelope_id: string;
  id: string;
  organization_id: string;
  account_id: string;
  status: EnvelopeStatus;
  title: string;
  message: string;
  external_id: string | null;
  metadata: Record<string, unknown>;
  webhook_url: string | null;
  /** Atlas's field detection: Signet places no fields, so the envelope is ready at once. */
  fields_status: 'ready';
  parties: PartyView[];
  signed_count: number;
  total: number;
  document: {
    filename: string;
    size_bytes: number;
    page_count: number;
    sha256: string;
    signed_sha256: string | null;
  };
  review_url: string;
  created_by: { type: string; id: string | null; label: string | null };
  payer_organization_id: string | null;
  reminder_count: number;
  last_reminded_at: Date | null;
  void_reason: string | null;
  decline_reason: string | null;
  expires_at: Date | null;
  sent_at: Date | null;
  completed_at: Date | null;
  declined_at: Date | null;
  voided_at: Date | null;
  expired_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export interface EnvelopeStatusView {
  envelope_id: string;
  status: EnvelopeStatus;
  signed_count: number;
  total: number;
  next_signer_email: string | null;
  sign_url: string | null;
}

export interface EnvelopeFilter {
  status?: EnvelopeStatus;
  external_id?: string;
  updated_since?: string;
  account_id?: string;
}

/** One list row: the envelope without its parties and document, which a list does not read. */
export type EnvelopeSummary = Omit<EnvelopeView, 'parties' | 'document' | 'signed_count' | 'total'>;

export interface EnvelopesOptions {
  publicUrl: string;
  maxBytes: number;
  outbound: OutboundPolicy;
  resolve: Resolve;
  fetchTimeoutMs: number;
  /**
   * The signing link of a party whose turn it is (src/core/signing): status answers it as `sign_url` to
   * the sender, who may hand it over. Absent: no link is shown.
   */
  signUrl?: (envelope: { id: string; expires_at: Date | null }, partyId: string) => Promise<string>;
  /**
   * Mails a party its signing link, in the caller's transaction (src/core/signing/service.ts, startTurn):
   * the first signer when the envelope is sent, the party whose turn it is on a reminder.
   */
  startTurn?: (
    trx: Db,
    envelope: EnvelopeRow,
    party: EnvelopePartyRow,
    opts?: { reminder?: boolean },
  ) => Promise<void>;
  /**
   * The PDF check and the credit posting, src/core/envelopes/pdf.ts and src/core/credits/ledger.ts unless
   * given: only bench/envelopes-bare-server.ts gives others (no-ops), to measure what the two cost a send.
   */
  checkPdf?: typeof checkPdf;
  postCredit?: typeof postCredit;
}

/** An envelope without its parties and document: a list row (and the start of a view, and of an export line). */
export function summary(row: EnvelopeRow, publicUrl: string): EnvelopeSummary {
  return {
    envelope_id: row.id,
    id: row.id,
    organization_id: row.organization_id,
    account_id: row.account_id,
    status: row.status,
    title: row.title,
    message: row.message,
    external_id: row.external_id,
    metadata: row.metadata,
    webhook_url: row.webhook_url,
    fields_status: 'ready',
    review_url: `${publicUrl}/envelopes/${row.id}`,
    created_by: { type: row.created_by_type, id: row.created_by_id, label: row.created_by_label },
    payer_organization_id: row.payer_organization_id,
    reminder_count: row.reminder_count,
    last_reminded_at: row.last_reminded_at,
    void_reason: row.void_reason,
    decline_reason: row.decline_reason,
    expires_at: row.expires_at,
    sent_at: row.sent_at,
    completed_at: row.completed_at,
    declined_at: row.declined_at,
    voided_at: row.voided_at,
    expired_at: row.expired_at,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

export function partyView(p: EnvelopePartyRow): PartyView {
  return {
    id: p.id,
    email: p.email,
    name: p.name,
    role: p.role,
    order: p.signing_order,
    status: p.status,
    viewed_at: p.viewed_at,
    signed_at: p.signed_at,
    declined_at: p.declined_at,
  };
}

/** Signers signed, signers in all (cc parties never sign). */
export function signingCounts(parties: readonly Pick<EnvelopePartyRow, 'role' | 'status'>[]): {
  signed_count: number;
  total: number;
} {
  const signers = parties.filter((p) => p.role === 'signer');
  return { signed_count: signers.filter((p) => p.status === 'signed').length, total: signers.length };
}

function cleanParties(parties: PartyInput[]): Required<PartyInput>[] {
  if (!Array.isArray(parties) || parties.length === 0) {
    throw invalidField('parties', 'needs at least one party {email, name, role, order}');
  }
  if (parties.length > MAX_PARTIES) throw invalidField('parties', `at most ${MAX_PARTIES} parties`);
  const out = parties.map((p, i) => {
    const field = `parties[${i}]`;
    const email = String(p.email ?? '').trim();
    const name = String(p.name ?? '').trim();
    if (!EMAIL.test(email) || email.length > 320)
      throw invalidField(`${field}.email`, 'is not an email address');
    if (name === '' || name.length > 200) throw invalidField(`${field}.name`, 'needs 1 to 200 characters');
    const role = p.role ?? 'signer';
    if (role !== 'signer' && role !== 'cc') throw invalidField(`${field}.role`, 'is "signer" or "cc"');
    const order = p.order ?? i + 1;
    if (!Number.isInteger(order) || order < 1 || order > 1000) {
      throw invalidField(`${field}.order`, 'is a whole number from 1 to 1000');
    }
    return { email, name, role, order };
  });
  // Signing is sequential (Atlas A-seq): each signer has a turn of its own.
  const orders = out.filter((p) => p.role === 'signer').map((p) => p.order);
  if (new Set(orders).size !== orders.length) {
    throw invalidField(
      'parties',
      'two signers have the same order; signing is sequential, give each its own',
    );
  }
  if (orders.length === 0) throw invalidField('parties', 'needs at least one party with role "signer"');
  return out;
}

function cleanMetadata(metadata: Record<string, unknown> | undefined): {
  metadata: Record<string, unknown>;
  externalId: string | null;
} {
  if (metadata === undefined) return { metadata: {}, externalId: null };
  if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) {
    throw invalidField('metadata', 'is a JSON object');
  }
  if (Buffer.byteLength(JSON.stringify(metadata)) > MAX_METADATA_BYTES) {
    throw invalidField('metadata', `is at most ${MAX_METADATA_BYTES} bytes of JSON`);
  }
  const ext = metadata.external_id;
  if (ext !== undefined && ext !== null && (typeof ext !== 'string' || ext.length < 1 || ext.length > 200)) {
    throw invalidField('metadata.external_id', 'is a string of 1 to 200 characters');
  }
  return { metadata, externalId: typeof ext === 'string' ? ext : null };
}

function titleOf(input: EnvelopeInput): string {
  const title = (input.title ?? '').trim();
  if (title.length > 200) throw invalidField('title', 'is at most 200 characters');
  if (title) return title;
  const fromFile = (input.document.filename ?? '').replace(/\.pdf$/i, '').trim();
  return fromFile.slice(0, 200) || 'Envelope';
}

function filenameOf(source: DocumentSource): string {
  let name = source.filename?.trim();
  if (!name && source.kind === 'url') {
    try {
      name = decodeURIComponent(new URL(source.url).pathname.split('/').pop() ?? '');
    } catch {
      name = '';
    }
  }
  name = (name ?? '').replace(/[\\/\r\n"]/g, '_').slice(0, 255);
  return name || 'document.pdf';
}

function stateError(envelope: EnvelopeRow, action: string, allowed: string): AppError {
  return new AppError(
    'invalid_envelope_state',
    `envelope ${envelope.id} is ${envelope.status}; ${action} needs an envelope that is ${allowed}`,
    [{ message: 'wrong status', status: envelope.status, allowed }],
  );
}

export class EnvelopesService {
  private readonly checkPdf: typeof checkPdf;
  private readonly postCredit: typeof postCredit;

  constructor(
    private readonly db: Db,
    private readonly options: EnvelopesOptions,
  ) {
    this.checkPdf = options.checkPdf ?? checkPdf;
    this.postCredit = options.postCredit ?? postCredit;
  }

  /** The document's bytes from whichever source, fetched (document_url) through the outbound guard. */
  private async documentBytes(source: DocumentSource): Promise<Buffer> {
    const max = this.options.maxBytes;
    if (source.kind === 'bytes') return source.bytes;
    if (source.kind === 'base64') {
      const data = source.data.replace(/^data:application\/pdf;base64,/, '').replace(/\s+/g, '');
      if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(data)) throw invalidField('document', 'is not base64');
      return Buffer.from(data, 'base64');
    }
    const url = new URL(checkUrlShape(source.url, this.options.outbound, 'document_url'));
    let answer: Awaited<ReturnType<typeof guardedGet>>;
    try {
      answer = await guardedGet(
        url,
        this.options.outbound,
        this.options.resolve,
        this.options.fetchTimeoutMs,
        max,
      );
    } catch (err) {
      if (err instanceof OutboundRefused) throw invalidField('document_url', err.message);
      throw invalidField(
        'document_url',
        `could not be fetched (${(err as { code?: string }).code ?? (err as Error).message})`,
      );
    }
    if (answer.status !== 200) {
      throw invalidField('document_url', `answered HTTP ${answer.status}; it must answer 200 with the PDF`);
    }
    return answer.body;
  }

  async create(ctx: Ctx, input: EnvelopeInput): Promise<EnvelopeView> {
    const accountId = input.account_id ?? ctx.principal.accountId;
    if (!accountId) {
      throw invalidField(
        'account_id',
        'name the account the envelope belongs to (this credential has none of its own)',
      );
    }
    if (!isUuid(accountId)) throw invalidField('account_id', 'is not an id');
    const parties = cleanParties(input.parties);
    const { metadata, externalId } = cleanMetadata(input.metadata);
    const title = titleOf(input);
    const message = (input.message ?? '').trim();
    if (message.length > 2000) throw invalidField('message', 'is at most 2000 characters');
    const webhookUrl =
      input.webhook_url === undefined
        ? null
        : checkUrlShape(input.webhook_url, this.options.outbound, 'webhook_url');
    let expiresAt: Date | null = null;
    if (input.expires_at !== undefined) {
      expiresAt = new Date(input.expires_at);
      if (Number.isNaN(expiresAt.getTime()) || expiresAt.getTime() <= Date.now()) {
        throw invalidField('expires_at', 'is an ISO 8601 time in the future');
      }
    }
    const filename = filenameOf(input.document);
    const pdf = await this.checkPdf(await this.documentBytes(input.document), this.options.maxBytes);
    return mutate(this.db, ctx, async (trx, audit) => {
      await accountInBody(ctx, trx, accountId);
      const id = newId();
      const organizationId = ctx.principal.organizationId;
      const envelope = await trx
        .insertInto('envelopes')
        .values({
          id,
          organization_id: organizationId,
          account_id: accountId,
          title,
          message,
          external_id: externalId,
          metadata,
          webhook_url: webhookUrl,
          expires_at: expiresAt,
          created_by_type: ctx.principal.kind,
          created_by_id: ctx.principal.id,
          created_by_label: ctx.principal.label,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      await trx
        .insertInto('envelope_parties')
        .values(
          parties.map((p) => ({
            id: newId(),
            organization_id: organizationId,
            envelope_id: id,
            email: p.email,
            name: p.name,
            role: p.role,
            signing_order: p.order,
          })),
        )
        .execute();
      await trx
        .insertInto('envelope_documents')
        .values({
          id: newId(),
          organization_id: organizationId,
          envelope_id: id,
          kind: 'original',
          filename,
          size_bytes: pdf.bytes.length,
          page_count: pdf.pageCount,
          sha256: pdf.sha256,
          data: pdf.bytes,
        })
        .execute();
      await this.record(ctx, trx, audit, envelope, 'envelope.created', {
        document_sha256: pdf.sha256,
        size_bytes: pdf.bytes.length,
        page_count: pdf.pageCount,
        parties: parties.length,
      });
      return this.view(trx, envelope);
    });
  }

  /** Audit event (and so webhook outbox row) plus history entry for a change to `envelope`. */
  private async record(
    ctx: Ctx,
    trx: Db,
    audit: AuditBuffer,
    envelope: EnvelopeRow,
    action: string,
    payload: Record<string, unknown> = {},
    extraHistory: HistoryInput[] = [],
  ): Promise<void> {
    audit.record({
      action,
      targetType: 'envelope',
      targetId: envelope.id,
      accountId: envelope.account_id,
      extra: { status: envelope.status, ...payload },
    });
    await appendHistory(trx, envelope, [
      { type: action, actor: actorOf(ctx.principal), payload, meta: ctx.meta },
      ...extraHistory,
    ]);
  }

  /** The envelope row, of the principal's organization and reachable by it; locked when `lock`. */
  private async load(ctx: Ctx, db: Db, id: string, lock = false): Promise<EnvelopeRow> {
    if (!isUuid(id)) throw notFound('envelope', id);
    let q = db
      .selectFrom('envelopes')
      .selectAll()
      .where('id', '=', id)
      .where('organization_id', '=', ctx.principal.organizationId);
    if (lock) q = q.forUpdate();
    const row = await q.executeTakeFirst();
    // Another account's envelope, for a member confined to its own, is as missing as another organization's.
    if (!row || (ctx.principal.role === 'member' && row.account_id !== ctx.principal.accountId)) {
      throw notFound('envelope', id);
    }
    return row;
  }

  private async view(db: Db, row: EnvelopeRow): Promise<EnvelopeView> {
    const [parties, docs] = await Promise.all([
      envelopeParties(db, row.id),
      db
        .selectFrom('envelope_documents')
        .select(['kind', 'filename', 'size_bytes', 'page_count', 'sha256'])
        .where('envelope_id', '=', row.id)
        .execute(),
    ]);
    const original = docs.find((d) => d.kind === 'original');
    const signed = docs.find((d) => d.kind === 'signed');
    if (!original) throw new Error(`envelope ${row.id} has no document`);
    return {
      ...summary(row, this.options.publicUrl),
      parties: parties.map(partyView),
      ...signingCounts(parties),
      document: {
        filename: original.filename,
        size_bytes: original.size_bytes,
        page_count: original.page_count,
        sha256: original.sha256,
        signed_sha256: signed?.sha256 ?? null,
      },
    };
  }

  async get(ctx: Ctx, id: string): Promise<EnvelopeView> {
    return this.view(this.db, await this.load(ctx, this.db, id));
  }

  async status(ctx: Ctx, id: string): Promise<EnvelopeStatusView> {
    const row = await this.load(ctx, this.db, id);
    const parties = await envelopeParties(this.db, id);
    const next = row.status === 'sent' ? parties.find((p) => p.status === 'pending') : undefined;
    return {
      envelope_id: row.id,
      status: row.status,
      ...signingCounts(parties),
      next_signer_email: next?.email ?? null,
      sign_url: next && this.options.signUrl ? await this.options.signUrl(row, next.id) : null,
    };
  }

  /** A page of envelopes, newest first: the organization's (owners, admins) or the member's account's. */
  async list(
    ctx: Ctx,
    f: EnvelopeFilter & { limit?: number; cursor?: string },
  ): Promise<Page<EnvelopeSummary>> {
    const limit = f.limit ?? DEFAULT_LIMIT;
    const after = decodeCursor(f.cursor);
    let q = this.db
      .selectFrom('envelopes')
      .selectAll()
      .where('organization_id', '=', ctx.principal.organizationId)
      .orderBy('id', 'desc')
      .limit(limit + 1);
    if (f.account_id !== undefined) {
      requireAccountAccess(ctx.principal, f.account_id);
      q = q.where('account_id', '=', f.account_id);
    } else if (ctx.principal.role === 'member') {
      if (!ctx.principal.accountId) return { data: [], next_cursor: null };
      q = q.where('account_id', '=', ctx.principal.accountId);
    }
    if (f.status !== undefined) q = q.where('status', '=', f.status);
    if (f.external_id !== undefined) q = q.where('external_id', '=', f.external_id);
    if (f.updated_since !== undefined) {
      const since = new Date(f.updated_since);
      if (Number.isNaN(since.getTime())) throw invalidField('updated_since', 'is an ISO 8601 time');
      q = q.where('updated_at', '>=', since);
    }
    if (after) q = q.where('id', '<', after);
    const page = toPage(await q.execute(), limit, (r) => r.id);
    return { data: page.data.map((r) => summary(r, this.options.publicUrl)), next_cursor: page.next_cursor };
  }

  /**
   * One window of an account's envelopes changed since `from` (by position: the DocuSign face's
   * start_position/count), oldest change first, with the matching total, and each envelope's parties.
   */
  async listAt(
    ctx: Ctx,
    accountId: string,
    f: { from: Date; to?: Date; statuses?: EnvelopeStatus[]; offset: number; limit: number },
  ): Promise<{ data: EnvelopeView[]; total: number }> {
    requireAccountAccess(ctx.principal, accountId);
    let q = this.db
      .selectFrom('envelopes')
      .where('organization_id', '=', ctx.principal.organizationId)
      .where('account_id', '=', accountId)
      .where('updated_at', '>=', f.from);
    if (f.to) q = q.where('updated_at', '<', f.to);
    if (f.statuses && f.statuses.length > 0) q = q.where('status', 'in', f.statuses);
    const [rows, count] = await Promise.all([
      q.selectAll().orderBy('updated_at').orderBy('id').offset(f.offset).limit(f.limit).execute(),
      q.select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow(),
    ]);
    return { data: await Promise.all(rows.map((r) => this.view(this.db, r))), total: Number(count.n) };
  }

  /** An envelope of one account (a path that names both: another account's answers 404 like a missing one). */
  async getInAccount(ctx: Ctx, accountId: string, id: string): Promise<EnvelopeView> {
    const row = await this.load(ctx, this.db, id);
    if (row.account_id !== accountId) throw notFound('envelope', id);
    return this.view(this.db, row);
  }

  /**
   * Sends a draft: one credit from the payer, exactly once (the envelope row is locked, the status checked,
   * and PostgreSQL refuses a second debit for one envelope); 402 when the payer has none, 403 when the
   * organization is a suspended connected account. The first signer's turn begins.
   */
  async send(ctx: Ctx, id: string): Promise<EnvelopeView> {
    return mutate(this.db, ctx, async (trx, audit) => {
      const before = await this.load(ctx, trx, id, true);
      if (before.status !== 'draft') throw stateError(before, 'send', 'draft');
      // Who pays (the platform or the connected account, by billing mode) and whether it may send at all:
      // read on this transaction's own connection, under a share lock on the organization's row that a PATCH
      // changing the mode or suspending the account waits for (src/core/platform/billing.ts). The envelope
      // row is locked first and the balance row after, the order every send takes them in.
      const { payerOrganizationId: payer } = await assertConnectedActive(
        trx,
        before.organization_id,
        'send an envelope',
      );
      await this.postCredit(trx, {
        organizationId: payer,
        kind: 'send',
        amount: -1,
        actor: ctx.principal,
        reason: `envelope ${before.id} sent`,
        envelopeId: before.id,
        envelopeOrganizationId: before.organization_id,
      });
      const now = new Date();
      const envelope = await trx
        .updateTable('envelopes')
        .set({
          status: 'sent',
          sent_at: now,
          payer_organization_id: payer,
          expires_at: before.expires_at ?? new Date(now.getTime() + DEFAULT_EXPIRY_DAYS * 86_400_000),
          updated_at: now,
        })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirstOrThrow();
      const parties = await envelopeParties(trx, id);
      const first = parties.find((p) => p.role === 'signer');
      if (first) {
        await trx
          .updateTable('envelope_parties')
          .set({ status: 'pending', updated_at: now })
          .where('id', '=', first.id)
          .execute();
        await this.options.startTurn?.(trx, envelope, first);
      }
      await this.record(ctx, trx, audit, envelope, 'envelope.sent', {
        payer_organization_id: payer,
        credits: 1,
        next_signer: first?.id ?? null,
      });
      return this.view(trx, envelope);
    });
  }

  /**
   * Voids a draft or a sent envelope. A sent one that nobody has signed yet gets its credit back, to the
   * organization that paid it (Atlas A-bm: "voiding a pending envelope with zero signers refunds 1 credit").
   */
  async void(ctx: Ctx, id: string, reason?: string): Promise<EnvelopeView & { refunded: boolean }> {
    const why = (reason ?? '').trim();
    if (why.length > 500) throw invalidField('reason', 'is at most 500 characters');
    return mutate(this.db, ctx, async (trx, audit) => {
      const before = await this.load(ctx, trx, id, true);
      if (before.status !== 'draft' && before.status !== 'sent') {
        throw stateError(before, 'void', 'draft or sent');
      }
      const parties = await envelopeParties(trx, id);
      const refund =
        before.status === 'sent' &&
        signingCounts(parties).signed_count === 0 &&
        before.payer_organization_id !== null;
      if (refund) {
        await this.postCredit(trx, {
          organizationId: before.payer_organization_id!,
          kind: 'refund',
          amount: 1,
          actor: ctx.principal,
          reason: `envelope ${before.id} voided before anyone signed`,
          envelopeId: before.id,
          envelopeOrganizationId: before.organization_id,
        });
      }
      const now = new Date();
      const envelope = await trx
        .updateTable('envelopes')
        .set({ status: 'voided', voided_at: now, void_reason: why || null, updated_at: now })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirstOrThrow();
      await this.record(ctx, trx, audit, envelope, 'envelope.voided', {
        reason: why || null,
        refunded: refund,
      });
      return { ...(await this.view(trx, envelope)), refunded: refund };
    });
  }

  /**
   * Declines a sent envelope on behalf of the party whose turn it is (the sender recording a refusal they
   * received another way; a party declines on the signing page). No refund: the envelope was delivered.
   */
  async decline(ctx: Ctx, id: string, reason?: string): Promise<EnvelopeView> {
    const why = (reason ?? '').trim();
    if (why.length > 500) throw invalidField('reason', 'is at most 500 characters');
    return mutate(this.db, ctx, async (trx, audit) => {
      const before = await this.load(ctx, trx, id, true);
      if (before.status !== 'sent') throw stateError(before, 'decline', 'sent');
      const now = new Date();
      const pending = (await envelopeParties(trx, id)).find((p) => p.status === 'pending');
      if (pending) {
        await trx
          .updateTable('envelope_parties')
          .set({ status: 'declined', declined_at: now, updated_at: now })
          .where('id', '=', pending.id)
          .execute();
      }
      const envelope = await trx
        .updateTable('envelopes')
        .set({ status: 'declined', declined_at: now, decline_reason: why || null, updated_at: now })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirstOrThrow();
      await this.record(ctx, trx, audit, envelope, 'envelope.declined', {
        reason: why || null,
        party_id: pending?.id ?? null,
      });
      return this.view(trx, envelope);
    });
  }

  /**
   * Reminds the party whose turn it is: its signing link mailed again (the same link, branded, through the
   * outbox like the send's), and the reminder counted; free (Atlas A-bm: reminders cost nothing).
   */
  async remind(ctx: Ctx, id: string): Promise<EnvelopeView> {
    return mutate(this.db, ctx, async (trx, audit) => {
      const before = await this.load(ctx, trx, id, true);
      if (before.status !== 'sent') throw stateError(before, 'remind', 'sent');
      const pending = (await envelopeParties(trx, id)).find((p) => p.status === 'pending');
      const now = new Date();
      const envelope = await trx
        .updateTable('envelopes')
        .set({ reminder_count: before.reminder_count + 1, last_reminded_at: now, updated_at: now })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirstOrThrow();
      // The same link again (a party's link does not change), in a mail that says it is a reminder.
      if (pending) await this.options.startTurn?.(trx, envelope, pending, { reminder: true });
      await this.record(ctx, trx, audit, envelope, 'envelope.reminded', {
        party_id: pending?.id ?? null,
      });
      return this.view(trx, envelope);
    });
  }

  /** The PDF: the signed one once completed, else the original. */
  async pdf(ctx: Ctx, id: string): Promise<{ filename: string; data: Buffer; sha256: string }> {
    const row = await this.load(ctx, this.db, id);
    const docs = await this.db
      .selectFrom('envelope_documents')
      .select(['kind', 'filename', 'data', 'sha256'])
      .where('envelope_id', '=', row.id)
      .execute();
    const doc = docs.find((d) => d.kind === 'signed') ?? docs.find((d) => d.kind === 'original');
    if (!doc) throw notFound('document of envelope', id);
    return {
      filename: doc.kind === 'signed' ? doc.filename.replace(/(\.pdf)?$/i, '-signed.pdf') : doc.filename,
      data: doc.data,
      sha256: doc.sha256,
    };
  }

  /** The envelope's history in order, with each event's links (prev_hash, hash); cursor by seq. */
  async events(
    ctx: Ctx,
    id: string,
    opts: { limit?: number; cursor?: string } = {},
  ): Promise<Page<HistoryEventView>> {
    await this.load(ctx, this.db, id);
    const limit = opts.limit ?? DEFAULT_LIMIT;
    const after = decodeIntCursor(opts.cursor);
    let q = this.db
      .selectFrom('envelope_events')
      .selectAll()
      .where('envelope_id', '=', id)
      .orderBy('seq')
      .limit(limit + 1);
    if (after !== undefined) q = q.where('seq', '>', after);
    const page = toPage<EnvelopeEventRow>(await q.execute(), limit, (r) => String(r.seq));
    return { data: page.data.map(historyView), next_cursor: page.next_cursor };
  }
}
