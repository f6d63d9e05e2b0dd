// The OAuth server's own secrets, one set per database so that every Signet process on it agrees: the RSA
// key that signs ID tokens (published at /oauth/jwks; RS256 is what every OpenID client accepts) and the secret
// that signs oidc-provider's sign-in and interaction cookies. Made by the first process that needs them and
// kept in signet_meta; INSERT ... ON CONFLICT DO NOTHING then a read, so two processes starting together end
// up with the same ones.
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import type { Db } from '../../db/connection.ts';
import { readOrCreateMeta } from '../instance.ts';

export interface ServerKeys {
  /** A private JWK (RSA, with `kid`, `alg` RS256, `use` sig). */
  signingKey: Record<string, unknown>;
  cookieSecret: string;
}

export async function loadServerKeys(db: Db): Promise<ServerKeys> {
  const signing = await readOrCreateMeta(db, 'oauth_signing_key', () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    return JSON.stringify({
      ...privateKey.export({ format: 'jwk' }),
      kid: randomUUID(),
      alg: 'RS256',
      use: 'sig',
    });
  });
  const cookieSecret = await readOrCreateMeta(db, 'oauth_cookie_secret', () =>
    randomBytes(32).toString('base64url'),
  );
  return { signingKey: JSON.parse(signing) as Record<string, unknown>, cookieSecret };
}
