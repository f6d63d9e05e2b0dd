// The isolation matrix's platform dimension (docs/platform.md, "Isolation"): every route of /api, from the
// app's route table (test/matrix-world.ts), × who calls × what the Atlas-Account header names × whose ids the
// request carries. The world: platform P with connected accounts C1 and C2 (each populated through P's
// platform key and the header, so making them exercises the scoping too), and platform Q with its own
// connected account D.
//
//   - P's platform key acting for C1, with C2's ids, P's own or D's: as another organization's ids (matrix-world.ts
//     foreignFailure: 404, or 4xx for ids in a body, nothing leaked);
//   - C1's own owner key, with C2's ids or P's: the same;
//   - the header naming another platform's account (D), an unknown one, or sent by Q's platform key for C1:
//     404 `not_found` on every route, before the route runs;
//   - the header sent with a profile key (P's owner's, C1's own): 400 `platform_key_required` on every route;
// and afterwards C2's, P's and D's data are byte-for-byte unchanged. Platform routes themselves act for the
// platform only: with the header they answer 400 `invalid_request`, and in an organization that is not a
// platform, 403 `platform_not_enabled`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AppRoute } from '../scripts/compatibility.ts';
import { PERMISSIONS, systemPrincipal } from '../src/core/principal.ts';
import { as, type Caller, createTenant, type Tenant, unique } from './helper.ts';
import { runWorker } from './imports-helper.ts';
import {
  type Cell,
  type Ctx,
  cellOf,
  changes,
  concurrently,
  foreignFailure,
  type Ids,
  jsonOf,
  MATRIX_WIDTH,
  matrixApp,
  NOT_ACCOUNT_SCOPED,
  ok,
  paramValue,
  populate,
  type Response,
  routeKey,
  routeTable,
  send,
  snapshot,
  worldOf,
} from './matrix-world.ts';

const ALL = new Set<string>(PERMISSIONS);

/**
 * A snapshot without the keys' last use: P's own keys (its platform key, its owner's profile key) are callers
 * here, so their last_used_at moves; everything else must not.
 */
async function stableSnapshot(organizationId: string) {
  const snap = await snapshot(organizationId);
  snap.api_keys = snap.api_keys!.map((row) => {
    const { last_used_at: _at, last_used_ip: _ip, ...rest } = (row as { r: Record<string, unknown> }).r;
    return { r: rest };
  });
  return snap;
}

test('platform matrix: platform key × Atlas-Account × sibling ids, on every /api route', async (t) => {
  const setup = await routeTable();
  const routes = setup.routes.filter((r) => r.url.startsWith('/api/'));
  const { app, services, config, loggedError } = await matrixApp(t);
  await runWorker(t, config);

  // Platforms P and Q, each with a platform key.
  const platform = async (tenant: Tenant) => {
    const owner = as(app, tenant.key);
    await ok(await owner('POST', '/api/platform', { enabled: true }), 'platform mode');
    const key = await ok(
      await owner('POST', '/api/api_keys', { name: 'pk', kind: 'platform' }),
      'platform key',
    );
    return as(app, key.key as string);
  };
  const tp = await createTenant(services, config);
  const tq = await createTenant(services, config);
  const pk = await platform(tp);
  const qk = await platform(tq);
  const header =
    (caller: Caller, ref: string): Caller =>
    (method, url, body, headers = {}) =>
      caller(method, url, body, { 'atlas-account': ref, ...headers });
  const connect = async (caller: Caller) =>
    ok(
      await caller('POST', '/api/platform/connected-accounts', {
        external_id: unique('ext'),
        name: unique('C'),
      }),
      'connected account',
    ) as Promise<{ id: string; account_id: string; external_id: string }>;
  const c1 = await connect(pk);
  const c2 = await connect(pk);
  const d = await connect(qk);

  // The worlds: P's through its owner's key; C1's, C2's and D's through their platform's key and the header.
  const connectedWorld = async (caller: Caller, conn: { id: string; account_id: string }): Promise<Ids> => {
    const tenant: Tenant = {
      organizationId: conn.id,
      accountId: conn.account_id,
      ownerId: '',
      key: '',
      email: '',
    };
    const viewer = await ok(
      await caller('POST', '/api/users', {
        email: `${unique('viewer')}@example.test`,
        account_id: conn.account_id,
      }),
      'viewer',
    );
    const c: Ctx = { services, owner: caller, tenant, viewerId: viewer.id };
    return populate(c, conn.account_id, { connected: false });
  };
  const P = await populate(await worldOf(app, services, tp), tp.accountId);
  const C1 = await connectedWorld(header(pk, `ext_${c1.external_id}`), c1);
  const C2 = await connectedWorld(header(pk, c2.id), c2);
  const D = await connectedWorld(header(qk, `ext_${d.external_id}`), d);

  // C1's own owner (the platform invited one) and its key.
  const c1Owner = await ok(
    await header(pk, c1.id)('POST', '/api/users', { email: `${unique('own')}@example.test`, role: 'owner' }),
    'C1 owner',
  );
  const c1Key = (
    await services.apiKeys.create(
      { principal: systemPrincipal(c1.id, 'test'), meta: {} },
      { name: 'c1 own', account_id: c1.account_id, created_by: c1Owner.id },
    )
  ).key;
  const c1Own = as(app, c1Key);
  await services.apiKeys.flushUsage();
  const before = {
    C2: await stableSnapshot(c2.id),
    P: await stableSnapshot(tp.organizationId),
    D: await stableSnapshot(d.id),
  };

  type Expect = 'foreign' | 'not_found' | 'platform_key_required';
  interface Row {
    who: string;
    caller: Caller;
    route: AppRoute;
    cell: Cell;
    expect: Expect;
    /** For `foreign`: the victim's ids, none of which an answer may name unasked. */
    victim?: Ids;
    /** Whether the caller sends Atlas-Account (platform routes then answer 400 invalid_request). */
    scoped: boolean;
  }
  const rows: Row[] = [];
  const pkC1 = header(pk, `ext_${c1.external_id}`);
  for (const route of routes) {
    const p = setup.params.get(routeKey(route))!;
    const withIds = (victim: Ids, own: Ids): Cell[] => {
      if (p.kinds.length === 0) return [cellOf(route, (k) => paramValue(k, own), victim)];
      const cells = [cellOf(route, (k) => paramValue(k, victim), victim)];
      // Each id alone the victim's, the others the caller's own (an object checked against its parent).
      if (p.kinds.length > 1)
        p.kinds.forEach((kind, index) => {
          // A logo kind or a 501's placeholder is the same in every world: nothing to swap.
          if (NOT_ACCOUNT_SCOPED.has(kind) && kind !== 'org') return;
          cells.push(cellOf(route, (k, i) => paramValue(k, i === index ? victim : own), own));
        });
      return cells;
    };
    for (const [who, caller, scoped] of [
      ['P platform key acting for C1', pkC1, true],
      ["C1's own owner key", c1Own, false],
    ] as const) {
      // Another platform's account (D) too, for the platform key: its header names C1, its ids D's.
      const victims: [string, Ids][] = [
        ['C2', C2],
        ['P', P],
      ];
      if (scoped) victims.push(['D', D]);
      for (const [name, victim] of victims) {
        for (const cell of withIds(victim, C1))
          rows.push({ who: `${who}, ${name}'s ids`, caller, route, cell, expect: 'foreign', victim, scoped });
      }
    }
    const any = cellOf(route, (k) => paramValue(k, C1), C1);
    for (const [who, caller] of [
      ["P platform key naming Q's account D", header(pk, d.id)],
      ["P platform key naming Q's external id", header(pk, `ext_${d.external_id}`)],
      ['P platform key naming an unknown account', header(pk, `ext_${unique('nobody')}`)],
      ["Q platform key naming P's account C1", header(qk, c1.id)],
    ] as const)
      rows.push({ who, caller, route, cell: any, expect: 'not_found', scoped: true });
    for (const [who, caller] of [
      ["P owner's profile key naming C1", header(as(app, tp.key), c1.id)],
      ["C1's own key naming C2", header(c1Own, c2.id)],
      ["C1's own key naming itself", header(c1Own, `ext_${c1.external_id}`)],
    ] as const)
      rows.push({ who, caller, route, cell: any, expect: 'platform_key_required', scoped: true });
  }

  const failures: string[] = [];
  const check = async (row: Row, inFlight: () => string[]) => {
    const { who, caller, route, cell, expect } = row;
    const res: Response = await send(caller, cell);
    const label = `${who}: ${cell.method} ${cell.url} → ${res.statusCode} ${res.body.slice(0, 200)}`;
    if (res.statusCode >= 500) {
      failures.push(`${label}: ${loggedError(res)}; in flight: ${inFlight().join(' | ')}`);
      return;
    }
    const code = jsonOf(res).error?.code;
    if (expect !== 'foreign') {
      const status = expect === 'not_found' ? 404 : 400;
      if (res.statusCode !== status || code !== expect)
        failures.push(`${label}: expected ${status} ${expect}`);
      // Refused before the route runs: the answer names no organization (only, for a 404, what the header said).
      for (const id of [tq.organizationId, tp.organizationId])
        if (res.body.includes(id)) failures.push(`${label}: names ${id}`);
      return;
    }
    if (route.url.startsWith('/api/platform/')) {
      // Platform routes act for the platform itself: refused with the header; a connected account is no platform.
      const want = row.scoped ? ['invalid_request', 400] : ['platform_not_enabled', 403];
      if (code !== want[0] || res.statusCode !== want[1])
        failures.push(`${label}: expected ${want[1]} ${want[0]}`);
      return;
    }
    const victim = row.victim!;
    // A connected account may know its platform's organization id (its own record names it: GET /api/platform,
    // the audit label of the platform key); nothing else of the platform's.
    const wrong = foreignFailure(route, setup.params.get(routeKey(route))!, cell, res, ALL, [
      ...(victim === P ? [] : [victim.org]),
      victim.account,
      victim.user,
      victim.membership,
      victim.brand,
      victim.rule,
      victim.key,
      victim.invite,
      victim.domain,
      victim.dsGroup,
      victim.integration,
      victim.webhook,
    ]);
    if (wrong) failures.push(`${who}: ${wrong}`);
  };
  const label = (r: Row) => `${r.who}: ${r.cell.method} ${r.route.url}`;
  // The break-glass revoke names no id and revokes the keys of the caller's organization (C1's own, when a
  // platform key acting for C1 or C1's own key calls it): last, the refused calls first.
  const isRevokeAll = (r: Row) => routeKey(r.route) === 'POST /api/api_keys/revoke_all';
  await concurrently(
    rows.filter((r) => !isRevokeAll(r)),
    MATRIX_WIDTH,
    label,
    check,
  );
  const revokes = rows.filter(isRevokeAll);
  await concurrently(
    [...revokes.filter((r) => r.expect !== 'foreign'), ...revokes.filter((r) => r.expect === 'foreign')],
    1,
    label,
    check,
  );
  assert.ok(rows.length > routes.length * 9, `${rows.length} cells`);
  assert.equal(
    failures.length,
    0,
    `platform cells that failed (${failures.length}):\n${failures.join('\n')}`,
  );

  await services.apiKeys.flushUsage();
  const after = {
    C2: await stableSnapshot(c2.id),
    P: await stableSnapshot(tp.organizationId),
    D: await stableSnapshot(d.id),
  };
  for (const who of ['C2', 'P', 'D'] as const)
    assert.deepEqual(changes(before[who], after[who]), [], `${who}'s data is unchanged`);
});
