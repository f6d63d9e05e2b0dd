// Configuration is read from the environment once, validated, and then passed down explicitly:
// nothing below this module reads process.env, so tests build apps with whatever config they need.
import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { type Static, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { parseSecretKeys } from './core/secret-box.ts';

const ConfigSchema = Type.Object({
  port: Type.Integer({ minimum: 0, maximum: 65535 }),
  host: Type.String({ minLength: 1 }),
  // Which proxies' X-Forwarded-For / -Proto / -Host to believe (Fastify's trustProxy): false, true (any), or
  // addresses and CIDR ranges. It decides request.ip (per-IP limits, audit) and request.protocol (the session
  // cookie's Secure flag).
  trustProxy: Type.Union([Type.Boolean(), Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })]),
  dataDir: Type.String({ minLength: 1 }),
  databaseUrl: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
  environment: Type.Union([Type.Literal('test'), Type.Literal('live')]),
  logLevel: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
  ),
  bodyLimitBytes: Type.Integer({ minimum: 1024 }),
  logoLimitBytes: Type.Integer({ minimum: 1024 }),
  dbPoolSize: Type.Integer({ minimum: 1, maximum: 200 }),
  keyCacheTtlMs: Type.Integer({ minimum: 0, maximum: 5000 }),
  // Rate limits (docs/idempotency-and-rate-limits.md): requests per minute; 0 turns a limit off.
  rateLimitPerMinute: Type.Integer({ minimum: 0 }),
  authRateLimitPerMinute: Type.Integer({ minimum: 0 }),
  // Failed API key verifications per minute per client IP; over it, 429 before any database query.
  keyFailuresPerMinute: Type.Integer({ minimum: 0 }),
  redisUrl: Type.Optional(Type.String({ pattern: '^rediss?://' })),
  rateLimitRedisPrefix: Type.String({ minLength: 1, maxLength: 100 }),
  // People and mail (docs/people-and-sessions.md).
  smtpUrl: Type.Optional(Type.String({ pattern: '^smtps?://' })),
  mailFrom: Type.String({ minLength: 3 }),
  publicUrl: Type.String({ pattern: '^https?://' }),
  // What a JWT-bearer grant's `aud` must be: the host[:port] DocuSign's SDKs put there (docs/oauth.md).
  oauthAudience: Type.String({ minLength: 1, maxLength: 300 }),
  // DNS servers for domain-claim proofs, as Node's Resolver.setServers takes them; empty = the system's.
  dnsServers: Type.Array(Type.String({ minLength: 1 })),
  sessionMaxHours: Type.Integer({ minimum: 1, maximum: 24 * 30 }),
  // How long an activation link works (docs/people-and-sessions.md, "Activation").
  activationTtlDays: Type.Integer({ minimum: 1, maximum: 90 }),
  // Bulk imports and the job workers (docs/imports.md).
  importMaxBytes: Type.Integer({ minimum: 1024 }),
  importBatchSize: Type.Integer({ minimum: 1, maximum: 5000 }),
  workers: Type.Integer({ minimum: 0, maximum: 64 }),
  jobExpireSeconds: Type.Integer({ minimum: 2, maximum: 86400 }),
  jobMaintenanceSeconds: Type.Integer({ minimum: 1, maximum: 3600 }),
  importQueue: Type.String({ pattern: '^[A-Za-z0-9_.-]{1,100}$' }),
  // Exports (docs/exports.md).
  exportQueue: Type.String({ pattern: '^[A-Za-z0-9_.-]{1,100}$' }),
  exportRetentionHours: Type.Integer({ minimum: 1, maximum: 24 * 365 }),
  // HTTPS (docs/oauth.md#https): the certificate (with its chain) and its private key, as PEM text. Absent:
  // plain HTTP (behind a proxy that terminates TLS, or for local use).
  tls: Type.Optional(
    Type.Object({ cert: Type.String({ minLength: 1 }), key: Type.String({ minLength: 1 }) }),
  ),
  // Outbound requests (webhooks; src/core/net/outbound.ts): hosts and CIDR ranges the private-address guard
  // lets through (on-premises receivers, tests), and whether plain http:// URLs are accepted at all.
  outboundAllow: Type.Array(Type.String({ minLength: 1 })),
  outboundAllowHttp: Type.Boolean(),
  // Envelopes (docs/envelopes.md): the largest PDF an envelope takes; credits a new self-service
  // organization starts with (docs/platform.md, "Credits").
  envelopeMaxBytes: Type.Integer({ minimum: 1024 }),
  signupCredits: Type.Integer({ minimum: 0 }),
  // How long a webhook receiver has to answer, and whether this process's job workers send webhooks at all
  // (docs/webhooks.md: a deployment may leave delivery to some of its worker processes).
  webhookTimeoutMs: Type.Integer({ minimum: 100, maximum: 60_000 }),
  webhookDelivery: Type.Boolean(),
  // The waits (seconds) between a failed attempt and the next (docs/webhooks.md, "Delivery"): Atlas's ladder,
  // then Standard Webhooks' example, about three days in all. Shorter ladders are for tests and drills.
  webhookRetrySeconds: Type.Array(Type.Integer({ minimum: 0, maximum: 7 * 24 * 3600 }), {
    minItems: 1,
    maxItems: 50,
  }),
  // An endpoint whose attempts have all failed for this long is disabled and its organization's admins mailed.
  webhookDisableAfterSeconds: Type.Integer({ minimum: 1, maximum: 30 * 24 * 3600 }),
  // Deliveries of one endpoint in flight at once, all processes together (one slow receiver holds only these).
  webhookEndpointConcurrency: Type.Integer({ minimum: 1, maximum: 100 }),
  // The organizations whose webhooks this process sends (empty: all): a worker set aside for some tenants, or
  // on the network segment their on-premises receivers are on. Every organization needs some process.
  webhookOrganizations: Type.Array(Type.String({ format: 'uuid' })),
  // Keys that seal stored secrets (src/core/secret-box.ts): `id:base64 of 32 bytes`, the first sealing; empty:
  // the database's own key.
  secretKeys: Type.Array(Type.String({ minLength: 1 })),
});

export type Config = Static<typeof ConfigSchema>;

/**
 * Seconds to wait after each failed webhook attempt: Atlas's ladder (1 min, 5 min, 30 min, 2 h), then Standard
 * Webhooks' example (5 h, 10 h, 14 h, 20 h, 24 h): about three days, then the delivery has failed.
 */
export const DEFAULT_RETRY_SECONDS = [60, 300, 1800, 7200, 18_000, 36_000, 50_400, 72_000, 86_400] as const;

export class ConfigError extends Error {}

/** Builds the config from an environment map (process.env by default); throws ConfigError naming the variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const int = (name: string, fallback: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n)) throw new ConfigError(`${name} must be an integer, got "${raw}"`);
    return n;
  };
  const tls = tlsOf(env.SIGNET_TLS_CERT, env.SIGNET_TLS_KEY);
  const config = {
    port: int('PORT', 8080),
    host: env.HOST || '127.0.0.1',
    trustProxy: trustProxyOf(env.SIGNET_TRUST_PROXY),
    dataDir: path.resolve(env.SIGNET_DATA_DIR || './data'),
    databaseUrl: env.DATABASE_URL || undefined,
    environment: env.SIGNET_ENV || 'test',
    logLevel: env.LOG_LEVEL || 'info',
    bodyLimitBytes: int('SIGNET_BODY_LIMIT_BYTES', 1024 * 1024),
    logoLimitBytes: int('SIGNET_LOGO_LIMIT_BYTES', 512 * 1024),
    dbPoolSize: int('SIGNET_DB_POOL_SIZE', 10),
    // Revocation must be honoured by every process within 5 s, so the cache lifetime is capped there.
    keyCacheTtlMs: int('SIGNET_KEY_CACHE_TTL_MS', 5000),
    rateLimitPerMinute: int('SIGNET_RATE_LIMIT_PER_MINUTE', 600),
    authRateLimitPerMinute: int('SIGNET_AUTH_RATE_LIMIT_PER_MINUTE', 10),
    keyFailuresPerMinute: int('SIGNET_KEY_FAILURES_PER_MINUTE', 20),
    redisUrl: env.REDIS_URL || undefined,
    rateLimitRedisPrefix: env.SIGNET_RATE_LIMIT_REDIS_PREFIX || 'signet:rl:',
    smtpUrl: env.SMTP_URL || undefined,
    mailFrom: env.SIGNET_MAIL_FROM || 'Signet <no-reply@localhost>',
    publicUrl: (env.SIGNET_PUBLIC_URL || `${tls ? 'https' : 'http'}://localhost:8080`).replace(/\/+$/, ''),
    oauthAudience: env.SIGNET_OAUTH_AUDIENCE || '',
    sessionMaxHours: int('SIGNET_SESSION_MAX_HOURS', 12),
    activationTtlDays: int('SIGNET_ACTIVATION_TTL_DAYS', 7),
    dnsServers: dnsServersOf(env.SIGNET_DNS_SERVERS),
    importMaxBytes: int('SIGNET_IMPORT_MAX_BYTES', 200 * 1024 * 1024),
    importBatchSize: int('SIGNET_IMPORT_BATCH_SIZE', 2000),
    // Job workers inside `signet start` (0 = none: run `signet worker` processes instead).
    workers: int('SIGNET_WORKERS', 1),
    // A job whose worker died is retried once this has passed since it started (pg-boss expiry); a running
    // import hands over to a fresh job well before then (see src/jobs/imports.ts).
    jobExpireSeconds: int('SIGNET_JOB_EXPIRE_SECONDS', 300),
    jobMaintenanceSeconds: int('SIGNET_JOB_MAINTENANCE_SECONDS', 30),
    // The pg-boss queue of import jobs; processes that share it share the work.
    importQueue: env.SIGNET_IMPORT_QUEUE || 'signet-imports',
    // The pg-boss queue of export jobs, and how long a finished export can be downloaded (7 days).
    exportQueue: env.SIGNET_EXPORT_QUEUE || 'signet-exports',
    exportRetentionHours: int('SIGNET_EXPORT_RETENTION_HOURS', 7 * 24),
    tls,
    outboundAllow: (env.SIGNET_OUTBOUND_ALLOW ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
    outboundAllowHttp: env.SIGNET_OUTBOUND_ALLOW_HTTP === 'true',
    envelopeMaxBytes: int('SIGNET_ENVELOPE_MAX_BYTES', 25 * 1024 * 1024),
    signupCredits: int('SIGNET_SIGNUP_CREDITS', 5),
    webhookTimeoutMs: int('SIGNET_WEBHOOK_TIMEOUT_MS', 10_000),
    webhookDelivery: env.SIGNET_WEBHOOK_DELIVERY !== 'false',
    webhookRetrySeconds: env.SIGNET_WEBHOOK_RETRY_SECONDS
      ? env.SIGNET_WEBHOOK_RETRY_SECONDS.split(',').map((s) => (/^\s*\d+\s*$/.test(s) ? Number(s) : -1))
      : [...DEFAULT_RETRY_SECONDS],
    webhookDisableAfterSeconds: int('SIGNET_WEBHOOK_DISABLE_AFTER_SECONDS', 3 * 24 * 3600),
    webhookEndpointConcurrency: int('SIGNET_WEBHOOK_ENDPOINT_CONCURRENCY', 4),
    webhookOrganizations: (env.SIGNET_WEBHOOK_ORGANIZATIONS ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
    secretKeys: (env.SIGNET_SECRET_KEYS ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
    ...overrides,
  };
  try {
    parseSecretKeys(config.secretKeys.join(','));
  } catch (err) {
    throw new ConfigError(`invalid SIGNET_SECRET_KEYS: ${(err as Error).message}`);
  }
  // By default the audience is SIGNET_PUBLIC_URL's host[:port], which is what the SDKs send.
  if (config.oauthAudience === '') config.oauthAudience = hostOf(config.publicUrl);
  if (config.databaseUrl === undefined) delete (config as Partial<Config>).databaseUrl;
  if (config.redisUrl === undefined) delete (config as Partial<Config>).redisUrl;
  if (config.smtpUrl === undefined) delete (config as Partial<Config>).smtpUrl;
  if (config.tls === undefined) delete (config as Partial<Config>).tls;
  const first = Value.Errors(ConfigSchema, config).First();
  if (first) {
    const names: Record<string, string> = {
      '/port': 'PORT',
      '/host': 'HOST',
      '/trustProxy': 'SIGNET_TRUST_PROXY',
      '/dataDir': 'SIGNET_DATA_DIR',
      '/databaseUrl': 'DATABASE_URL',
      '/environment': 'SIGNET_ENV (test | live)',
      '/logLevel': 'LOG_LEVEL',
      '/bodyLimitBytes': 'SIGNET_BODY_LIMIT_BYTES',
      '/logoLimitBytes': 'SIGNET_LOGO_LIMIT_BYTES',
      '/dbPoolSize': 'SIGNET_DB_POOL_SIZE',
      '/keyCacheTtlMs': 'SIGNET_KEY_CACHE_TTL_MS',
      '/rateLimitPerMinute': 'SIGNET_RATE_LIMIT_PER_MINUTE',
      '/authRateLimitPerMinute': 'SIGNET_AUTH_RATE_LIMIT_PER_MINUTE',
      '/keyFailuresPerMinute': 'SIGNET_KEY_FAILURES_PER_MINUTE',
      '/redisUrl': 'REDIS_URL (redis:// or rediss://)',
      '/rateLimitRedisPrefix': 'SIGNET_RATE_LIMIT_REDIS_PREFIX',
      '/smtpUrl': 'SMTP_URL (smtp:// or smtps://)',
      '/mailFrom': 'SIGNET_MAIL_FROM',
      '/publicUrl': 'SIGNET_PUBLIC_URL',
      '/oauthAudience': 'SIGNET_OAUTH_AUDIENCE',
      '/dnsServers': 'SIGNET_DNS_SERVERS',
      '/sessionMaxHours': 'SIGNET_SESSION_MAX_HOURS',
      '/activationTtlDays': 'SIGNET_ACTIVATION_TTL_DAYS',
      '/importMaxBytes': 'SIGNET_IMPORT_MAX_BYTES',
      '/importBatchSize': 'SIGNET_IMPORT_BATCH_SIZE',
      '/workers': 'SIGNET_WORKERS',
      '/jobExpireSeconds': 'SIGNET_JOB_EXPIRE_SECONDS',
      '/jobMaintenanceSeconds': 'SIGNET_JOB_MAINTENANCE_SECONDS',
      '/importQueue': 'SIGNET_IMPORT_QUEUE',
      '/exportQueue': 'SIGNET_EXPORT_QUEUE',
      '/exportRetentionHours': 'SIGNET_EXPORT_RETENTION_HOURS',
      '/envelopeMaxBytes': 'SIGNET_ENVELOPE_MAX_BYTES',
      '/signupCredits': 'SIGNET_SIGNUP_CREDITS',
      '/tls': 'SIGNET_TLS_CERT / SIGNET_TLS_KEY',
      '/outboundAllowHttp': 'SIGNET_OUTBOUND_ALLOW_HTTP (true | false)',
      '/webhookTimeoutMs': 'SIGNET_WEBHOOK_TIMEOUT_MS',
      '/webhookRetrySeconds': 'SIGNET_WEBHOOK_RETRY_SECONDS (comma-separated seconds)',
      '/webhookDisableAfterSeconds': 'SIGNET_WEBHOOK_DISABLE_AFTER_SECONDS',
      '/webhookEndpointConcurrency': 'SIGNET_WEBHOOK_ENDPOINT_CONCURRENCY',
      '/webhookOrganizations': 'SIGNET_WEBHOOK_ORGANIZATIONS (organization ids, comma-separated)',
    };
    const got = typeof first.value === 'string' ? `, got "${first.value}"` : '';
    throw new ConfigError(`invalid ${names[first.path] ?? first.path}: ${first.message}${got}`);
  }
  return config as Config;
}

/** The host[:port] of a URL, or '' when it is not one (the schema then names SIGNET_PUBLIC_URL). */
function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '';
  }
}

/**
 * SIGNET_TLS_CERT and SIGNET_TLS_KEY: paths of PEM files, both or neither. Read and checked here, so a wrong
 * path, a file of the wrong kind or a key that is not the certificate's is one line at startup rather than a
 * failed handshake later. An encrypted private key is refused: nothing could type its passphrase.
 */
function tlsOf(certPath: string | undefined, keyPath: string | undefined): Config['tls'] {
  const cert = certPath?.trim() || undefined;
  const key = keyPath?.trim() || undefined;
  if (!cert && !key) return undefined;
  if (!cert || !key) {
    throw new ConfigError(
      `SIGNET_TLS_CERT and SIGNET_TLS_KEY go together: ${cert ? 'SIGNET_TLS_KEY' : 'SIGNET_TLS_CERT'} is not set (set both to serve HTTPS, or neither)`,
    );
  }
  const read = (name: string, file: string): string => {
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new ConfigError(`${name}: cannot read "${file}" (${e.code ?? e.message})`);
    }
  };
  const certPem = read('SIGNET_TLS_CERT', cert);
  const keyPem = read('SIGNET_TLS_KEY', key);
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(certPem);
  } catch {
    throw new ConfigError(
      `SIGNET_TLS_CERT: "${cert}" is not a PEM certificate (expected "-----BEGIN CERTIFICATE-----")`,
    );
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(keyPem);
  } catch (err) {
    const encrypted = /ENCRYPTED|passphrase/i.test(`${keyPem.slice(0, 100)} ${(err as Error).message}`);
    throw new ConfigError(
      `SIGNET_TLS_KEY: "${key}" is not ${encrypted ? 'an unencrypted' : 'a'} PEM private key${encrypted ? ' (remove its passphrase: openssl pkey -in key.pem -out plain.pem)' : ''}`,
    );
  }
  if (!x509.checkPrivateKey(privateKey)) {
    throw new ConfigError(
      `SIGNET_TLS_KEY: "${key}" is not the private key of the certificate in "${cert}" (SIGNET_TLS_CERT)`,
    );
  }
  return { cert: certPem, key: keyPem };
}

/**
 * SIGNET_DNS_SERVERS: comma-separated `host[:port]`, where host is an IP address (IPv6 in brackets when a port
 * follows: `[::1]:53`). Unset or empty: the system's resolvers (/etc/resolv.conf). Names are refused: the
 * resolver needs addresses, and resolving the resolver would need a resolver.
 */
function dnsServersOf(raw: string | undefined): string[] {
  const value = raw?.trim() ?? '';
  if (value === '') return [];
  return value.split(',').map((e) => {
    const entry = e.trim();
    const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(entry);
    const v4 = /^([^:]+)(?::(\d{1,5}))?$/.exec(entry);
    const [host, port] = bracketed
      ? [bracketed[1]!, bracketed[2]]
      : v4
        ? [v4[1]!, v4[2]]
        : [entry, undefined]; // a bare IPv6 address, no port
    const family = isIP(host);
    const portOk = port === undefined || (Number(port) >= 1 && Number(port) <= 65535);
    if (
      family === 0 ||
      (bracketed && family !== 6) ||
      (!bracketed && port !== undefined && family !== 4) ||
      !portOk
    ) {
      throw new ConfigError(
        `SIGNET_DNS_SERVERS: "${entry}" is not an IP address with an optional port (such as 192.0.2.53, 192.0.2.53:5353 or [2001:db8::53]:53)`,
      );
    }
    return entry;
  });
}

/**
 * SIGNET_TRUST_PROXY: unset or "false" trusts nobody (clients reach Signet directly); "true" trusts any
 * sender (only when nothing but the proxy can reach Signet); otherwise a comma-separated list of addresses
 * and CIDR ranges, and the names proxy-addr knows ("loopback", "linklocal", "uniquelocal"). No hop counts:
 * Fastify 5 treats a count as trusting nobody, since it cannot tell a proxy from a client sending the header.
 */
function trustProxyOf(raw: string | undefined): boolean | string[] {
  const value = raw?.trim() ?? '';
  if (value === '' || value === 'false') return false;
  if (value === 'true') return true;
  const entries = value.split(',').map((e) => e.trim());
  for (const entry of entries) {
    if (['loopback', 'linklocal', 'uniquelocal'].includes(entry)) continue;
    const [addr, bits, extra] = entry.split('/');
    const family = isIP(addr ?? '');
    const maxBits = family === 6 ? 128 : 32;
    const bitsOk = bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= maxBits);
    if (family === 0 || extra !== undefined || !bitsOk) {
      throw new ConfigError(
        `SIGNET_TRUST_PROXY: "${entry}" is not an IP address, a CIDR range or one of loopback, linklocal, uniquelocal (or use true or false)`,
      );
    }
  }
  return entries;
}
