// The world the generated matrices share (test/matrices.test.ts: isolation and the account boundary;
// test/role-matrix.test.ts: roles × routes): what an account holds, made through the API, and the rules that
// fill every route of every face (/api, /management, /restapi) with the ids of a world. The route table is the
// app's own (scripts/compatibility.ts appRoutes): a route whose path parameters have no filler, or whose method
// takes a body no entry of REQUESTS describes, fails routeTable(), so a new route cannot land uncovered.
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { PDFDocument } from 'pdf-lib';
import { type AppRoute, appRoutes } from '../scripts/compatibility.ts';
import type { Config } from '../src/config.ts';
import { newId } from '../src/core/ids.ts';
import { systemPrincipal } from '../src/core/principal.ts';
import { contextOf, SecretBox } from '../src/core/secret-box.ts';
import { buildServer } from '../src/server.ts';
import { createServices, type Services } from '../src/services.ts';
import { as, type Caller, type Tenant, testConfig, testDb, unique } from './helper.ts';

const PNG = Buffer.from(
  '89504e470d0a1a0a0000000d4948445200000001000000010806000000' +
    '1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082',
  'hex',
);

/** A one-page PDF for the envelopes the world makes (made once: pdf-lib is not free). */
let pdfOnce: Promise<Buffer> | null = null;
function matrixPdf(): Promise<Buffer> {
  pdfOnce ??= (async () => {
    const doc = await PDFDocument.create();
    doc.addPage([200, 200]);
    return Buffer.from(await doc.save());
  })();
  return pdfOnce;
}
/** The same PDF in base64, for REQUESTS (synchronous); set by the first envelope populate() makes. */
let MATRIX_PDF_BASE64 = '';

// ---------------------------------------------------------------------------------------------------------
// The world: what an account holds, made through the API (and, for imports and exports, written directly).

/** The ids of one account's objects (and of its organization). */
export interface Ids {
  org: string;
  account: string;
  /** A user whose only membership is in this account, and that membership. */
  user: string;
  userEmail: string;
  membership: string;
  profile: number;
  group: number;
  dsGroup: string;
  brand: string;
  rule: string;
  key: string;
  invite: string;
  domain: string;
  import: string;
  export: string;
  settingsExport: string;
  settingsImport: string;
  creation: string;
  clone: string;
  /** An integration key of the organization, with a secret, an RSA key and a consent. */
  integration: string;
  integrationSecret: string;
  integrationKey: string;
  consent: string;
  /** A webhook endpoint of the account (its URL is never called: no job runner runs here). */
  webhook: string;
  /** A delivery of that endpoint (its test event). */
  webhookDelivery: string;
  /** A draft envelope of the account. */
  envelope: string;
  /** A connected account of the organization (populate turns platform mode on: docs/platform.md). */
  connected: string;
  /** A dashboard session of the account's user (only that user may end it). */
  session: string;
  /** An organization-level Connect configuration and a Connect HMAC key (the organization also has OAuth). */
  connect: string;
  connectSecret: string;
}

export interface Ctx {
  services: Services;
  owner: Caller;
  tenant: Tenant;
  /**
   * A member of the account the context makes objects in, with no permission of note: creator of the target
   * keys (so any caller allowed keys:write holds at least what such a key holds).
   */
  viewerId: string;
}

/** The context that makes objects in `account` of `tenant`'s organization (its owner's key makes them). */
export async function worldOf(
  app: FastifyInstance,
  services: Services,
  tenant: Tenant,
  account = tenant.accountId,
): Promise<Ctx> {
  const owner = as(app, tenant.key);
  const viewer = await ok(
    await owner('POST', '/api/users', { email: `${unique('viewer')}@example.test`, account_id: account }),
    'viewer',
  );
  return { services, owner, tenant, viewerId: viewer.id };
}

export async function ok(res: Awaited<ReturnType<Caller>>, what: string): Promise<any> {
  assert.ok(res.statusCode < 300, `${what}: ${res.statusCode} ${res.body}`);
  return res.body ? res.json() : null;
}

/** One object of a kind, fresh, in `account` (the owner makes it). */
export const MAKERS = {
  /** A dashboard session of `userId`, as a login makes one. */
  async session(c: Ctx, userId: string) {
    const s = await c.services.sessions.create(
      testDb().db,
      { id: userId, organization_id: c.tenant.organizationId },
      {},
    );
    return s.id;
  },
  async user(c: Ctx, account: string, profile?: number) {
    const email = `${unique('u')}@example.test`;
    const u = await ok(
      await c.owner('POST', '/api/users', {
        email,
        account_id: account,
        ...(profile ? { permission_profile_id: profile } : {}),
      }),
      'user',
    );
    return { user: u.id as string, userEmail: email, membership: u.memberships[0].id as string };
  },
  async profile(c: Ctx, account: string) {
    const p = await ok(
      await c.owner('POST', `/api/accounts/${account}/permission_profiles`, {
        name: unique('P'),
        permissions: [],
      }),
      'profile',
    );
    return p.id as number;
  },
  async group(c: Ctx, account: string) {
    const g = await ok(
      await c.owner('POST', `/api/accounts/${account}/groups`, { name: unique('G') }),
      'group',
    );
    const row = await testDb()
      .db.selectFrom('groups')
      .select('ds_group_id')
      .where('id', '=', g.id)
      .executeTakeFirstOrThrow();
    return { group: g.id as number, dsGroup: row.ds_group_id as string };
  },
  async brand(c: Ctx, account: string) {
    const b = await ok(
      await c.owner('POST', `/api/accounts/${account}/brands`, { name: unique('B') }),
      'brand',
    );
    await ok(
      await c.owner('PUT', `/api/accounts/${account}/brands/${b.id}/logos/primary`, PNG, {
        'content-type': 'image/png',
      }),
      'logo',
    );
    return b.id as string;
  },
  async rule(c: Ctx, account: string, profile: number) {
    const r = await ok(
      await c.owner('POST', `/api/accounts/${account}/mapping_rules`, {
        name: unique('R'),
        conditions: { job_title: { equals: unique('T') } },
        permission_profile_id: profile,
      }),
      'rule',
    );
    return r.id as string;
  },
  async key(c: Ctx, account: string) {
    // Made by a member with no permission beyond the base reads, so any caller allowed keys:write holds at
    // least what the key holds.
    const key = await c.services.apiKeys.create(
      { principal: systemPrincipal(c.tenant.organizationId, 'test'), meta: {} },
      { name: unique('k'), account_id: account, created_by: c.viewerId, role: 'member' },
    );
    return key.id as string;
  },
  async invite(c: Ctx, account: string) {
    const i = await ok(
      await c.owner('POST', '/api/invites', {
        email: `${unique('inv')}@example.test`,
        role: 'member',
        account_id: account,
      }),
      'invite',
    );
    return i.id as string;
  },
  async domain(c: Ctx, account: string) {
    const d = await ok(
      await c.owner('POST', `/api/organizations/${c.tenant.organizationId}/domains`, {
        domain: `${unique('d')}.test`,
        auto_join: false,
        account_id: account,
      }),
      'domain',
    );
    return d.id as string;
  },
  async import(c: Ctx, account: string) {
    const id = newId();
    await testDb()
      .db.insertInto('imports')
      .values({
        id,
        organization_id: c.tenant.organizationId,
        account_id: account,
        operation: 'add',
        status: 'completed',
        requestor: { kind: 'api_key', id: 'k', label: 'k' },
        header: ['UserEmail'],
      })
      .execute();
    await testDb()
      .db.insertInto('import_files')
      .values({ import_id: id, seq: 0, data: Buffer.from('UserEmail\nx@example.test\n') })
      .execute();
    return id;
  },
  async export(c: Ctx, account: string, kind: 'users' | 'account_settings' = 'users') {
    const id = newId();
    const db = testDb().db;
    await db
      .insertInto('exports')
      .values({
        id,
        organization_id: c.tenant.organizationId,
        kind,
        format: 'csv',
        account_ids: [account],
        status: 'completed',
        requestor: { kind: 'api_key', id: 'k', label: 'k' },
        next_seq: 1,
        expires_at: new Date(Date.now() + 3600_000),
      })
      .execute();
    await db
      .insertInto('export_chunks')
      .values({ export_id: id, seq: 0, data: Buffer.from('AccountID\n') })
      .execute();
    // The Admin API face reads the DocuSign export type it was requested as.
    const type =
      kind === 'users' ? 'organization_memberships_export' : 'organization_account_settings_export';
    await sql`INSERT INTO management_export_types (export_id, type) VALUES (${id}, ${type})`.execute(db);
    return id;
  },
  async integration(c: Ctx) {
    const i = await ok(
      await c.owner('POST', '/api/integrations', {
        name: unique('I'),
        client_type: 'confidential',
        redirect_uris: ['https://app.example/cb'],
      }),
      'integration',
    );
    const url = `/api/integrations/${i.id}`;
    const key = await ok(await c.owner('POST', `${url}/rsa_keys`, { generate: true }), 'rsa key');
    const consent = await ok(await c.owner('POST', `${url}/consents`, { scopes: ['signature'] }), 'consent');
    return {
      integration: i.id as string,
      integrationSecret: i.secrets[0].id as string,
      integrationKey: key.id as string,
      consent: consent.id as string,
    };
  },
  async webhook(c: Ctx, account: string) {
    const w = await ok(
      await c.owner('POST', '/api/webhook_endpoints', {
        account_id: account,
        url: 'https://hooks.example/signet',
        events: ['*'],
      }),
      'webhook endpoint',
    );
    const sent = await ok(await c.owner('POST', `/api/webhook_endpoints/${w.id}/test`), 'test event');
    return { webhook: w.id as string, webhookDelivery: sent.delivery_id as string };
  },
  async envelope(c: Ctx, account: string) {
    if (!MATRIX_PDF_BASE64) MATRIX_PDF_BASE64 = (await matrixPdf()).toString('base64');
    const e = await ok(
      await c.owner('POST', '/api/envelope', {
        account_id: account,
        document: MATRIX_PDF_BASE64,
        parties: [{ email: 'party@example.test', name: 'Party' }],
      }),
      'envelope',
    );
    return e.id as string;
  },
  async connected(c: Ctx) {
    await ok(await c.owner('POST', '/api/platform', { enabled: true }), 'platform mode');
    const a = await ok(
      await c.owner('POST', '/api/platform/connected-accounts', {
        external_id: unique('ext'),
        name: unique('C'),
      }),
      'connected account',
    );
    return a.id as string;
  },
  /** Through /management, as a DocuSign client would: a configuration, a key and the OAuth configuration. */
  async connect(c: Ctx) {
    const base = `/management/v2/organizations/${c.tenant.organizationId}/connect`;
    const cfg = await ok(
      await c.owner('POST', base, { urlToPublishTo: 'https://hooks.example/connect', name: unique('C') }),
      'connect configuration',
    );
    const made = await ok(await c.owner('POST', `${base}/secret`, {}), 'connect secret');
    // The answer holds the secret, not its key id (others may be made meanwhile): look it up among the
    // organization's, sealed as they are stored (the tests' servers seal with the database's own key).
    const box = new SecretBox(testDb().db);
    const stored = await testDb()
      .db.selectFrom('connect_hmac_secrets')
      .select(['id', 'secret'])
      .where('organization_id', '=', c.tenant.organizationId)
      .execute();
    let key: { id: string } | undefined;
    for (const s of stored) {
      if ((await box.open(s.secret, contextOf('connect_hmac_secrets', s.id))) === made.secrets[0]) key = s;
    }
    assert.ok(key, 'the new Connect secret is stored');
    await ok(
      await c.owner('PUT', `${base}/oauth`, {
        authorizationServerUrl: 'https://auth.example/oauth/token',
        clientId: 'c',
        clientSecret: 's',
      }),
      'connect oauth',
    );
    return { connect: cfg.connectId as string, connectSecret: key.id };
  },
  async settingsImport(c: Ctx) {
    const id = newId();
    await sql`INSERT INTO settings_imports (id, organization_id, status, requestor, size_bytes)
      VALUES (${id}, ${c.tenant.organizationId}, 'completed', '{"kind":"api_key","id":"k","label":"k"}'::jsonb, 1)`.execute(
      testDb().db,
    );
    return id;
  },
  async creation(c: Ctx, account: string, source: string | null = null) {
    const id = newId();
    await sql`INSERT INTO account_creations (id, organization_id, account_id, status, request, requestor, kind, source_account_id)
      VALUES (${id}, ${c.tenant.organizationId}, ${account}, 'completed', '{}'::jsonb,
              '{"type":"api_key","id":"k","name":"k"}'::jsonb, ${source ? 'clone' : 'create'}, ${source})`.execute(
      testDb().db,
    );
    return id;
  },
};

/**
 * Every kind of object in `account`. A connected account cannot itself be a platform, so its world
 * (`connected: false`) names a placeholder connected account (test/platform-matrix.test.ts).
 */
export async function populate(c: Ctx, account: string, options: { connected?: boolean } = {}): Promise<Ids> {
  const profile = await MAKERS.profile(c, account);
  const user = await MAKERS.user(c, account);
  const group = await MAKERS.group(c, account);
  await ok(
    await c.owner('POST', `/api/accounts/${account}/groups/${group.group}/members`, {
      user_ids: [user.user],
    }),
    'member',
  );
  return {
    org: c.tenant.organizationId,
    account,
    ...user,
    profile,
    ...group,
    brand: await MAKERS.brand(c, account),
    rule: await MAKERS.rule(c, account, profile),
    key: await MAKERS.key(c, account),
    invite: await MAKERS.invite(c, account),
    domain: await MAKERS.domain(c, account),
    import: await MAKERS.import(c, account),
    export: await MAKERS.export(c, account),
    settingsExport: await MAKERS.export(c, account, 'account_settings'),
    settingsImport: await MAKERS.settingsImport(c),
    creation: await MAKERS.creation(c, account),
    clone: await MAKERS.creation(c, account, account),
    ...(await MAKERS.integration(c)),
    ...(await MAKERS.webhook(c, account)),
    envelope: await MAKERS.envelope(c, account),
    connected:
      options.connected === false ? '00000000-0000-4000-8000-000000000000' : await MAKERS.connected(c),
    session: await MAKERS.session(c, user.user),
    // Connect lives on /management, which a connected account's world (made through its platform's key and
    // Atlas-Account, an /api header) cannot reach; the platform matrix covers /api only.
    ...(options.connected === false
      ? {
          connect: '00000000-0000-4000-8000-000000000000',
          connectSecret: '00000000-0000-4000-8000-000000000000',
        }
      : await MAKERS.connect(c)),
  };
}

/** How a fresh target user is made (by default a plain member of the world's account). */
export type UserMaker = (c: Ctx, account: string) => ReturnType<typeof MAKERS.user>;

/**
 * A copy of `ids` whose objects a mutating call (`method`) may consume: every object the route names is made
 * anew (the user by `makeUser`), but a webhook endpoint only for a call that deletes it (an account holds at
 * most 20; changing, rotating or testing one leaves it usable).
 */
export async function freshFor(
  c: Ctx,
  base: Ids,
  kinds: Set<ParamKind>,
  method: string,
  makeUser: UserMaker = MAKERS.user,
): Promise<Ids> {
  const ids = { ...base };
  if (kinds.has('user') || kinds.has('membership')) Object.assign(ids, await makeUser(c, ids.account));
  if (kinds.has('profile')) ids.profile = await MAKERS.profile(c, ids.account);
  if (kinds.has('group') || kinds.has('dsGroup')) {
    Object.assign(ids, await MAKERS.group(c, ids.account));
    await ok(
      await c.owner('POST', `/api/accounts/${ids.account}/groups/${ids.group}/members`, {
        user_ids: [ids.user],
      }),
      'member',
    );
  }
  if (kinds.has('brand')) ids.brand = await MAKERS.brand(c, ids.account);
  if (kinds.has('rule')) ids.rule = await MAKERS.rule(c, ids.account, ids.profile);
  if (kinds.has('key')) ids.key = await MAKERS.key(c, ids.account);
  if (kinds.has('invite')) ids.invite = await MAKERS.invite(c, ids.account);
  if (kinds.has('domain')) ids.domain = await MAKERS.domain(c, ids.account);
  if (kinds.has('import')) ids.import = await MAKERS.import(c, ids.account);
  if (kinds.has('export')) ids.export = await MAKERS.export(c, ids.account);
  if (kinds.has('settingsExport'))
    ids.settingsExport = await MAKERS.export(c, ids.account, 'account_settings');
  if (kinds.has('settingsImport')) ids.settingsImport = await MAKERS.settingsImport(c);
  if (INTEGRATION_KINDS.some((k) => kinds.has(k))) Object.assign(ids, await MAKERS.integration(c));
  // An envelope's actions change its status: each call gets a draft of its own.
  if (kinds.has('envelope') && method !== 'GET') ids.envelope = await MAKERS.envelope(c, ids.account);
  if ((kinds.has('webhook') || kinds.has('webhookDelivery')) && method === 'DELETE')
    Object.assign(ids, await MAKERS.webhook(c, ids.account));
  if ((kinds.has('connect') || kinds.has('connectSecret')) && method === 'DELETE')
    Object.assign(ids, await MAKERS.connect(c));
  return ids;
}

// ---------------------------------------------------------------------------------------------------------
// Filling a route: path parameters by name (and by the collection they follow), bodies by route.

export type ParamKind =
  | 'org'
  | 'account'
  | 'user'
  | 'membership'
  | 'profile'
  | 'group'
  | 'dsGroup'
  | 'brand'
  | 'logo'
  | 'rule'
  | 'key'
  | 'invite'
  | 'domain'
  | 'import'
  | 'export'
  | 'settingsExport'
  | 'settingsImport'
  | 'exportResult'
  | 'settingsExportResult'
  | 'creation'
  | 'clone'
  | 'integration'
  | 'integrationSecret'
  | 'integrationKey'
  | 'consent'
  | 'webhook'
  | 'webhookDelivery'
  | 'envelope'
  | 'connected'
  | 'session'
  | 'unsupported'
  | 'connect'
  | 'connectSecret';

const INTEGRATION_KINDS: ParamKind[] = ['integration', 'integrationSecret', 'integrationKey', 'consent'];

/** What a path parameter names: by its own name, or for `:id` by the collection before it. */
function kindOf(route: AppRoute, param: string, previous: string): ParamKind | null {
  const byName: Record<string, ParamKind> = {
    organizationId: 'org',
    assetGroupId: 'org', // Signet's organization is its one asset group
    accountId: 'account',
    account_id: 'account',
    userId: 'user',
    membership_id: 'membership',
    delivery_id: 'webhookDelivery',
    membershipId: 'membership',
    permissionProfileId: 'profile',
    groupId: 'group',
    dsGroupId: 'dsGroup',
    brandId: 'brand',
    kind: 'logo',
    logoType: 'logo',
    domain_id: 'domain',
    secret_id: 'integrationSecret',
    key_id: 'integrationKey',
    consent_id: 'consent',
    envelopeId: 'envelope',
    assetGroupWorkId: route.url.includes('/accountClones/') ? 'clone' : 'creation',
    connectId: 'connect',
    keyId: 'connectSecret',
  };
  if (param === 'importId') return route.url.includes('/account_settings') ? 'settingsImport' : 'import';
  if (param === 'exportId') return route.url.includes('/account_settings') ? 'settingsExport' : 'export';
  if (param === 'resultFile')
    return route.url.includes('/account_settings') ? 'settingsExportResult' : 'exportResult';
  if (byName[param]) return byName[param]!;
  if (param !== 'id') return null;
  const byCollection: Record<string, ParamKind> = {
    organizations: 'org',
    accounts: 'account',
    users: 'user',
    permission_profiles: 'profile',
    groups: 'group',
    brands: 'brand',
    mapping_rules: 'rule',
    api_keys: 'key',
    invites: 'invite',
    imports: 'import',
    exports: 'export',
    integrations: 'integration',
    webhook_endpoints: 'webhook',
    envelope: 'envelope',
    'connected-accounts': 'connected',
    sessions: 'session',
  };
  return byCollection[previous] ?? null;
}

export function paramValue(kind: ParamKind, ids: Ids): string {
  switch (kind) {
    case 'org':
      return ids.org;
    case 'account':
      return ids.account;
    case 'user':
      return ids.user;
    case 'membership':
      return ids.membership;
    case 'profile':
      return String(ids.profile);
    case 'group':
      return String(ids.group);
    case 'dsGroup':
      return ids.dsGroup;
    case 'brand':
      return ids.brand;
    case 'logo':
      return 'primary';
    case 'rule':
      return ids.rule;
    case 'key':
      return ids.key;
    case 'invite':
      return ids.invite;
    case 'domain':
      return ids.domain;
    case 'import':
      return ids.import;
    case 'export':
      return ids.export;
    case 'settingsExport':
      return ids.settingsExport;
    case 'settingsImport':
      return ids.settingsImport;
    case 'exportResult':
      return `${ids.export}.csv`;
    case 'settingsExportResult':
      return `${ids.settingsExport}.csv`;
    case 'creation':
      return ids.creation;
    case 'clone':
      return ids.clone;
    case 'integration':
      return ids.integration;
    case 'integrationSecret':
      return ids.integrationSecret;
    case 'integrationKey':
      return ids.integrationKey;
    case 'consent':
      return ids.consent;
    case 'webhook':
      return ids.webhook;
    case 'webhookDelivery':
      return ids.webhookDelivery;
    case 'envelope':
      return ids.envelope;
    case 'connected':
      return ids.connected;
    case 'session':
      return ids.session;
    case 'unsupported':
      return '00000000-0000-4000-8000-000000000000';
    case 'connect':
      return ids.connect;
    case 'connectSecret':
      return ids.connectSecret;
  }
}

/** Ids that name nothing of an account (the organization, a logo kind). */
export const NOT_ACCOUNT_SCOPED = new Set<ParamKind>(['org', 'logo', 'unsupported']);

export interface Params {
  names: string[];
  kinds: ParamKind[];
}

function paramsOf(route: AppRoute): Params | { missing: string[] } {
  const segments = route.url.split('?')[0]!.split('/');
  const names: string[] = [];
  const kinds: ParamKind[] = [];
  const missing: string[] = [];
  segments.forEach((s, i) => {
    if (!s.startsWith(':')) return;
    const kind = kindOf(route, s.slice(1), segments[i - 1] ?? '');
    if (kind) {
      names.push(s.slice(1));
      kinds.push(kind);
    } else missing.push(s);
  });
  return missing.length ? { missing } : { names, kinds };
}

function urlOf(route: AppRoute, values: (kind: ParamKind, index: number) => string): string {
  let i = 0;
  return route.url.replace(/:[A-Za-z_]+/g, () => {
    const p = paramsOf(route) as Params;
    const v = values(p.kinds[i]!, i);
    i++;
    return encodeURIComponent(v);
  });
}

interface Request {
  body?: unknown;
  query?: string;
  headers?: Record<string, string>;
}

const ESIGN = '6dc61d91-23f1-5056-a5a2-a900d7a35530'; // src/faces/management/products.ts ESIGN_PRODUCT_ID
const csv = (text: string): Request => ({ body: text, headers: { 'content-type': 'text/csv' } });
const png: Request = { body: PNG, headers: { 'content-type': 'image/png' } };

/**
 * The body (and query) of each route that needs one, as a function of the ids its path was filled with. A
 * route missing here that takes a body (POST, PUT, PATCH) fails the test; `null` says it takes none.
 */
const REQUESTS: Record<string, ((ids: Ids) => Request) | null> = {
  // /api
  'PATCH /api/organizations/:id': () => ({ body: { name: unique('Org') } }),
  'POST /api/accounts': () => ({ body: { name: unique('Acct') } }),
  'PATCH /api/accounts/:id': () => ({ body: { name: unique('Acct') } }),
  'POST /api/users': (w) => ({ body: { email: `${unique('n')}@example.test`, account_id: w.account } }),
  'PATCH /api/users/:id': () => ({ body: { job_title: unique('Job') } }),
  'POST /api/users/:id/deactivate': null,
  'POST /api/users/:id/reactivate': null,
  'POST /api/users/:id/memberships': (w) => ({ body: { account_id: w.account } }),
  'PATCH /api/users/:id/memberships/:membership_id': (w) => ({ body: { permission_profile_id: w.profile } }),
  'POST /api/api_keys': (w) => ({ body: { name: unique('key'), account_id: w.account } }),
  'POST /api/api_keys/:id/rotate': () => ({ body: {} }),
  // Enabling only: a matrix that turned platform mode off would turn the other cells' answers into 403s.
  'POST /api/platform': () => ({ body: { enabled: true } }),
  'POST /api/platform/connected-accounts': () => ({
    body: { external_id: unique('ext'), name: unique('C') },
  }),
  'PATCH /api/platform/connected-accounts/:id': () => ({ body: { name: unique('C') } }),
  'POST /api/api_keys/revoke_all': () => ({ body: { reason: 'matrix' } }),
  'POST /api/accounts/:account_id/permission_profiles': () => ({
    body: { name: unique('P'), permissions: [] },
  }),
  'PATCH /api/accounts/:account_id/permission_profiles/:id': () => ({ body: { name: unique('P') } }),
  'POST /api/accounts/:account_id/groups': () => ({ body: { name: unique('G') } }),
  'PATCH /api/accounts/:account_id/groups/:id': () => ({ body: { name: unique('G') } }),
  'POST /api/accounts/:account_id/groups/:id/members': (w) => ({ body: { user_ids: [w.user] } }),
  'DELETE /api/accounts/:account_id/groups/:id/members': (w) => ({ body: { user_ids: [w.user] } }),
  'POST /api/accounts/:account_id/mapping_rules': (w) => ({
    body: { name: unique('R'), conditions: { company: { matches: '*' } }, permission_profile_id: w.profile },
  }),
  'PATCH /api/accounts/:account_id/mapping_rules/:id': () => ({ body: { name: unique('R') } }),
  'POST /api/accounts/:account_id/mapping_rules/reorder': (w) => ({ body: { rule_ids: [w.rule] } }),
  'POST /api/mapping_rules/test': (w) => ({ body: { account_id: w.account, job_title: 'Controller' } }),
  'POST /api/accounts/:account_id/brands': () => ({ body: { name: unique('B') } }),
  'PATCH /api/accounts/:account_id/brands/:id': () => ({ body: { name: unique('B') } }),
  'PUT /api/accounts/:account_id/brands/:id/logos/:kind': () => png,
  'PATCH /api/accounts/:account_id/settings': () => ({ body: { session_timeout_minutes: 45 } }),
  'POST /api/invites': (w) => ({
    body: { email: `${unique('i')}@example.test`, role: 'member', account_id: w.account },
  }),
  'POST /api/invites/:id/resend': null,
  'POST /api/organizations/:id/domains': (w) => ({
    body: { domain: `${unique('d')}.test`, auto_join: false, account_id: w.account },
  }),
  'POST /api/users/:id/password_reset': null,
  'POST /api/organizations/:id/domains/:domain_id/verify': null,
  'POST /api/imports': (w) => ({
    query: `account_id=${w.account}&operation=add`,
    ...csv(`UserEmail,FirstName,LastName\n${unique('imp')}@example.test,A,B\n`),
  }),
  'POST /api/imports/:id/cancel': null,
  'POST /api/exports': (w) => ({ body: { kind: 'users', account_ids: [w.account] } }),
  'POST /api/integrations': () => ({
    body: { name: unique('I'), client_type: 'public', redirect_uris: ['https://a.example/cb'] },
  }),
  'PATCH /api/integrations/:id': () => ({ body: { name: unique('I') } }),
  'POST /api/integrations/:id/secrets': () => ({ body: {} }),
  'POST /api/integrations/:id/rsa_keys': () => ({ body: { generate: true } }),
  'POST /api/integrations/:id/consents': () => ({ body: { scopes: ['signature'] } }),
  'POST /api/webhook_endpoints': (w) => ({
    body: { account_id: w.account, url: 'https://hooks.example/new', events: ['user.created'] },
  }),
  'PATCH /api/webhook_endpoints/:id': () => ({ body: { description: unique('W') } }),
  'POST /api/webhook_endpoints/:id/rotate_secret': () => ({ body: { expires_in_seconds: 60 } }),
  'POST /api/webhook_endpoints/:id/test': null,
  'POST /api/webhook_endpoints/:id/deliveries/:delivery_id/redeliver': null,
  'POST /api/accounts/:account_id/webhook_secret': null,
  'POST /api/envelope': (w) => ({
    body: {
      account_id: w.account,
      document: MATRIX_PDF_BASE64,
      parties: [{ email: 'party@example.test', name: 'Party' }],
    },
  }),
  'POST /api/envelope/:id/send': null,
  'POST /api/envelope/:id/void': () => ({ body: {} }),
  'POST /api/envelope/:id/decline': () => ({ body: {} }),
  'POST /api/envelope/:id/remind': null,
  // A grant from the world's platform to its own connected account; any other caller's is refused.
  'POST /api/credits/grants': (w) => ({
    body: { organization_id: w.connected, amount: 1, reason: 'matrix' },
  }),
  // The signed-in person's own routes (docs/people-and-sessions.md): no caller here has enrolled two-step
  // verification, so every code is refused alike (a confirm's malformed code before any state is read).
  'POST /api/me/password': () => ({
    body: { current_password: 'not the password', password: 'A new password 1' },
  }),
  'POST /api/me/sessions/revoke_others': null,
  'POST /api/me/mfa/totp': null,
  'POST /api/me/mfa/totp/confirm': () => ({ body: { code: 'not-a-code' } }),
  'POST /api/me/mfa/recovery_codes': () => ({ body: { code: '000000' } }),
  'DELETE /api/me/mfa': () => ({ body: { code: '000000' } }),
  'POST /api/users/activation_mails': (w) => ({ body: { user_ids: [w.user] } }),
  'POST /api/webhook_endpoints/:id/replay': () => ({
    body: { since: new Date(Date.now() - 3600_000).toISOString(), failed_only: false },
  }),
  // /restapi (eSignature): the status-change list needs its starting point.
  'GET /restapi/v2.1/accounts/:accountId/envelopes': () => ({ query: 'from_date=2020-01-01' }),
  // /management (DocuSign Admin API)
  'POST /management/v2.1/organizations/:organizationId/accounts/:accountId/dsgroups': () => ({
    body: { group_name: unique('G') },
  }),
  'POST /management/v2.1/organizations/:organizationId/accounts/:accountId/dsgroups/:dsGroupId/users': (
    w,
  ) => ({
    body: { user_ids: [w.user] },
  }),
  'DELETE /management/v2.1/organizations/:organizationId/accounts/:accountId/dsgroups/:dsGroupId/users': (
    w,
  ) => ({
    body: { user_ids: [w.user] },
  }),
  'GET /management/v2.1/organizations/:organizationId/accounts/:accountId/products/permission_profiles/users':
    (w) => ({ query: `email=${encodeURIComponent(w.userEmail)}` }),
  'POST /management/v2.1/organizations/:organizationId/accounts/:accountId/products/users/:userId/permission_profiles':
    (w) => ({
      body: {
        product_permission_profiles: [{ product_id: ESIGN, permission_profile_id: String(w.profile) }],
      },
    }),
  'POST /management/v2.1/organizations/:organizationId/accounts/:accountId/products/permission_profiles/users':
    (w) => ({
      body: {
        email: w.userEmail,
        product_permission_profiles: [{ product_id: ESIGN, permission_profile_id: String(w.profile) }],
      },
    }),
  'DELETE /management/v2.1/organizations/:organizationId/accounts/:accountId/products/users': (w) => ({
    body: { user_email: w.userEmail, product_ids: [ESIGN] },
  }),
  'POST /management/v2.1/organizations/:organizationId/accounts/:accountId/users': (w) => ({
    body: {
      email: `${unique('ds')}@example.test`,
      user_name: 'DS User',
      product_permission_profiles: [{ product_id: ESIGN, permission_profile_id: String(w.profile) }],
    },
  }),
  'GET /management/v2.1/organizations/:organizationId/users/dsprofile': (w) => ({
    query: `email=${encodeURIComponent(w.userEmail)}`,
  }),
  'POST /management/v2/organizations/:organizationId/assetGroups/accountCreate': () => ({
    body: { targetAccount: { name: unique('Sub'), countryCode: 'US' } },
  }),
  'POST /management/v2/organizations/:organizationId/assetGroups/accountClone': (w) => ({
    body: { sourceAccount: { id: w.account }, targetAccount: { name: unique('Clone') } },
  }),
  'POST /management/v2/organizations/:organizationId/users': (w) => ({
    body: {
      user_name: 'New User',
      email: `${unique('ds')}@example.test`,
      accounts: [{ id: w.account, permission_profile: { id: w.profile } }],
    },
  }),
  'POST /management/v2/organizations/:organizationId/accounts/:accountId/users': (w) => ({
    body: {
      email: `${unique('ds')}@example.test`,
      user_name: 'New User',
      permission_profile: { id: w.profile },
    },
  }),
  'GET /management/v2/organizations/:organizationId/users': (w) => ({ query: `account_id=${w.account}` }),
  'GET /management/v2/organizations/:organizationId/users/profile': (w) => ({
    query: `email=${encodeURIComponent(w.userEmail)}`,
  }),
  'POST /management/v2/organizations/:organizationId/users/profiles': (w) => ({
    body: { users: [{ id: w.user, job_title: unique('Job') }] },
  }),
  'POST /management/v2/organizations/:organizationId/users/email_addresses': (w) => ({
    body: { users: [{ id: w.user, email: `${unique('new')}@example.test` }] },
  }),
  'DELETE /management/v2/organizations/:organizationId/users/:userId/accounts': (w) => ({
    body: { accounts: [{ id: w.account }] },
  }),
  'POST /management/v2/organizations/:organizationId/users/:userId/memberships/:membershipId': () => ({
    body: {},
  }),
  'DELETE /management/v2/organizations/:organizationId/users/:userId/identities': () => ({
    body: { identities: [{ id: '00000000-0000-4000-8000-000000000001' }] },
  }),
  'POST /management/v2/data_redaction/accounts/:accountId/user': (w) => ({ body: { user_id: w.user } }),
  'POST /management/v2/data_redaction/organizations/:organizationId/user': (w) => ({
    body: { user_id: w.user, memberships: [{ account_id: w.account }] },
  }),
  'POST /management/v2/organizations/:organizationId/imports/bulk_users/add': (w) =>
    csv(
      `AccountID,UserEmail,UserName,PermissionSet\n${w.account},${unique('b')}@example.test,B U,DS Viewer\n`,
    ),
  'POST /management/v2/organizations/:organizationId/imports/bulk_users/update': (w) =>
    csv(`AccountID,APIUserName,UserEmail,UserName\n${w.account},${w.user},${w.userEmail},New Name\n`),
  'POST /management/v2/organizations/:organizationId/imports/bulk_users/close': (w) =>
    csv(`AccountID,UserEmail\n${w.account},${w.userEmail}\n`),
  'POST /management/v2/organizations/:organizationId/accounts/:accountId/imports/bulk_users/add': () =>
    csv(`UserEmail,UserName,PermissionSet\n${unique('b')}@example.test,B U,DS Viewer\n`),
  'POST /management/v2/organizations/:organizationId/accounts/:accountId/imports/bulk_users/update': (w) =>
    csv(`APIUserName,UserEmail,UserName\n${w.user},${w.userEmail},New Name\n`),
  'POST /management/v2/organizations/:organizationId/imports/bulk_users/close_external': () => csv('a\n'),
  'POST /management/v2/organizations/:organizationId/exports/user_list': (w) => ({
    body: { type: 'organization_memberships_export', accounts: [{ account_id: w.account }] },
  }),
  'POST /management/v2/organizations/:organizationId/exports/account_settings': (w) => ({
    body: { accounts: [{ account_id: w.account }] },
  }),
  'POST /management/v2/organizations/:organizationId/imports/account_settings': (w) =>
    csv(`AccountId,sessionTimeout\n${w.account},45\n`),
  'POST /management/v2/organizations/:organizationId/connect': () => ({
    body: { urlToPublishTo: 'https://hooks.example/connect', name: unique('C') },
  }),
  'POST /management/v2/organizations/:organizationId/connect/oauth': () => ({
    body: { authorizationServerUrl: 'https://auth.example/token', clientId: 'c', clientSecret: 's' },
  }),
  // Complete, so it answers alike whether or not a concurrent DELETE of the configuration came first.
  'PUT /management/v2/organizations/:organizationId/connect/oauth': () => ({
    body: {
      authorizationServerUrl: 'https://auth.example/token',
      clientId: 'c',
      clientSecret: 's',
      scope: 'hooks',
    },
  }),
  'POST /management/v2/organizations/:organizationId/connect/secret': () => ({ body: {} }),
  'PUT /management/v2/organizations/:organizationId/connect/:connectId': () => ({
    body: { name: unique('C') },
  }),
  // /restapi (eSignature)
  'POST /restapi/v2.1/accounts/:accountId/users': () => ({
    body: { newUsers: [{ email: `${unique('es')}@example.test`, userName: 'E S' }] },
  }),
  'PUT /restapi/v2.1/accounts/:accountId/users/:userId': () => ({ body: { jobTitle: unique('Job') } }),
  'DELETE /restapi/v2.1/accounts/:accountId/users': (w) => ({ body: { users: [{ userId: w.user }] } }),
  'POST /restapi/v2.1/accounts/:accountId/groups': () => ({ body: { groups: [{ groupName: unique('G') }] } }),
  'PUT /restapi/v2.1/accounts/:accountId/groups': (w) => ({
    body: { groups: [{ groupId: String(w.group), groupName: unique('G') }] },
  }),
  'DELETE /restapi/v2.1/accounts/:accountId/groups': (w) => ({
    body: { groups: [{ groupId: String(w.group) }] },
  }),
  'PUT /restapi/v2.1/accounts/:accountId/groups/:groupId/users': (w) => ({
    body: { users: [{ userId: w.user }] },
  }),
  'DELETE /restapi/v2.1/accounts/:accountId/groups/:groupId/users': (w) => ({
    body: { users: [{ userId: w.user }] },
  }),
  'POST /restapi/v2.1/accounts/:accountId/permission_profiles': () => ({
    body: { permissionProfileName: unique('P') },
  }),
  'PUT /restapi/v2.1/accounts/:accountId/permission_profiles/:permissionProfileId': () => ({
    body: { permissionProfileName: unique('P') },
  }),
  'POST /restapi/v2.1/accounts/:accountId/brands': () => ({ body: { brandName: unique('B') } }),
  'DELETE /restapi/v2.1/accounts/:accountId/brands': (w) => ({ body: { brands: [{ brandId: w.brand }] } }),
  'PUT /restapi/v2.1/accounts/:accountId/brands/:brandId': () => ({ body: { brandName: unique('B') } }),
  'PUT /restapi/v2.1/accounts/:accountId/brands/:brandId/logos/:logoType': () => png,
  'PUT /restapi/v2.1/accounts/:accountId/settings': () => ({
    body: { sessionTimeout: '45' },
  }),
};

/** The routes the matrices cover: every route of the three faces. */
export const FACES = ['/api/', '/management/', '/restapi/'];

/**
 * Whether the route's declared permission lets a caller holding `perms` in; a person's own route (config
 * `person`) only a dashboard session (`session`).
 */
export function allowedByRoute(route: AppRoute, perms: Set<string>, session = false): boolean {
  if (route.person && !session) return false;
  if (route.permission) return perms.has(route.permission);
  if (route.anyPermission) return route.anyPermission.some((p) => perms.has(p));
  return true;
}

export function routeKey(r: AppRoute): string {
  return `${r.method} ${r.url}`;
}

export interface Cell {
  method: string;
  url: string;
  body?: unknown;
  headers?: Record<string, string>;
}

/** The object kinds a route's body (or query) names: read off the fields its builder touches. */
export function bodyKinds(route: AppRoute): ParamKind[] {
  const make = REQUESTS[routeKey(route)];
  if (!make) return [];
  const touched = new Set<string>();
  const probe = new Proxy({} as Ids, {
    get(_target, field: string) {
      touched.add(field);
      return field === 'profile' || field === 'group' ? 1 : '00000000-0000-4000-8000-000000000000';
    },
  });
  make(probe);
  const kinds: Record<string, ParamKind> = {
    user: 'user',
    userEmail: 'user',
    membership: 'user',
    profile: 'profile',
    group: 'group',
    dsGroup: 'group',
    brand: 'brand',
    rule: 'rule',
    key: 'key',
    invite: 'invite',
    domain: 'domain',
    import: 'import',
    export: 'export',
    settingsExport: 'settingsExport',
    settingsImport: 'settingsImport',
  };
  return [...touched].flatMap((f) => (kinds[f] ? [kinds[f]!] : []));
}

export function cellOf(
  route: AppRoute,
  values: (kind: ParamKind, index: number) => string,
  bodyIds: Ids,
): Cell {
  const make = REQUESTS[routeKey(route)];
  const req = make ? make(bodyIds) : {};
  const url = urlOf(route, values) + (req.query ? `?${req.query}` : '');
  return {
    method: route.method,
    url,
    ...(req.body !== undefined ? { body: req.body } : {}),
    ...(req.headers ? { headers: req.headers } : {}),
  };
}

/** Requests in flight together in a matrix (app.inject calls; the pool has 5 connections). */
export const MATRIX_WIDTH = 6;

let requestSeq = 0;

/** Sends a cell with its own X-Request-Id, so a 5xx can be matched with the error the app logged for it. */
export async function send(caller: Caller, cell: Cell) {
  const id = `matrix-${++requestSeq}`;
  const res = await caller(cell.method as never, cell.url, cell.body, {
    ...cell.headers,
    'x-request-id': id,
  });
  return Object.assign(res, { requestId: id });
}

export type Response = Awaited<ReturnType<typeof send>>;

/** The app of a matrix: no rate limits (thousands of calls per key), errors logged where the test reads them. */
export async function matrixApp(t: TestContext, overrides: Partial<Config> = {}) {
  const lines: string[] = [];
  const config = testConfig({
    logLevel: 'error',
    rateLimitPerMinute: 0,
    keyFailuresPerMinute: 0,
    ...overrides,
  });
  const services = createServices(testDb().db, config);
  const app = await buildServer(config, services, { logStream: { write: (line) => lines.push(line) } });
  await app.ready();
  t.after(() => app.close());
  /** What the app logged for a failed request: the database's error code (40P01: deadlock) and message. */
  const loggedError = (res: Response): string => {
    for (const line of lines) {
      const entry = JSON.parse(line) as {
        reqId?: string;
        err?: { code?: string; message?: string; detail?: string };
      };
      if (entry.reqId === res.requestId && entry.err) {
        const { code = '', message = '', detail = '' } = entry.err;
        return `${code} ${message} ${detail}`.trim();
      }
    }
    return '(nothing logged)';
  };
  return { app, services, config, loggedError };
}

/**
 * Runs `fn` over `items` with `width` calls in flight. `fn` gets the labels of the items in flight at that
 * moment (its own included), which is what a deadlock report needs.
 */
export async function concurrently<T>(
  items: T[],
  width: number,
  label: (item: T) => string,
  fn: (item: T, inFlight: () => string[]) => Promise<void>,
): Promise<void> {
  const flying = new Set<string>();
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      const name = label(item);
      flying.add(name);
      try {
        await fn(item, () => [...flying]);
      } finally {
        flying.delete(name);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
}

export type Snapshot = Record<string, unknown[]>;

/** What changed between two snapshots, table by table: the rows gone (-) and the rows come (+). */
export function changes(before: Snapshot, after: Snapshot): string[] {
  const out: string[] = [];
  for (const table of Object.keys(before)) {
    const was = new Set(before[table]!.map((r) => JSON.stringify(r)));
    const is = new Set(after[table]!.map((r) => JSON.stringify(r)));
    for (const r of was) if (!is.has(r)) out.push(`${table} - ${r}`);
    for (const r of is) if (!was.has(r)) out.push(`${table} + ${r}`);
  }
  return out;
}

/** Every row of an organization (or of one account of it), as one comparable value. */
export async function snapshot(orgId: string, accountId?: string): Promise<Snapshot> {
  const db = testDb().db;
  const tables = [
    'accounts',
    'users',
    'memberships',
    'permission_profiles',
    'groups',
    'brands',
    'account_settings',
    'api_keys',
    'mapping_rules',
    'imports',
    'exports',
    'invites',
    'organization_domains',
    'account_creations',
    'integrations',
    'oauth_consents',
    'webhook_endpoints',
    'envelopes',
  ] as const;
  // Organization-level tables: all of the organization's rows, also in an account's snapshot.
  const orgLevel = new Set<string>(['integrations', 'oauth_consents']);
  const out: Snapshot = {};
  for (const table of tables) {
    const scoped =
      !accountId || table === 'users' || orgLevel.has(table)
        ? sql``
        : table === 'exports'
          ? sql`AND ${accountId} = ANY(account_ids)`
          : sql`AND ${sql.ref(table === 'accounts' ? 'id' : 'account_id')} = ${accountId}`;
    const userFilter =
      accountId && table === 'users'
        ? sql`AND id IN (SELECT user_id FROM memberships WHERE account_id = ${accountId})`
        : sql``;
    out[table] = (
      await sql`SELECT to_jsonb(t) AS r FROM ${sql.table(table)} t WHERE organization_id = ${orgId} ${scoped} ${userFilter}
                ORDER BY 1::text`.execute(db)
    ).rows;
  }
  // What a change to a user can leave besides its row: reset and verification tokens, mail to it.
  const people = accountId
    ? sql`SELECT user_id FROM memberships WHERE account_id = ${accountId}`
    : sql`SELECT id FROM users WHERE organization_id = ${orgId}`;
  out.user_tokens = (
    await sql`SELECT id, user_id, purpose, used_at FROM user_tokens WHERE user_id IN (${people})
              ORDER BY 1`.execute(db)
  ).rows;
  out.outbox_mail = (
    await sql`SELECT id, "to", subject FROM outbox_mail
              WHERE lower("to") IN (SELECT lower(email) FROM users WHERE id IN (${people})) ORDER BY 1`.execute(
      db,
    )
  ).rows;
  // Connected accounts (organizations of their own) linked to this organization: organization-level.
  out.connected_accounts = (
    await sql`SELECT to_jsonb(o) AS r FROM organizations o WHERE platform_organization_id = ${orgId}
              ORDER BY 1::text`.execute(db)
  ).rows;
  out.platform = (await sql`SELECT platform_enabled FROM organizations WHERE id = ${orgId}`.execute(db)).rows;
  const acct = accountId ? sql`AND g.account_id = ${accountId}` : sql``;
  out.group_members = (
    await sql`SELECT gm.group_id, gm.user_id FROM group_members gm JOIN groups g ON g.id = gm.group_id
              WHERE g.organization_id = ${orgId} ${acct} ORDER BY 1, 2`.execute(db)
  ).rows;
  out.logos = (
    await sql`SELECT l.brand_id, l.kind, l.sha256 FROM brand_logos l JOIN brands g ON g.id = l.brand_id
              WHERE g.organization_id = ${orgId} ${acct} ORDER BY 1, 2`.execute(db)
  ).rows;
  return out;
}

/** eSignature's codes for an unknown id (src/faces/esign/errors.ts); DocuSign answers them 400. */
const ESIGN_NOT_FOUND = new Set([
  'ACCOUNT_NOT_FOUND',
  'INVALID_USERID',
  'INVALID_GROUP_ID',
  'INVALID_PERMISSION_PROFILE_ID',
  'INVALID_BRAND_ID',
  'BRAND_LOGO_NOT_FOUND',
  'ENVELOPE_DOES_NOT_EXIST',
]);

/** A response's JSON body, or {} when it has none (a CSV, a logo, an empty 204). */
export function jsonOf(res: { body: string; headers: Record<string, unknown> }): any {
  if (!String(res.headers['content-type'] ?? '').includes('json')) return {};
  try {
    return JSON.parse(res.body);
  } catch {
    return {};
  }
}

/** The answer a face gives for an id that does not exist (or that belongs to another organization). */
export function isNotFound(route: AppRoute, res: Response): boolean {
  const body = jsonOf(res);
  if (route.url.startsWith('/restapi/')) {
    return (res.statusCode === 400 || res.statusCode === 404) && ESIGN_NOT_FOUND.has(body.errorCode);
  }
  if (res.statusCode !== 404) return false;
  if (route.url.startsWith('/api/')) return body.error?.code === 'not_found';
  return body.error === 'not_found';
}

/**
 * The answer a face gives a caller who lacks a permission: 403 with `permission_denied` on /api
 * ({"error": {"code"}}) and /management ({"error", "error_description"}), 403 `USER_LACKS_PERMISSIONS` on
 * /restapi (docs/compatibility.md: eSignature's code, Signet's status).
 */
export function isDenial(route: AppRoute, res: Response): boolean {
  if (res.statusCode !== 403) return false;
  const body = jsonOf(res);
  if (route.url.startsWith('/restapi/')) return body.errorCode === 'USER_LACKS_PERMISSIONS';
  if (route.url.startsWith('/api/')) return body.error?.code === 'permission_denied';
  return body.error === 'permission_denied' && typeof body.error_description === 'string';
}

/** A dashboard session of `userId` acting in `accountId`, as a browser sends it (cookie, CSRF token). */
export async function sessionCaller(
  app: FastifyInstance,
  services: Services,
  user: { id: string; organization_id: string },
  accountId: string,
): Promise<Caller> {
  const s = await services.sessions.create(testDb().db, user, {});
  const anonymous = as(app, null);
  return (method, url, body, headers = {}) =>
    anonymous(method, url, body, {
      cookie: `signet_session=${s.token}`,
      'x-csrf-token': s.csrfToken,
      'signet-account': accountId,
      ...headers,
    });
}

// ---------------------------------------------------------------------------------------------------------

export interface Setup {
  routes: AppRoute[];
  params: Map<string, Params>;
}

export async function routeTable(): Promise<Setup> {
  const routes = (await appRoutes()).filter((r) => FACES.some((f) => r.url.startsWith(f)));
  const params = new Map<string, Params>();
  const uncovered: string[] = [];
  for (const r of routes) {
    const p = paramsOf(r);
    if ('missing' in p) uncovered.push(`${routeKey(r)}: no filler for ${p.missing.join(', ')}`);
    else params.set(routeKey(r), p);
    if (['POST', 'PUT', 'PATCH'].includes(r.method) && !(routeKey(r) in REQUESTS))
      uncovered.push(`${routeKey(r)}: takes a body; add it to REQUESTS`);
  }
  assert.deepEqual(uncovered, [], 'every route can be filled');
  const stale = Object.keys(REQUESTS).filter((k) => !routes.some((r) => routeKey(r) === k));
  assert.deepEqual(stale, [], 'REQUESTS names only routes that exist');
  return { routes, params };
}

/**
 * What a caller of ANOTHER organization must get for a cell filled with `victimIds` (the isolation rule, also
 * the other-organization row of the role matrix), as a failure message or null:
 *   - a route the caller's permissions do not let in: the face's denial, whatever the ids;
 *   - an id in the path: the face's "does not exist", as for an id that does not exist;
 *   - the victim's ids only in the body: refused (4xx; which answer depends on the face and the field);
 *   - no victim id at all (the caller's own lists, its own creations): anything but a 5xx;
 * and whatever the answer, none of the victim's ids is in it unless the request named it.
 */
export function foreignFailure(
  route: AppRoute,
  params: Params,
  cell: Cell,
  res: Response,
  perms: Set<string>,
  victimIds: string[],
): string | null {
  const label = `${cell.method} ${cell.url} → ${res.statusCode} ${res.body.slice(0, 200)}`;
  if (route.notSupported) return res.statusCode === 501 ? null : label;
  const asked = decodeURIComponent(cell.url) + JSON.stringify(cell.body ?? '');
  const leaked = victimIds.find((id) => res.body.includes(id) && !asked.includes(id));
  if (leaked) return `${label}: leaks ${leaked}`;
  if (!allowedByRoute(route, perms)) return isDenial(route, res) ? null : label;
  if (params.kinds.some((k) => k !== 'logo')) return isNotFound(route, res) ? null : label;
  if (cell.body !== undefined && victimIds.some((id) => JSON.stringify(cell.body).includes(id)))
    return res.statusCode >= 400 && res.statusCode < 500 ? null : label;
  return res.statusCode < 500 ? null : label;
}
