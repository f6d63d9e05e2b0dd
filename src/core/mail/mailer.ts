// Mail goes through the outbox_mail table first, inside the transaction of the change that causes it (so a
// rolled-back change sends nothing). Without SMTP_URL the table is the outbox the operator reads with
// `signet mail list`; with it, each message is handed to the SMTP server after commit and sent_at records
// when the server accepted it (a failed send leaves sent_at null and is logged).
//
// Link tokens are not kept in clear once they are no longer needed. A mail carrying one is queued with the
// token apart (`secret`) and LINK_TOKEN where it goes in the text and html; the token is put in when the mail
// is sent or listed. It is scrubbed (NULL; the mail then shows SCRUBBED_TOKEN) when the token is used or
// replaced (scrubMailSecrets, called where tokens are consumed), once SMTP has accepted the mail, and when it
// expires (sweepExpiredMailSecrets, run periodically; reads treat an expired token as scrubbed already). So
// without SMTP, `signet mail list` shows a working link exactly while the link works.
import nodemailer, { type Transporter } from 'nodemailer';
import type { Config } from '../../config.ts';
import type { Db } from '../../db/connection.ts';
import type { OutboxMail } from '../../db/schema.ts';
import { hashToken } from '../auth/tokens.ts';
import { newId } from '../ids.ts';
import type { RenderedMail } from './templates.ts';

/** Where a mail's link token goes; put in its link as `…#token=${LINK_TOKEN}`. */
export const LINK_TOKEN = '{{signet-link-token}}';
/** What a scrubbed token shows as: the link no longer works. */
export const SCRUBBED_TOKEN = 'link-used-or-expired';

/** A mail's link token, kept apart from its text until it is used, replaced, sent or expired. */
export interface MailSecret {
  token: string;
  expiresAt: Date;
}

/** A mail as the operator sees it: the token put in while it lives. */
export type MailView = Omit<OutboxMail, 'secret' | 'secret_hash' | 'secret_expires_at'>;

/** The mail's text with its token put in, or the scrubbed marker once the token is gone or expired. */
export function renderMail(row: OutboxMail, now = new Date()): MailView {
  const { secret, secret_hash: _h, secret_expires_at, ...rest } = row;
  const live = secret !== null && secret_expires_at !== null && secret_expires_at > now;
  const token = live ? secret : SCRUBBED_TOKEN;
  return {
    ...rest,
    text: rest.text.replaceAll(LINK_TOKEN, token),
    html: rest.html.replaceAll(LINK_TOKEN, token),
  };
}

/** Forgets the tokens of these hashes (SHA-256, as user_tokens and invites store them) in the outbox. */
export async function scrubMailSecrets(db: Db, hashes: readonly Buffer[]): Promise<void> {
  if (hashes.length === 0) return;
  await db
    .updateTable('outbox_mail')
    .set({ secret: null })
    .where('secret_hash', 'in', hashes)
    .where('secret', 'is not', null)
    .execute();
}

/** Forgets every expired token in the outbox; returns how many. Bounded per call. */
export async function sweepExpiredMailSecrets(db: Db, limit = 1000): Promise<number> {
  const rows = await db
    .updateTable('outbox_mail')
    .set({ secret: null })
    .where(
      'id',
      'in',
      db
        .selectFrom('outbox_mail')
        .select('id')
        .where('secret', 'is not', null)
        .where('secret_expires_at', '<=', new Date())
        .limit(limit),
    )
    .returning('id')
    .execute();
  return rows.length;
}

/**
 * The From of a mail: SIGNET_MAIL_FROM's address, under the brand's sender name when the mail has one (the
 * address stays the server's: a brand names itself, it does not send as another domain).
 */
export function fromHeader(
  mailFrom: string,
  fromName: string | null,
): string | { name: string; address: string } {
  if (!fromName) return mailFrom;
  const address = /<([^>]+)>\s*$/.exec(mailFrom)?.[1] ?? mailFrom.trim();
  return { name: fromName, address };
}

export interface MailListQuery {
  to?: string;
  limit?: number;
}

export class Mailer {
  private readonly transport: Transporter | null;
  private readonly inFlight = new Set<Promise<void>>();
  /** Where send failures are reported; the server points it at its logger. */
  onError: (err: unknown, id: string) => void = () => {};

  constructor(
    private readonly db: Db,
    private readonly config: Pick<Config, 'smtpUrl' | 'mailFrom'>,
  ) {
    this.transport = config.smtpUrl ? nodemailer.createTransport(config.smtpUrl) : null;
  }

  /** sweepExpiredMailSecrets on this mailer's database (what the server's periodic sweep calls). */
  sweepExpiredSecrets(limit = 1000): Promise<number> {
    return sweepExpiredMailSecrets(this.db, limit);
  }

  get smtp(): boolean {
    return this.transport !== null;
  }

  /**
   * Records a message in the outbox, in the caller's transaction. Returns its id for dispatch(). A mail with
   * a link token has LINK_TOKEN in its link and the token in `secret`, never in its text.
   */
  async queue(
    trx: Db,
    organizationId: string | null,
    to: string,
    mail: RenderedMail,
    secret?: MailSecret,
  ): Promise<string> {
    const id = newId();
    await trx
      .insertInto('outbox_mail')
      .values({
        id,
        organization_id: organizationId,
        to,
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
        secret: secret?.token ?? null,
        secret_hash: secret ? hashToken(secret.token) : null,
        secret_expires_at: secret?.expiresAt ?? null,
        from_name:
          mail.fromName
            ?.replace(/[\r\n]+/g, ' ')
            .trim()
            .slice(0, 200) || null,
      })
      .execute();
    return id;
  }

  /** After commit: hands the messages to SMTP, when configured. Never throws and never delays the caller. */
  dispatch(ids: readonly string[]): void {
    if (!this.transport || ids.length === 0) return;
    for (const id of ids) {
      const p = this.send(id)
        .catch((err) => this.onError(err, id))
        .finally(() => this.inFlight.delete(p));
      this.inFlight.add(p);
    }
  }

  /** Waits for every dispatched message (tests; shutdown). */
  async flush(): Promise<void> {
    await Promise.all([...this.inFlight]);
  }

  async list(q: MailListQuery = {}): Promise<MailView[]> {
    let query = this.db
      .selectFrom('outbox_mail')
      .selectAll()
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(q.limit ?? 100);
    if (q.to) query = query.where((eb) => eb.fn('lower', ['to']), '=', q.to.toLowerCase());
    const now = new Date();
    return (await query.execute()).map((row) => renderMail(row, now));
  }

  private async send(id: string): Promise<void> {
    const row = await this.db.selectFrom('outbox_mail').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row || row.sent_at || !this.transport) return;
    const mail = renderMail(row);
    await this.transport.sendMail({
      from: fromHeader(this.config.mailFrom, row.from_name),
      to: mail.to,
      subject: mail.subject,
      text: mail.text,
      html: mail.html,
    });
    // Handed over: the token is in the recipient's mailbox and needs no copy here.
    await this.db
      .updateTable('outbox_mail')
      .set({ sent_at: new Date(), secret: null })
      .where('id', '=', id)
      .execute();
  }
}
