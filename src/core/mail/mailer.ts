// Mail goes through the outbox_mail table first, inside the transaction of the change that causes it (so a
// rolled-back change sends nothing). Without SMTP_URL the table is the outbox the operator reads with
// `signet mail list`; with it, each message is handed to the SMTP server after commit and sent_at records
// when the server accepted it (a failed send leaves sent_at null and is logged).
import nodemailer, { type Transporter } from 'nodemailer';
import type { Config } from '../../config.ts';
import type { Db } from '../../db/connection.ts';
import type { OutboxMail } from '../../db/schema.ts';
import { newId } from '../ids.ts';
import type { RenderedMail } from './templates.ts';

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

  get smtp(): boolean {
    return this.transport !== null;
  }

  /** Records a message in the outbox, in the caller's transaction. Returns its id for dispatch(). */
  async queue(trx: Db, organizationId: string | null, to: string, mail: RenderedMail): Promise<string> {
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

  async list(q: MailListQuery = {}): Promise<OutboxMail[]> {
    let query = this.db
      .selectFrom('outbox_mail')
      .selectAll()
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(q.limit ?? 100);
    if (q.to) query = query.where((eb) => eb.fn('lower', ['to']), '=', q.to.toLowerCase());
    return query.execute();
  }

  private async send(id: string): Promise<void> {
    const row = await this.db.selectFrom('outbox_mail').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row || row.sent_at || !this.transport) return;
    await this.transport.sendMail({
      from: this.config.mailFrom,
      to: row.to,
      subject: row.subject,
      text: row.text,
      html: row.html,
    });
    await this.db.updateTable('outbox_mail').set({ sent_at: new Date() }).where('id', '=', id).execute();
  }
}
