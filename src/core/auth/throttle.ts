// Login throttling per email: MAX_FAILURES failed logins within WINDOW lock further attempts for that email
// until the window has passed the oldest of them. Counted by lower-cased email whether or not a user has it,
// so the answer (429 + Retry-After) says nothing about which emails exist. A successful login or a completed
// password reset clears the count (a lockout never blocks the reset flow).
// Per-IP limits on the login route are the rate limiter's job (see the TODO in src/faces/people/index.ts).
import { sql } from 'kysely';
import type { Db } from '../../db/connection.ts';
import { AppError } from '../errors.ts';

export const MAX_FAILURES = 5;
export const WINDOW_MINUTES = 15;

export class LoginThrottle {
  constructor(private readonly db: Db) {}

  /** Throws 429 too_many_attempts (with retryAfter seconds in details) while the email is locked. */
  async check(email: string): Promise<void> {
    const rows = await this.db
      .selectFrom('login_failures')
      .select('at')
      .where('email', '=', email.toLowerCase())
      .where('at', '>', sql<Date>`now() - make_interval(mins => ${WINDOW_MINUTES})`)
      .orderBy('at', 'desc')
      .limit(MAX_FAILURES)
      .execute();
    if (rows.length < MAX_FAILURES) return;
    const until = rows[MAX_FAILURES - 1]!.at.getTime() + WINDOW_MINUTES * 60_000;
    const retryAfter = Math.max(1, Math.ceil((until - Date.now()) / 1000));
    throw new AppError(
      'too_many_attempts',
      `too many failed logins for this email; try again in ${retryAfter} seconds or reset the password`,
      [{ message: 'locked', retry_after_seconds: retryAfter }],
    );
  }

  async fail(email: string, ip: string | null): Promise<void> {
    const key = email.toLowerCase();
    await this.db.insertInto('login_failures').values({ email: key, ip }).execute();
    // Keep the table small: drop this email's rows that no longer count.
    await this.db
      .deleteFrom('login_failures')
      .where('email', '=', key)
      .where('at', '<=', sql<Date>`now() - make_interval(mins => ${WINDOW_MINUTES})`)
      .execute();
  }

  async clear(db: Db, email: string): Promise<void> {
    await db.deleteFrom('login_failures').where('email', '=', email.toLowerCase()).execute();
  }
}
