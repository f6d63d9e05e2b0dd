// Builds the Fastify server around the app plugin. Tests call buildServer and use inject(); `signet start`
// calls it and listens.

import { randomUUID } from 'node:crypto';
import SerializerSelector from '@fastify/fast-json-stringify-compiler';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyServerOptions } from 'fastify';
import { app } from './app.ts';
import type { Config } from './config.ts';
import { isEmail } from './core/email.ts';
import { AppError } from './core/errors.ts';
import { renderNative } from './faces/api/index.ts';
import { renderEsignError } from './faces/esign/index.ts';
import { toAppError } from './faces/http-errors.ts';
import { serializeRequest } from './faces/log-redact.ts';
import { canonicalManagementPrefix, renderManagementError } from './faces/management/index.ts';
import type { Services } from './services.ts';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,100}$/;

export async function buildServer(
  config: Config,
  services: Services,
  opts: {
    logger?: boolean;
    ready?: () => Promise<boolean>;
    /** Where log lines go instead of stdout (tests read them). */
    logStream?: { write(line: string): void };
  } = {},
): Promise<FastifyInstance> {
  // Logged URLs have their secret-looking query parameters redacted (faces/log-redact.ts).
  const logger: FastifyServerOptions['logger'] =
    opts.logger === false
      ? false
      : {
          level: config.logLevel,
          serializers: { req: serializeRequest as never },
          ...(opts.logStream ? { stream: opts.logStream } : {}),
        };
  const fastify = Fastify({
    logger,
    bodyLimit: config.bodyLimitBytes,
    trustProxy: config.trustProxy,
    // A caller's X-Request-Id is kept when it is sane, so their logs and ours join up.
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    requestTimeout: 120_000,
    // HTTPS when SIGNET_TLS_CERT and SIGNET_TLS_KEY are set (the SDKs' OAuth helpers hard-code https://).
    // Fastify sees the TLS socket, so request.protocol is "https" and session cookies are Secure. Typed as the
    // plain options: an https.Server serves the same requests, over TLS.
    ...(config.tls ? { https: { cert: config.tls.cert, key: config.tls.key } } : {}),
    rewriteUrl: (req) => canonicalManagementPrefix(req.url ?? '/'),
    // Fastify's own response serializers (fast-json-stringify), each built when its route first answers with
    // that status instead of at start: building all of them was a third of `signet start`'s CPU (issue 15).
    schemaController: {
      compilersFactory: {
        buildSerializer: (external: unknown, options: unknown) => {
          const build = SerializerSelector()(external as never, options as never);
          return (route: Parameters<typeof build>[0]) => {
            let serialize: ((data: unknown) => string) | undefined;
            return (data: unknown) => {
              serialize ??= build(route) as (d: unknown) => string;
              return serialize(data);
            };
          };
        },
      },
    },
    // Errors before routing (a path that does not decode, e.g. %FF): no face has the request yet, so the
    // face its path names renders it, in its dialect, rather than Fastify's default body.
    frameworkErrors: (err, request, reply) => {
      const appErr = toAppError(err);
      const path = request.url;
      if (/^\/management(?=\/|\?|$)/i.test(path)) return renderManagementError(appErr, request, reply);
      if (/^\/restapi(?=\/|\?|$)/.test(path)) return renderEsignError(appErr, request, reply);
      // The OAuth face answers in RFC 6749's dialect (section 5.2): a malformed request is invalid_request.
      if (/^\/(oauth|\.well-known)(?=\/|\?|$)/.test(path)) {
        return (reply as FastifyReply)
          .code(appErr.status)
          .header('cache-control', 'no-store')
          .send({
            error: appErr.status === 400 ? 'invalid_request' : appErr.code,
            error_description: appErr.message,
          });
      }
      return renderNative(appErr, request, reply);
    },
  } as FastifyServerOptions).withTypeProvider<TypeBoxTypeProvider>();
  // Two validators. Query strings, params and headers arrive as text, so they are coerced to the schema's
  // types; JSON bodies are typed already and are not (coercion would turn null into "" and 5 into "5").
  // Neither removes unknown fields: a typo must be rejected, not silently dropped. allErrors stays off (DoS).
  const options = {
    removeAdditional: false,
    useDefaults: true,
    allErrors: false,
    addUsedSchema: false,
    strict: false,
  };
  const body = addFormats.default(new Ajv({ ...options, coerceTypes: false }));
  const text = addFormats.default(new Ajv({ ...options, coerceTypes: 'array' }));
  // `format: "email"` is Signet's one email rule (core/email.ts: length first, linear time) on every face.
  for (const ajv of [body, text]) ajv.addFormat('email', isEmail);
  // Each validator is compiled on its first use, not at start (with the serializers above, issue 15). Fastify
  // reads a failed validation's errors from the function's `errors`, as Ajv leaves them.
  fastify.setValidatorCompiler(({ schema, httpPart }) => {
    let compiled: ValidateFunction | undefined;
    const validate = (data: unknown) => {
      compiled ??= (httpPart === 'body' ? body : text).compile(schema);
      const ok = compiled(data);
      validate.errors = compiled.errors;
      return ok;
    };
    validate.errors = null as ValidateFunction['errors'];
    return validate;
  });
  // Outside every face: Fastify's own 404 would log and echo the whole URL, query string included.
  fastify.setNotFoundHandler((request, reply) =>
    renderNative(
      new AppError('route_not_found', `no route ${request.method} ${request.url.split('?')[0]}`),
      request,
      reply,
    ),
  );
  await fastify.register(app, { config, services, ready: opts.ready });
  return fastify;
}
