// The generated tenancy matrices: every route of every face (/api, /management, /restapi), from the app's
// real route table, filled with the ids of a world built through the API (test/matrix-world.ts). A route the
// fillers cannot fill fails the test: a new route cannot land without coverage.
//
// Isolation (organization B calls with organization A's ids): every route answers its face's "does not
// exist" (404 on /api and /management, the eSignature not-found codes on /restapi), or its denial where the
// caller lacks the route's permission, and A's data is byte-for-byte unchanged.
//
// The account boundary (one organization, accounts A1 and A2): a member D of A1 whose profile there holds every
// profile permission (DS Admin), through its unrestricted key, its keys restricted to each scope it may grant,
// and its dashboard session, calls every route with A2's ids: A2's account, its user W (no membership in A1),
// its profiles, groups, brands, rules, keys, invites, domain claims, imports, exports, account creations; the
// path naming A2's ids alone or one at a time among A1's. Where D holds the route's permission, the answer is
// the face's "does not exist" (404; eSignature's not-found codes) when the path names an A2 object, and its
// denial (403) when the route acts on A2 itself: an account-level route (`/api/accounts/{A2}/…`, the DocuSign
// faces' `accounts/{A2}`) and every object route under it answers 403 `permission_denied` (eSignature:
// `USER_LACKS_PERMISSIONS`) once the account is named, before any object is looked up. A2's ids only in a body
// are refused (4xx). Whatever the answer, it names none of A2's objects unless the request did, and A2's data
// is byte-for-byte unchanged. The same holds for V, a user of A1 and A2 (DS Admin in A2): every route that
// names a user is called with V among A1's ids; what D may change of V inside A1 it changes, but nothing of V
// beyond A1 (src/core/authz/reach.ts): V's user row, A2 membership, tokens and mail are in A2's snapshot.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AppRoute } from '../scripts/compatibility.ts';
import { SCOPE_NAMES, scopeGrants } from '../src/core/api-keys/scopes.ts';
import { PERMISSIONS, PROFILE_PERMISSIONS, permissionsFor, systemPrincipal } from '../src/core/principal.ts';
import { startDnsServer } from './dns-server.ts';
import { as, buildApp, type Caller, createTenant, testDb, unique } from './helper.ts';
import { runWorker } from './imports-helper.ts';
import {
  allowedByRoute,
  bodyKinds,
  type Cell,
  type Ctx,
  cellOf,
  changes,
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
  NOT_ACCOUNT_SCOPED,
  ok,
  type ParamKind,
  paramValue,
  populate,
  routeKey,
  routeTable,
  send,
  sessionCaller,
  snapshot,
  type UserMaker,
  worldOf,
} from './matrix-world.ts';

test('isolation matrix: organization B calls every route with organization A’s ids', async (t) => {
  const { routes, params } = await routeTable();
  const { app, services, config, loggedError } = await matrixApp(t);
  await runWorker(t, config);
  const ta = await createTenant(services, config);
  const tb = await createTenant(services, config);
  const ca = await worldOf(app, services, ta);
  const cb = await worldOf(app, services, tb);
  const A = await populate(ca, ta.accountId);
  const B = await populate(cb, tb.accountId);
  // A member key of B: a DS Admin of B's account (every profile permission there).
  const dsAdmin = await profileNamed(tb.accountId, 'DS Admin');
  const bMember = await MAKERS.user(cb, tb.accountId, dsAdmin.id);
  const bMemberKey = await services.apiKeys.create(
    { principal: systemPrincipal(tb.organizationId, 'test'), meta: {} },
    { name: 'b member', account_id: tb.accountId, created_by: bMember.user, role: 'member' },
  );
  await services.apiKeys.flushUsage();
  const before = await snapshot(ta.organizationId);

  const callers = [
    { who: 'B owner', caller: as(app, tb.key), perms: new Set<string>(PERMISSIONS) },
    {
      who: 'B member',
      caller: as(app, bMemberKey.key),
      perms: permissionsFor('member', dsAdmin.permissions) as Set<string>,
    },
  ];
  const cells: { route: AppRoute; cell: Cell; who: string; caller: Caller; perms: Set<string> }[] = [];
  for (const route of routes) {
    const p = params.get(routeKey(route))!;
    const accountIds = p.kinds.some((k) => !NOT_ACCOUNT_SCOPED.has(k) || k === 'org');
    for (const { who, caller, perms } of callers) {
      if (p.kinds.length === 0 || !accountIds) {
        // No id in the path: the body names A's objects where it names any.
        cells.push({ route, who, caller, perms, cell: cellOf(route, (k) => paramValue(k, B), A) });
        continue;
      }
      // Every id A's; then each id alone A's, the others B's own (an object checked against its parent).
      cells.push({ route, who, caller, perms, cell: cellOf(route, (k) => paramValue(k, A), A) });
      p.kinds.forEach((kind, index) => {
        if (NOT_ACCOUNT_SCOPED.has(kind) && kind !== 'org') return;
        if (p.kinds.length === 1) return;
        cells.push({
          route,
          who,
          caller,
          perms,
          cell: cellOf(route, (k, i) => paramValue(k, i === index ? A : B), B),
        });
      });
    }
  }
  const aIds = [
    A.org,
    A.account,
    A.user,
    A.membership,
    A.brand,
    A.rule,
    A.key,
    A.invite,
    A.domain,
    A.dsGroup,
    A.integration,
    A.connected,
  ];
  // B's own break-glass revoke (it names no id) revokes B's keys: it goes last.
  const isRevokeAll = (c: { route: AppRoute }) => routeKey(c.route) === 'POST /api/api_keys/revoke_all';
  const failures: string[] = [];
  const check = async (
    { route, cell, who, caller, perms }: (typeof cells)[number],
    inFlight: () => string[],
  ) => {
    const res = await send(caller, cell);
    const wrong = foreignFailure(route, params.get(routeKey(route))!, cell, res, perms, aIds);
    if (res.statusCode >= 500 && res.statusCode !== 501)
      failures.push(`${who}: ${wrong}: ${loggedError(res)}; in flight: ${inFlight().join(' | ')}`);
    else if (wrong) failures.push(`${who}: ${wrong}`);
  };
  const label = (c: (typeof cells)[number]) => `${c.who}: ${c.cell.method} ${c.route.url}`;
  await concurrently(
    cells.filter((c) => !isRevokeAll(c)),
    MATRIX_WIDTH,
    label,
    check,
  );
  await concurrently(cells.filter(isRevokeAll), 1, label, check);
  assert.equal(failures.length, 0, `isolation cells that failed:\n${failures.join('\n')}`);
  await services.apiKeys.flushUsage();
  assert.deepEqual(await snapshot(ta.organizationId), before, "organization A's data is unchanged");
});

async function profileNamed(accountId: string, name: string) {
  return testDb()
    .db.selectFrom('permission_profiles')
    .select(['id', 'permissions'])
    .where('account_id', '=', accountId)
    .where('name', '=', name)
    .executeTakeFirstOrThrow();
}

/** Kinds of id that name something of the organization rather than of one account. */
const ORGANIZATION_LEVEL = new Set<ParamKind>([
  ...NOT_ACCOUNT_SCOPED,
  'settingsImport',
  'integration',
  'integrationSecret',
  'integrationKey',
  'consent',
  'connected',
  'connect',
  'connectSecret',
]);

test('account-boundary matrix: a DS Admin of A1 calls every route with A2’s ids, and changes V only inside A1', async (t) => {
  const { routes, params } = await routeTable();
  const dns = await startDnsServer(); // domain verification asks a real DNS server, which knows no claim
  t.after(() => dns.close());
  const { app, services, config, loggedError } = await matrixApp(t, { dnsServers: [dns.address] });
  await runWorker(t, config);
  const tenant = await createTenant(services, config);
  const org = tenant.organizationId;
  const owner = as(app, tenant.key);
  const a1 = tenant.accountId;
  const a2 = (await ok(await owner('POST', '/api/accounts', { name: unique('A2') }), 'A2')).id as string;
  const c1 = await worldOf(app, services, tenant, a1);
  const c2 = await worldOf(app, services, tenant, a2);
  const A1 = await populate(c1, a1);
  const A2 = await populate(c2, a2);
  const adminOf = { [a1]: await profileNamed(a1, 'DS Admin'), [a2]: await profileNamed(a2, 'DS Admin') };
  const sender = await profileNamed(a1, 'DS Sender');
  assert.deepEqual([...adminOf[a1]!.permissions].sort(), [...PROFILE_PERMISSIONS].sort());

  // D: a member of A1 only, holding every profile permission there; its key, its restricted keys, its session.
  const d = await MAKERS.user(c1, a1, adminOf[a1]!.id);
  const dPerms = permissionsFor('member', PROFILE_PERMISSIONS) as Set<string>;
  const system = { principal: systemPrincipal(org, 'test'), meta: {} };
  const keyOfD = async (scopes: string[] | null) =>
    (
      await services.apiKeys.create(system, {
        name: unique('d'),
        account_id: a1,
        created_by: d.user,
        role: 'member',
        ...(scopes ? { scopes } : {}),
      })
    ).key;
  interface Who {
    who: string;
    caller: Caller;
    perms: Set<string>;
    session: boolean;
  }
  const callers: Who[] = [
    { who: 'D', caller: as(app, await keyOfD(null)), perms: dPerms, session: false },
    {
      who: 'D (session)',
      caller: await sessionCaller(app, services, { id: d.user, organization_id: org }, a1),
      perms: dPerms,
      session: true,
    },
  ];
  // The scopes D may put on a key: those within its own permissions (account:write grants org:write).
  for (const scope of SCOPE_NAMES.filter((s) => [...scopeGrants([s])].every((p) => dPerms.has(p)))) {
    const granted = scopeGrants([scope]) as Set<string>;
    callers.push({
      who: `D's key restricted to ${scope}`,
      caller: as(app, await keyOfD([scope])),
      perms: new Set([...dPerms].filter((p) => granted.has(p))),
      session: false,
    });
  }

  // V: a DS Sender of A1 and a DS Admin of A2. Every call that may change V gets a V of its own.
  const straddler: UserMaker = async (c: Ctx, account: string) => {
    const u = await MAKERS.user(c, account, sender.id);
    await ok(
      await owner('POST', `/api/users/${u.user}/memberships`, {
        account_id: a2,
        permission_profile_id: adminOf[a2]!.id,
      }),
      'V in A2',
    );
    return u;
  };
  const V = { ...A1, ...(await straddler(c1, a1)) };
  // Deactivated by an owner: every membership closed, A2's to be reopened by a reactivation.
  const deactivated: UserMaker = async (c: Ctx, account: string) => {
    const u = await straddler(c, account);
    await ok(await owner('POST', `/api/users/${u.user}/deactivate`), 'deactivate V');
    return u;
  };
  const goneV = { ...A1, ...(await deactivated(c1, a1)) };

  // The cells.
  interface Row {
    route: AppRoute;
    who: Who;
    cell: Cell;
    /** Which rule the cell checks: A2's ids (alone, or one among A1's), or V (active, or deactivated). */
    target: 'A2' | 'one A2 id' | 'A2 in the body' | 'V' | 'deactivated V';
    /** The kinds of the path's ids that are A2's. */
    foreign: ParamKind[];
  }
  const plans: { route: AppRoute; who: Who; target: Row['target']; index?: number }[] = [];
  for (const route of routes) {
    const p = params.get(routeKey(route))!;
    const scoped = p.kinds.flatMap((k, i) => (ORGANIZATION_LEVEL.has(k) ? [] : [i]));
    const namesUser =
      p.kinds.some((k) => k === 'user' || k === 'membership') || bodyKinds(route).includes('user');
    for (const who of callers) {
      if (who.session && !route.url.startsWith('/api/')) continue;
      if (scoped.length === 0) plans.push({ route, who, target: 'A2 in the body' });
      else plans.push({ route, who, target: 'A2' });
      if (scoped.length > 1)
        for (const index of scoped) plans.push({ route, who, target: 'one A2 id', index });
      if (namesUser && !route.notSupported) {
        plans.push({ route, who, target: 'V' });
        plans.push({ route, who, target: 'deactivated V' });
      }
    }
  }
  const rows: Row[] = [];
  await concurrently(
    plans,
    MATRIX_WIDTH,
    (p) => `${p.who.who}: ${routeKey(p.route)} (${p.target})`,
    async ({ route, who, target, index }) => {
      const p = params.get(routeKey(route))!;
      let cell: Cell;
      let foreign: ParamKind[] = [];
      if (target === 'A2') {
        cell = cellOf(route, (k) => paramValue(k, A2), A2);
        foreign = p.kinds.filter((k) => !ORGANIZATION_LEVEL.has(k));
      } else if (target === 'one A2 id') {
        cell = cellOf(route, (k, i) => paramValue(k, i === index ? A2 : A1), A1);
        foreign = [p.kinds[index!]!];
      } else if (target === 'A2 in the body') cell = cellOf(route, (k) => paramValue(k, A1), A2);
      else {
        // V among A1's ids; a call D may make with a write method gets its own V and A1 objects.
        const kinds = new Set<ParamKind>([...p.kinds, ...bodyKinds(route)]);
        const writes = route.method !== 'GET' && allowedByRoute(route, who.perms, who.session);
        const make = target === 'V' ? straddler : deactivated;
        const ids: Ids = writes
          ? await freshFor(c1, A1, kinds, route.method, make)
          : target === 'V'
            ? V
            : goneV;
        cell = cellOf(route, (k) => paramValue(k, ids), ids);
      }
      rows.push({ route, who, cell, target, foreign });
    },
  );
  await services.apiKeys.flushUsage();
  const before = await snapshot(org, a2);

  // A2's own objects (W, the one user of A2 with no membership in A1, included): no answer names one unasked.
  const a2Only = [
    a2,
    A2.user,
    A2.userEmail,
    A2.membership,
    A2.brand,
    A2.rule,
    A2.key,
    A2.invite,
    A2.domain,
    A2.dsGroup,
    A2.import,
    A2.export,
    A2.settingsExport,
    A2.creation,
    A2.clone,
  ];
  const failures: string[] = [];
  /** Bulk user imports the calls queued (the snapshot waits for them), and those that must refuse every row. */
  const queued: string[] = [];
  const imports: string[] = [];
  await concurrently(
    rows,
    MATRIX_WIDTH,
    (r) => `${r.who.who}: ${r.cell.method} ${r.route.url} (${r.target})`,
    async ({ route, who, cell, target, foreign }, inFlight) => {
      const res = await send(who.caller, cell);
      const fail = (why: string) =>
        failures.push(
          `${who.who} (${target}): ${cell.method} ${cell.url} → ${res.statusCode} (${why}) ${res.body.slice(0, 300)}`,
        );
      if (res.statusCode >= 500 && res.statusCode !== 501) {
        fail(`5xx: ${loggedError(res)}; in flight: ${inFlight().join(' | ')}`);
        return;
      }
      if (route.notSupported) {
        if (res.statusCode !== 501) fail('a deliberate 501');
        return;
      }
      const asked = decodeURIComponent(cell.url) + JSON.stringify(cell.body ?? '');
      const leaked = a2Only.find((id) => res.body.includes(id) && !asked.includes(id));
      if (leaked) fail(`names A2's ${leaked}`);
      if (route.url.includes('/imports/bulk_users/') && res.statusCode < 300) queued.push(jsonOf(res).id);
      if (!allowedByRoute(route, who.perms, who.session)) {
        if (!isDenial(route, res)) fail('lacks the permission: the face’s denial');
        return;
      }
      if (target === 'A2' || target === 'one A2 id') {
        // A2 itself named: denied; an object of A2 named in A1 (or by its own id): it does not exist.
        if (foreign.includes('account')) {
          if (!isDenial(route, res)) fail('names account A2: the face’s denial');
        } else if (!isNotFound(route, res)) fail(`names A2’s ${foreign.join(', ')}: not found`);
      } else if (target === 'A2 in the body') {
        const named = a2Only.some((id) => JSON.stringify(cell.body ?? '').includes(id));
        if (!named || res.statusCode >= 400) return;
        // Refused all the same: a DocuSign batch item by item (its 2xx carries each item's error), a settings
        // import account by account, a bulk user import row by row once it runs (checked below).
        const body = jsonOf(res);
        if (route.url.includes('/imports/bulk_users/')) imports.push(body.id);
        else if (route.url.includes('/imports/account_settings')) {
          if (body.number_processed_accounts !== 0) fail('A2’s settings: not processed');
        } else if (!/"(error_details|errorDetails)"/.test(res.body)) fail('A2’s ids in the body: refused');
      }
    },
  );
  // The bulk imports naming A2's people: every row refused once they have run.
  for (const id of queued) await settled(id);
  for (const id of imports) {
    const done = await settled(id);
    const rows = await testDb()
      .db.selectFrom('import_rows')
      .select(['row_number', 'status', 'error_type'])
      .where('import_id', '=', id)
      .execute();
    if (done.status !== 'completed' || rows.length === 0 || rows.some((r) => r.status !== 'error'))
      failures.push(
        `bulk import ${id} naming A2's people: ${JSON.stringify(done)}, rows ${JSON.stringify(rows)}`,
      );
  }
  await services.apiKeys.flushUsage();
  for (const change of changes(before, await snapshot(org, a2)))
    failures.push(`A2's data changed: ${change}`);
  assert.equal(failures.length, 0, `account-boundary cells that failed:\n${failures.join('\n')}`);
});

/** Waits for an import to end (the in-process worker runs it): its final status and error. */
async function settled(id: string) {
  for (let i = 0; ; i++) {
    const row = await testDb()
      .db.selectFrom('imports')
      .select(['status', 'error'])
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    if (['completed', 'failed', 'canceled'].includes(row.status)) return row;
    assert.ok(i < 600, `import ${id} did not end`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('reads are scoped like writes: a member lists the domain claims of its own account only', async (t) => {
  const { app, services, config } = await buildApp(t);
  const ta = await createTenant(services, config);
  const owner = as(app, ta.key);
  const c = await worldOf(app, services, ta);
  const a2 = (await ok(await owner('POST', '/api/accounts', { name: 'A2' }), 'A2')).id as string;
  const mine = await MAKERS.domain(c, ta.accountId);
  const theirs = await MAKERS.domain(c, a2);
  const member = await MAKERS.user(c, ta.accountId);
  const key = await services.apiKeys.create(
    { principal: systemPrincipal(ta.organizationId, 'test'), meta: {} },
    { name: 'm', account_id: ta.accountId, created_by: member.user, role: 'member' },
  );
  const asMember = as(app, key.key);
  for (const url of [
    `/api/organizations/${ta.organizationId}/domains`,
    `/management/v2/organizations/${ta.organizationId}/reserved_domains`,
  ]) {
    const res = await asMember('GET', url);
    assert.equal(res.statusCode, 200, res.body);
    assert.ok(!res.body.includes(a2), `${url} names no other account`);
    assert.ok(
      !res.body.includes(theirs) || url.includes('reserved'),
      `${url} shows no other account's claim`,
    );
  }
  const list = (await asMember('GET', `/api/organizations/${ta.organizationId}/domains`)).json();
  assert.deepEqual(
    list.data.map((d: { id: string }) => d.id),
    [mine],
  );
  // The owner still sees every claim.
  const all = (await owner('GET', `/api/organizations/${ta.organizationId}/domains`)).json();
  assert.equal(all.data.length, 2);
});
