// Random tokens for sessions, email verification, password resets and invites: 256 bits, base64url, stored
// only as their SHA-256 (tokens are high-entropy, so a fast hash is the right one; argon2 is for passwords).
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** The CSRF token of a session: derived from the session token, so it needs no storage and dies with it. */
export function csrfTokenFor(sessionToken: string): string {
  return createHmac('sha256', sessionToken).update('signet-csrf-v1').digest('base64url');
}

/** Constant-time string equality (both sides hashed first, so lengths never leak or throw). */
export function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(hashToken(a), hashToken(b));
}
