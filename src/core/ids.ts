import { randomFillSync } from 'node:crypto';

// Time-ordered UUIDs (RFC 9562 v7): keyset pagination by id then follows creation order.
//
// The layout and the monotonic counter are those of the `uuid` package's v7() (48-bit Unix milliseconds, then a
// 32-bit sequence seeded at random each new millisecond and incremented within one, then 42 random bits), so
// ids made in one process sort in the order they were made. What differs is where the randomness comes from:
// `uuid` asks the OS for 16 bytes per id (crypto.getRandomValues), which cost ~13% of a bulk import's CPU; here
// one randomFillSync fills a pool of 256 ids' worth and ids take 16 bytes each from it. The bytes are the same
// cryptographically strong bytes, drawn in larger pieces.
const POOL_IDS = 256;
const pool = Buffer.alloc(16 * POOL_IDS);
let poolPos = pool.length;
let lastMs = Number.NEGATIVE_INFINITY;
let seq = 0;

const HEX: string[] = Array.from({ length: 256 }, (_, i) => (i + 0x100).toString(16).slice(1));

export const newId = (): string => {
  if (poolPos === pool.length) {
    randomFillSync(pool);
    poolPos = 0;
  }
  const r = poolPos;
  poolPos += 16;
  const now = Date.now();
  if (now > lastMs) {
    seq = ((pool[r + 6]! & 0x7f) << 24) | (pool[r + 7]! << 16) | (pool[r + 8]! << 8) | pool[r + 9]!;
    lastMs = now;
  } else {
    seq = (seq + 1) | 0;
    if (seq === 0) lastMs++;
  }
  const ms = lastMs;
  return (
    HEX[(ms / 0x10000000000) & 0xff]! +
    HEX[(ms / 0x100000000) & 0xff]! +
    HEX[(ms / 0x1000000) & 0xff]! +
    HEX[(ms / 0x10000) & 0xff]! +
    '-' +
    HEX[(ms / 0x100) & 0xff]! +
    HEX[ms & 0xff]! +
    '-' +
    HEX[0x70 | ((seq >>> 28) & 0x0f)]! +
    HEX[(seq >>> 20) & 0xff]! +
    '-' +
    HEX[0x80 | ((seq >>> 14) & 0x3f)]! +
    HEX[(seq >>> 6) & 0xff]! +
    '-' +
    HEX[((seq << 2) & 0xff) | (pool[r + 10]! & 0x03)]! +
    HEX[pool[r + 11]!]! +
    HEX[pool[r + 12]!]! +
    HEX[pool[r + 13]!]! +
    HEX[pool[r + 14]!]! +
    HEX[pool[r + 15]!]!
  );
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (s: string): boolean => UUID.test(s);
