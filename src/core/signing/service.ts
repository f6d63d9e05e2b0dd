// Signing (issue 12 part 6; docs/envelopes.md, "Signing"): what a party does through its link, and what the
// envelope does in turn. Parties sign one after another in their order (Atlas A-seq: "signing is always
// sequential"): when an envelope is sent the first signer is mailed its link (startTurn, called by the send
// in its transaction); when a party signs its status goes pending → signed and the next signer is mailed;
// when the last signs the envelope goes sent → completed and gets its signed PDF (the document with a
// signature page appended, src/core/signing/certificate.ts). A party that declines declines the envelope.
//
// Every change runs in one transaction with its audit event (and so its webhook outbox row:
// envelope.viewed, envelope.signed, envelope.declined, envelope.completed, envelope.expired) and its entry in
// the envelope's hash-chained history, the envelope row locked so that two parties (or a party and the
// sender voiding) cannot interleave.
//
// Expiry: an envelope past its expires_at (set at send, src/core/envelopes/service.ts) is expired by a
// periodic sweep (sweepExpired, every minute, by the server) and, when a party's link is used first, at that
// moment (expireIfDue). The sweep is what makes `envelope.expired` reach webhooks and lists although nobody
// opens the link; the check when a link is used is what makes expiry exact: nobody signs a second late.
import type { Db } from '../../db/connection.ts';
import type { EnvelopePartyRow, EnvelopeRow } from '../../db/schema.ts';
import type { AuditBuffer } from '../audit/writer.ts';
import { hashToken } from '../auth/tokens.ts';
import type { LogoType } from '../brands/logos.ts';
import { COLOR_KEYS, type ColorKey, HEX_COLOR, type LogoFile } from '../brands/service.ts';
import { afterCommit, type Ctx, mutate, type RequestMeta } from '../context.ts';
import { appendHistory } from '../envelopes/history.ts';
import { envelopeParties } from '../envelopes/parties.ts';
import { AppError, invalidField, notFound } from '../errors.ts';
import { newId } from '../ids.ts';
import { LINK_TOKEN, type Mailer, scrubMailSecrets } from '../mail/mailer.ts';
import { completedMail, sendingBrand, signRequestMail } from '../mail/templates.ts';
import { type Principal, systemPrincipal } from '../principal.ts';
import { completedPdf } from './certificate.ts';
import { invalidLink, type SigningTokens } from './tokens.ts';
import type { SigningPageView } from './view.ts';

/** How long a link lives when the envelope has no expires_at of its own (the send always sets one). */
const FALLBACK_LINK_DAYS = 30;
/** The typed name: what a person's name may be, no more. */
const MAX_NAME = 200;

export interface SignInput {
  name: string;
  consent: boolean;
}

export interface SignResult {
  party_status: 'signed';
  envelope_status: EnvelopeRow['status'];
  /** The signed PDF's SHA-256, when this signature completed the envelope. */
  signed_sha256: string | null;
}

function linkExpiry(envelope: { expires_at: Date | null; sent_at?: Date | null }): Date {
  if (envelope.expires_at) return envelope.expires_at;
  const from = envelope.sent_at ?? new Date();
  return new Date(from.getTime() + FALLBACK_LINK_DAYS * 86_400_000);
}

function due(envelope: Pick<EnvelopeRow, 'status' | 'expires_at'>, now: Date): boolean {
  return envelope.status === 'sent' && envelope.expires_at !== null && envelope.expires_at <= now;
}

const STATE_WORDS: Record<EnvelopeRow['status'], string> = {
  draft: 'has not been sent yet',
  sent: 'is out for signature',
  completed: 'is signed by everyone already',
  declined: 'was declined by a party',
  voided: 'was voided by its sender',
  expired: 'expired before every party signed',
};

function notSignable(envelope: Pick<EnvelopeRow, 'status'>): AppError {
  return new AppError(
    'envelope_not_signable',
    `this envelope ${STATE_WORDS[envelope.status]}: it takes no more signatures; ask the sender if you expected otherwise`,
    [{ message: 'wrong status', status: envelope.status }],
  );
}

/** The typed name as recorded: spaces collapsed; 1 to 200 characters, or 400 naming the field. */
export function typedName(raw: unknown): string {
  const name = typeof raw === 'string' ? raw.replace(/\s+/g, ' ').trim() : '';
  if (name.length === 0) throw invalidField('name', 'type your full name to sign');
  if (name.length > MAX_NAME) throw invalidField('name', `is at most ${MAX_NAME} characters`);
  return name;
}

/** The principal a party acts as: its own id and name, in the envelope's organization; it authorises nothing. */
function signerPrincipal(
  envelope: Pick<EnvelopeRow, 'organization_id' | 'account_id'>,
  party: Pick<EnvelopePartyRow, 'id' | 'name' | 'email'>,
  environment: 'test' | 'live',
): Principal {
  return {
    kind: 'signer',
    id: party.id,
    label: `${party.name} <${party.email}>`,
    organizationId: envelope.organization_id,
    accountId: envelope.account_id,
    userId: null,
    role: 'member',
    environment,
    permissions: new Set(),
  };
}

/** The envelope row, locked for the transaction: every change to an envelope and its history holds it. */
function lockEnvelope(trx: Db, envelopeId: string): Promise<EnvelopeRow> {
  return trx
    .selectFrom('envelopes')
    .selectAll()
    .where('id', '=', envelopeId)
    .forUpdate()
    .executeTakeFirstOrThrow();
}

export class SigningService {
  constructor(
    private readonly db: Db,
    private readonly mailer: Mailer,
    private readonly tokens: SigningTokens,
    private readonly options: { publicUrl: string; environment: 'test' | 'live' },
  ) {}

  /** A party's signing link; the same in every mail, until the envelope's expiry. */
  async signUrl(
    envelope: { id: string; expires_at: Date | null; sent_at?: Date | null },
    partyId: string,
  ): Promise<string> {
    const token = await this.tokens.issue({
      envelopeId: envelope.id,
      partyId,
      expiresAt: linkExpiry(envelope),
    });
    return `${this.options.publicUrl}/sign/${envelope.id}?t=${token}`;
  }

  /**
   * Mails `party` its link, in the caller's transaction (one a mutate() owns): the send for the first
   * signer, a signature for the next, a reminder (POST …/remind) for the party whose turn it is. The token
   * rides apart from the mail's text (src/core/mail/mailer.ts) and is handed to SMTP after commit.
   */
  async startTurn(
    trx: Db,
    envelope: EnvelopeRow,
    party: Pick<EnvelopePartyRow, 'id' | 'name' | 'email'>,
    opts: { reminder?: boolean } = {},
  ) {
    const expiresAt = linkExpiry(envelope);
    const token = await this.tokens.issue({ envelopeId: envelope.id, partyId: party.id, expiresAt }, trx);
    const facts = await this.mailFacts(trx, envelope);
    const mail = signRequestMail({
      ...facts,
      partyName: party.name,
      link: `${this.options.publicUrl}/sign/${envelope.id}?t=${LINK_TOKEN}`,
      expiresAt,
      reminder: opts.reminder,
    });
    const id = await this.mailer.queue(trx, envelope.organization_id, party.email, mail, {
      token,
      expiresAt,
    });
    afterCommit(trx, () => this.mailer.dispatch([id]));
  }

  /** What every mail about an envelope says of it: the account's brand and name, the title and message. */
  private async mailFacts(trx: Db, envelope: EnvelopeRow) {
    const [brand, account] = await Promise.all([
      sendingBrand(trx, envelope.account_id),
      trx
        .selectFrom('accounts')
        .select('name')
        .where('id', '=', envelope.account_id)
        .executeTakeFirstOrThrow(),
    ]);
    return { brand, sender: account.name, title: envelope.title, message: envelope.message };
  }

  /**
   * The person who sent the envelope, to be told it completed: the user who created it, or the creator of
   * the API key that did (a platform key's creator is a user of the platform organization). None for a
   * creator that is no person (an integration acting as itself, the system) or a user no longer active.
   */
  private async senderOf(trx: Db, envelope: EnvelopeRow): Promise<{ email: string; name: string } | null> {
    let userId: string | null = null;
    if (envelope.created_by_type === 'user') userId = envelope.created_by_id;
    else if (envelope.created_by_type === 'api_key' && envelope.created_by_id) {
      const key = await trx
        .selectFrom('api_keys')
        .select('created_by')
        .where('id', '=', envelope.created_by_id)
        .executeTakeFirst();
      userId = key?.created_by ?? null;
    }
    if (!userId) return null;
    const user = await trx
      .selectFrom('users')
      .select(['email', 'first_name', 'last_name', 'status'])
      .where('id', '=', userId)
      .executeTakeFirst();
    if (user?.status !== 'active') return null;
    const name = [user.first_name, user.last_name].filter(Boolean).join(' ');
    return { email: user.email, name: name || user.email };
  }

  /**
   * In the completing transaction: every party (signers and cc) is mailed its own link, which now opens the
   * signed copy, and the sender a link to the signed PDF in the API (unless the sender is a party too, who
   * has the party's mail). Handed to SMTP after commit, like every mail.
   */
  private async mailCompletion(trx: Db, envelope: EnvelopeRow, signedSha256: string): Promise<void> {
    const [facts, parties, sender] = await Promise.all([
      this.mailFacts(trx, envelope),
      envelopeParties(trx, envelope.id),
      this.senderOf(trx, envelope),
    ]);
    const expiresAt = linkExpiry(envelope);
    const ids: string[] = [];
    for (const party of parties) {
      const token = await this.tokens.issue({ envelopeId: envelope.id, partyId: party.id, expiresAt }, trx);
      const mail = completedMail({
        ...facts,
        partyName: party.name,
        link: `${this.options.publicUrl}/sign/${envelope.id}?t=${LINK_TOKEN}`,
        signedSha256,
        expiresAt,
      });
      ids.push(
        await this.mailer.queue(trx, envelope.organization_id, party.email, mail, { token, expiresAt }),
      );
    }
    const isParty = (email: string) => parties.some((p) => p.email.toLowerCase() === email.toLowerCase());
    if (sender && !isParty(sender.email)) {
      const mail = completedMail({
        ...facts,
        partyName: sender.name,
        link: `${this.options.publicUrl}/api/envelope/${envelope.id}/pdf`,
        signedSha256,
        toSender: true,
      });
      ids.push(await this.mailer.queue(trx, envelope.organization_id, sender.email, mail));
    }
    afterCommit(trx, () => this.mailer.dispatch(ids));
  }

  /**
   * The envelope and party a link is for. The link's mac is checked first (403 for anything Signet did not
   * make); an expired link expires its envelope if it is still out (410 either way).
   */
  private async resolve(envelopeId: string, token: string | undefined) {
    let partyId: string;
    try {
      ({ partyId } = await this.tokens.verify(envelopeId, token));
    } catch (err) {
      if (err instanceof AppError && err.code === 'signing_link_expired') await this.expireIfDue(envelopeId);
      throw err;
    }
    const envelope = await this.db
      .selectFrom('envelopes')
      .selectAll()
      .where('id', '=', envelopeId)
      .executeTakeFirst();
    const party = envelope
      ? await this.db
          .selectFrom('envelope_parties')
          .selectAll()
          .where('id', '=', partyId)
          .where('envelope_id', '=', envelopeId)
          .executeTakeFirst()
      : undefined;
    // A mac that checks names a party Signet mailed: gone only if the envelope was deleted.
    if (!envelope || !party) throw invalidLink();
    if (due(envelope, new Date())) {
      await this.expireIfDue(envelopeId);
      throw notSignable({ status: 'expired' });
    }
    return { envelope, party };
  }

  /** The envelope row, locked, with the checks every signing change needs: still out, not past expiry. */
  private async lockSignable(trx: Db, envelopeId: string): Promise<EnvelopeRow> {
    const envelope = await lockEnvelope(trx, envelopeId);
    if (envelope.status !== 'sent') throw notSignable(envelope);
    // Past expiry but not yet swept: refused here, expired by the sweep (this transaction rolls back).
    if (due(envelope, new Date())) throw notSignable({ status: 'expired' });
    return envelope;
  }

  /** Audit event (and webhook outbox row) and history entry, in the transaction that made the change. */
  private async record(
    ctx: Ctx,
    trx: Db,
    audit: AuditBuffer,
    envelope: EnvelopeRow,
    action: string,
    payload: Record<string, unknown>,
    partyId: string | null,
  ): Promise<void> {
    audit.record({
      action,
      targetType: 'envelope',
      targetId: envelope.id,
      accountId: envelope.account_id,
      extra: { status: envelope.status, ...payload },
    });
    await appendHistory(trx, envelope, [
      {
        type: action,
        actor: { type: ctx.principal.kind, id: ctx.principal.id, label: ctx.principal.label },
        partyId,
        payload,
        meta: ctx.meta,
      },
    ]);
  }

  private ctxFor(envelope: EnvelopeRow, party: EnvelopePartyRow, meta: RequestMeta): Ctx {
    return { principal: signerPrincipal(envelope, party, this.options.environment), meta };
  }

  /** The brand the page shows: the account's signing default, else its sending default. */
  private async brandOf(accountId: string) {
    const brands = await this.db
      .selectFrom('brands')
      .select(['id', 'name', 'company', 'email_sender_name', 'colors', 'is_signing_default'])
      .where('account_id', '=', accountId)
      .where((eb) => eb.or([eb('is_signing_default', '=', true), eb('is_sending_default', '=', true)]))
      .execute();
    return brands.find((b) => b.is_signing_default) ?? brands[0] ?? null;
  }

  /**
   * What the page at GET /sign/{id} shows. The party's first look once its turn has come is recorded
   * (envelope.viewed); later looks are not, so reloading the page makes no events.
   */
  async page(envelopeId: string, token: string | undefined, meta: RequestMeta): Promise<SigningPageView> {
    const { envelope, party } = await this.resolve(envelopeId, token);
    if (envelope.status !== 'sent' && envelope.status !== 'completed') throw notSignable(envelope);
    if (envelope.status === 'sent' && party.status === 'pending' && party.viewed_at === null) {
      await mutate(this.db, this.ctxFor(envelope, party, meta), async (trx, audit) => {
        const locked = await this.lockSignable(trx, envelopeId);
        const seen = await trx
          .updateTable('envelope_parties')
          .set({ viewed_at: new Date() })
          .where('id', '=', party.id)
          .where('viewed_at', 'is', null)
          .returning('id')
          .executeTakeFirst();
        if (seen) {
          const ctx = this.ctxFor(locked, party, meta);
          await this.record(ctx, trx, audit, locked, 'envelope.viewed', { party_id: party.id }, party.id);
        }
      });
    }
    const [parties, brand, account] = await Promise.all([
      envelopeParties(this.db, envelopeId),
      this.brandOf(envelope.account_id),
      this.db
        .selectFrom('accounts')
        .select('name')
        .where('id', '=', envelope.account_id)
        .executeTakeFirstOrThrow(),
    ]);
    const me = parties.find((p) => p.id === party.id) ?? party;
    const colors: Partial<Record<ColorKey, string>> = {};
    const stored = (brand?.colors ?? {}) as Record<string, unknown>;
    for (const key of COLOR_KEYS) {
      const v = stored[key];
      if (typeof v === 'string' && HEX_COLOR.test(v)) colors[key] = v;
    }
    const logo = brand
      ? await this.db
          .selectFrom('brand_logos')
          .select('kind')
          .where('brand_id', '=', brand.id)
          .where('kind', '=', 'primary')
          .executeTakeFirst()
      : undefined;
    return {
      envelope: {
        id: envelope.id,
        title: envelope.title,
        message: envelope.message,
        status: envelope.status,
        completed_at: envelope.completed_at,
      },
      party: {
        id: me.id,
        name: me.name,
        email: me.email,
        role: me.role,
        order: me.signing_order,
        status: me.status,
        signed_at: me.signed_at,
        signed_name: me.signed_name,
      },
      parties: parties.map((p) => ({ order: p.signing_order, name: p.name, role: p.role, status: p.status })),
      sender: brand?.email_sender_name || brand?.company || brand?.name || account.name,
      brand: brand ? { name: brand.company || brand.name, colors, logo: logo !== undefined } : null,
      can_sign: envelope.status === 'sent' && me.status === 'pending' && me.role === 'signer',
    };
  }

  /** The PDF a party reads: the document as sent, or the signed one once the envelope is completed. */
  async document(envelopeId: string, token: string | undefined): Promise<{ filename: string; data: Buffer }> {
    const { envelope } = await this.resolve(envelopeId, token);
    if (envelope.status !== 'sent' && envelope.status !== 'completed') throw notSignable(envelope);
    const docs = await this.db
      .selectFrom('envelope_documents')
      .select(['kind', 'filename', 'data'])
      .where('envelope_id', '=', envelopeId)
      .execute();
    const doc = docs.find((d) => d.kind === 'signed') ?? docs.find((d) => d.kind === 'original');
    if (!doc) throw notFound('document of envelope', envelopeId);
    return { filename: doc.filename, data: doc.data };
  }

  /** The primary logo of the brand the page shows (404 when it has none). */
  async logo(envelopeId: string, token: string | undefined): Promise<LogoFile> {
    const { envelope } = await this.resolve(envelopeId, token);
    const brand = await this.brandOf(envelope.account_id);
    const logo = brand
      ? await this.db
          .selectFrom('brand_logos')
          .select(['content_type', 'content'])
          .where('brand_id', '=', brand.id)
          .where('kind', '=', 'primary')
          .executeTakeFirst()
      : undefined;
    if (!logo) throw notFound('logo of envelope', envelopeId, 'brand logo');
    return { content_type: logo.content_type as LogoType, content: logo.content };
  }

  /**
   * The party signs: its typed name and its consent, from its address. 409 when it is not its turn, when it
   * has signed already, or when the envelope takes no more signatures. The next signer is mailed; the last
   * signature completes the envelope with its signed PDF, whose SHA-256 the envelope.completed event holds.
   */
  async sign(
    envelopeId: string,
    token: string | undefined,
    input: SignInput,
    meta: RequestMeta,
  ): Promise<SignResult> {
    const { envelope: seen, party } = await this.resolve(envelopeId, token);
    const name = typedName(input.name);
    if (input.consent !== true) {
      throw new AppError(
        'consent_required',
        'tick the box to agree to sign this document electronically; your typed name is your signature',
        [{ field: 'consent', message: 'must be given' }],
      );
    }
    return mutate(this.db, this.ctxFor(seen, party, meta), async (trx, audit) => {
      const envelope = await this.lockSignable(trx, envelopeId);
      const parties = await envelopeParties(trx, envelopeId);
      const me = this.turnOf(parties, party.id);
      const now = new Date();
      const ctx = this.ctxFor(envelope, me, meta);
      const signedMe = await trx
        .updateTable('envelope_parties')
        .set({
          status: 'signed',
          signed_at: now,
          signed_name: name,
          signed_ip: meta.ip ?? null,
          signed_user_agent: meta.userAgent?.slice(0, 500) ?? null,
          viewed_at: me.viewed_at ?? now,
          updated_at: now,
        })
        .where('id', '=', me.id)
        .returningAll()
        .executeTakeFirstOrThrow();
      const next = parties.find((p) => p.role === 'signer' && p.status === 'waiting');
      await this.record(
        ctx,
        trx,
        audit,
        envelope,
        'envelope.signed',
        {
          party_id: me.id,
          signing_order: me.signing_order,
          signed_name: name,
          next_party_id: next?.id ?? null,
        },
        me.id,
      );
      // Every copy of this party's link (first mail, reminders: one token) leaves the outbox.
      const used = await this.tokens.issue({ envelopeId, partyId: me.id, expiresAt: linkExpiry(envelope) });
      await scrubMailSecrets(trx, [hashToken(used)]);
      if (next) {
        await trx
          .updateTable('envelope_parties')
          .set({ status: 'pending', updated_at: now })
          .where('id', '=', next.id)
          .execute();
        await trx.updateTable('envelopes').set({ updated_at: now }).where('id', '=', envelopeId).execute();
        await this.startTurn(trx, envelope, next);
        return { party_status: 'signed' as const, envelope_status: 'sent' as const, signed_sha256: null };
      }
      const signers = parties
        .map((p) => (p.id === me.id ? signedMe : p))
        .filter((p) => p.role === 'signer' && p.status === 'signed');
      const sha = await this.complete(ctx, trx, audit, envelope, signers, now);
      return { party_status: 'signed' as const, envelope_status: 'completed' as const, signed_sha256: sha };
    });
  }

  /** The party as it may act now, or the refusal that says why not. */
  private turnOf(parties: EnvelopePartyRow[], partyId: string): EnvelopePartyRow {
    const me = parties.find((p) => p.id === partyId);
    if (!me) throw invalidLink();
    if (me.status === 'signed') {
      throw new AppError(
        'already_signed',
        `you signed this envelope at ${me.signed_at?.toISOString()}; nothing more to do`,
      );
    }
    if (me.role !== 'signer') {
      throw new AppError('envelope_not_signable', 'you receive a copy of this envelope and do not sign it');
    }
    if (me.status !== 'pending') {
      const ahead = parties.filter(
        (p) => p.role === 'signer' && p.status !== 'signed' && p.signing_order < me.signing_order,
      );
      throw new AppError(
        'not_your_turn',
        `parties sign in order and ${ahead.length === 1 ? 'one party signs' : `${ahead.length} parties sign`} before you; you will get a mail when it is your turn`,
        [{ message: 'not your turn', waiting_for: ahead.length }],
      );
    }
    return me;
  }

  /** The last signature: the signed PDF stored, the envelope completed, its SHA-256 in the history. */
  private async complete(
    ctx: Ctx,
    trx: Db,
    audit: AuditBuffer,
    envelope: EnvelopeRow,
    signers: EnvelopePartyRow[],
    now: Date,
  ): Promise<string> {
    const original = await trx
      .selectFrom('envelope_documents')
      .select(['filename', 'data', 'sha256'])
      .where('envelope_id', '=', envelope.id)
      .where('kind', '=', 'original')
      .executeTakeFirstOrThrow();
    const pdf = await completedPdf(
      original.data,
      { id: envelope.id, title: envelope.title, completedAt: now },
      signers.map((p) => ({
        order: p.signing_order,
        name: p.name,
        email: p.email,
        signedName: p.signed_name ?? p.name,
        signedAt: p.signed_at ?? now,
        ip: p.signed_ip,
      })),
    );
    await trx
      .insertInto('envelope_documents')
      .values({
        id: newId(),
        organization_id: envelope.organization_id,
        envelope_id: envelope.id,
        kind: 'signed',
        filename: original.filename,
        size_bytes: pdf.bytes.length,
        page_count: pdf.pageCount,
        sha256: pdf.sha256,
        data: Buffer.from(pdf.bytes),
      })
      .execute();
    const completed = await trx
      .updateTable('envelopes')
      .set({ status: 'completed', completed_at: now, updated_at: now })
      .where('id', '=', envelope.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    await this.record(
      ctx,
      trx,
      audit,
      completed,
      'envelope.completed',
      {
        document_sha256: original.sha256,
        signed_sha256: pdf.sha256,
        signed_page_count: pdf.pageCount,
        signed_size_bytes: pdf.bytes.length,
        signers: signers.length,
      },
      null,
    );
    await this.mailCompletion(trx, completed, pdf.sha256);
    return pdf.sha256;
  }

  /** The party whose turn it is declines: the envelope is declined, and nobody else is asked. */
  async decline(
    envelopeId: string,
    token: string | undefined,
    reason: string | undefined,
    meta: RequestMeta,
  ): Promise<{ envelope_status: 'declined' }> {
    const why = (reason ?? '').replace(/\s+/g, ' ').trim();
    if (why.length > 500) throw invalidField('reason', 'is at most 500 characters');
    const { envelope: seen, party } = await this.resolve(envelopeId, token);
    return mutate(this.db, this.ctxFor(seen, party, meta), async (trx, audit) => {
      const envelope = await this.lockSignable(trx, envelopeId);
      const me = this.turnOf(await envelopeParties(trx, envelopeId), party.id);
      const now = new Date();
      await trx
        .updateTable('envelope_parties')
        .set({ status: 'declined', declined_at: now, viewed_at: me.viewed_at ?? now, updated_at: now })
        .where('id', '=', me.id)
        .execute();
      const declined = await trx
        .updateTable('envelopes')
        .set({ status: 'declined', declined_at: now, decline_reason: why || null, updated_at: now })
        .where('id', '=', envelopeId)
        .returningAll()
        .executeTakeFirstOrThrow();
      await this.record(
        this.ctxFor(envelope, me, meta),
        trx,
        audit,
        declined,
        'envelope.declined',
        { party_id: me.id, reason: why || null },
        me.id,
      );
      const used = await this.tokens.issue({ envelopeId, partyId: me.id, expiresAt: linkExpiry(envelope) });
      await scrubMailSecrets(trx, [hashToken(used)]);
      return { envelope_status: 'declined' as const };
    });
  }

  /** Expires the envelope if it is out and past its expires_at; true when this call expired it. */
  async expireIfDue(envelopeId: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('envelopes')
      .select(['organization_id', 'status', 'expires_at'])
      .where('id', '=', envelopeId)
      .executeTakeFirst();
    if (!row || !due(row, new Date())) return false;
    const principal: Principal = {
      ...systemPrincipal(row.organization_id, this.options.environment),
      id: 'envelope-expiry',
      label: 'envelope expiry',
    };
    return mutate(this.db, { principal, meta: {} }, async (trx, audit) => {
      const envelope = await lockEnvelope(trx, envelopeId);
      const now = new Date();
      if (!due(envelope, now)) return false;
      const expired = await trx
        .updateTable('envelopes')
        .set({ status: 'expired', expired_at: now, updated_at: now })
        .where('id', '=', envelopeId)
        .returningAll()
        .executeTakeFirstOrThrow();
      await this.record(
        { principal, meta: {} },
        trx,
        audit,
        expired,
        'envelope.expired',
        { expires_at: envelope.expires_at?.toISOString() ?? null },
        null,
      );
      return true;
    });
  }

  /** Expires up to `limit` envelopes past their expiry (the server runs this every minute); how many. */
  async sweepExpired(limit = 100): Promise<number> {
    const rows = await this.db
      .selectFrom('envelopes')
      .select('id')
      .where('status', '=', 'sent')
      .where('expires_at', '<=', new Date())
      .orderBy('expires_at')
      .limit(limit)
      .execute();
    let n = 0;
    for (const { id } of rows) if (await this.expireIfDue(id)) n += 1;
    return n;
  }
}
