// Verified email changes (issue 10: "the new address confirms, the old one is told; until then the old address
// stays the sign-in address"). The email is how a person signs in and where password resets go, so whoever
// may change it could otherwise take the account over: point it at a mailbox they read, ask for a reset, sign
// in. Every change of a user's email goes through here, whoever asks and through whichever face (PATCH
// /api/users, the DocuSign faces, import `update` rows):
//
// - request() (in the caller's transaction, after the caller's rights and reach were checked) leaves `email`
//   as it is and puts the new address in `pending_email`; it mails a single-use link (24 hours) to the NEW
//   address and a notice without a link to the OLD one. Asking again replaces the pending change (its link
//   dies); asking for the present address cancels it.
// - confirm() (POST /confirm_email, the token from the link) swaps the address in one transaction and tells
//   the old address that it changed.
//
// The pending address is not reserved: it is nobody's sign-in address, so holding it back would only let a
// change that may never be confirmed block a real user. Uniqueness is checked when the change is asked for
// (a taken address is refused at once) and again when it is confirmed (409 email_taken if someone took it
// meanwhile; the link stays usable until it expires, should the address be freed).
import { sql } from 'kysely';
import type { Db } from '../../db/connection.ts';
import type { User } from '../../db/schema.ts';
import type { AuditBuffer } from '../audit/writer.ts';
import { personActor } from '../auth/actor.ts';
import { endUserTokens, findUserToken, issueUserToken, useUserToken } from '../auth/user-tokens.ts';
import { mutate, type RequestMeta } from '../context.ts';
import { emailProblem } from '../email.ts';
import { AppError, invalidField } from '../errors.ts';
import { LINK_TOKEN, type Mailer, scrubMailSecrets } from '../mail/mailer.ts';
import {
  confirmEmailChangeMail,
  emailChangedMail,
  emailChangeNoticeMail,
  userBrand,
} from '../mail/templates.ts';

export const EMAIL_CHANGE_TTL_MS = 24 * 3600_000;

export const EMAIL_TAKEN = (email: string) =>
  new AppError('email_taken', `a user with email ${email} already exists in this organization`, [
    { field: 'email', message: 'already in use' },
  ]);

const LINK_DEAD = () =>
  new AppError(
    'invalid_token',
    'this email change link is not valid: it was used already, was replaced by a newer change, or is wrong',
    [{ field: 'token', message: 'not valid' }],
  );
const LINK_EXPIRED = () =>
  new AppError(
    'invalid_token',
    `this email change link has expired (links work for ${EMAIL_CHANGE_TTL_MS / 3600_000} hours); ask for the change again`,
    [{ field: 'token', message: 'expired' }],
  );

export interface ConfirmedEmailChange {
  user_id: string;
  email: string;
}

export class EmailChanges {
  constructor(
    private readonly db: Db,
    private readonly mailer: Mailer,
    private readonly environment: 'test' | 'live',
    private readonly publicUrl: string,
  ) {}

  /**
   * Asks for user `userId`'s email to become `email`, in the caller's transaction. The caller has checked
   * that it may change the user (role, reach). Returns the ids of the mails queued: hand them to dispatch()
   * once the transaction has committed.
   */
  async request(
    trx: Db,
    audit: Pick<AuditBuffer, 'record'>,
    userId: string,
    email: string,
    extra?: Record<string, unknown>,
  ): Promise<string[]> {
    const problem = emailProblem(email);
    if (problem) throw invalidField('email', problem);
    const user = await trx
      .selectFrom('users')
      .selectAll()
      .where('id', '=', userId)
      .forUpdate()
      .executeTakeFirstOrThrow();
    const record = (action: string, pending: string | null) =>
      audit.record({
        action,
        targetType: 'user',
        targetId: user.id,
        before: { pending_email: user.pending_email },
        after: { pending_email: pending },
        ...(extra ? { extra } : {}),
      });
    if (email === user.email) {
      // The present address: nothing to confirm, and a change waiting for confirmation no longer wanted.
      if (user.pending_email === null) return [];
      await this.endPending(trx, user.id);
      record('email_change.canceled', null);
      return [];
    }
    await requireFree(trx, user, email);
    await this.endPending(trx, user.id);
    const link = await issueUserToken(trx, user, 'email_change', EMAIL_CHANGE_TTL_MS, { email });
    await trx
      .updateTable('users')
      .set({ pending_email: email, updated_at: new Date() })
      .where('id', '=', user.id)
      .execute();
    const brand = await userBrand(trx, user.id);
    const names = { brand, name: user.first_name, oldEmail: user.email, newEmail: email };
    const mailIds = [
      // The token rides in the fragment: a browser never sends it to a server (or a log).
      await this.mailer.queue(
        trx,
        user.organization_id,
        email,
        confirmEmailChangeMail({ ...names, link: `${this.publicUrl}/confirm_email#token=${LINK_TOKEN}` }),
        link,
      ),
      await this.mailer.queue(
        trx,
        user.organization_id,
        user.email,
        emailChangeNoticeMail({ ...names, signInUrl: `${this.publicUrl}/login` }),
      ),
    ];
    record('email_change.requested', email);
    return mailIds;
  }

  /** Hands the mails of request() to SMTP (when configured), after the caller's transaction committed. */
  dispatch(mailIds: readonly string[]): void {
    this.mailer.dispatch(mailIds);
  }

  /** Follows the link of the mail to the new address: the new address becomes the sign-in address. */
  async confirm(token: string, meta: RequestMeta): Promise<ConfirmedEmailChange> {
    const row = await findUserToken(this.db, token, 'email_change');
    if (!row || row.used_at || row.email === null) throw LINK_DEAD();
    if (row.expires_at.getTime() <= Date.now()) throw LINK_EXPIRED();
    const newEmail = row.email;
    const user = await this.db
      .selectFrom('users')
      .selectAll()
      .where('id', '=', row.user_id)
      .executeTakeFirstOrThrow();
    const mailIds: string[] = [];
    await mutate(
      this.db,
      { principal: personActor(user, this.environment), meta },
      async (trx, audit) => {
        if (!(await useUserToken(trx, row.id))) throw LINK_DEAD();
        const current = await trx
          .selectFrom('users')
          .selectAll()
          .where('id', '=', user.id)
          .forUpdate()
          .executeTakeFirstOrThrow();
        // The link confirms the address it was mailed to, and only while that change is the pending one.
        if (current.pending_email !== newEmail || current.status !== 'active') throw LINK_DEAD();
        // Taken since the change was asked for: the change waits (the link stays usable until it expires).
        await requireFree(trx, current, newEmail);
        await scrubMailSecrets(trx, [row.token_hash]);
        await trx
          .updateTable('users')
          .set({
            email: newEmail,
            pending_email: null,
            // Following the mailed link proves the new address.
            email_verified_at: new Date(),
            updated_at: new Date(),
          })
          .where('id', '=', user.id)
          .execute();
        const brand = await userBrand(trx, user.id);
        mailIds.push(
          await this.mailer.queue(
            trx,
            user.organization_id,
            current.email,
            emailChangedMail({
              brand,
              name: current.first_name,
              oldEmail: current.email,
              newEmail,
              signInUrl: `${this.publicUrl}/login`,
            }),
          ),
        );
        audit.record({
          action: 'email_change.confirmed',
          targetType: 'user',
          targetId: user.id,
          before: { email: current.email, pending_email: current.pending_email },
          after: { email: newEmail, pending_email: null },
        });
      },
      { users_org_email_key: EMAIL_TAKEN(newEmail) },
    );
    this.mailer.dispatch(mailIds);
    return { user_id: user.id, email: newEmail };
  }

  /** Kills the user's outstanding change links (and their copies in the outbox) and clears pending_email. */
  private async endPending(trx: Db, userId: string): Promise<void> {
    await scrubMailSecrets(trx, await endUserTokens(trx, userId, 'email_change'));
    await trx
      .updateTable('users')
      .set({ pending_email: null, updated_at: new Date() })
      .where('id', '=', userId)
      .where('pending_email', 'is not', null)
      .execute();
  }
}

/** Refuses an address another user of the organization signs in with (case-insensitively, as the index). */
async function requireFree(trx: Db, user: User, email: string): Promise<void> {
  const other = await trx
    .selectFrom('users')
    .select('id')
    .where('organization_id', '=', user.organization_id)
    .where(sql`lower(email)`, '=', email.toLowerCase())
    .where('id', '!=', user.id)
    .executeTakeFirst();
  if (other) throw EMAIL_TAKEN(email);
}
