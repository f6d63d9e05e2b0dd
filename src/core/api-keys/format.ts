// API key format, after GitHub's token design: `sk_<env>_` + 32 base62 characters of randomness (~190 bits)
// + a 6-character base62 CRC32 of everything before it. The prefix makes leaked keys easy to scan for and says
// which environment a key is for; the checksum lets us refuse typos and garbage before any database work.
import { hash, randomInt } from 'node:crypto';
import { crc32 } from 'node:zlib';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const KEY_RE = /^sk_(test|live)_([0-9A-Za-z]{32})([0-9A-Za-z]{6})$/;

export type Environment = 'test' | 'live';

function base62(n: number, width: number): string {
  let out = '';
  let v = n;
  while (v > 0) {
    out = BASE62[v % 62] + out;
    v = Math.floor(v / 62);
  }
  return out.padStart(width, '0');
}

function checksum(body: string): string {
  return base62(crc32(body) >>> 0, 6);
}

export function generateKey(environment: Environment): string {
  let random = '';
  for (let i = 0; i < 32; i++) random += BASE62[randomInt(62)];
  const body = `sk_${environment}_${random}`;
  return body + checksum(body);
}

export type ParsedKey = { ok: true; environment: Environment } | { ok: false; reason: string };

export function parseKey(key: string): ParsedKey {
  const m = KEY_RE.exec(key);
  if (!m) return { ok: false, reason: 'not a Signet API key (expected sk_test_… or sk_live_…)' };
  const body = `sk_${m[1]}_${m[2]}`;
  if (checksum(body) !== m[3])
    return { ok: false, reason: 'the key is mistyped or truncated (checksum mismatch)' };
  return { ok: true, environment: m[1] as Environment };
}

export function hashKey(key: string): Buffer {
  return hash('sha256', key, 'buffer');
}

/** The same SHA-256 as base64 text, in one call: the verification cache's key on the hot path. */
export function hashKeyBase64(key: string): string {
  return hash('sha256', key, 'base64');
}
