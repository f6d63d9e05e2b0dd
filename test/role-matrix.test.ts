// The generated role matrix: every route of /api, /management and /restapi (the app's route table, filled by
// test/matrix-world.ts) × every kind of caller of one organization, acting in the account that holds the
// targets. Public routes are not in it; the deliberate 501s (`notSupported`) answer 501 to every caller.
//
// The callers: the owner and an admin; a member per profile permission (a profile granting exactly that one of
// PROFILE_PERMISSIONS) and a member whose profile grants nothing; each of those through an API key and through
// a dashboard session (cookie and CSRF token; /api is the face that takes sessions); an owner's key restricted
// to each scope of src/core/api-keys/scopes.ts; an expired and a revoked key (401 everywhere); and another
// organization's owner, with the isolation rule (matrix-world.ts foreignFailure).
//
// The expected answer is computed, not written down: the caller's permissions are `permissionsFor(role,
// profile)` (cut to `scopeGrants` for a restricted key) and the route's the one it declares (for a route whose
// object decides, OBJECT_PERMISSION: the one the filler's object needs). Lacking it: exactly the face's denial
// (403 `permission_denied` on /api and /management, 403 `USER_LACKS_PERMISSIONS` on /restapi; matrix-world.ts
// isDenial). Holding it: the owner's answer for the same route on an object of the same kind, which is never
// the denial and never a 5xx. Where a route's own rule refuses more, EXCEPTIONS says so, each with the rule of
// docs/security.md it follows; an exception that matches no cell fails the test.
//
// Calls change state, so every call a caller is allowed to make with a write method gets objects made for it
// alone (matrix-world.ts freshFor); the rest share the account's objects. `revoke_all` revokes every key of
// the organization, so it runs last: first the callers it refuses, then, one at a time, those it lets in.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AppRoute } from '../scripts/compatibility.ts';
import { docuSignScopesToSignet, SCOPE_NAMES, scopeGrants } from '../src/core/api-keys/scopes.ts';
import {
  PERMISSIONS,
  type Permission,
  PROFILE_PERMISSIONS,
  permissionsFor,
  systemPrincipal,
} from '../src/core/principal.ts';
import type { OrgRole } from '../src/db/schema.ts';
import { startDnsServer } from './dns-server.ts';
import { as, type Caller, createTenant, testDb, unique } from './helper.ts';
import { runWorker } from './imports-helper.ts';
import {
  allowedByRoute,
  bodyKinds,
  type Cell,
  cellOf,
  concurrently,
  foreignFailure,
  freshFor,
  type Ids,
  isDenial,
  isNotFound,
  jsonOf,
  MAKERS,
  MATRIX_WIDTH,
  matrixApp,
  ok,
  type ParamKind,
  paramValue,
  populate,
  type Response,
  routeKey,
  routeTable,
  send,
  sessionCaller,
  worldOf,
} from './matrix-world.ts';
import { assertion, basic, consent, FORM, form, JWT_BEARER, makeIntegration } from './oauth-helper.ts';

interface Who {
  who: string;
  caller: Caller;
  /** Its route permissions (for `expired` and `revoked`: what the key held before). */
  perms: Set<string>;
  role: OrgRole;
  kind: 'key' | 'restricted' | 'session' | 'token' | 'expired' | 'revoked' | 'other_org';
}

/**
 * Routes whose declared permission is "any of" (the object decides): the permission the object the filler
 * names needs. The fillers ask for and name users exports (docs/security.md, "Reads are scoped like writes":
 * deleting an export needs the write permission of what it holds).
 */
const OBJECT_PERMISSION: Record<string, Permission> = {
  'POST /api/exports': 'users:read',
  'GET /api/exports/:id': 'users:read',
  'GET /api/exports/:id/download': 'users:read',
  'DELETE /api/exports/:id': 'users:write',
};

function allowed(route: AppRoute, who: Who): boolean {
  const need = OBJECT_PERMISSION[routeKey(route)];
  return need ? who.perms.has(need) : allowedByRoute(route, who.perms, who.kind === 'session');
}

interface Exception {
  routes: string[];
  applies: (who: Who) => boolean;
  /** What the caller gets instead of the owner's answer. */
  answer: 'denial' | 'not_found';
  /** The rule, as docs/security.md states it. */
  rule: string;
}

/** A caller whose powers its scopes cut down: a restricted key, an OAuth access token. */
const cutByScopes = (w: Who) => w.kind === 'restricted' || w.kind === 'token';

const KEY_ACTIONS = ['DELETE /api/api_keys/:id', 'POST /api/api_keys/:id/rotate'];
const SETTINGS_IMPORT = '/management/v2/organizations/:organizationId/imports/account_settings/:importId';

const EXCEPTIONS: Exception[] = [
  {
    routes: ['POST /api/platform'],
    applies: (w) => w.role !== 'owner',
    answer: 'denial',
    rule: 'Platform mode is turned on or off by an owner only (docs/platform.md)',
  },
  {
    routes: ['POST /api/api_keys/revoke_all'],
    applies: (w) => w.role !== 'owner',
    answer: 'denial',
    rule: 'Nobody grants more than they hold: only an owner revokes every key of the organization',
  },
  {
    routes: ['POST /api/api_keys'],
    applies: cutByScopes,
    answer: 'denial',
    rule: 'Nobody grants more than they hold: a restricted key creates only keys restricted within its scopes (the filler asks for an unrestricted one)',
  },
  {
    routes: KEY_ACTIONS,
    applies: cutByScopes,
    answer: 'denial',
    rule: 'Nobody grants more than they hold: a key restricted to keys:write cannot rotate or revoke an unrestricted key (the target key is unrestricted)',
  },
  {
    routes: KEY_ACTIONS,
    applies: (w) => w.role === 'member',
    answer: 'not_found',
    rule: 'Reads are scoped like writes: a member sees, rotates and revokes only the API keys it made (the target key is another member’s)',
  },
  {
    routes: [`GET ${SETTINGS_IMPORT}`, `DELETE ${SETTINGS_IMPORT}`],
    applies: (w) => w.role === 'member',
    answer: 'not_found',
    rule: 'Reads are scoped like writes: a member sees only the settings imports it made (one may span accounts)',
  },
  {
    routes: ['POST /api/integrations/:id/consents'],
    applies: (w) => w.role !== 'owner',
    answer: 'denial',
    rule: 'Nobody grants more than they hold: a consent for every user of the organization covers its owners and needs an owner (the filler names no user)',
  },
  {
    routes: ['POST /api/integrations/:id/consents'],
    applies: cutByScopes,
    answer: 'denial',
    rule: 'Nobody grants more than they hold: a restricted key grants only scopes whose permissions it holds (the filler grants `signature`)',
  },
  {
    routes: ['POST /management/v2/organizations/:organizationId/assetGroups/accountClone'],
    applies: cutByScopes,
    answer: 'denial',
    rule: 'Nobody grants more than they hold: a clone creates the source account’s permission profiles, which grant what a key restricted to account:write does not hold',
  },
];

const REVOKE_ALL = 'POST /api/api_keys/revoke_all';

/** The message a refusal carries (each face's field for it). */
function messageOf(res: Response): string {
  const body = jsonOf(res);
  return String(body.error?.message ?? body.error_description ?? body.message ?? '');
}

/** 401 with the face's code for an unusable key (eSignature has one code for every token problem). */
function isUnauthenticated(route: AppRoute, res: Response, code: string): boolean {
  if (res.statusCode !== 401) return false;
  const body = jsonOf(res);
  if (route.url.startsWith('/restapi/')) return body.errorCode === 'AUTHORIZATION_INVALID_TOKEN';
  return (route.url.startsWith('/api/') ? body.error?.code : body.error) === code;
}

test('role matrix: every kind of caller × every route of /api, /management and /restapi', async (t) => {
  const { routes, params } = await routeTable();
  const dns = await startDnsServer(); // domain verification asks a real DNS server, which knows no claim
  t.after(() => dns.close());
  const { app, services, config, loggedError } = await matrixApp(t, { dnsServers: [dns.address] });
  await runWorker(t, config);
  const tenant = await createTenant(services, config);
  const org = tenant.organizationId;
  const account = tenant.accountId;
  const c = await worldOf(app, services, tenant);
  const base = await populate(c, account);
  const system = { principal: systemPrincipal(org, 'test'), meta: {} };
  const all = new Set<string>(PERMISSIONS);

  // ------------------------------------------------------------------------------------------------------
  // The callers.
  const callers: Who[] = [
    { who: 'owner', caller: as(app, tenant.key), perms: all, role: 'owner', kind: 'key' },
    {
      who: 'owner (session)',
      caller: await sessionCaller(app, services, { id: tenant.ownerId, organization_id: org }, account),
      perms: all,
      role: 'owner',
      kind: 'session',
    },
  ];
  const keyOf = async (userId: string, role: OrgRole) =>
    (
      await services.apiKeys.create(system, {
        name: unique('matrix'),
        account_id: account,
        created_by: userId,
        role,
      })
    ).key;
  // An OAuth integration with every user's consent: a person's access token (DocuSign's JWT grant) acts as
  // the person, cut down to the token's scopes (src/core/oauth/tokens.ts).
  const integration = await makeIntegration(app, tenant);
  const tokenScopes = ['signature', 'impersonation'];
  await consent(app, tenant, integration, tokenScopes, null);
  const tokenGrants = scopeGrants(docuSignScopesToSignet(tokenScopes)) as Set<string>;
  const tokenOf = async (userId: string) => {
    const res = await app.inject({
      method: 'POST',
      url: '/oauth/token',
      headers: FORM,
      payload: form({
        grant_type: JWT_BEARER,
        assertion: await assertion(integration, {
          sub: userId,
          aud: config.oauthAudience,
          scope: tokenScopes.join(' '),
        }),
      }),
    });
    assert.equal(res.statusCode, 200, res.body);
    return res.json().access_token as string;
  };
  /** A person through its API key, its dashboard session and (`token`) an OAuth access token. */
  const person = async (who: string, userId: string, role: OrgRole, perms: Set<string>, token = false) => {
    callers.push({ who, caller: as(app, await keyOf(userId, role)), perms, role, kind: 'key' });
    const session = await sessionCaller(app, services, { id: userId, organization_id: org }, account);
    callers.push({ who: `${who} (session)`, caller: session, perms, role, kind: 'session' });
    if (!token) return;
    callers.push({
      who: `${who} (OAuth token: ${tokenScopes.join(' ')})`,
      caller: as(app, await tokenOf(userId)),
      perms: new Set([...perms].filter((p) => tokenGrants.has(p))),
      role,
      kind: 'token',
    });
  };
  callers.push({
    who: `owner (OAuth token: ${tokenScopes.join(' ')})`,
    caller: as(app, await tokenOf(tenant.ownerId)),
    perms: new Set([...all].filter((p) => tokenGrants.has(p))),
    role: 'owner',
    kind: 'token',
  });
  // A client_credentials token acts as its integration, with its creator's (the owner's) powers cut down.
  const clientScopes = ['user_read', 'user_write'];
  const clientToken = await app.inject({
    method: 'POST',
    url: '/oauth/token',
    headers: { ...FORM, authorization: basic(integration) },
    payload: form({ grant_type: 'client_credentials', scope: clientScopes.join(' ') }),
  });
  assert.equal(clientToken.statusCode, 200, clientToken.body);
  const clientGrants = scopeGrants(docuSignScopesToSignet(clientScopes)) as Set<string>;
  callers.push({
    who: `integration (client_credentials: ${clientScopes.join(' ')})`,
    caller: as(app, clientToken.json().access_token),
    perms: new Set([...all].filter((p) => clientGrants.has(p))),
    role: 'owner',
    kind: 'token',
  });
  const admin = await ok(
    await c.owner('POST', '/api/users', {
      email: `${unique('admin')}@example.test`,
      role: 'admin',
      account_id: account,
    }),
    'admin',
  );
  await person('admin', admin.id, 'admin', all, true);
  for (const permission of [...PROFILE_PERMISSIONS, null]) {
    const granted = permission ? [permission] : [];
    const profile = await ok(
      await c.owner('POST', `/api/accounts/${account}/permission_profiles`, {
        name: unique(permission ?? 'empty'),
        permissions: granted,
      }),
      'profile',
    );
    const u = await MAKERS.user(c, account, profile.id);
    await person(
      `member ${permission ?? '(empty profile)'}`,
      u.user,
      'member',
      permissionsFor('member', granted),
      // Tokens of a member whose permission the token's scopes cover, of one they do not, and of none.
      [null, 'manage_users', 'manage_api_keys'].includes(permission),
    );
  }
  for (const scope of SCOPE_NAMES) {
    const key = await ok(
      await c.owner('POST', '/api/api_keys', { name: unique(scope), scopes: [scope] }),
      scope,
    );
    const granted = scopeGrants([scope]);
    callers.push({
      who: `owner key restricted to ${scope}`,
      caller: as(app, key.key),
      perms: new Set([...all].filter((p) => granted.has(p as Permission))),
      role: 'owner',
      kind: 'restricted',
    });
  }
  const expiring = await ok(
    await c.owner('POST', '/api/api_keys', {
      name: 'soon',
      expires_at: new Date(Date.now() + 60_000).toISOString(),
    }),
    'expiring key',
  );
  await testDb()
    .db.updateTable('api_keys')
    .set({ expires_at: new Date(Date.now() - 1000) })
    .where('id', '=', expiring.id)
    .execute();
  const revoked = await ok(await c.owner('POST', '/api/api_keys', { name: 'gone' }), 'key');
  await ok(await c.owner('DELETE', `/api/api_keys/${revoked.id}`), 'revoke');
  callers.push({
    who: 'expired key',
    caller: as(app, expiring.key),
    perms: all,
    role: 'owner',
    kind: 'expired',
  });
  callers.push({
    who: 'revoked key',
    caller: as(app, revoked.key),
    perms: all,
    role: 'owner',
    kind: 'revoked',
  });
  const other = await createTenant(services, config);
  callers.push({
    who: 'other organization’s owner',
    caller: as(app, other.key),
    perms: all,
    role: 'owner',
    kind: 'other_org',
  });

  // ------------------------------------------------------------------------------------------------------
  // The cells: each caller on each route of the faces it may use, with objects of its own where it may
  // change them.
  interface Row {
    route: AppRoute;
    who: Who;
    cell: Cell;
  }
  const plans: { route: AppRoute; who: Who; fresh: boolean }[] = [];
  for (const route of routes) {
    for (const who of callers) {
      if (who.kind === 'session' && !route.url.startsWith('/api/')) continue;
      const writes = route.method !== 'GET' && !route.notSupported;
      const fresh =
        writes && ['key', 'restricted', 'session', 'token'].includes(who.kind) && allowed(route, who);
      plans.push({ route, who, fresh });
    }
  }
  const rows: Row[] = [];
  await concurrently(
    plans,
    MATRIX_WIDTH,
    (p) => `${p.who.who}: ${routeKey(p.route)}`,
    async ({ route, who, fresh }) => {
      const kinds = new Set<ParamKind>([...params.get(routeKey(route))!.kinds, ...bodyKinds(route)]);
      const ids: Ids = fresh ? await freshFor(c, base, kinds, route.method) : base;
      rows.push({ route, who, cell: cellOf(route, (k) => paramValue(k, ids), ids) });
    },
  );
  const ownIds = [org, account, base.user, base.membership, base.brand, base.rule, base.key, base.invite];

  // ------------------------------------------------------------------------------------------------------
  // The calls: revoke_all after every other call; the callers it lets in one at a time, keys before sessions.
  const results: { row: Row; res: Response; inFlight: string[] }[] = [];
  const call = async (row: Row, inFlight: () => string[]) => {
    const res = await send(row.who.caller, row.cell);
    results.push({ row, res, inFlight: res.statusCode >= 500 ? inFlight() : [] });
  };
  const label = (r: Row) => `${r.who.who}: ${r.cell.method} ${r.route.url}`;
  const isRevokeAll = (r: Row) => routeKey(r.route) === REVOKE_ALL;
  const letIn = (r: Row) =>
    isRevokeAll(r) &&
    r.who.role === 'owner' &&
    ['key', 'restricted', 'session'].includes(r.who.kind) &&
    allowed(r.route, r.who);
  await concurrently(
    rows.filter((r) => !isRevokeAll(r)),
    MATRIX_WIDTH,
    label,
    call,
  );
  await concurrently(
    rows.filter((r) => isRevokeAll(r) && !letIn(r)),
    MATRIX_WIDTH,
    label,
    call,
  );
  const breakGlass = rows
    .filter(letIn)
    .sort((x, y) => Number(x.who.kind === 'session') - Number(y.who.kind === 'session'));
  for (const row of breakGlass) await call(row, () => [label(row)]);

  // ------------------------------------------------------------------------------------------------------
  // The verdicts.
  // The owner's answer: its key's, or on a person's own route (a session only), its session's.
  const ownerAnswer = new Map(
    results
      .filter((r) => r.row.who.who === (r.row.route.person ? 'owner (session)' : 'owner'))
      .map((r) => [routeKey(r.row.route), r.res.statusCode]),
  );
  const used = new Set<Exception>();
  const failures: string[] = [];
  let firstKeyRevokeAll = true;
  for (const { row, res, inFlight } of results) {
    const { route, who, cell } = row;
    const fail = (why: string) =>
      failures.push(
        `${who.who}: ${cell.method} ${cell.url} → ${res.statusCode} (${why}) ${res.body.slice(0, 300)}`,
      );
    if (res.statusCode >= 500 && res.statusCode !== 501) {
      fail(`5xx: ${loggedError(res)}; in flight: ${inFlight.join(' | ')}`);
      continue;
    }
    if (who.kind === 'expired' || who.kind === 'revoked') {
      if (!isUnauthenticated(route, res, who.kind === 'expired' ? 'api_key_expired' : 'api_key_revoked'))
        fail('an unusable key gets 401');
      continue;
    }
    if (who.kind === 'other_org') {
      const wrong = foreignFailure(route, params.get(routeKey(route))!, cell, res, who.perms, ownIds);
      if (wrong) fail(`another organization: ${wrong}`);
      continue;
    }
    if (route.notSupported) {
      if (res.statusCode !== 501) fail('a deliberate 501');
      continue;
    }
    if (!allowed(route, who)) {
      if (!isDenial(route, res)) fail('lacks the permission: the face’s denial');
      else if (messageOf(res).length <= 10) fail('the denial says what is missing');
      continue;
    }
    if (routeKey(route) === REVOKE_ALL && letIn(row)) {
      // The first key it lets in revokes every key; later keys are revoked by then; sessions are not keys.
      if (who.kind === 'session' || firstKeyRevokeAll) {
        if (res.statusCode !== 200) fail('the break-glass revoke');
        if (who.kind !== 'session') firstKeyRevokeAll = false;
      } else if (!isUnauthenticated(route, res, 'api_key_revoked')) fail('revoked by the first revoke_all');
      continue;
    }
    const exception = EXCEPTIONS.find((e) => e.routes.includes(routeKey(route)) && e.applies(who));
    if (exception) {
      used.add(exception);
      const got = exception.answer === 'denial' ? isDenial(route, res) : isNotFound(route, res);
      if (!got) fail(`${exception.answer}: ${exception.rule}`);
      continue;
    }
    if (isDenial(route, res)) fail('holds the permission, yet denied');
    else if (res.statusCode !== ownerAnswer.get(routeKey(route)))
      fail(`holds the permission: the owner's answer, ${ownerAnswer.get(routeKey(route))}`);
  }
  assert.equal(failures.length, 0, `role matrix cells that failed:\n${failures.join('\n')}`);
  assert.deepEqual(
    EXCEPTIONS.filter((e) => !used.has(e)).map((e) => e.rule),
    [],
    'every exception matches a cell',
  );

  // After the break-glass revoke no key of the organization works (the other organization's did not).
  for (const who of callers.filter((w) => w.kind === 'key' || w.kind === 'restricted')) {
    const res = await who.caller('GET', '/api/me');
    assert.equal(res.statusCode, 401, who.who);
    assert.equal(res.json().error.code, 'api_key_revoked', who.who);
  }
});
