// The password policy (docs/people-and-sessions.md, "Password policy"): the account setting `password_policy`
// (length, character classes) of the accounts a password opens, the strictest of them, plus a check against
// the 10,000 most common passwords (common-passwords.txt, made by scripts/common-passwords.ts). OWASP's
// Authentication Cheat Sheet asks for exactly this pair: a minimum length and a block-list of breached or
// common passwords; the classes are the account's choice. Applied wherever a person chooses a password:
// sign-up, invite acceptance, reset completion, activation and password change.
import { readFileSync } from 'node:fs';
import { sql } from 'kysely';
import type { Db } from '../../db/connection.ts';
import { AppError, type ErrorDetail } from '../errors.ts';
import { CATALOGUE, type Settings } from '../settings/catalogue.ts';
import { effective } from '../settings/service.ts';

export type PasswordPolicy = Pick<
  Settings['password_policy'],
  'min_length' | 'require_mixed_case' | 'require_digit' | 'require_symbol'
>;

/** The longest password accepted (argon2 over a megabyte is a denial of service). */
export const MAX_PASSWORD_LENGTH = 256;

const DEFAULT = CATALOGUE.find((s) => s.key === 'password_policy')!.default as Settings['password_policy'];

export const DEFAULT_POLICY: PasswordPolicy = {
  min_length: DEFAULT.min_length,
  require_mixed_case: DEFAULT.require_mixed_case,
  require_digit: DEFAULT.require_digit,
  require_symbol: DEFAULT.require_symbol,
};

let common: Set<string> | null = null;

/** Whether `password` is one of the bundled common passwords (compared ignoring case). */
export function isCommonPassword(password: string): boolean {
  common ??= new Set(
    // Through src/ from here or from the compiled dist/core/auth/ alike (as src/db/migrate.ts reads migrations).
    readFileSync(new URL('../../../src/core/auth/common-passwords.txt', import.meta.url), 'utf8')
      .split('\n')
      .filter((l) => l !== ''),
  );
  return common.has(password.toLowerCase());
}

/** The strictest of several policies: the longest minimum, and every class any of them requires. */
export function strictest(policies: readonly PasswordPolicy[]): PasswordPolicy {
  if (policies.length === 0) return { ...DEFAULT_POLICY };
  return {
    min_length: Math.max(...policies.map((p) => p.min_length)),
    require_mixed_case: policies.some((p) => p.require_mixed_case),
    require_digit: policies.some((p) => p.require_digit),
    require_symbol: policies.some((p) => p.require_symbol),
  };
}

/** The policy of accounts `accountIds` (the default when there are none). */
export async function policyOfAccounts(db: Db, accountIds: readonly string[]): Promise<PasswordPolicy> {
  if (accountIds.length === 0) return { ...DEFAULT_POLICY };
  const rows = await db
    .selectFrom('account_settings')
    .select('values')
    .where('account_id', 'in', [...accountIds])
    .execute();
  // An account with no stored settings row has the defaults.
  const policies = rows.map((r) => effective(r.values as Record<string, unknown>).password_policy);
  if (rows.length < new Set(accountIds).size) policies.push(DEFAULT);
  return strictest(policies);
}

/** The policy a password of user `userId` must meet: that of every account they belong to (open memberships). */
export async function policyOfUser(
  db: Db,
  userId: string,
  alsoAccounts: readonly string[] = [],
): Promise<PasswordPolicy> {
  const rows = await db
    .selectFrom('memberships')
    .select('account_id')
    .where('user_id', '=', userId)
    .where(sql<boolean>`status <> 'closed' OR closed_by_deactivation`)
    .execute();
  return policyOfAccounts(db, [...new Set([...rows.map((r) => r.account_id), ...alsoAccounts])]);
}

/** Each rule `password` breaks, in words (empty: it meets the policy). */
export function unmetRules(policy: PasswordPolicy, password: string, email?: string): ErrorDetail[] {
  const out: ErrorDetail[] = [];
  const rule = (name: string, message: string) => out.push({ field: 'password', rule: name, message });
  const length = [...password].length;
  if (length < policy.min_length) rule('min_length', `at least ${policy.min_length} characters`);
  if (length > MAX_PASSWORD_LENGTH) rule('max_length', `at most ${MAX_PASSWORD_LENGTH} characters`);
  if (policy.require_mixed_case && !(/\p{Lu}/u.test(password) && /\p{Ll}/u.test(password)))
    rule('require_mixed_case', 'both upper-case and lower-case letters');
  if (policy.require_digit && !/\p{Nd}/u.test(password)) rule('require_digit', 'at least one digit (0-9)');
  if (policy.require_symbol && !/[^\p{L}\p{N}\s]/u.test(password))
    rule('require_symbol', 'at least one symbol (a character that is not a letter, digit or space)');
  if (isCommonPassword(password)) rule('common_password', 'not one of the 10,000 most common passwords');
  if (email && password.toLowerCase() === email.toLowerCase()) rule('not_email', 'not the email address');
  return out;
}

/** Throws 400 password_policy naming every unmet rule. */
export function requirePolicy(policy: PasswordPolicy, password: string, email?: string): void {
  const unmet = unmetRules(policy, password, email);
  if (unmet.length === 0) return;
  throw new AppError(
    'password_policy',
    `the password does not meet the password policy: ${unmet.map((d) => d.message).join('; ')}`,
    unmet,
  );
}

/** The policy reads the faces need (they hold no database handle). */
export class PasswordPolicies {
  constructor(private readonly db: Db) {}

  ofUser(userId: string): Promise<PasswordPolicy> {
    return policyOfUser(this.db, userId);
  }
}
