// Platform fixtures: a tenant turned into a platform with a platform key, connected accounts, audit actions.
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import type { Services } from '../src/services.ts';
import { as, type Caller, type Tenant, testDb, unique } from './helper.ts';

/** A tenant turned into a platform, with a platform key (the owner's). */
export async function platformOf(app: FastifyInstance, services: Services, tenant: Tenant) {
  const owner = as(app, tenant.key);
  const on = await owner('POST', '/api/platform', { enabled: true });
  assert.equal(on.statusCode, 200, on.body);
  const key = await owner('POST', '/api/api_keys', { name: 'platform', kind: 'platform' });
  assert.equal(key.statusCode, 201, key.body);
  const pk = key.json().key as string;
  const caller = as(app, pk);
  /** The platform key acting for a connected account (`Atlas-Account: ref`). */
  const actingFor =
    (ref: string): Caller =>
    (method, url, body, headers = {}) =>
      caller(method, url, body, { 'atlas-account': ref, ...headers });
  return { owner, pk, caller, actingFor, services };
}

export async function connect(
  caller: Caller,
  externalId = unique('cust'),
  extra: Record<string, unknown> = {},
) {
  const res = await caller('POST', '/api/platform/connected-accounts', {
    external_id: externalId,
    name: `Customer ${externalId}`,
    ...extra,
  });
  assert.equal(res.statusCode, 201, res.body);
  return res.json() as { id: string; external_id: string; account_id: string; connected_org_id: string };
}

export async function auditActions(organizationId: string): Promise<string[]> {
  const rows = await testDb()
    .db.selectFrom('audit_events')
    .select('action')
    .where('organization_id', '=', organizationId)
    .orderBy('seq')
    .execute();
  return rows.map((r) => r.action);
}
