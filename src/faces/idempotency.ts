// Idempotency keys for any face (docs/idempotency-and-rate-limits.md). A face calls installIdempotency()
// after its authentication hook and passes idempotencyCommitHook(request) into the Ctx it builds; the
// mechanism is then:
//
//   onRequest   parse and check the Idempotency-Key header (POST, PUT, PATCH, DELETE with a principal);
//   preParsing  hash the body bytes as they stream in (method + URL + body = the fingerprint);
//   preHandler  after validation (a 400 stores nothing), claim the key: replay a stored response, answer
//               409 (in flight) or 422 (same key, another request), or own it and run the handler;
//   Ctx hook    inside the effect's transaction, store the response the route will send, so the effect and
//               its stored response commit together (a crash after commit still replays, never re-runs);
//   onSend      store what no transaction stored (a 4xx, a handler without a transaction), correct a stored
//               response that differs from the one sent, or release the key after a 5xx.
//
// Scope: (organization, principal id, method, route pattern, key). Stored responses are kept 24 h by default,
// per route configurable; expired rows are ignored when claiming and deleted by startIdempotencySweep().
import { createHash, type Hash, randomUUID } from 'node:crypto';
import { pipeline, Transform } from 'node:stream';
import type {
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  onRequestAsyncHookHandler,
  onResponseAsyncHookHandler,
  onSendAsyncHookHandler,
  preHandlerAsyncHookHandler,
  preParsingAsyncHookHandler,
} from 'fastify';
import type { Ctx } from '../core/context.ts';
import { AppError } from '../core/errors.ts';
import type { IdempotencyScope, IdempotencyStore, StoredResponse } from '../core/idempotency/store.ts';

export interface IdempotencyRouteOptions {
  /** How long a completed key is kept and replayed (default 24 h; bulk-import creation uses 72 h). */
  retentionSeconds?: number;
  /** How long an attempt holds the key before another may take it over (default 60 s). */
  leaseSeconds?: number;
  /** The success status, for a route whose response schema declares several 2xx statuses. */
  status?: number;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * Idempotency-Key handling on this route, or `false` to refuse the header (400) where replaying is
     * unsafe, e.g. a response that carries a secret shown once.
     */
    idempotency?: IdempotencyRouteOptions | false;
  }
}

export const IDEMPOTENCY_HEADER = 'idempotency-key';
export const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
export const DEFAULT_RETENTION_SECONDS = 24 * 3600;
export const DEFAULT_LEASE_SECONDS = 60;
/** Response headers kept with a stored response (besides the status and body). */
const STORED_HEADERS = ['content-type', 'location'];
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

interface State {
  store: IdempotencyStore;
  reply: FastifyReply;
  key: string;
  hash: Hash;
  /** The body as hashed so far: `read` once every byte went through the hash. */
  body: 'none' | 'reading' | 'read';
  digested: boolean;
  phase: 'pending' | 'owned' | 'replayed' | 'finished';
  scope?: IdempotencyScope;
  token?: string;
  /** What the in-transaction hook stored, to compare with what is sent. */
  stored?: { status: number; body: Buffer };
}

const states = new WeakMap<FastifyRequest, State>();

function invalidKey(message: string): AppError {
  return new AppError('invalid_idempotency_key', `Idempotency-Key: ${message}`, [
    { field: 'Idempotency-Key', location: 'header', message },
  ]);
}

/**
 * The key from the header: 1 to 255 visible ASCII characters. The IETF draft writes it as a
 * structured-field string ("abc"); Stripe-style clients send it bare (abc). Both name the same key.
 */
export function parseIdempotencyKey(raw: string | string[] | undefined): string | null {
  if (raw === undefined) return null;
  if (Array.isArray(raw)) throw invalidKey('send the header once');
  const value = /^"[^"\\]*"$/.test(raw) ? raw.slice(1, -1) : raw;
  if (!KEY_PATTERN.test(value))
    throw invalidKey('must be 1 to 255 visible ASCII characters (no spaces or control characters)');
  return value;
}

/** The status the route sends on success: declared in config, set before the service ran, or the schema's one 2xx. */
function successStatus(request: FastifyRequest, reply: FastifyReply): number {
  const options = request.routeOptions.config.idempotency || {};
  if (options.status) return options.status;
  if (reply.statusCode !== 200) return reply.statusCode;
  const response = (request.routeOptions.schema?.response ?? {}) as Record<string, unknown>;
  const success = Object.keys(response).filter((code) => /^2\d\d$/.test(code));
  return success.length === 1 ? Number(success[0]) : 200;
}

/** Serialises a result exactly as the route's response schema will. */
function serialize(reply: FastifyReply, status: number, result: unknown): string {
  const fn =
    reply.getSerializationFunction(String(status)) ??
    reply.getSerializationFunction(`${String(status)[0]}xx`) ??
    reply.getSerializationFunction('default');
  return fn ? fn(result as Record<string, unknown>) : JSON.stringify(result);
}

/**
 * The result to hand the Ctx hook for a route that answers its success with no body (DocuSign's empty 200s:
 * eSignature's updateSettings, deleteBrand…): the empty response is stored with the effect.
 */
export const NO_BODY: unique symbol = Symbol('no body');

/**
 * The Ctx hook that stores the response in the effect's transaction, or undefined when the request holds no
 * key. Faces put it into every Ctx they build: `{ principal, meta, beforeCommit: idempotencyCommitHook(request) }`.
 */
export function idempotencyCommitHook(request: FastifyRequest): Ctx['beforeCommit'] {
  const state = states.get(request);
  if (state?.phase !== 'owned') return undefined;
  return async (trx, result) => {
    const status = successStatus(request, state.reply);
    const empty = status === 204 || status === 304 || result === NO_BODY;
    // A service whose transaction yields nothing (the route answers a fixed body of its own, as the admin
    // password reset does) has no response to store here: the one sent is stored after it (finish), as for
    // a handler without an effect transaction. Serialising `undefined` against the response schema threw,
    // failing the whole request with a 500.
    if (result === undefined && !empty) return;
    let body: Buffer;
    try {
      body = empty ? Buffer.alloc(0) : Buffer.from(serialize(state.reply, status, result));
    } catch (err) {
      // The transaction's result is not the route's response: store the one sent instead (finish).
      request.log.warn({ err }, 'idempotency: the effect result does not serialise as the response');
      return;
    }
    const headers: Record<string, string> = empty
      ? {}
      : { 'content-type': 'application/json; charset=utf-8' };
    const owned = await state.store.complete(state.scope!, state.token!, { status, headers, body }, { trx });
    if (!owned) {
      // Our lease lapsed and another attempt took the key over: roll this effect back rather than do it twice.
      throw new AppError(
        'idempotency_in_progress',
        'this request outlived its hold on the Idempotency-Key and another request with the key took over; nothing was changed',
      );
    }
    state.stored = { status, body };
  };
}

function responseOf(reply: FastifyReply, payload: unknown): StoredResponse | null {
  if (payload !== null && payload !== undefined && typeof payload !== 'string' && !Buffer.isBuffer(payload))
    return null; // a stream: not stored
  const headers: Record<string, string> = {};
  for (const name of STORED_HEADERS) {
    const value = reply.getHeader(name);
    if (value !== undefined) headers[name] = String(value);
  }
  const body = payload === null || payload === undefined ? Buffer.alloc(0) : Buffer.from(payload);
  return { status: reply.statusCode, headers, body };
}

async function finish(request: FastifyRequest, reply: FastifyReply, state: State, payload: unknown) {
  const { store } = state;
  const scope = state.scope!;
  const token = state.token!;
  if (reply.statusCode >= 500) {
    // No effect was committed, or the transaction stored its response already (then this deletes nothing).
    await store.release(scope, token);
    return;
  }
  const response = responseOf(reply, payload);
  if (!response) {
    if (!state.stored) await store.release(scope, token);
    return;
  }
  if (state.stored) {
    if (state.stored.status === response.status && state.stored.body.equals(response.body)) return;
    if (response.status >= 400) return; // an error after the effect committed: the effect's response stands
    request.log.warn(
      { route: scope.route, storedStatus: state.stored.status, sentStatus: response.status },
      'idempotency: the response sent differs from the one stored with the effect; storing the one sent',
    );
    await store.complete(scope, token, response);
    return;
  }
  // No transaction stored anything: a 4xx (no effect, as Stripe does, it is replayed) or a handler without
  // an effect transaction.
  await store.complete(scope, token, response, { onlyIfInFlight: true });
}

/**
 * SHA-256 of method, URL and body bytes. A route whose handler reads the body itself (a stream handed over
 * by its content-type parser) has not read it by now: its fingerprint covers the method and URL only, marked
 * so, rather than however many bytes happened to have arrived.
 */
function fingerprintOf(request: FastifyRequest, state: State): string {
  state.digested = true;
  if (state.body !== 'reading') return state.hash.digest('hex');
  request.log.warn(
    'idempotency: the body was not read before the handler; fingerprinting method and URL only',
  );
  return createHash('sha256')
    .update(`${request.method} ${request.url}\n(body read by the handler)`)
    .digest('hex');
}

/**
 * Adds the idempotency hooks to a face, keeping keys in `store` (the services container's). Register it after
 * the face's authentication hook.
 */
export function installIdempotency(fastify: FastifyInstance, store: IdempotencyStore): void {
  // The hooks go on the routes that can take a key (POST, PUT, PATCH, DELETE), not on the whole face: reads
  // are most of the traffic and have nothing to do here. Route-level hooks run after the face's own, so
  // authentication has run before onRequest below.
  const onRequest: onRequestAsyncHookHandler = async (request, reply) => {
    if (!IDEMPOTENT_METHODS.has(request.method)) return;
    const key = parseIdempotencyKey(request.headers[IDEMPOTENCY_HEADER]);
    if (key === null || !request.routeOptions.url) return;
    if (request.routeOptions.config.idempotency === false) {
      throw invalidKey(`${request.method} ${request.routeOptions.url} does not take an Idempotency-Key`);
    }
    // Keys are scoped by principal; a public route has none to scope them by.
    if (!request.principal) return;
    states.set(request, {
      store,
      reply,
      key,
      hash: createHash('sha256').update(`${request.method} ${request.url}\n`),
      body: 'none',
      digested: false,
      phase: 'pending',
    });
  };

  // Hash the body bytes exactly as received, whatever the content type, without keeping them.
  const preParsing: preParsingAsyncHookHandler = async (request, _reply, payload) => {
    const state = states.get(request);
    // Fastify reads a body only when the request announces one; then so do we.
    const headers = request.headers;
    const announced =
      headers['transfer-encoding'] !== undefined ||
      (headers['content-length'] !== undefined && headers['content-length'] !== '0');
    if (!state || !announced) return payload;
    state.body = 'reading';
    const tee = new Transform({
      transform(chunk, _encoding, done) {
        if (!state.digested) state.hash.update(chunk);
        done(null, chunk);
      },
      flush(done) {
        state.body = 'read';
        done();
      },
    });
    pipeline(payload, tee, () => {});
    return tee;
  };

  const preHandler: preHandlerAsyncHookHandler = async (request, reply) => {
    const state = states.get(request);
    if (!state) return;
    const principal = request.principal!;
    const options = request.routeOptions.config.idempotency || {};
    state.scope = {
      organizationId: principal.organizationId,
      principalId: principal.id,
      method: request.method,
      route: request.routeOptions.url!,
      key: state.key,
    };
    const claim = await store.claim(state.scope, fingerprintOf(request, state), {
      token: randomUUID(),
      leaseSeconds: options.leaseSeconds ?? DEFAULT_LEASE_SECONDS,
      retentionSeconds: options.retentionSeconds ?? DEFAULT_RETENTION_SECONDS,
    });
    const reused = () =>
      new AppError(
        'idempotency_key_reused',
        'this Idempotency-Key was used for a different request (method, URL or body); use a new key for a new request',
      );
    switch (claim.outcome) {
      case 'owned':
        state.phase = 'owned';
        state.token = claim.token;
        if (claim.tookOver) request.log.info({ key: state.key }, 'idempotency: took over a lapsed key');
        return;
      case 'replay': {
        state.phase = 'replayed';
        const { status, headers, body } = claim.response;
        reply.code(status).headers(headers).header('idempotent-replayed', 'true');
        return body.length === 0 ? reply.send() : reply.send(body);
      }
      case 'mismatch':
        throw reused();
      case 'in_progress':
        if (!claim.fingerprintMatches) throw reused();
        throw new AppError(
          'idempotency_in_progress',
          'a request with this Idempotency-Key is still being processed; retry after it completes',
        );
    }
  };

  const onSend: onSendAsyncHookHandler = async (request, reply, payload) => {
    const state = states.get(request);
    if (state?.phase !== 'owned') return payload;
    state.phase = 'finished';
    try {
      await finish(request, reply, state, payload);
    } catch (err) {
      // The response goes out regardless; an unfinished key is retried after its lease.
      request.log.error({ err }, 'idempotency: could not record the response');
    }
    return payload;
  };

  // A response that never reached onSend (the connection went away): let the key go.
  const onResponse: onResponseAsyncHookHandler = async (request) => {
    const state = states.get(request);
    if (state?.phase !== 'owned') return;
    state.phase = 'finished';
    await store
      .release(state.scope!, state.token!)
      .catch((err) => request.log.error({ err }, 'idempotency: could not release the key'));
  };

  const hooks = { onRequest, preParsing, preHandler, onSend, onResponse };
  fastify.addHook('onRoute', (route) => {
    if (![route.method].flat().some((m) => IDEMPOTENT_METHODS.has(m))) return;
    const r = route as unknown as Record<string, unknown>;
    for (const [name, fn] of Object.entries(hooks)) {
      const existing = r[name];
      r[name] = existing === undefined ? [fn] : [...(Array.isArray(existing) ? existing : [existing]), fn];
    }
  });
}

/** Deletes expired keys every `intervalMs` (unref'd; stopped when the app closes). Start it once per app. */
export function startIdempotencySweep(
  fastify: FastifyInstance,
  store: IdempotencyStore,
  intervalMs = 5 * 60_000,
): void {
  let running = false;
  const sweep = async () => {
    if (running) return;
    running = true;
    try {
      // A bounded number of small batches per tick: short statements, no long locks.
      for (let i = 0; i < 20; i++) if ((await store.sweep(1000)) < 1000) break;
    } catch (err) {
      fastify.log.warn({ err }, 'idempotency: sweep failed');
    } finally {
      running = false;
    }
  };
  const timer = setInterval(sweep, intervalMs);
  timer.unref();
  fastify.addHook('onClose', async () => clearInterval(timer));
}
