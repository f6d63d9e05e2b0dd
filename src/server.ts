// Builds the Fastify server around the app plugin. Tests call buildServer and use inject(); `signet start`
// calls it and listens.

import { randomUUID } from 'node:crypto';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance } from 'fastify';
import { app } from './app.ts';
import type { Config } from './config.ts';
import type { Services } from './services.ts';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,100}$/;

export async function buildServer(
  config: Config,
  services: Services,
  opts: { logger?: boolean; ready?: () => Promise<boolean> } = {},
): Promise<FastifyInstance> {
  const fastify = Fastify({
    logger: opts.logger === false ? false : { level: config.logLevel },
    bodyLimit: config.bodyLimitBytes,
    // A caller's X-Request-Id is kept when it is sane, so their logs and ours join up.
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    requestTimeout: 120_000,
    ajv: {
      customOptions: {
        // Unknown fields are rejected, not silently dropped: a typo must not look like success.
        removeAdditional: false,
        coerceTypes: 'array',
        useDefaults: true,
        allErrors: false,
      },
    },
  }).withTypeProvider<TypeBoxTypeProvider>();
  await fastify.register(app, { config, services, ready: opts.ready });
  return fastify;
}
