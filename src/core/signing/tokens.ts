// Signing links: /sign/{envelope_id}?t=<token>, one per party (issue 12 part 6; Atlas A-seq: "the sign link is
// /sign/{envelope_id}?t={token}"; [B] B-auth: "HMAC-signed envelope token (stateless; one envelope/signer;
// optional expiry)"). The token is `<party_id>.<expiry, unix seconds>.<mac>`, the mac being HMAC-SHA-256,
// under a server secret, of the envelope id, the party id and the expiry. Nothing is stored: a link is
// valid while its mac checks, its expiry is ahead and (the service's part) its party may still act.
//
// Deterministic on purpose: a party's link is the same in its first mail and in every reminder (the expiry is
// fixed when the envelope is sent), so once the party has signed the outbox can forget every copy of it by
// one hash (src/core/mail/mailer.ts, scrubMailSecrets).
//
// The secret is made once per database (signet_meta, like the OAuth keys), so every Signet process on the
// database accepts the links any of them mailed. Verification compares macs in constant time.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Db } from '../../db/connection.ts';
import { AppError } from '../errors.ts';
import { readOrCreateMeta } from '../instance.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const TOKEN = /^([0-9a-f-]{36})\.([0-9]{1,12})\.([A-Za-z0-9_-]{43})$/;
/** The domain of the mac: a mac made for anything else Signet signs never passes as a signing link. */
const PURPOSE = 'signet-signing-link-v1';

export interface SigningClaims {
  envelopeId: string;
  partyId: string;
  expiresAt: Date;
}

export function invalidLink(): AppError {
  return new AppError(
    'signing_link_invalid',
    'this signing link is not valid: it may have been cut short or altered; open the link from your mail again, or ask the sender for a new one',
  );
}

export class SigningTokens {
  private secret: Promise<Buffer> | null = null;

  /** `secret` is the HMAC key; by default, the database's (made on first use). */
  constructor(
    private readonly db: Db,
    secret?: Buffer,
  ) {
    if (secret) this.secret = Promise.resolve(secret);
  }

  private key(): Promise<Buffer> {
    if (!this.secret) {
      const loading = readOrCreateMeta(this.db, 'signing_link_secret', () =>
        randomBytes(32).toString('base64url'),
      ).then((v) => Buffer.from(v, 'base64url'));
      // A failed read (the database briefly away) is tried again by the next request.
      loading.catch(() => {
        if (this.secret === loading) this.secret = null;
      });
      this.secret = loading;
    }
    return this.secret;
  }

  /**
   * The key, read through `trx` while it is not loaded yet: a caller inside a transaction (the send, holding
   * its payer's balance row) must not wait for a second pool connection, which under concurrent sends are all
   * held by transactions queued on that row (a pool deadlock). Read that way it is not cached: the
   * transaction may still roll back the key it made.
   */
  private keyFor(trx?: Db): Promise<Buffer> {
    if (this.secret || !trx) return this.key();
    return readOrCreateMeta(trx, 'signing_link_secret', () => randomBytes(32).toString('base64url')).then(
      (v) => Buffer.from(v, 'base64url'),
    );
  }

  private async mac(envelopeId: string, partyId: string, expires: number, trx?: Db): Promise<Buffer> {
    return createHmac('sha256', await this.keyFor(trx))
      .update(`${PURPOSE}\n${envelopeId}\n${partyId}\n${expires}`)
      .digest();
  }

  /** A party's token; pass the caller's transaction when there is one (keyFor). */
  async issue(claims: SigningClaims, trx?: Db): Promise<string> {
    const expires = Math.floor(claims.expiresAt.getTime() / 1000);
    const mac = await this.mac(claims.envelopeId, claims.partyId, expires, trx);
    return `${claims.partyId}.${expires}.${mac.toString('base64url')}`;
  }

  /**
   * The party a link of this envelope is for. 403 signing_link_invalid for a token Signet did not make for
   * this envelope (the mac is checked before the expiry is looked at, so an altered expiry is "invalid"),
   * 410 signing_link_expired for one past its expiry.
   */
  async verify(
    envelopeId: string,
    token: string | undefined,
    now = new Date(),
  ): Promise<{ partyId: string; expiresAt: Date }> {
    const m = token ? TOKEN.exec(token) : null;
    if (!m || !UUID.test(envelopeId)) throw invalidLink();
    const [, partyId, expiresText, macText] = m as unknown as [string, string, string, string];
    const expires = Number(expiresText);
    const given = Buffer.from(macText, 'base64url');
    const expected = await this.mac(envelopeId, partyId, expires);
    // Both 32 bytes (43 base64url characters decode to 32): timingSafeEqual needs equal lengths.
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalidLink();
    const expiresAt = new Date(expires * 1000);
    if (expiresAt <= now) {
      throw new AppError(
        'signing_link_expired',
        `this signing link expired at ${expiresAt.toISOString()}; ask the sender for a new envelope`,
      );
    }
    return { partyId, expiresAt };
  }
}
