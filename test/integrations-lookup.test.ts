// The OAuth endpoints' reads of integration keys (src/core/integrations/lookup.ts) and the schema's own rules
// for them (0020_integrations.sql). Rows are written in SQL here so the lookup is checked apart from the
// service that normally writes them (test/integrations.test.ts drives that over HTTP).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { type RawBuilder, sql } from 'kysely';
import { hashKey } from '../src/core/api-keys/format.ts';
import { newId } from '../src/core/ids.ts';
import { buildApp, createTenant, testDb } from './helper.ts';

async function run(query: RawBuilder<unknown>): Promise<void> {
  await query.execute(testDb().db);
}

async function integration(orgId: string, clientType = 'confidential', grants = ['authorization_code']) {
  const id = newId();
  const clientId = randomUUID();
  await run(sql`INSERT INTO integrations (id, organization_id, client_id, name, client_type, allowed_grants)
    VALUES (${id}, ${orgId}, ${clientId}, 'Lookup test', ${clientType}, ${grants})`);
  return { id, clientId };
}

test('lookup: clients, secrets in and out of their window, RSA keys, consent', async (t) => {
  const { services, config } = await buildApp(t);
  const A = await createTenant(services, config);
  const lookup = services.integrationLookup;
  const { id, clientId } = await integration(A.organizationId);

  await t.test('findClient knows live integrations only', async () => {
    assert.equal((await lookup.findClient(clientId))?.id, id);
    assert.equal(await lookup.findClient(randomUUID()), undefined);
    const gone = await integration(A.organizationId);
    await run(sql`UPDATE integrations SET deleted_at = now() WHERE id = ${gone.id}`);
    assert.equal(await lookup.findClient(gone.clientId), undefined);
  });

  await t.test(
    'verifyClientSecret: current, in its dual-run window, expired, revoked, another’s',
    async () => {
      const secret = (s: string, expires: string | null, revoked: string | null, of = id) =>
        run(sql`INSERT INTO integration_secrets (id, integration_id, secret_hash, last4, expires_at, revoked_at)
        VALUES (${newId()}, ${of}, ${hashKey(s)}, ${s.slice(-4)}, ${expires}::timestamptz, ${revoked}::timestamptz)`);
      const hour = 3_600_000;
      await secret('current-secret', null, null);
      await secret('old-in-window', new Date(Date.now() + hour).toISOString(), null);
      await secret('old-past-window', new Date(Date.now() - 1000).toISOString(), null);
      await secret('revoked-secret', null, new Date().toISOString());
      const other = await integration(A.organizationId);
      await secret('others-secret', null, null, other.id);
      const ok = (s: string) => lookup.verifyClientSecret({ id }, s);
      assert.equal(await ok('current-secret'), true);
      assert.equal(await ok('old-in-window'), true);
      assert.equal(await ok('old-past-window'), false);
      assert.equal(await ok('revoked-secret'), false);
      assert.equal(await ok('others-secret'), false, 'a secret authenticates its own integration only');
      assert.equal(await ok(''), false);
    },
  );

  await t.test('rsaKeysFor lists unrevoked keys with their kid', async () => {
    const live = newId();
    await run(sql`INSERT INTO integration_rsa_keys (id, integration_id, public_key_pem)
      VALUES (${live}, ${id}, 'PEM-live')`);
    await run(sql`INSERT INTO integration_rsa_keys (id, integration_id, public_key_pem, revoked_at)
      VALUES (${newId()}, ${id}, 'PEM-revoked', now())`);
    assert.deepEqual(await lookup.rsaKeysFor({ id }), [{ kid: live, pem: 'PEM-live' }]);
  });

  await t.test('consentFor unites the user’s own and the organization-wide consent', async () => {
    const consent = (userId: string | null, scopes: string[], revoked = false) =>
      run(sql`INSERT INTO oauth_consents (id, organization_id, integration_id, user_id, scopes, granted_by, revoked_at)
        VALUES (${newId()}, ${A.organizationId}, ${id}, ${userId}, ${scopes}, ${A.ownerId},
          ${revoked ? new Date().toISOString() : null}::timestamptz)`);
    assert.deepEqual(await lookup.consentFor(id, A.ownerId), []);
    await consent(A.ownerId, ['signature', 'impersonation', 'user_read'], true);
    assert.deepEqual(await lookup.consentFor(id, A.ownerId), [], 'a revoked consent counts for nothing');
    await consent(null, ['impersonation', 'signature']);
    await consent(A.ownerId, ['user_read']);
    assert.deepEqual(await lookup.consentFor(id, A.ownerId), ['impersonation', 'signature', 'user_read']);
    await assert.rejects(
      run(sql`INSERT INTO oauth_consents (id, organization_id, integration_id, user_id, scopes)
      VALUES (${newId()}, ${A.organizationId}, ${id}, NULL, ${['signature']})`),
      { code: '23505' },
    );
  });
});

test('schema: grants a client type cannot use, and consents across organizations, are refused', async (t) => {
  const { services, config } = await buildApp(t);
  const A = await createTenant(services, config);
  const B = await createTenant(services, config);
  await assert.rejects(integration(A.organizationId, 'public', ['client_credentials']), { code: '23514' });
  await assert.rejects(integration(A.organizationId, 'confidential', ['password']), { code: '23514' });
  await assert.rejects(integration(A.organizationId, 'confidential', []), { code: '23514' });
  const { id } = await integration(A.organizationId);
  const consent = (orgId: string, userId: string) =>
    run(sql`INSERT INTO oauth_consents (id, organization_id, integration_id, user_id, scopes)
      VALUES (${newId()}, ${orgId}, ${id}, ${userId}, ${['signature']})`);
  await assert.rejects(consent(A.organizationId, B.ownerId), { code: '23503' }, 'B’s user, A’s integration');
  await assert.rejects(consent(B.organizationId, B.ownerId), { code: '23503' }, 'A’s integration named by B');
  await assert.doesNotReject(consent(A.organizationId, A.ownerId));
});
