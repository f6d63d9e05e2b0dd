// Configuration is read from the environment once, validated, and then passed down explicitly:
// nothing below this module reads process.env, so tests build apps with whatever config they need.
import path from 'node:path';
import { type Static, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

const ConfigSchema = Type.Object({
  port: Type.Integer({ minimum: 0, maximum: 65535 }),
  host: Type.String({ minLength: 1 }),
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
});

export type Config = Static<typeof ConfigSchema>;

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
  const config = {
    port: int('PORT', 8080),
    host: env.HOST || '127.0.0.1',
    dataDir: path.resolve(env.SIGNET_DATA_DIR || './data'),
    databaseUrl: env.DATABASE_URL || undefined,
    environment: env.SIGNET_ENV || 'test',
    logLevel: env.LOG_LEVEL || 'info',
    bodyLimitBytes: int('SIGNET_BODY_LIMIT_BYTES', 1024 * 1024),
    logoLimitBytes: int('SIGNET_LOGO_LIMIT_BYTES', 512 * 1024),
    dbPoolSize: int('SIGNET_DB_POOL_SIZE', 10),
    // Revocation must be honoured by every process within 5 s, so the cache lifetime is capped there.
    keyCacheTtlMs: int('SIGNET_KEY_CACHE_TTL_MS', 5000),
    ...overrides,
  };
  if (config.databaseUrl === undefined) delete (config as Partial<Config>).databaseUrl;
  const first = Value.Errors(ConfigSchema, config).First();
  if (first) {
    const names: Record<string, string> = {
      '/port': 'PORT',
      '/host': 'HOST',
      '/dataDir': 'SIGNET_DATA_DIR',
      '/databaseUrl': 'DATABASE_URL',
      '/environment': 'SIGNET_ENV (test | live)',
      '/logLevel': 'LOG_LEVEL',
      '/bodyLimitBytes': 'SIGNET_BODY_LIMIT_BYTES',
      '/logoLimitBytes': 'SIGNET_LOGO_LIMIT_BYTES',
      '/dbPoolSize': 'SIGNET_DB_POOL_SIZE',
      '/keyCacheTtlMs': 'SIGNET_KEY_CACHE_TTL_MS',
    };
    throw new ConfigError(`invalid ${names[first.path] ?? first.path}: ${first.message}`);
  }
  return config as Config;
}
