// One email rule (src/core/email.ts) on every face and in the CSV import: length first (254), linear time.
// Issue 10, finding 8: a 96 KB address on the eSignature face blocked the event loop for ~30 s.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EMAIL_MAX_LENGTH, isEmail } from '../src/core/email.ts';
import { as, buildApp, createTenant } from './helper.ts';
import { importCsv, importSetup } from './imports-helper.ts';

/** ~100 KB: a domain of 50,000 one-letter labels that fails only at its last character. The old copies split
 * the domain at every dot before failing (quadratic: ~13 s for this one, ~30 s for a 96 KB one). */
const ADVERSARIAL = `a@${'a.'.repeat(50_000)} `;
/** ~300 KB of the same: ~2 minutes for the old eSignature check, so the test's timeout fails it for sure. */
const ADVERSARIAL_300K = `a@${'a.'.repeat(150_000)} `;
const longButWellFormed = (n: number) =>
  `${'a'.repeat(64)}@${'b'.repeat(60)}.${'c.'.repeat((n - 127) / 2)}de`;

test('the email rule: what it accepts, what it refuses, and the length it checks first', () => {
  for (const ok of [
    'a@b.co',
    'first.last+tag@sub.example.co.uk',
    'Zoë@bücher.de',
    `${'x'.repeat(64)}@b.co`,
  ]) {
    assert.equal(isEmail(ok), true, ok);
  }
  for (const bad of [
    'not-an-email',
    'a@b',
    'a b@c.de',
    'a@b..de',
    'a@.b.de',
    'a@b.de.',
    '<a>@b.de',
    'a@@b.de',
    'Name <a@b.de>',
    'a,b@c.de',
    `${'x'.repeat(65)}@b.co`,
    `a@${'b'.repeat(64)}.de`,
    'a\u0000@b.de',
    'a\n@b.de',
  ]) {
    assert.equal(isEmail(bad), false, JSON.stringify(bad));
  }
  assert.equal(longButWellFormed(EMAIL_MAX_LENGTH).length, EMAIL_MAX_LENGTH);
  assert.equal(isEmail(longButWellFormed(EMAIL_MAX_LENGTH)), true);
  assert.equal(isEmail(longButWellFormed(EMAIL_MAX_LENGTH + 2)), false);
  // Length first: a string over the limit is refused without the pattern ever reading it (its characters
  // are behind a toString that fails the test).
  const huge = Object.assign(new String(`a@${'b'.repeat(300)}.de`), {
    toString: () => assert.fail('the pattern read an over-long string'),
  }) as unknown as string;
  assert.equal(isEmail(huge), false);
  assert.equal(isEmail(ADVERSARIAL), false);
});

// The timeout is a sanity bound only (the old eSignature check took ~2 minutes on the 300 KB input; each
// request here is a length check); the assertions are on the answers.
test('a 100 KB adversarial email is refused at once on every face', { timeout: 30_000 }, async (t) => {
  const { app, services, config } = await buildApp(t, { bodyLimitBytes: 1024 * 1024 });
  const tenant = await createTenant(services, config);
  const call = as(app, tenant.key);

  const native = await call('POST', '/api/users', { email: ADVERSARIAL, account_id: tenant.accountId });
  assert.equal(native.statusCode, 400, native.body);
  assert.equal(native.json().error.details[0].field, 'email');

  const management = await call(
    'POST',
    `/management/v2/organizations/${tenant.organizationId}/accounts/${tenant.accountId}/users`,
    { email: ADVERSARIAL },
  );
  assert.equal(management.statusCode, 400, management.body);
  assert.equal(management.json().error, 'validation_failed');

  const esignCreate = await call('POST', `/restapi/v2.1/accounts/${tenant.accountId}/users`, {
    newUsers: [{ email: ADVERSARIAL_300K, userName: 'Long' }],
  });
  assert.ok(esignCreate.statusCode < 500, esignCreate.body);
  assert.equal(esignCreate.json().newUsers[0].errorDetails.errorCode, 'INVALID_REQUEST_PARAMETER');

  const me = await call('GET', `/api/users?account_id=${tenant.accountId}`);
  const ownerId = me.json().data[0].id;
  const esignUpdate = await call('PUT', `/restapi/v2.1/accounts/${tenant.accountId}/users/${ownerId}`, {
    email: ADVERSARIAL,
  });
  assert.equal(esignUpdate.statusCode, 400, esignUpdate.body);
  assert.equal(esignUpdate.json().errorCode, 'INVALID_REQUEST_PARAMETER');

  // 255 characters of a well-formed address: over RFC 5321's limit on every face.
  const tooLong = await call('POST', '/api/users', {
    email: longButWellFormed(EMAIL_MAX_LENGTH + 2),
    account_id: tenant.accountId,
  });
  assert.equal(tooLong.statusCode, 400, tooLong.body);
});

test('the CSV import refuses a 100 KB adversarial email as a row error', { timeout: 60_000 }, async (t) => {
  const { api, tenant } = await importSetup(t);
  const imp = await importCsv(
    api,
    `account_id=${tenant.accountId}&operation=add`,
    `FirstName,LastName,UserEmail,PermissionSet\nLong,One,"${ADVERSARIAL}",DS Sender\n` +
      `Fine,One,ok-${Date.now()}@example.test,DS Sender\n`,
  );
  assert.equal(imp.status, 'completed', JSON.stringify(imp));
  const rows = (await api('GET', `/api/imports/${imp.id}/rows?status=error`)).json().data;
  assert.equal(rows.length, 1);
  assert.equal(rows[0].row_number, 1);
  assert.equal(rows[0].error_type, 'invalid_useremail_address');
});
