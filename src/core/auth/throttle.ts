// Login throttling per email: MAX_FAILURES failed logins within WINDOW lock further attempts for that email
// until the window has passed the oldest of them. Counted by lower-cased email whether or not a user has it,
// so the answer (429 + Retry-After) says nothing about which emails exist. A successful login or a completed
// password reset clears the count (a lockout never blocks the reset flow).
//
// Atomic under concurrency: an attempt is counted BEFORE its password is checked. `attempt()` takes a
// transaction-level advisory lock on the email, counts the window, and either refuses (429) or records the
// attempt as a failure, all in one transaction; so N parallel wrong passwords let exactly MAX_FAILURES through
// to the (slow) password check, never more. A successful login then clears the count, its own row included.
// Per-IP limits on the login route are the rate limiter's job (faces/rate-limit.ts).
import { sql } from 'kysely';
import type { Db } from '../../db/connection.ts';
import { AppError } from '../errors.ts';

export const MAX_FAILURES = 5;
export const WINDOW_MINUTES = 15;

export class LoginThrottle {
  constructor(private readonly db: Db) {}

  /**
   * Counts one login attempt for the email (as a failure until clear() says otherwise). Throws 429
   * too_many_attempts (with retry_after_seconds in details) while the email is locked; a refused attempt is
   * not counted, so the lock ends when the window has passed the oldest counted failure.
   */
  async attempt(email: string, ip: string | null): Promise<void> {
    const key = email.toLowerCase();
    await this.db.transaction().execute(async (trx) => {
      // Serialises the attempts of one email (not of others); released at commit.
      await sql`SELECT pg_advisory_xact_lock(hashtextextended(${`login:${key}`}, 0))`.execute(trx);
      const rows = await trx
        .selectFrom('login_failures')
        .select('at')
        .where('email', '=', key)
        .where('at', '>', sql<Date>`now() - make_interval(mins => ${WINDOW_MINUTES})`)
        .orderBy('at', 'desc')
        .limit(MAX_FAILURES)
        .execute();
      if (rows.length >= MAX_FAILURES) {
        const until = rows[MAX_FAILURES - 1]!.at.getTime() + WINDOW_MINUTES * 60_000;
        const retryAfter = Math.max(1, Math.ceil((until - Date.now()) / 1000));
        throw new AppError(
          'too_many_attempts',
          `too many failed logins for this email; try again in ${retryAfter} seconds or reset the password`,
          [{ message: 'locked', retry_after_seconds: retryAfter }],
        );
      }
      // clock_timestamp(), not now(): now() is the transaction's start, which may precede the lock wait.
      await trx
        .insertInto('login_failures')
        .values({ email: key, ip, at: sql<Date>`clock_timestamp()` })
        .execute();
      // Keep the table small: drop this email's rows that no longer count.
      await trx
        .deleteFrom('login_failures')
        .where('email', '=', key)
        .where('at', '<=', sql<Date>`now() - make_interval(mins => ${WINDOW_MINUTES})`)
        .execute();
    });
  }

  async clear(db: Db, email: string): Promise<void> {
    await db.deleteFrom('login_failures').where('email', '=', email.toLowerCase()).execute();
  }
}
