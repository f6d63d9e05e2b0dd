// The seeded black-box run (issue 10, "no 500 on any input"): every operation of Signet's own OpenAPI
// (/openapi.json of the running app), every operation of DocuSign's Admin API document (under /management,
// with the test tenant's real ids) and every /restapi route of the app's route table gets malformed requests:
// wrong types, huge strings, NUL, invalid UTF-8, bad JSON, wrong content types and charsets, malformed ids and
// cursors, missing and extra fields, negative and huge numbers. No answer may be a 5xx other than the
// deliberate 501 not_supported, and every error is in its face's dialect. Deterministic: the seed fixes every
// request (FUZZ_SEED and FUZZ_PER_OPERATION change them).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import Fastify from 'fastify';
import { app as appPlugin } from '../src/app.ts';
import { as, buildApp, createTenant, type Tenant } from './helper.ts';
import { runWorker } from './imports-helper.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 20261203);
const PER_OPERATION = Number(process.env.FUZZ_PER_OPERATION ?? 16);
const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

/** mulberry32: a small seeded PRNG, so a failure names a request that can be sent again. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!,
  };
}
type Rng = ReturnType<typeof prng>;

type Schema = Record<string, any>;
interface Operation {
  source: 'openapi' | 'admin' | 'restapi';
  method: string;
  /** With {param} placeholders. */
  path: string;
  pathParams: string[];
  query: { name: string; schema: Schema }[];
  body: Schema | null;
  /** The request content types the operation declares (JSON when none). */
  contentTypes: string[];
}

// --- the operations --------------------------------------------------------------------------------------

function openApiOperations(doc: any): Operation[] {
  const out: Operation[] = [];
  for (const [path, ops] of Object.entries<any>(doc.paths)) {
    for (const method of METHODS) {
      const op = ops[method];
      if (!op) continue;
      const params = (op.parameters ?? []) as any[];
      const content = op.requestBody?.content ?? {};
      out.push({
        source: 'openapi',
        method: method.toUpperCase(),
        path,
        pathParams: params.filter((p) => p.in === 'path').map((p) => p.name),
        query: params.filter((p) => p.in === 'query').map((p) => ({ name: p.name, schema: p.schema ?? {} })),
        body: content['application/json']?.schema ?? null,
        contentTypes: Object.keys(content),
      });
    }
  }
  return out;
}

function adminOperations(doc: any): Operation[] {
  const out: Operation[] = [];
  for (const [path, ops] of Object.entries<any>(doc.paths)) {
    for (const method of METHODS) {
      const op = ops[method];
      if (!op) continue;
      const params = (op.parameters ?? []) as any[];
      const body = params.find((p) => p.in === 'body');
      const form = params.some((p) => p.in === 'formData');
      out.push({
        source: 'admin',
        method: method.toUpperCase(),
        path: `/management${path}`,
        pathParams: params.filter((p) => p.in === 'path').map((p) => p.name),
        query: params.filter((p) => p.in === 'query').map((p) => ({ name: p.name, schema: p })),
        body: body ? { ...body.schema, definitions: doc.definitions } : null,
        contentTypes: form ? ['multipart/form-data', 'text/csv'] : (op.consumes ?? []),
      });
    }
  }
  return out;
}

/** The /restapi routes as the app registers them (no document describes Signet's subset). */
async function restapiOperations(services: any, config: any): Promise<Operation[]> {
  const fastify = Fastify({ logger: false });
  const out: Operation[] = [];
  fastify.addHook('onRoute', (route) => {
    if (!route.url.startsWith('/restapi/')) return;
    for (const method of [route.method].flat()) {
      if (method === 'HEAD') continue;
      const path = route.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
      out.push({
        source: 'restapi',
        method: String(method),
        path,
        pathParams: [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!),
        query: [
          'start_position',
          'count',
          'email',
          'status',
          'additional_info',
          'group_type',
          'replace_brand',
        ].map((name) => ({ name, schema: { type: 'string' } })),
        body: method === 'GET' || method === 'DELETE' ? null : { type: 'object', properties: ESIGN_FIELDS },
        contentTypes: [],
      });
    }
  });
  await fastify.register(appPlugin, { config, services });
  await fastify.close();
  return out;
}

/** Fields the eSignature face reads, for bodies that are nearly right. */
const ESIGN_FIELDS: Schema = {
  groups: { type: 'array', items: { type: 'object', properties: { groupId: {}, groupName: {} } } },
  newUsers: {
    type: 'array',
    items: { type: 'object', properties: { email: { format: 'email' }, userName: {} } },
  },
  users: { type: 'array', items: { type: 'object', properties: { userId: { format: 'uuid' } } } },
  brands: { type: 'array', items: { type: 'object', properties: { brandId: {} } } },
  permissionProfiles: { type: 'array', items: { type: 'object', properties: { permissionProfileName: {} } } },
  email: { format: 'email' },
  userName: { type: 'string' },
  groupName: { type: 'string' },
  brandName: { type: 'string' },
  permissionProfileName: { type: 'string' },
  permissionProfileId: { type: 'string' },
  accountSettings: { type: 'array', items: { type: 'object', properties: { name: {}, value: {} } } },
  settings: { type: 'object', properties: { accountRoleSettings: { type: 'object' } } },
};

// --- values ----------------------------------------------------------------------------------------------

interface Ids {
  tenant: Tenant;
  groupId: number;
  profileId: number;
  membershipId: string;
  keyId: string;
}

/** A real id for a path parameter, by its name and the segment before it. */
function realId(ids: Ids, name: string, path: string): string {
  const n = name.toLowerCase().replace(/_/g, '');
  const before = path.split(`{${name}}`)[0]!.split('/').filter(Boolean).pop() ?? '';
  const t = ids.tenant;
  if (n === 'organizationid' || (n === 'id' && before === 'organizations')) return t.organizationId;
  if (n === 'accountid' || n === 'accountidguid' || (n === 'id' && before === 'accounts')) return t.accountId;
  if (n === 'userid' || (n === 'id' && before === 'users')) return t.ownerId;
  if (n === 'membershipid') return ids.membershipId;
  if (n === 'groupid' || (n === 'id' && before === 'groups')) return String(ids.groupId);
  if (n === 'permissionprofileid' || (n === 'id' && before === 'permission_profiles'))
    return String(ids.profileId);
  if (n === 'id' && before === 'api_keys') return ids.keyId;
  if (n === 'kind') return 'primary';
  return randomUUID();
}

const HUGE = 'a'.repeat(100_000);
const BAD_IDS = [
  'x',
  '-1',
  '0',
  '99999999999999999999999',
  '1.5',
  '00000000-0000-0000-0000-000000000000',
  '------------------------------------',
  'a'.repeat(2000),
  '%00',
  '%FF%FE',
  '%E2%80%AE',
  "'%20OR%201=1--",
  'null',
  '%20',
];
const BAD_SCALARS: unknown[] = [
  -1,
  0,
  1e308,
  2 ** 63,
  -(2 ** 63),
  0.5,
  '',
  'x',
  'a\u0000b',
  HUGE,
  true,
  null,
  [],
  {},
  ['a', 1, null],
  { nested: { deep: ['\u0000'] } },
  '2026-13-45T99:99:99Z',
  '=HYPERLINK("http://evil.test")',
];
const BAD_QUERY = [
  '',
  '-1',
  '1e309',
  '99999999999999999999',
  'abc',
  '%00',
  '%FF',
  encodeURIComponent(HUGE.slice(0, 5000)),
  'true',
  'maybe',
  '[]',
  encodeURIComponent(Buffer.from('{"k":"nope"}').toString('base64url')),
];

function resolve(schema: Schema, root: Schema): Schema {
  let s = schema;
  for (let i = 0; i < 10 && s?.$ref; i++) {
    const name = String(s.$ref).split('/').pop()!;
    s = root.definitions?.[name] ?? {};
  }
  return s ?? {};
}

/** A body shaped like the schema asks (the fuzzing then breaks one part of it). */
function sample(schema: Schema, root: Schema, ids: Ids, depth = 0): unknown {
  const s = resolve(schema, root);
  if (depth > 4) return null;
  const options = s.anyOf ?? s.oneOf;
  if (options) return sample(options.find((o: Schema) => o.type !== 'null') ?? options[0], root, ids, depth);
  if (s.const !== undefined) return s.const;
  if (s.enum) return s.enum[0];
  if (s.format === 'email') return `fuzz-${randomUUID().slice(0, 8)}@example.test`;
  if (s.format === 'uuid') return ids.tenant.accountId;
  if (s.format === 'date-time') return new Date(Date.now() + 86_400_000).toISOString();
  const type = Array.isArray(s.type) ? s.type[0] : s.type;
  if (type === 'object' || s.properties) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries<Schema>(s.properties ?? {})) out[k] = sample(v, root, ids, depth + 1);
    return out;
  }
  if (type === 'array') return s.items ? [sample(s.items, root, ids, depth + 1)] : [];
  if (type === 'integer' || type === 'number') return s.minimum ?? 1;
  if (type === 'boolean') return true;
  return 'fuzz';
}

/** Every path to a value inside `v` (the places a mutation can land). */
function leaves(v: unknown, path: (string | number)[] = []): (string | number)[][] {
  if (Array.isArray(v)) return [path, ...v.flatMap((x, i) => leaves(x, [...path, i]))];
  if (v !== null && typeof v === 'object') {
    return [path, ...Object.entries(v).flatMap(([k, x]) => leaves(x, [...path, k]))];
  }
  return [path];
}

function setAt(v: unknown, path: (string | number)[], value: unknown): unknown {
  if (path.length === 0) return value;
  const copy: any = Array.isArray(v) ? [...v] : { ...(v as object) };
  copy[path[0]!] = setAt(copy[path[0]!], path.slice(1), value);
  return copy;
}

interface Request {
  /** Send it twice (the second is a replay of the first's Idempotency-Key). */
  twice?: boolean;
  method: string;
  url: string;
  headers: Record<string, string>;
  payload?: string | Buffer;
  mutation: string;
}

/** One malformed request for `op`. */
function malformed(op: Operation, ids: Ids, rng: Rng): Request {
  let mutation = rng.pick([
    'path',
    'query',
    'cursor',
    'body-field',
    'body-nul',
    'body-huge',
    'body-missing',
    'body-extra',
    'body-shape',
    'bad-json',
    'bad-utf8',
    'content-type',
    'charset',
    'idempotency',
    'replay',
    'credentials',
    'headers',
    'valid-ish',
  ]);
  const params: Record<string, string> = {};
  for (const p of op.pathParams) params[p] = encodeURIComponent(realId(ids, p, op.path));
  if (mutation === 'path' && op.pathParams.length > 0) params[rng.pick(op.pathParams)] = rng.pick(BAD_IDS);
  else if (mutation === 'path') mutation = 'query';
  let url = op.path.replace(/\{([^}]+)\}/g, (_m, name: string) => params[name]!);
  const query: string[] = [];
  if (mutation === 'query' && op.query.length > 0) {
    query.push(`${encodeURIComponent(rng.pick(op.query).name)}=${rng.pick(BAD_QUERY)}`);
  } else if (mutation === 'query') {
    query.push(`unknown_param=${rng.pick(BAD_QUERY)}`);
  }
  if (mutation === 'cursor') query.push(`cursor=${rng.pick(BAD_QUERY)}`);
  if (query.length) url += `?${query.join('&')}`;

  const headers: Record<string, string> = { authorization: `Bearer ${ids.tenant.key}` };
  if (mutation === 'credentials') {
    delete headers.authorization;
    const [name, value] = rng.pick([
      ['authorization', 'Bearer'],
      ['authorization', 'Basic Zm9vOmJhcg=='],
      ['authorization', `Bearer ${'sk_live_'.padEnd(46, 'A')}`],
      ['authorization', `Bearer ${ids.tenant.key}x`],
      ['authorization', `Bearer ${'x'.repeat(5000)}`],
      ['cookie', 'signet_session=short'],
      ['cookie', `signet_session=${'a'.repeat(64)}`],
      ['cookie', 'signet_session=%ZZ; other=1'],
      ['cookie', '==;;=='],
    ] as const);
    headers[name] = value;
    if (name === 'cookie') headers['signet-account'] = rng.pick(['-'.repeat(36), 'x', ids.tenant.accountId]);
  }
  if (mutation === 'headers') {
    const [name, value] = rng.pick([
      ['content-disposition', "attachment; filename*=UTF-8''a%00b.csv"],
      ['content-disposition', `attachment; filename="${'x'.repeat(5000)}.csv"`],
      ['content-disposition', "attachment; filename*=UTF-8''%FF%FE.csv"],
      ['user-agent', 'fuzz\u0000agent'],
      ['user-agent', 'x'.repeat(8000)],
      ['x-request-id', 'a b\u0000c'],
      ['x-forwarded-for', 'not-an-ip, \u0000'],
      ['accept', 'application/xml'],
      ['accept-charset', 'utf-16'],
      ['content-length', '-1'],
    ] as const);
    headers[name] = value;
  }
  if (mutation === 'replay') headers['idempotency-key'] = `fuzz-replay-${rng.int(1e9)}`;
  const hasBody = op.method !== 'GET' && op.method !== 'DELETE';
  if (!hasBody) {
    if (mutation === 'idempotency') headers['idempotency-key'] = rng.pick(['', ' ', 'ä', 'x'.repeat(300)]);
    return { method: op.method, url, headers, mutation, twice: mutation === 'replay' };
  }
  const root = op.body ?? {};
  let body: unknown = op.body ? sample(op.body, root, ids) : {};
  const spots = leaves(body);
  switch (mutation) {
    case 'body-field':
      body = setAt(body, rng.pick(spots), rng.pick(BAD_SCALARS));
      break;
    case 'body-nul':
      body = setAt(body, rng.pick(spots), rng.pick(['\u0000', 'a\u0000', '\u0000\u0000\u0000']));
      break;
    case 'body-huge':
      body = setAt(body, rng.pick(spots), HUGE);
      break;
    case 'body-missing':
      body = {};
      break;
    case 'body-extra':
      body =
        body !== null && typeof body === 'object'
          ? { ...body, unexpected_field: 'x' }
          : { unexpected_field: 'x' };
      break;
    case 'body-shape':
      body = rng.pick([[], 'text', 42, null, true, [{}], { '': '' }]);
      break;
  }
  const json = (v: unknown) => JSON.stringify(v) ?? 'null';
  let payload: string | Buffer = json(body);
  let type =
    op.contentTypes.includes('application/json') || op.contentTypes.length === 0
      ? 'application/json'
      : op.contentTypes[0]!;
  if (type.startsWith('multipart/')) type = 'text/csv';
  if (type !== 'application/json') payload = 'UserEmail,FirstName\n=1+2,\u0000\n';
  switch (mutation) {
    case 'bad-json':
      payload = rng.pick(['{', '{"a":', '[1,,2]', "{'a':1}", '{"__proto__":{"x":1}}', '\u0000', 'nul']);
      break;
    case 'bad-utf8':
      payload = Buffer.concat([
        Buffer.from('{"name":"'),
        Buffer.from([0xc3, 0x28, 0xa0, 0xa1, 0xff]),
        Buffer.from('"}'),
      ]);
      break;
    case 'content-type':
      type = rng.pick([
        'text/plain',
        'application/xml',
        'application/x-www-form-urlencoded',
        'image/png',
        'bogus',
        'multipart/form-data',
      ]);
      break;
    case 'charset':
      type = `${type}; charset=${rng.pick(['utf-16', 'latin1', 'utf-32be', 'x-unknown', '"shift_jis"'])}`;
      break;
    case 'idempotency':
      headers['idempotency-key'] = rng.pick(['', 'x'.repeat(300), 'ä', `fuzz-${rng.int(3)}`]);
      break;
  }
  headers['content-type'] = type;
  return { method: op.method, url, headers, payload, mutation, twice: mutation === 'replay' };
}

/** Whether an error body is in the dialect of the face its path names. */
function dialectOk(url: string, status: number, body: string): boolean {
  // The OAuth face: RFC 6749's {"error", "error_description"}, or a page where a browser is (sign-in, consent,
  // an authorization request that cannot be answered at the client's redirect URI).
  if (/^\/oauth\/(auth|interaction)\b/.test(url) && body.startsWith('<!DOCTYPE html>')) return true;
  if (/^\/(oauth|\.well-known)\//.test(url)) {
    try {
      return typeof JSON.parse(body)?.error === 'string';
    } catch {
      return false;
    }
  }
  let json: any;
  try {
    json = JSON.parse(body);
  } catch {
    return false;
  }
  if (/^\/management/i.test(url)) {
    return typeof json?.error === 'string' && typeof json?.error_description === 'string';
  }
  if (url.startsWith('/restapi'))
    return typeof json?.errorCode === 'string' && typeof json?.message === 'string';
  return typeof json?.error?.code === 'string' && typeof json?.error?.message === 'string' && status >= 400;
}

function notSupported(url: string, body: string): boolean {
  try {
    const json = JSON.parse(body);
    return /^\/management/i.test(url) ? json.error === 'not_supported' : json.errorCode === 'NOT_SUPPORTED';
  } catch {
    return false;
  }
}

test('malformed requests to every operation of every face: no 5xx but the deliberate 501s, errors in the face dialect', {
  timeout: 600_000,
}, async (t) => {
  const { app, services, config } = await buildApp(t, {
    rateLimitPerMinute: 0,
    authRateLimitPerMinute: 0,
    keyFailuresPerMinute: 0,
  });
  await runWorker(t, config);
  const openapi = JSON.parse((await app.inject({ method: 'GET', url: '/openapi.json' })).body);
  const admin = JSON.parse(readFileSync('test/fixtures/admin.rest.swagger-v2.1.json', 'utf8'));
  const operations = [
    ...openApiOperations(openapi),
    ...adminOperations(admin),
    ...(await restapiOperations(services, config)),
  ];
  assert.ok(operations.length > 150, `only ${operations.length} operations found`);

  // A tenant with something of each kind to name; made anew when a request revoked its key.
  const fresh = async (): Promise<Ids> => {
    const tenant = await createTenant(services, config);
    const call = as(app, tenant.key);
    const group = (await call('POST', `/api/accounts/${tenant.accountId}/groups`, { name: 'Fuzz' })).json();
    const profiles = (await call('GET', `/api/accounts/${tenant.accountId}/permission_profiles`)).json();
    const owner = (await call('GET', `/api/users/${tenant.ownerId}`)).json();
    const key = (await call('POST', '/api/api_keys', { name: 'spare' })).json();
    return {
      tenant,
      groupId: group.id,
      profileId: profiles.data[0].id,
      membershipId: owner.memberships[0].id,
      keyId: key.id,
    };
  };
  let ids = await fresh();
  const rng = prng(SEED);
  const failures: string[] = [];
  let sent = 0;
  const statuses = new Map<number, number>();
  for (const op of operations) {
    for (let i = 0; i < PER_OPERATION; i++) {
      const req = malformed(op, ids, rng);
      const send = () =>
        app.inject({
          method: req.method as never,
          url: req.url,
          headers: req.headers,
          ...(req.payload === undefined ? {} : { payload: req.payload }),
        });
      let res = await send();
      if (req.twice && res.statusCode < 500) {
        const first = res;
        res = await send();
        // A replay answers what the first request did (or refuses the key on a route that takes none).
        if (
          res.statusCode < 500 &&
          res.headers['idempotent-replayed'] === 'true' &&
          res.body !== first.body
        ) {
          failures.push(
            `replay differs: ${req.method} ${req.url} -> ${first.statusCode} then ${res.statusCode}`,
          );
        }
      }
      sent++;
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
      const where = `${req.method} ${req.url.slice(0, 160)} [${req.mutation}] -> ${res.statusCode} ${res.body.slice(0, 200)}`;
      if (res.statusCode >= 500 && !(res.statusCode === 501 && notSupported(req.url, res.body))) {
        failures.push(where);
      } else if (res.statusCode >= 400 && !dialectOk(req.url, res.statusCode, res.body)) {
        failures.push(`dialect: ${where}`);
      }
      // Some malformed requests are still valid ones (revoke_all, delete an organization's account):
      // carry on with a new tenant rather than a revoked key.
      if (res.statusCode === 401 && (await as(app, ids.tenant.key)('GET', '/api/me')).statusCode === 401) {
        ids = await fresh();
      }
    }
  }
  t.diagnostic(`${operations.length} operations, ${sent} requests, seed ${SEED}`);
  t.diagnostic(
    `answers: ${[...statuses]
      .sort((a, b) => a[0] - b[0])
      .map(([s, n]) => `${s}×${n}`)
      .join(' ')}`,
  );
  assert.deepEqual(failures, [], `${failures.length} bad answers:\n${failures.join('\n')}`);
});
