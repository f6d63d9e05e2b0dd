// RSA keys of an integration, for the JWT bearer grant (RS256, as DocuSign's SDKs sign their assertions).
// Signet keeps only public keys: one sent as PEM is checked and stored in one form (SPKI PEM); one Signet
// generates, as DocuSign's console does, has its private half handed back once and never stored.
import { createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { AppError } from '../errors.ts';

/** RS256 needs at least 2048 bits (RFC 7518 section 3.3); above 8192 a signature check costs too much. */
export const RSA_MIN_BITS = 2048;
export const RSA_MAX_BITS = 8192;
/** The size of a pair Signet generates (DocuSign's console generates 2048-bit pairs). */
const GENERATED_BITS = 2048;

const PEM_BLOCK = /^-----BEGIN ([A-Z0-9 ]+)-----\r?\n[A-Za-z0-9+/=\r\n]+-----END \1-----$/;

function invalidKey(message: string): AppError {
  return new AppError('invalid_public_key', `public_key: ${message}`, [{ field: 'public_key', message }]);
}

/**
 * Checks a PEM public key and returns it as SPKI PEM. Refused (422 invalid_public_key, saying why): anything
 * but one PEM block, a private key (it must never be sent: the message says so), a certificate, a key that is
 * not RSA, and a modulus outside 2048..8192 bits.
 */
export function normalisePublicKey(text: string): string {
  const pem = text.trim();
  const block = PEM_BLOCK.exec(pem);
  if (!block) {
    throw invalidKey(
      'not a PEM public key; send one block from "-----BEGIN PUBLIC KEY-----" to "-----END PUBLIC KEY-----"',
    );
  }
  const label = block[1]!;
  if (label.includes('PRIVATE')) {
    // Said plainly: whoever sent this has exposed the private key and should make a new pair.
    throw invalidKey(
      'this is a private key; send only the public key (and treat this private key as exposed: generate a new pair)',
    );
  }
  if (label !== 'PUBLIC KEY' && label !== 'RSA PUBLIC KEY') {
    throw invalidKey(`a "${label}" block is not accepted; send an RSA public key ("BEGIN PUBLIC KEY")`);
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch {
    throw invalidKey('the PEM block does not decode to a public key (is it truncated or altered?)');
  }
  if (key.asymmetricKeyType !== 'rsa') {
    throw invalidKey(
      `the key is ${key.asymmetricKeyType ?? 'of an unknown type'}, not RSA; the JWT grant signs with RS256`,
    );
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS) {
    throw invalidKey(`the key has ${bits} bits; use ${RSA_MIN_BITS} to ${RSA_MAX_BITS}`);
  }
  return key.export({ type: 'spki', format: 'pem' }) as string;
}

const generate = promisify(generateKeyPair);

/**
 * A new RSA pair: the public half as SPKI PEM (stored), the private half as PKCS#1 PEM ("BEGIN RSA PRIVATE
 * KEY", the form DocuSign's console hands out and its SDKs' requestJWTUserToken takes), shown once. Generated
 * off the event loop: a 2048-bit pair takes tens of milliseconds.
 */
export async function generateRsaPair(): Promise<{ publicKeyPem: string; privateKeyPem: string }> {
  const { publicKey, privateKey } = await generate('rsa', {
    modulusLength: GENERATED_BITS,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
  return { publicKeyPem: publicKey, privateKeyPem: privateKey };
}
