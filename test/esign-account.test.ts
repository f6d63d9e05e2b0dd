// eSignature account administration under /restapi/v2.1/accounts/{accountId}, through the official
// docusign-esign SDK: permission profiles (CRUD, move_users_to, the flag mapping), brands (CRUD, a real PNG
// logo), account settings (string booleans, unknown settings refused) and account information; /api sees the
// same data; another organization's ids answer like missing ones; scopes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { api, esign, esignClient, type LiveApp, liveTenant, sdkError, startApp } from './docusign-helper.ts';
import { JPEG, tinyPng } from './images.ts';

type Sdk = any;

const accountsApi = (live: LiveApp, key: string): Sdk => new esign.AccountsApi(esignClient(live, key));

test('permission profiles: create/list/get/update/delete with move_users_to, flags mapped both ways, /api agrees', async (t) => {
  const live = await startApp(t);
  const tenant = await liveTenant(live);
  const accounts = accountsApi(live, tenant.key);
  const initial = await accounts.listPermissions(tenant.accountId);
  const names = initial.permissionProfiles.map((p: any) => p.permissionProfileName);
  assert.ok(names.includes('DS Admin') && names.includes('DS Sender'));
  const admin = initial.permissionProfiles.find((p: any) => p.permissionProfileName === 'DS Admin');
  assert.match(admin.permissionProfileId, /^\d+$/);
  assert.equal(admin.settings.allowAccountManagement, 'true');
  assert.equal(admin.settings.accountManagementGranular.allowManageUsers, 'true');

  const created = await accounts.createPermissionProfile(tenant.accountId, {
    permissionProfile: {
      permissionProfileName: 'HR Admin',
      settings: {
        allowEnvelopeSending: 'true',
        allowBulkSending: 'true', // no Signet permission: kept, not enforced
        accountManagementGranular: { allowManageUsers: 'true', allowManageGroupsButNotUsers: 'false' },
      },
    },
  });
  assert.match(created.permissionProfileId, /^\d+$/);
  assert.equal(created.permissionProfileName, 'HR Admin');
  assert.equal(created.userCount, '0');
  assert.equal(created.settings.allowEnvelopeSending, 'true');
  assert.equal(created.settings.allowAccountManagement, 'true');
  assert.equal(created.settings.accountManagementGranular.allowManageUsers, 'true');
  assert.equal(created.settings.accountManagementGranular.allowManageAccountSettings, 'false');
  assert.equal(created.settings.allowBulkSending, 'true'); // not enforced by Signet: kept as sent
  const nativePath = `/api/accounts/${tenant.accountId}/permission_profiles/${created.permissionProfileId}`;
  const native = (await api(live, tenant.key, 'GET', nativePath)).body;
  assert.deepEqual(native.permissions, ['send_envelopes', 'manage_users']);

  // Update: a flag named changes, flags not named keep their value (including ones eSignature cannot show).
  await api(live, tenant.key, 'PATCH', nativePath, {
    permissions: ['send_envelopes', 'manage_users', 'manage_brands'],
  });
  const updated = await accounts.updatePermissionProfile(tenant.accountId, created.permissionProfileId, {
    permissionProfile: {
      permissionProfileName: 'People Admin',
      settings: { accountManagementGranular: { allowManageReporting: true, allowManageUsers: 'FALSE' } },
    },
  });
  assert.equal(updated.permissionProfileName, 'People Admin');
  assert.equal(updated.settings.accountManagementGranular.allowManageReporting, 'true');
  assert.equal(updated.settings.accountManagementGranular.allowManageUsers, 'false');
  const after = (await api(live, tenant.key, 'GET', nativePath)).body;
  assert.deepEqual(after.permissions.sort(), ['manage_brands', 'send_envelopes', 'view_audit_log']);
  const got = await accounts.getPermissionProfile(tenant.accountId, created.permissionProfileId);
  assert.equal(got.permissionProfileName, 'People Admin');

  const badFlag = await sdkError(
    accounts.updatePermissionProfile(tenant.accountId, created.permissionProfileId, {
      permissionProfile: { settings: { allowEnvelopeSending: 'maybe' } },
    }),
  );
  assert.equal(badFlag.statusCode, 400);
  assert.equal(badFlag.body.errorCode, 'INVALID_REQUEST_PARAMETER');
  const dupName = await sdkError(
    accounts.createPermissionProfile(tenant.accountId, {
      permissionProfile: { permissionProfileName: 'ds admin' },
    }),
  );
  assert.equal(dupName.statusCode, 400);
  assert.equal(dupName.body.errorCode, 'PERMISSION_PROFILE_NAME_ALREADY_EXISTS');

  // A profile in use is deleted only by moving its users.
  const usersApi: Sdk = new esign.UsersApi(esignClient(live, tenant.key));
  const user = (
    await usersApi.create(tenant.accountId, {
      newUsersDefinition: {
        newUsers: [
          {
            email: 'mover@example.test',
            userName: 'Mo Ver',
            permissionProfileId: created.permissionProfileId,
          },
        ],
      },
    })
  ).newUsers[0];
  assert.equal(
    (await accounts.getPermissionProfile(tenant.accountId, created.permissionProfileId)).userCount,
    '1',
  );
  const inUse = await sdkError(
    accounts.deletePermissionProfile(tenant.accountId, created.permissionProfileId),
  );
  assert.equal(inUse.statusCode, 400);
  assert.equal(inUse.body.errorCode, 'PERMISSION_PROFILE_IN_USE');
  const badMove = await sdkError(
    accounts.deletePermissionProfile(tenant.accountId, created.permissionProfileId, {
      moveUsersTo: '999999',
    }),
  );
  assert.equal(badMove.body.errorCode, 'INVALID_PERMISSION_PROFILE_ID');
  const gone = await accounts.deletePermissionProfile(tenant.accountId, created.permissionProfileId, {
    moveUsersTo: admin.permissionProfileId,
  });
  assert.equal(gone, null);
  const moved = (await api(live, tenant.key, 'GET', `/api/users/${user.userId}`)).body;
  assert.equal(String(moved.memberships[0].permission_profile_id), admin.permissionProfileId);
  const missing = await sdkError(
    accounts.getPermissionProfile(tenant.accountId, created.permissionProfileId),
  );
  assert.equal(missing.statusCode, 400);
  assert.equal(missing.body.errorCode, 'INVALID_PERMISSION_PROFILE_ID');
});

test('brands: create/list/get/update/delete and a real PNG logo round trip; /api sees the same brand', async (t) => {
  const live = await startApp(t);
  const tenant = await liveTenant(live);
  const accounts = accountsApi(live, tenant.key);
  const made = await accounts.createBrand(tenant.accountId, {
    brand: {
      brandName: 'Acme Blue',
      brandCompany: 'Acme Ltd',
      isSendingDefault: true,
      colors: [
        { name: 'buttonPrimaryBackground', value: '#123456' },
        { name: 'headerText', value: '#FFFFFF' },
      ],
    },
  });
  assert.equal(made.brands.length, 1);
  const b = made.brands[0];
  assert.match(b.brandId, /^[0-9a-f-]{36}$/);
  assert.equal(b.brandName, 'Acme Blue');
  assert.equal(b.brandCompany, 'Acme Ltd');
  assert.equal(b.isSendingDefault, true);
  assert.equal(b.isSigningDefault, false);
  assert.deepEqual(
    b.colors.map((c: any) => [c.name, c.value]),
    [
      ['buttonPrimaryBackground', '#123456'],
      ['headerText', '#FFFFFF'],
    ],
  );
  const native = (await api(live, tenant.key, 'GET', `/api/accounts/${tenant.accountId}/brands/${b.brandId}`))
    .body;
  assert.equal(native.name, 'Acme Blue');
  assert.deepEqual(native.colors, { button: '#123456', header_text: '#FFFFFF' });
  assert.equal(native.is_sending_default, true);

  const list = await accounts.listBrands(tenant.accountId);
  assert.equal(list.senderBrandIdDefault, b.brandId);
  assert.equal(list.recipientBrandIdDefault, undefined);
  assert.deepEqual(
    list.brands.map((x: any) => x.brandId),
    [b.brandId],
  );

  // replace_brand: colors left out are removed; without it they merge.
  const merged = await accounts.updateBrand(tenant.accountId, b.brandId, {
    brand: {
      brandName: 'Acme Navy',
      colors: [{ name: 'primary', value: '#000080' }],
      isSigningDefault: 'true',
    },
  });
  assert.equal(merged.brandName, 'Acme Navy');
  assert.equal(merged.colors.length, 3);
  assert.equal(merged.isSigningDefault, true);
  const replaced = await accounts.updateBrand(tenant.accountId, b.brandId, {
    brand: { colors: [{ name: 'link', value: '#00FF00' }] },
    replaceBrand: 'true',
  });
  assert.deepEqual(
    replaced.colors.map((c: any) => c.name),
    ['link'],
  );
  const badColor = await sdkError(
    accounts.updateBrand(tenant.accountId, b.brandId, {
      brand: { colors: [{ name: 'sparkle', value: '#000000' }] },
    }),
  );
  assert.equal(badColor.statusCode, 400);
  const badHex = await sdkError(
    accounts.updateBrand(tenant.accountId, b.brandId, {
      brand: { colors: [{ name: 'link', value: 'green' }] },
    }),
  );
  assert.equal(badHex.statusCode, 400);

  // Logo: the SDK uploads the raw bytes labelled image/png; they come back byte for byte.
  const image = tinyPng();
  assert.equal(await accounts.updateBrandLogoByType(image, tenant.accountId, b.brandId, 'primary'), null);
  const withLogo = await accounts.getBrand(tenant.accountId, b.brandId);
  assert.equal(
    withLogo.logos.primary,
    `/v2.1/accounts/${tenant.accountId}/brands/${b.brandId}/logos/primary`,
  );
  assert.equal(withLogo.logos.secondary, undefined);
  const sdkLogo = await accounts.getBrandLogoByType(tenant.accountId, b.brandId, 'primary');
  assert.ok(typeof sdkLogo === 'string' && sdkLogo.includes('PNG'), 'the SDK hands the image over as text');
  const raw = await fetch(
    `${live.base}/restapi/v2.1/accounts/${tenant.accountId}/brands/${b.brandId}/logos/primary`,
    {
      headers: { authorization: `Bearer ${tenant.key}` },
    },
  );
  assert.equal(raw.headers.get('content-type'), 'image/png');
  assert.ok(Buffer.from(await raw.arrayBuffer()).equals(image));
  const viaApi = await fetch(
    `${live.base}/api/accounts/${tenant.accountId}/brands/${b.brandId}/logos/primary`,
    {
      headers: { authorization: `Bearer ${tenant.key}` },
    },
  );
  assert.ok(Buffer.from(await viaApi.arrayBuffer()).equals(image));
  // A JPEG sent through the SDK (labelled image/png) is stored as the JPEG it is; text is refused.
  await accounts.updateBrandLogoByType(JPEG, tenant.accountId, b.brandId, 'email');
  assert.equal(
    (await api(live, tenant.key, 'GET', `/api/accounts/${tenant.accountId}/brands/${b.brandId}`)).body.logos
      .email.content_type,
    'image/jpeg',
  );
  const notImage = await sdkError(
    accounts.updateBrandLogoByType(
      Buffer.from('hello, not an image'),
      tenant.accountId,
      b.brandId,
      'secondary',
    ),
  );
  assert.equal(notImage.statusCode, 400);
  assert.equal(notImage.body.errorCode, 'INVALID_IMAGE');
  const badType = await sdkError(
    accounts.updateBrandLogoByType(image, tenant.accountId, b.brandId, 'banner'),
  );
  assert.equal(badType.statusCode, 400);
  assert.equal(await accounts.deleteBrandLogoByType(tenant.accountId, b.brandId, 'primary'), null);
  const noLogo = await sdkError(accounts.getBrandLogoByType(tenant.accountId, b.brandId, 'primary'));
  assert.equal(noLogo.statusCode, 400);
  assert.equal(noLogo.body.errorCode, 'BRAND_LOGO_NOT_FOUND');

  // Delete one, and several with per-item results.
  const second = (await accounts.createBrand(tenant.accountId, { brand: { brandName: 'Second' } })).brands[0];
  const third = (await accounts.createBrand(tenant.accountId, { brand: { brandName: 'Third' } })).brands[0];
  const dupName = await sdkError(accounts.createBrand(tenant.accountId, { brand: { brandName: 'third' } }));
  assert.equal(dupName.body.errorCode, 'BRAND_NAME_ALREADY_EXISTS');
  assert.equal(await accounts.deleteBrand(tenant.accountId, second.brandId), null);
  const many = await accounts.deleteBrands(tenant.accountId, {
    brandsRequest: { brands: [{ brandId: third.brandId }, { brandId: second.brandId }] },
  });
  assert.equal(many.brands[0].brandId, third.brandId);
  assert.equal(many.brands[1].errorDetails.errorCode, 'INVALID_BRAND_ID');
  assert.deepEqual(
    (await accounts.listBrands(tenant.accountId)).brands.map((x: any) => x.brandId),
    [b.brandId],
  );
});

test('settings: listSettings shows string values, updateSettings takes string booleans and refuses unknown settings', async (t) => {
  const live = await startApp(t);
  const tenant = await liveTenant(live);
  const accounts = accountsApi(live, tenant.key);
  const before = await accounts.listSettings(tenant.accountId);
  assert.equal(before.sessionTimeout, '20');
  assert.equal(before.allowSMSDelivery, 'false');
  assert.equal(before.envelopeStampingDefaultValue, 'true');
  assert.equal(before.allowSignerReassign, 'false');
  assert.equal(before.accountDefaultLanguage, 'en');
  const extra = Object.fromEntries(before.additionalSettings.map((s: any) => [s.name, s.value]));
  assert.equal(extra.mfa_required, 'false');
  assert.equal(extra['password_policy.min_length'], '12');
  assert.equal(extra.allowed_signature_types, 'drawn,typed,uploaded');

  const done = await accounts.updateSettings(tenant.accountId, {
    accountSettingsInformation: {
      allowSMSDelivery: 'true',
      sessionTimeout: '45',
      allowSignerReassign: 'TRUE',
      additionalSettings: [
        { name: 'mfa_required', value: 'true' },
        { name: 'password_policy.min_length', value: '16' },
        { name: 'allowed_signature_types', value: 'drawn,typed' },
      ],
    },
  });
  assert.equal(done, null);
  const native = (await api(live, tenant.key, 'GET', `/api/accounts/${tenant.accountId}/settings`)).body;
  assert.equal(native.enable_sms_delivery, true);
  assert.equal(native.session_timeout_minutes, 45);
  assert.equal(native.mfa_required, true);
  assert.equal(native.password_policy.min_length, 16);
  assert.equal(native.password_policy.require_digit, true); // untouched property kept
  assert.equal(native.signing_defaults.allow_signer_reassign, true);
  assert.deepEqual(native.allowed_signature_types, ['drawn', 'typed']);
  // And an /api change reads back as strings through the SDK.
  await api(live, tenant.key, 'PATCH', `/api/accounts/${tenant.accountId}/settings`, {
    envelope_id_stamping: false,
  });
  const after = await accounts.listSettings(tenant.accountId);
  assert.equal(after.envelopeStampingDefaultValue, 'false');
  assert.equal(after.sessionTimeout, '45');

  const unknown = await sdkError(
    accounts.updateSettings(tenant.accountId, { accountSettingsInformation: { allowBulkSend: 'true' } }),
  );
  assert.equal(unknown.statusCode, 400);
  assert.equal(unknown.body.errorCode, 'INVALID_ACCOUNT_SETTING');
  assert.match(unknown.body.message, /allowBulkSend/);
  const unknownExtra = await sdkError(
    accounts.updateSettings(tenant.accountId, {
      accountSettingsInformation: { additionalSettings: [{ name: 'shiny', value: '1' }] },
    }),
  );
  assert.equal(unknownExtra.body.errorCode, 'INVALID_ACCOUNT_SETTING');
  const badValue = await sdkError(
    accounts.updateSettings(tenant.accountId, { accountSettingsInformation: { sessionTimeout: 'soon' } }),
  );
  assert.equal(badValue.statusCode, 400);
  assert.equal(badValue.body.errorCode, 'INVALID_ACCOUNT_SETTING_VALUE');
  const badBool = await sdkError(
    accounts.updateSettings(tenant.accountId, { accountSettingsInformation: { allowSMSDelivery: 'yes' } }),
  );
  assert.equal(badBool.statusCode, 400);
  // Nothing of the refused requests was applied.
  assert.equal((await accounts.listSettings(tenant.accountId)).allowSMSDelivery, 'true');
});

test('getAccountInformation by GUID and by account number; tenancy matrix for profiles, brands, settings; scopes', async (t) => {
  const live = await startApp(t);
  const tenant = await liveTenant(live);
  const other = await liveTenant(live);
  const accounts = accountsApi(live, tenant.key);
  const number = (await api(live, tenant.key, 'GET', `/api/accounts/${tenant.accountId}`)).body
    .external_account_id;
  for (const ref of [tenant.accountId, String(number)]) {
    const info = await accounts.getAccountInformation(ref);
    assert.equal(info.accountIdGuid, tenant.accountId);
    assert.equal(info.accountName, 'Main');
    assert.equal(info.externalAccountId, String(number));
    assert.ok(!Number.isNaN(Date.parse(info.createdDate)));
  }

  const theirs = accountsApi(live, other.key);
  const theirProfile = (await theirs.listPermissions(other.accountId)).permissionProfiles[0]
    .permissionProfileId;
  const theirBrand = (await theirs.createBrand(other.accountId, { brand: { brandName: 'Theirs' } })).brands[0]
    .brandId;
  await theirs.updateBrandLogoByType(tinyPng(), other.accountId, theirBrand, 'primary');
  const otherNumber = (await api(live, other.key, 'GET', `/api/accounts/${other.accountId}`)).body
    .external_account_id;

  for (const account of [other.accountId, String(otherNumber), '00000000-0000-7000-8000-00000000000a', '0']) {
    for (const call of [
      () => accounts.getAccountInformation(account),
      () => accounts.listPermissions(account),
      () => accounts.createPermissionProfile(account, { permissionProfile: { permissionProfileName: 'X' } }),
      () => accounts.getPermissionProfile(account, theirProfile),
      () =>
        accounts.updatePermissionProfile(account, theirProfile, {
          permissionProfile: { permissionProfileName: 'X' },
        }),
      () => accounts.deletePermissionProfile(account, theirProfile),
      () => accounts.listBrands(account),
      () => accounts.createBrand(account, { brand: { brandName: 'X' } }),
      () => accounts.getBrand(account, theirBrand),
      () => accounts.updateBrand(account, theirBrand, { brand: { brandName: 'X' } }),
      () => accounts.deleteBrand(account, theirBrand),
      () => accounts.deleteBrands(account, { brandsRequest: { brands: [{ brandId: theirBrand }] } }),
      () => accounts.getBrandLogoByType(account, theirBrand, 'primary'),
      () => accounts.updateBrandLogoByType(tinyPng(), account, theirBrand, 'primary'),
      () => accounts.deleteBrandLogoByType(account, theirBrand, 'primary'),
      () => accounts.listSettings(account),
      () => accounts.updateSettings(account, { accountSettingsInformation: { sessionTimeout: '30' } }),
    ]) {
      const err = await sdkError(call());
      assert.equal(err.statusCode, 400, account);
      assert.equal(err.body.errorCode, 'ACCOUNT_NOT_FOUND');
    }
  }
  // Their profile and brand ids in our account: exactly like missing ones.
  for (const profileId of [theirProfile, '424242424', 'abc']) {
    for (const call of [
      () => accounts.getPermissionProfile(tenant.accountId, profileId),
      () =>
        accounts.updatePermissionProfile(tenant.accountId, profileId, {
          permissionProfile: { permissionProfileName: 'X' },
        }),
      () => accounts.deletePermissionProfile(tenant.accountId, profileId),
    ]) {
      const err = await sdkError(call());
      assert.equal(err.statusCode, 400);
      assert.equal(err.body.errorCode, 'INVALID_PERMISSION_PROFILE_ID');
    }
  }
  const mine = (await accounts.listPermissions(tenant.accountId)).permissionProfiles[0].permissionProfileId;
  const moveToTheirs = await sdkError(
    accounts.deletePermissionProfile(tenant.accountId, mine, { moveUsersTo: theirProfile }),
  );
  assert.equal(moveToTheirs.body.errorCode, 'INVALID_PERMISSION_PROFILE_ID');
  for (const brandId of [theirBrand, '00000000-0000-7000-8000-00000000000b', 'not-a-guid']) {
    for (const call of [
      () => accounts.getBrand(tenant.accountId, brandId),
      () => accounts.updateBrand(tenant.accountId, brandId, { brand: { brandName: 'X' } }),
      () => accounts.deleteBrand(tenant.accountId, brandId),
      () => accounts.getBrandLogoByType(tenant.accountId, brandId, 'primary'),
      () => accounts.updateBrandLogoByType(tinyPng(), tenant.accountId, brandId, 'primary'),
      () => accounts.deleteBrandLogoByType(tenant.accountId, brandId, 'primary'),
    ]) {
      const err = await sdkError(call());
      assert.equal(err.statusCode, 400);
      assert.equal(err.body.errorCode, 'INVALID_BRAND_ID');
    }
    const many = await accounts.deleteBrands(tenant.accountId, { brandsRequest: { brands: [{ brandId }] } });
    assert.equal(many.brands[0].errorDetails.errorCode, 'INVALID_BRAND_ID');
  }
  // Theirs untouched.
  assert.equal((await theirs.getBrand(other.accountId, theirBrand)).brandName, 'Theirs');
  assert.ok((await theirs.getPermissionProfile(other.accountId, theirProfile)).permissionProfileName);

  // A key restricted to reads: reads work, each write is 403 naming the scope and the permission.
  const reader = (
    await api(live, tenant.key, 'POST', '/api/api_keys', { name: 'r', scopes: ['account:read'] })
  ).body;
  const asReader = accountsApi(live, reader.key);
  assert.ok((await asReader.listSettings(tenant.accountId)).sessionTimeout);
  assert.ok((await asReader.listBrands(tenant.accountId)).brands);
  for (const [call, permission] of [
    [
      () =>
        asReader.updateSettings(tenant.accountId, { accountSettingsInformation: { sessionTimeout: '30' } }),
      'settings:write',
    ],
    [() => asReader.createBrand(tenant.accountId, { brand: { brandName: 'No' } }), 'brands:write'],
    [
      () =>
        asReader.createPermissionProfile(tenant.accountId, {
          permissionProfile: { permissionProfileName: 'No' },
        }),
      'profiles:write',
    ],
  ] as const) {
    const denied = await sdkError(call());
    assert.equal(denied.statusCode, 403);
    assert.equal(denied.body.errorCode, 'USER_LACKS_PERMISSIONS');
    assert.match(denied.body.message, new RegExp(`signature scope.*${permission}`));
  }
  const usersOnly = (
    await api(live, tenant.key, 'POST', '/api/api_keys', { name: 'u', scopes: ['users:read'] })
  ).body;
  const noSettings = await sdkError(accountsApi(live, usersOnly.key).listSettings(tenant.accountId));
  assert.equal(noSettings.statusCode, 403);
  assert.match(noSettings.body.message, /settings:read/);
});

test('Idempotency-Key: createBrand and createPermissionProfile replay their 201; empty-200 writes (deleteBrand, updateSettings, deletePermissionProfile) replay, never a 500', async (t) => {
  const live = await startApp(t);
  const tenant = await liveTenant(live);
  const send = (method: string, path: string, body: unknown, key: string) =>
    api(live, tenant.key, method, `/restapi/v2.1/accounts/${tenant.accountId}${path}`, body, {
      'idempotency-key': key,
    });
  const twice = async (method: string, path: string, body: unknown, status: number) => {
    const key = `esign-${method}-${Math.random().toString(36).slice(2)}`;
    const first = await send(method, path, body, key);
    assert.equal(first.status, status, `${method} ${path}: ${JSON.stringify(first.body)}`);
    assert.deepEqual(await send(method, path, body, key), first, `${method} ${path} replayed`);
    return first.body;
  };
  const brand = await twice('POST', '/brands', { brandName: 'Once' }, 201);
  const brandId = brand.brands[0].brandId;
  const brands = await api(live, tenant.key, 'GET', `/api/accounts/${tenant.accountId}/brands`);
  assert.equal(brands.body.data.filter((b: any) => b.name === 'Once').length, 1);
  assert.equal(
    (await twice('PUT', `/brands/${brandId}`, { brandName: 'Renamed' }, 200)).brandName,
    'Renamed',
  );
  assert.equal(await twice('DELETE', `/brands/${brandId}`, {}, 200), null);
  assert.equal(await twice('PUT', '/settings', { sessionTimeout: '45' }, 200), null);
  const profile = await twice('POST', '/permission_profiles', { permissionProfileName: 'Once' }, 201);
  assert.equal(profile.permissionProfileName, 'Once');
  assert.equal(await twice('DELETE', `/permission_profiles/${profile.permissionProfileId}`, {}, 200), null);
});
