// The single-use links Signet mails to a user (table user_tokens): email verification, password reset and
// email change. A token is 256 random bits (tokens.ts); only its SHA-256 is stored. A link works until it is
// used, ended (a newer one replaced it, or a completed reset ended its siblings) or its expires_at is past;
// the places that use or end one also scrub the copy its mail keeps (src/core/mail/mailer.ts).
import type { Selectable } from 'kysely';
import type { Db } from '../../db/connection.ts';
import type { User, UserTokenPurpose, UserTokensTable } from '../../db/schema.ts';
import { newId } from '../ids.ts';
import { hashToken, newToken } from './tokens.ts';

export type UserToken = Selectable<UserTokensTable>;

export interface IssuedToken {
  id: string;
  token: string;
  expiresAt: Date;
}

/** Stores a new link token of `user`; `token` when the caller made it already, `email` for an email change. */
export async function issueUserToken(
  trx: Db,
  user: Pick<User, 'id' | 'organization_id'>,
  purpose: UserTokenPurpose,
  ttlMs: number,
  opts: { token?: string; email?: string } = {},
): Promise<IssuedToken> {
  const token = opts.token ?? newToken();
  const issued = { id: newId(), token, expiresAt: new Date(Date.now() + ttlMs) };
  await trx
    .insertInto('user_tokens')
    .values({
      id: issued.id,
      user_id: user.id,
      organization_id: user.organization_id,
      purpose,
      token_hash: hashToken(token),
      expires_at: issued.expiresAt,
      email: opts.email ?? null,
    })
    .execute();
  return issued;
}

/** The stored token a link carries, whatever its state (the caller tells used and expired ones apart). */
export async function findUserToken(
  db: Db,
  token: string,
  purpose: UserTokenPurpose,
): Promise<UserToken | undefined> {
  return db
    .selectFrom('user_tokens')
    .selectAll()
    .where('token_hash', '=', hashToken(token))
    .where('purpose', '=', purpose)
    .executeTakeFirst();
}

/** Marks token `id` used; false when it was used already (a concurrent use got there first). */
export async function useUserToken(trx: Db, id: string): Promise<boolean> {
  const used = await trx
    .updateTable('user_tokens')
    .set({ used_at: new Date() })
    .where('id', '=', id)
    .where('used_at', 'is', null)
    .returning('id')
    .executeTakeFirst();
  return used !== undefined;
}

/** Ends every live token of the user for `purpose`; returns their hashes, to scrub their mails. */
export async function endUserTokens(trx: Db, userId: string, purpose: UserTokenPurpose): Promise<Buffer[]> {
  const ended = await trx
    .updateTable('user_tokens')
    .set({ used_at: new Date() })
    .where('user_id', '=', userId)
    .where('purpose', '=', purpose)
    .where('used_at', 'is', null)
    .returning('token_hash')
    .execute();
  return ended.map((e) => e.token_hash);
}
