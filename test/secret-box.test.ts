// Secrets at rest (src/core/secret-box.ts, docs/security.md "Secrets at rest"): AES-256-GCM sealing bound to
// its row, key ids and rotation, and the start that seals secrets stored before sealing existed (0030b) and
// moves them to a new key. The start runs on a database of its own: resealing rewrites every row of a table,
// which other test files share.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { bootstrap } from '../src/core/bootstrap.ts';
import { systemPrincipal } from '../src/core/principal.ts';
import {
  contextOf,
  isSealed,
  parseSecretKeys,
  SecretBox,
  SecretBoxError,
  secretBoxOf,
} from '../src/core/secret-box.ts';
import { connect } from '../src/db/connection.ts';
import { openDatabase } from '../src/db/index.ts';
import { createServices } from '../src/services.ts';
import { testConfig, testDb, testDbUrl, unique } from './helper.ts';

const keyOf = (id: string) => `${id}:${randomBytes(32).toString('base64')}`;

test('secret box: sealed values open only for their own row, unaltered, with a key they name', async () => {
  const box = secretBoxOf(testDb().db, []);
  const sealed = await box.seal('whsec_abc', contextOf('webhook_secrets', 'row-1'));
  assert.ok(isSealed(sealed), sealed);
  assert.match(sealed, /^sb1\.db1\.[A-Za-z0-9_-]+$/);
  assert.equal(sealed.includes('whsec_abc'), false);
  assert.equal(await box.open(sealed, contextOf('webhook_secrets', 'row-1')), 'whsec_abc');
  // Two seals of one value differ (a fresh nonce each time).
  assert.notEqual(await box.seal('whsec_abc', contextOf('webhook_secrets', 'row-1')), sealed);

  // Copied into another row or another table, it does not open.
  await assert.rejects(box.open(sealed, contextOf('webhook_secrets', 'row-2')), SecretBoxError);
  await assert.rejects(box.open(sealed, contextOf('connect_hmac_secrets', 'row-1')), SecretBoxError);
  // Altered, cut short, or not sealed at all: refused, never a wrong value.
  const raw = Buffer.from(sealed.split('.')[2]!, 'base64url');
  raw[raw.length - 20]! ^= 1;
  const altered = `sb1.db1.${raw.toString('base64url')}`;
  await assert.rejects(box.open(altered, contextOf('webhook_secrets', 'row-1')), /does not open/);
  await assert.rejects(box.open('sb1.db1.AAAA', contextOf('webhook_secrets', 'row-1')), /cut short/);
  await assert.rejects(box.open('whsec_abc', contextOf('webhook_secrets', 'row-1')), /not sealed/);

  // A configured key seals; the database's own key still opens what it sealed; an unknown key id is named.
  const rotated = new SecretBox(testDb().db, parseSecretKeys(keyOf('k2')));
  assert.equal(await rotated.currentKeyId(), 'k2');
  assert.equal(await rotated.open(sealed, contextOf('webhook_secrets', 'row-1')), 'whsec_abc');
  const byK2 = await rotated.seal('x', 'c');
  assert.match(byK2, /^sb1\.k2\./);
  await assert.rejects(box.open(byK2, 'c'), /key "k2", which is not configured/);

  // SIGNET_SECRET_KEYS is checked when the configuration is read.
  assert.throws(() => parseSecretKeys('k1:c2hvcnQ='), /k1" is 5 bytes; it must be 32/);
  assert.throws(() => parseSecretKeys(`${keyOf('k1')},${keyOf('k1')}`), /given twice/);
  assert.throws(() => parseSecretKeys(keyOf('db1')), /database's own/);
  assert.throws(() => testConfig({ secretKeys: ['nonsense'] }), /invalid SIGNET_SECRET_KEYS/);
  assert.deepEqual(
    parseSecretKeys(`${keyOf('a')}, ${keyOf('b')}`).map((k) => k.id),
    ['a', 'b'],
  );
});

test('start: secrets stored as they were are sealed, and moved to a new key; a missing key stops the start', async (t) => {
  const name = `signet_sealing_${randomBytes(4).toString('hex')}`;
  await testDb().sql.unsafe(`CREATE DATABASE ${name}`);
  t.after(async () => {
    await testDb().sql.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  });
  const url = /^postgres(ql)?:\/\/[^@/]*@?\/[^?]*\?/.test(testDbUrl())
    ? testDbUrl().replace(/@?\/[^?/]*\?/, `@/${name}?`)
    : Object.assign(new URL(testDbUrl()), { pathname: `/${name}` }).toString();
  const start = async (secretKeys: string[]) => {
    const opened = await openDatabase(testConfig({ databaseUrl: url, secretKeys }));
    await opened.close();
  };
  const k1 = keyOf('k1');
  const k2 = keyOf('k2');

  // A database as it was before sealing: an endpoint, a Connect HMAC secret, an OAuth configuration and an
  // account's default secret, each stored as it is.
  await start([]);
  const handle = connect(url, 2);
  t.after(() => handle.close());
  const db = handle.db;
  const config = testConfig({ databaseUrl: url });
  const services = createServices(db, config);
  const made = await bootstrap(db, services.apiKeys, 'test', {
    email: `${unique('o')}@example.test`,
    organizationName: unique('Org'),
    accountName: 'Main',
  });
  const ctx = { principal: systemPrincipal(made.organization_id, 'test'), meta: {} };
  const endpoint = await services.webhookEndpoints.create(ctx, {
    account_id: made.account_id,
    url: 'https://hooks.example/x',
    events: ['*'],
  });
  const secretRow = await db
    .selectFrom('webhook_secrets')
    .select('id')
    .where('endpoint_id', '=', endpoint.id)
    .executeTakeFirstOrThrow();
  const hmacId = crypto.randomUUID();
  const plain = {
    webhook: endpoint.secret,
    hmac: 'hmac-secret-as-it-was',
    oauth: 'client-secret-as-it-was',
    account: 'whsec_account-as-it-was',
  };
  await db
    .updateTable('webhook_secrets')
    .set({ secret: plain.webhook })
    .where('id', '=', secretRow.id)
    .execute();
  await db
    .insertInto('connect_hmac_secrets')
    .values({ id: hmacId, organization_id: made.organization_id, secret: plain.hmac })
    .execute();
  await db
    .insertInto('connect_oauth_configs')
    .values({
      organization_id: made.organization_id,
      authorization_server_url: 'https://auth.example/token',
      client_id: 'c',
      client_secret: plain.oauth,
    })
    .execute();
  await db
    .insertInto('webhook_account_secrets')
    .values({ account_id: made.account_id, organization_id: made.organization_id, secret: plain.account })
    .execute();

  const stored = async () => ({
    webhook: (
      await db
        .selectFrom('webhook_secrets')
        .select('secret')
        .where('id', '=', secretRow.id)
        .executeTakeFirstOrThrow()
    ).secret,
    hmac: (
      await db
        .selectFrom('connect_hmac_secrets')
        .select('secret')
        .where('id', '=', hmacId)
        .executeTakeFirstOrThrow()
    ).secret,
    oauth: (
      await db
        .selectFrom('connect_oauth_configs')
        .select('client_secret')
        .where('organization_id', '=', made.organization_id)
        .executeTakeFirstOrThrow()
    ).client_secret,
    account: (
      await db
        .selectFrom('webhook_account_secrets')
        .select('secret')
        .where('account_id', '=', made.account_id)
        .executeTakeFirstOrThrow()
    ).secret,
  });
  const opened = async (keys: string[]) => {
    const box = secretBoxOf(db, keys);
    const s = await stored();
    return {
      webhook: await box.open(s.webhook, contextOf('webhook_secrets', secretRow.id)),
      hmac: await box.open(s.hmac, contextOf('connect_hmac_secrets', hmacId)),
      oauth: await box.open(s.oauth, contextOf('connect_oauth_configs', made.organization_id)),
      account: await box.open(s.account, contextOf('webhook_account_secrets', made.account_id)),
    };
  };

  // The next start seals them all with the current key (here k1), and they open to what they were.
  await start([k1]);
  for (const [what, value] of Object.entries(await stored())) {
    assert.match(value, /^sb1\.k1\./, `${what} is sealed with k1`);
  }
  assert.deepEqual(await opened([k1]), plain);

  // A rotation: k2 first, k1 still known. The start moves every value to k2; then k1 can go.
  await start([k2, k1]);
  for (const [what, value] of Object.entries(await stored())) {
    assert.match(value, /^sb1\.k2\./, `${what} is sealed with k2`);
  }
  assert.deepEqual(await opened([k2]), plain);

  // A value sealed with a key no longer configured stops the start, naming the key.
  const k3 = keyOf('k3');
  const byK3 = await secretBoxOf(db, [k3]).seal(plain.hmac, contextOf('connect_hmac_secrets', hmacId));
  await db.updateTable('connect_hmac_secrets').set({ secret: byK3 }).where('id', '=', hmacId).execute();
  await assert.rejects(start([k2]), /key "k3", which is not configured/);
  await start([k2, k3]);
  assert.deepEqual(await opened([k2]), plain);
});
