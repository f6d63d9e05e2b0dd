// The OAuth server's own secrets, one set per database so that every Signet process on it agrees: the RSA
// key that signs ID tokens (published at /oauth/jwks; RS256 is what every OpenID client accepts) and the secret
// that signs oidc-provider's sign-in and interaction cookies. Made by the first process that needs them and
// kept in signet_meta; INSERT ... ON CONFLICT DO NOTHING then a read, so two processes starting together end
// up with the same ones.
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Db } from '../../db/connection.ts';

export interface ServerKeys {
  /** A private JWK (RSA, with `kid`, `alg` RS256, `use` sig). */
  signingKey: Record<string, unknown>;
  cookieSecret: string;
}

async function readOrCreate(db: Db, key: string, make: () => string): Promise<string> {
  const read = async () =>
    (await sql<{ value: string }>`SELECT value FROM signet_meta WHERE key = ${key}`.execute(db)).rows[0]
      ?.value;
  const existing = await read();
  if (existing !== undefined) return existing;
  await sql`INSERT INTO signet_meta (key, value) VALUES (${key}, ${make()}) ON CONFLICT (key) DO NOTHING`.execute(
    db,
  );
  return (await read())!;
}

export async function loadServerKeys(db: Db): Promise<ServerKeys> {
  const signing = await readOrCreate(db, 'oauth_signing_key', () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    return JSON.stringify({
      ...privateKey.export({ format: 'jwk' }),
      kid: randomUUID(),
      alg: 'RS256',
      use: 'sig',
    });
  });
  const cookieSecret = await readOrCreate(db, 'oauth_cookie_secret', () =>
    randomBytes(32).toString('base64url'),
  );
  return { signingKey: JSON.parse(signing) as Record<string, unknown>, cookieSecret };
}
