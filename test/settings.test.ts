import assert from 'node:assert/strict';
import { test } from 'node:test';
import { systemPrincipal } from '../src/core/principal.ts';
import { as, buildApp, type Caller, createTenant, type Tenant, type TestApp } from './helper.ts';

const DEFAULTS = {
  session_timeout_minutes: 20,
  password_policy: {
    min_length: 12,
    require_mixed_case: true,
    require_digit: true,
    require_symbol: false,
    max_age_days: 0,
  },
  mfa_required: false,
  signing_defaults: {
    reminder_frequency_days: 0,
    expiration_days: 120,
    allow_signer_reassign: false,
    allow_decline: true,
    default_language: 'en',
  },
  envelope_id_stamping: true,
  enable_sms_delivery: false,
  allowed_signature_types: ['drawn', 'typed', 'uploaded'],
  data_retention_days: 0,
};

const settingsUrl = (accountId: string) => `/api/accounts/${accountId}/settings`;

async function storedValues({ services }: TestApp, accountId: string): Promise<unknown> {
  const row = await services.db
    .selectFrom('account_settings')
    .select('values')
    .where('account_id', '=', accountId)
    .executeTakeFirst();
  return row?.values;
}

async function settingsEvents(api: Caller, accountId: string): Promise<any[]> {
  const res = await api(
    'GET',
    `/api/audit_events?action=account_settings.updated&target_id=${accountId}&order=asc`,
  );
  assert.equal(res.statusCode, 200, res.body);
  return res.json().data;
}

async function memberKey({ app, services }: TestApp, tenant: Tenant): Promise<string> {
  const user = await as(app, tenant.key)('POST', '/api/users', {
    email: `member-${Date.now()}@example.test`,
  });
  assert.equal(user.statusCode, 201, user.body);
  const key = await services.apiKeys.create(
    { principal: systemPrincipal(tenant.organizationId, 'test'), meta: {} },
    { name: 'member key', account_id: tenant.accountId, created_by: user.json().id, role: 'member' },
  );
  return key.key;
}

test('settings: defaults, partial patches merged key by key, only differences stored, null resets', async (t) => {
  const built = await buildApp(t);
  const { app, services, config } = built;
  const tenant = await createTenant(services, config);
  const api = as(app, tenant.key);
  const url = settingsUrl(tenant.accountId);

  const initial = await api('GET', url);
  assert.equal(initial.statusCode, 200, initial.body);
  assert.deepEqual(initial.json(), DEFAULTS);
  assert.equal(
    await storedValues(built, tenant.accountId),
    undefined,
    'nothing stored for an untouched account',
  );

  const first = await api('PATCH', url, {
    session_timeout_minutes: 60,
    password_policy: { min_length: 16 },
    mfa_required: true,
  });
  assert.equal(first.statusCode, 200, first.body);
  assert.deepEqual(first.json(), {
    ...DEFAULTS,
    session_timeout_minutes: 60,
    password_policy: { ...DEFAULTS.password_policy, min_length: 16 },
    mfa_required: true,
  });

  // A second patch of the same object setting merges into the first.
  const second = await api('PATCH', url, {
    password_policy: { require_symbol: true, require_digit: true },
    signing_defaults: { expiration_days: 30, default_language: 'pt-BR' },
    allowed_signature_types: ['typed', 'drawn'],
  });
  assert.equal(second.statusCode, 200, second.body);
  const expected = {
    ...DEFAULTS,
    session_timeout_minutes: 60,
    password_policy: { ...DEFAULTS.password_policy, min_length: 16, require_symbol: true },
    mfa_required: true,
    signing_defaults: { ...DEFAULTS.signing_defaults, expiration_days: 30, default_language: 'pt-BR' },
    allowed_signature_types: ['typed', 'drawn'],
  };
  assert.deepEqual(second.json(), expected);
  assert.deepEqual((await api('GET', url)).json(), expected);
  // Only what differs from the defaults is stored (require_digit: true is the default, so it is not).
  assert.deepEqual(await storedValues(built, tenant.accountId), {
    session_timeout_minutes: 60,
    password_policy: { min_length: 16, require_symbol: true },
    mfa_required: true,
    signing_defaults: { expiration_days: 30, default_language: 'pt-BR' },
    allowed_signature_types: ['typed', 'drawn'],
  });

  // null resets a setting (or one property of an object setting) to its default; so does the default value.
  const reset = await api('PATCH', url, {
    session_timeout_minutes: null,
    password_policy: null,
    signing_defaults: { default_language: null },
    mfa_required: false,
  });
  assert.equal(reset.statusCode, 200, reset.body);
  assert.deepEqual(reset.json(), {
    ...DEFAULTS,
    signing_defaults: { ...DEFAULTS.signing_defaults, expiration_days: 30 },
    allowed_signature_types: ['typed', 'drawn'],
  });
  assert.deepEqual(await storedValues(built, tenant.accountId), {
    signing_defaults: { expiration_days: 30 },
    allowed_signature_types: ['typed', 'drawn'],
  });

  // Each change is audited with the before and after of the keys it changed, and only those.
  const events = await settingsEvents(api, tenant.accountId);
  assert.equal(events.length, 3);
  assert.equal(events[0].account_id, tenant.accountId);
  assert.deepEqual(events[0].changes.settings, {
    before: {
      session_timeout_minutes: 20,
      password_policy: DEFAULTS.password_policy,
      mfa_required: false,
    },
    after: {
      session_timeout_minutes: 60,
      password_policy: { ...DEFAULTS.password_policy, min_length: 16 },
      mfa_required: true,
    },
  });
  assert.deepEqual(Object.keys(events[1].changes.settings.after).sort(), [
    'allowed_signature_types',
    'password_policy',
    'signing_defaults',
  ]);
  assert.deepEqual(events[2].changes.settings.after.password_policy, DEFAULTS.password_policy);
  assert.equal(events[2].changes.settings.before.session_timeout_minutes, 60);

  // A patch that changes nothing writes no event.
  assert.equal((await api('PATCH', url, { envelope_id_stamping: true })).statusCode, 200);
  assert.equal((await settingsEvents(api, tenant.accountId)).length, 3);
});

test('settings: unknown keys and bad values are refused naming the key; nothing is stored', async (t) => {
  const built = await buildApp(t);
  const { app, services, config } = built;
  const tenant = await createTenant(services, config);
  const api = as(app, tenant.key);
  const url = settingsUrl(tenant.accountId);
  assert.equal((await api('PATCH', url, { data_retention_days: 365 })).statusCode, 200);
  const stored = await storedValues(built, tenant.accountId);
  const effective = (await api('GET', url)).json();

  const refused = async (body: unknown, code: string, ...mentions: RegExp[]) => {
    const res = await api('PATCH', url, body);
    assert.equal(res.statusCode, 422, `${JSON.stringify(body)}: ${res.body}`);
    const { error } = res.json();
    assert.equal(error.code, code, JSON.stringify(body));
    for (const m of mentions) assert.match(error.message, m, JSON.stringify(body));
    return error;
  };

  // All-or-nothing: the valid part of a refused patch is not applied either.
  const unknown = await refused(
    { session_timeout_minutes: 30, sesion_timeout: 30 },
    'unknown_setting',
    /sesion_timeout/,
  );
  assert.deepEqual(unknown.details, [{ field: 'sesion_timeout', message: 'unknown setting' }]);
  await refused(
    { password_policy: { min_length: 14, foo: true } },
    'unknown_setting',
    /password_policy\.foo/,
  );
  // Unknown keys are reported before bad values.
  await refused({ mfa_required: 'yes', colour: 1 }, 'unknown_setting', /colour/);

  const wrongType = await refused(
    { session_timeout_minutes: 'sixty' },
    'invalid_setting',
    /session_timeout_minutes/,
    /an integer from 5 to 1440/,
  );
  assert.equal(wrongType.details[0].field, 'session_timeout_minutes');
  assert.equal(wrongType.details[0].expected, 'an integer from 5 to 1440');
  await refused(
    { session_timeout_minutes: 4 },
    'invalid_setting',
    /session_timeout_minutes/,
    /from 5 to 1440/,
  );
  await refused({ session_timeout_minutes: 30.5 }, 'invalid_setting', /session_timeout_minutes/);
  await refused({ mfa_required: 'true' }, 'invalid_setting', /mfa_required: expected true or false/);
  await refused(
    { password_policy: { min_length: 7 } },
    'invalid_setting',
    /password_policy\.min_length/,
    /from 8 to 128/,
  );
  await refused({ password_policy: 12 }, 'invalid_setting', /password_policy: expected an object/);
  await refused(
    { signing_defaults: { default_language: 'not a language' } },
    'invalid_setting',
    /signing_defaults\.default_language/,
    /BCP 47/,
  );
  await refused(
    { signing_defaults: { expiration_days: 0 } },
    'invalid_setting',
    /signing_defaults\.expiration_days/,
    /from 1 to 365/,
  );
  await refused(
    { allowed_signature_types: ['drawn', 'drawn'] },
    'invalid_setting',
    /allowed_signature_types/,
    /distinct/,
  );
  await refused(
    { allowed_signature_types: ['drawn', 'inked'] },
    'invalid_setting',
    /allowed_signature_types/,
    /"drawn", "typed", "uploaded"/,
  );
  await refused({ allowed_signature_types: [] }, 'invalid_setting', /allowed_signature_types/);
  await refused({ data_retention_days: 36501 }, 'invalid_setting', /data_retention_days/);
  const several = await refused(
    { enable_sms_delivery: 1, data_retention_days: -1, session_timeout_minutes: 30 },
    'invalid_setting',
    /enable_sms_delivery/,
  );
  assert.deepEqual(
    several.details.map((d: any) => d.field),
    ['enable_sms_delivery', 'data_retention_days'],
  );

  assert.deepEqual(await storedValues(built, tenant.accountId), stored, 'stored values unchanged');
  assert.deepEqual((await api('GET', url)).json(), effective);
  assert.equal(effective.data_retention_days, 365);
  assert.equal((await settingsEvents(api, tenant.accountId)).length, 1, 'only the first patch is audited');

  // A body that is not an object is a plain validation error.
  const notObject = await api('PATCH', url, [1, 2]);
  assert.equal(notObject.statusCode, 400);
});

test('settings: the catalogue lists every setting with its description, default and schema', async (t) => {
  const { app, services, config } = await buildApp(t);
  const tenant = await createTenant(services, config);
  const res = await as(app, tenant.key)('GET', '/api/settings/catalogue');
  assert.equal(res.statusCode, 200, res.body);
  const entries = res.json().data as any[];
  assert.deepEqual(
    entries.map((e) => e.key),
    Object.keys(DEFAULTS),
  );
  for (const e of entries) {
    assert.deepEqual(e.default, (DEFAULTS as Record<string, unknown>)[e.key], e.key);
    assert.ok(e.description.length > 10, e.key);
  }
  const timeout = entries.find((e) => e.key === 'session_timeout_minutes');
  assert.equal(timeout.schema.type, 'integer');
  assert.equal(timeout.schema.minimum, 5);
  assert.equal(timeout.schema.maximum, 1440);
  const policy = entries.find((e) => e.key === 'password_policy');
  assert.equal(policy.schema.type, 'object');
  assert.deepEqual(policy.schema.properties.min_length, {
    type: 'integer',
    minimum: 8,
    maximum: 128,
    description: 'the shortest password accepted',
  });
  const types = entries.find((e) => e.key === 'allowed_signature_types');
  assert.equal(types.schema.uniqueItems, true);
  assert.deepEqual(
    types.schema.items.anyOf.map((o: any) => o.const),
    ['drawn', 'typed', 'uploaded'],
  );
});

test('settings: another organization’s account is 404 and unchanged; members read but do not write', async (t) => {
  const built = await buildApp(t);
  const { app, services, config } = built;
  const a = await createTenant(services, config);
  const b = await createTenant(services, config);
  const apiA = as(app, a.key);
  const apiB = as(app, b.key);
  const urlA = settingsUrl(a.accountId);
  await apiA('PATCH', urlA, { mfa_required: true });
  const before = (await apiA('GET', urlA)).json();

  for (const [method, body] of [
    ['GET', undefined],
    ['PATCH', { mfa_required: false, session_timeout_minutes: 5 }],
    ['PATCH', { password_policy: null }],
  ] as const) {
    const res = await apiB(method, urlA, body);
    assert.equal(res.statusCode, 404, `${method}: ${res.body}`);
    assert.equal(res.json().error.code, 'not_found');
  }
  const missing = await apiA('GET', settingsUrl('0190a3f1-0000-7000-8000-000000000000'));
  assert.equal(missing.statusCode, 404);
  assert.deepEqual((await apiA('GET', urlA)).json(), before);
  assert.equal(before.mfa_required, true);
  assert.equal((await settingsEvents(apiB, a.accountId)).length, 0, 'B sees no events of A');

  const member = as(app, await memberKey(built, a));
  assert.deepEqual((await member('GET', urlA)).json(), before);
  assert.equal((await member('GET', '/api/settings/catalogue')).statusCode, 200);
  const denied = await member('PATCH', urlA, { mfa_required: false });
  assert.equal(denied.statusCode, 403);
  assert.equal(denied.json().error.code, 'permission_denied');
  assert.equal((await apiA('GET', urlA)).json().mfa_required, true);
});
