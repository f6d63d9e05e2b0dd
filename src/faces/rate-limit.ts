// Rate limits (docs/idempotency-and-rate-limits.md): per principal on the native API, per IP on the public
// auth endpoints (routes opt in with `config: { rateLimit: { perIp: 'auth' } }`).
//
// Our own small plugin rather than @fastify/rate-limit: that plugin's `enableDraftSpec` emits only the
// older `RateLimit-Limit/-Remaining/-Reset` trio, not the current draft's structured `RateLimit-Policy` and
// `RateLimit` fields, and its key generator runs in its own onRequest hook, which we would have to order
// after our authentication hook by hand. What we need is small: a fixed window counter per
// (policy, partition), in memory or in Redis (one atomic Lua call), plus the headers.
//
// Every limited response carries, for each policy that applied:
//   RateLimit-Policy: "default";q=600;w=60      (draft-ietf-httpapi-ratelimit-headers)
//   RateLimit: "default";r=599;t=42
//   X-RateLimit-Limit / -Remaining / -Reset     (Reset in epoch seconds, as DocuSign clients read it)
// and a 429 adds Retry-After (seconds; never earlier than t).
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Redis } from 'ioredis';
import type { Config } from '../config.ts';
import { AppError } from '../core/errors.ts';
import { type AccountHint, isOAuthToken } from '../core/oauth/tokens.ts';

export type RateLimitPolicyName = 'default' | 'auth' | 'key_failures';

export interface RateLimitPolicy {
  name: RateLimitPolicyName;
  /** Requests allowed per window; 0 turns the policy off. */
  limit: number;
  windowSeconds: number;
}

declare module 'fastify' {
  interface FastifyInstance {
    rateLimiter: RateLimiter;
  }
  interface FastifyContextConfig {
    /** `perIp`: count this route's requests per client IP under the named policy (public auth endpoints). */
    rateLimit?: { perIp?: RateLimitPolicyName };
  }
}

export interface Hit {
  count: number;
  /** When the window ends, epoch ms. */
  resetAt: number;
}

export interface RateLimitStore {
  /** The in-memory store answers synchronously: the hot path then allocates no promise for it. */
  hit(key: string, windowMs: number): Hit | Promise<Hit>;
  /** The live window of `key` without counting a request; null when it has none. */
  peek(key: string): Hit | null | Promise<Hit | null>;
  close(): Promise<void>;
}

/**
 * Fixed windows that start at a partition's first request, kept in a Map. Memory is bounded: expired
 * buckets are swept every window (the Map's insertion order is window-start order, so the sweep stops at the
 * first live bucket), and past `maxBuckets` the oldest buckets are dropped.
 */
export class MemoryStore implements RateLimitStore {
  private readonly buckets = new Map<string, Hit>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly maxBuckets = 100_000,
    sweepMs = 60_000,
  ) {
    this.timer = setInterval(() => this.sweep(Date.now()), sweepMs);
    this.timer.unref();
  }

  hit(key: string, windowMs: number): Hit {
    return this.hitSync(key, windowMs, Date.now());
  }

  hitSync(key: string, windowMs: number, now: number): Hit {
    let bucket = this.buckets.get(key);
    if (!bucket || bucket.resetAt <= now) {
      this.buckets.delete(key);
      if (this.buckets.size >= this.maxBuckets) this.sweep(now);
      // Still full: drop the oldest tenth, so a flood of new partitions costs O(1) per request on average.
      if (this.buckets.size >= this.maxBuckets) {
        let drop = Math.max(1, Math.floor(this.maxBuckets / 10));
        for (const k of this.buckets.keys()) {
          this.buckets.delete(k);
          if (--drop === 0) break;
        }
      }
      bucket = { count: 0, resetAt: now + windowMs };
      this.buckets.set(key, bucket);
    }
    bucket.count++;
    return { count: bucket.count, resetAt: bucket.resetAt };
  }

  peek(key: string): Hit | null {
    const bucket = this.buckets.get(key);
    return bucket && bucket.resetAt > Date.now() ? { count: bucket.count, resetAt: bucket.resetAt } : null;
  }

  get size(): number {
    return this.buckets.size;
  }

  sweep(now: number): void {
    // Windows of one length expire in insertion order; with several lengths this may stop early, which
    // only delays eviction to a later sweep.
    for (const [k, bucket] of this.buckets) {
      if (bucket.resetAt > now) break;
      this.buckets.delete(k);
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.buckets.clear();
  }
}

// INCR, and set the expiry on the window's first request; PTTL says when the window ends. One atomic call,
// and Redis's clock decides, so every process agrees on the window.
const HIT_SCRIPT = `
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}`;

// The count and the time left of a window, or {0, -2} when it has none. Read-only.
const PEEK_SCRIPT = `
local count = redis.call('GET', KEYS[1])
if not count then return {0, -2} end
return {tonumber(count), redis.call('PTTL', KEYS[1])}`;

type RedisWithHit = Redis & {
  signetRateHit(key: string, windowMs: number): Promise<[number, number]>;
  signetRatePeek(key: string): Promise<[number, number]>;
};

/**
 * Shared across processes through Redis. If Redis fails, the request is counted in this process's memory
 * instead (limits still hold per process) and the failure is logged at most once a minute.
 */
export class RedisStore implements RateLimitStore {
  private readonly redis: RedisWithHit;
  private readonly fallback = new MemoryStore();
  private lastWarning = 0;

  constructor(
    url: string,
    private readonly prefix: string,
    private readonly log: FastifyBaseLogger,
  ) {
    const redis = new Redis(url, {
      maxRetriesPerRequest: 1,
      commandTimeout: 1000,
      // Keep trying to reconnect in the background; requests meanwhile use the fallback.
      retryStrategy: (times) => Math.min(times * 200, 5000),
    });
    redis.defineCommand('signetRateHit', { numberOfKeys: 1, lua: HIT_SCRIPT });
    redis.defineCommand('signetRatePeek', { numberOfKeys: 1, lua: PEEK_SCRIPT });
    redis.on('error', (err) => this.warn(err));
    this.redis = redis as RedisWithHit;
  }

  async hit(key: string, windowMs: number): Promise<Hit> {
    try {
      const [count, ttl] = await this.redis.signetRateHit(this.prefix + key, windowMs);
      return { count: Number(count), resetAt: Date.now() + Number(ttl) };
    } catch (err) {
      this.warn(err);
      return this.fallback.hit(key, windowMs);
    }
  }

  async peek(key: string): Promise<Hit | null> {
    try {
      const [count, ttl] = await this.redis.signetRatePeek(this.prefix + key);
      return Number(ttl) < 0 ? null : { count: Number(count), resetAt: Date.now() + Number(ttl) };
    } catch (err) {
      this.warn(err);
      return this.fallback.peek(key);
    }
  }

  private warn(err: unknown): void {
    const now = Date.now();
    if (now - this.lastWarning < 60_000) return;
    this.lastWarning = now;
    this.log.warn({ err }, 'rate limits: Redis unavailable; counting in this process until it is back');
  }

  async close(): Promise<void> {
    await this.fallback.close();
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

export interface LimitResult {
  policy: RateLimitPolicy;
  remaining: number;
  /** Epoch ms. */
  resetAt: number;
  limited: boolean;
}

function limitResult(policy: RateLimitPolicy, hit: Hit): LimitResult {
  return {
    policy,
    remaining: Math.max(0, policy.limit - hit.count),
    resetAt: hit.resetAt,
    limited: hit.count > policy.limit,
  };
}

export class RateLimiter {
  constructor(
    readonly policies: Record<RateLimitPolicyName, RateLimitPolicy>,
    private readonly store: RateLimitStore,
  ) {}

  /** Counts one request of `partition` under the policy; null when the policy is off. */
  check(name: RateLimitPolicyName, partition: string): LimitResult | null | Promise<LimitResult | null> {
    const policy = this.policies[name];
    if (policy.limit <= 0) return null;
    const hit = this.store.hit(`${name}:${partition}`, policy.windowSeconds * 1000);
    return hit instanceof Promise ? hit.then((h) => limitResult(policy, h)) : limitResult(policy, hit);
  }

  /** Whether `partition` is over the policy now, without counting anything; null when the policy is off. */
  peek(name: RateLimitPolicyName, partition: string): LimitResult | null | Promise<LimitResult | null> {
    const policy = this.policies[name];
    if (policy.limit <= 0) return null;
    const toResult = (hit: Hit | null): LimitResult | null =>
      hit && {
        policy,
        remaining: Math.max(0, policy.limit - hit.count),
        resetAt: hit.resetAt,
        limited: hit.count >= policy.limit,
      };
    const hit = this.store.peek(`${name}:${partition}`);
    return hit instanceof Promise ? hit.then(toResult) : toResult(hit);
  }

  close(): Promise<void> {
    return this.store.close();
  }
}

export function createRateLimiter(config: Config, log: FastifyBaseLogger): RateLimiter {
  const policies: Record<RateLimitPolicyName, RateLimitPolicy> = {
    default: { name: 'default', limit: config.rateLimitPerMinute, windowSeconds: 60 },
    auth: { name: 'auth', limit: config.authRateLimitPerMinute, windowSeconds: 60 },
    key_failures: { name: 'key_failures', limit: config.keyFailuresPerMinute, windowSeconds: 60 },
  };
  const store = config.redisUrl
    ? new RedisStore(config.redisUrl, config.rateLimitRedisPrefix, log)
    : new MemoryStore();
  return new RateLimiter(policies, store);
}

const applied = new WeakMap<FastifyRequest, LimitResult[]>();

function secondsUntil(at: number, now: number): number {
  return Math.max(0, Math.ceil((at - now) / 1000));
}

/** Writes the headers for every policy that applied to the request so far. */
function setHeaders(reply: FastifyReply, results: LimitResult[], now: number): void {
  reply.header(
    'ratelimit-policy',
    results.map((r) => `"${r.policy.name}";q=${r.policy.limit};w=${r.policy.windowSeconds}`).join(', '),
  );
  reply.header(
    'ratelimit',
    results.map((r) => `"${r.policy.name}";r=${r.remaining};t=${secondsUntil(r.resetAt, now)}`).join(', '),
  );
  // The legacy trio describes one policy: the one closest to its limit.
  const tightest = results.reduce((a, b) => (b.remaining < a.remaining ? b : a));
  reply.header('x-ratelimit-limit', String(tightest.policy.limit));
  reply.header('x-ratelimit-remaining', String(tightest.remaining));
  reply.header('x-ratelimit-reset', String(Math.ceil(tightest.resetAt / 1000)));
}

/** Counts the request under `policy` for `partition`, sets the headers, and throws 429 when over. */
export async function enforceRateLimit(
  request: FastifyRequest,
  reply: FastifyReply,
  policy: RateLimitPolicyName,
  partition: string,
): Promise<void> {
  const checked = request.server.rateLimiter.check(policy, partition);
  const result = checked instanceof Promise ? await checked : checked;
  if (!result) return;
  const earlier = applied.get(request);
  const results = earlier ? [...earlier, result] : [result];
  applied.set(request, results);
  const now = Date.now();
  setHeaders(reply, results, now);
  const over = results.filter((r) => r.limited);
  if (over.length === 0) return;
  const retryAfter = Math.max(1, ...over.map((r) => secondsUntil(r.resetAt, now)));
  reply.header('retry-after', String(retryAfter));
  throw new AppError(
    'rate_limited',
    `rate limit exceeded: ${over.map((r) => `${r.policy.limit} requests per ${r.policy.windowSeconds} s ("${r.policy.name}")`).join(', ')}; retry after ${retryAfter} s`,
    over.map((r) => ({
      message: 'quota exceeded',
      policy: r.policy.name,
      limit: r.policy.limit,
      window_seconds: r.policy.windowSeconds,
      retry_after_seconds: retryAfter,
    })),
  );
}

/**
 * Verifies a bearer credential — an API key, or an OAuth access token (src/core/oauth/tokens.ts) — under the
 * per-IP budget of failed verifications (`key_failures`, SIGNET_KEY_FAILURES_PER_MINUTE). A client over its
 * budget gets 429 rate_limited with Retry-After before the credential is even parsed, so guessing costs no
 * query and no cache slot; every 401 from verification (a bad checksum included: it is cheap to forge) counts
 * one failure. Successful verifications count nothing. `hint`: the account a user's token should act in.
 */
export async function verifyBearerLimited(
  request: FastifyRequest,
  reply: FastifyReply,
  credential: string,
  hint: AccountHint | null = null,
) {
  const limiter = request.server.rateLimiter;
  const partition = `ip:${request.ip}`;
  const peeked = limiter.peek('key_failures', partition);
  const state = peeked instanceof Promise ? await peeked : peeked;
  if (state?.limited) {
    const retryAfter = Math.max(1, secondsUntil(state.resetAt, Date.now()));
    reply.header('retry-after', String(retryAfter));
    throw new AppError(
      'rate_limited',
      `too many failed API key or access token verifications from this address: ${state.policy.limit} per ${state.policy.windowSeconds} s; retry after ${retryAfter} s`,
      [
        {
          message: 'quota exceeded',
          policy: state.policy.name,
          limit: state.policy.limit,
          window_seconds: state.policy.windowSeconds,
          retry_after_seconds: retryAfter,
        },
      ],
    );
  }
  const { services } = request.server;
  try {
    return isOAuthToken(credential)
      ? await services.oauthTokens.verify(credential, hint)
      : await services.apiKeys.verify(credential, request.ip);
  } catch (err) {
    if (err instanceof AppError && err.status === 401) {
      const counted = limiter.check('key_failures', partition);
      if (counted instanceof Promise) await counted;
    }
    throw err;
  }
}

/** An onRequest hook for a face: counts each authenticated request against its principal's budget. Add it after the auth hook. */
export async function rateLimitByPrincipal(request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const principal = request.principal;
  if (!principal) return;
  await enforceRateLimit(request, reply, 'default', `${principal.kind}:${principal.id}`);
}

/**
 * Installs the limiter on the app and honours `config.rateLimit.perIp` on every route registered after this
 * call, in any face: the route gets its own onRequest hook keyed by the client IP (request.ip: set Fastify's
 * trustProxy when a proxy sits in front, or every client shares the proxy's budget).
 */
export function installRateLimits(fastify: FastifyInstance, config: Config): void {
  const limiter = createRateLimiter(config, fastify.log);
  fastify.decorate('rateLimiter', limiter);
  fastify.addHook('onClose', async () => limiter.close());
  fastify.addHook('onRoute', (route) => {
    const policy = route.config?.rateLimit?.perIp;
    if (!policy) return;
    if (!(policy in limiter.policies))
      throw new Error(`route ${route.url}: unknown rate-limit policy "${policy}"`);
    const perIp = async (request: FastifyRequest, reply: FastifyReply) =>
      enforceRateLimit(request, reply, policy, `ip:${request.ip}`);
    const existing = route.onRequest;
    route.onRequest = existing ? [perIp, ...(Array.isArray(existing) ? existing : [existing])] : [perIp];
  });
}
