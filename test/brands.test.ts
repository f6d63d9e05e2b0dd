import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { systemPrincipal } from '../src/core/principal.ts';
import { as, buildApp, type Caller, createTenant, type Tenant, type TestApp } from './helper.ts';
import { JPEG, SVG, tinyPng } from './images.ts';

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

const brandsUrl = (accountId: string) => `/api/accounts/${accountId}/brands`;

async function auditOf(api: Caller, targetId: string): Promise<any[]> {
  const res = await api('GET', `/api/audit_events?target_id=${targetId}&limit=500&order=asc`);
  assert.equal(res.statusCode, 200, res.body);
  return res.json().data;
}

/** A member's key in the tenant's account: the member's profile is "DS Sender", which grants no brands:write. */
async function memberKey({ app, services }: TestApp, tenant: Tenant): Promise<string> {
  const owner = as(app, tenant.key);
  const user = await owner('POST', '/api/users', { email: `member-${Date.now()}@example.test` });
  assert.equal(user.statusCode, 201, user.body);
  const key = await services.apiKeys.create(
    { principal: systemPrincipal(tenant.organizationId, 'test'), meta: {} },
    { name: 'member key', account_id: tenant.accountId, created_by: user.json().id, role: 'member' },
  );
  return key.key;
}

test('brands: create, get, list, update (colors merge), name clash, delete — audited', async (t) => {
  const { app, services, config } = await buildApp(t);
  const tenant = await createTenant(services, config);
  const api = as(app, tenant.key);
  const url = brandsUrl(tenant.accountId);

  const created = await api('POST', url, {
    name: 'Acme Blue',
    company: 'Acme Ltd',
    colors: { primary: '#1A2B3C', secondary: '#ffffff', button_text: '#000000' },
    email_sender_name: 'Acme Contracts',
    email_reply_to: 'contracts@acme.example',
  });
  assert.equal(created.statusCode, 201, created.body);
  const brand = created.json();
  assert.equal(brand.name, 'Acme Blue');
  assert.equal(brand.account_id, tenant.accountId);
  assert.equal(brand.organization_id, tenant.organizationId);
  assert.equal(brand.company, 'Acme Ltd');
  assert.deepEqual(brand.colors, { primary: '#1A2B3C', secondary: '#ffffff', button_text: '#000000' });
  assert.equal(brand.email_sender_name, 'Acme Contracts');
  assert.equal(brand.email_reply_to, 'contracts@acme.example');
  assert.equal(brand.is_sending_default, false);
  assert.equal(brand.is_signing_default, false);
  assert.deepEqual(brand.logos, { primary: null, secondary: null, email: null });

  const got = await api('GET', `${url}/${brand.id}`);
  assert.equal(got.statusCode, 200);
  assert.deepEqual(got.json(), brand);

  // Names are unique per account, case-insensitively.
  const clash = await api('POST', url, { name: 'ACME BLUE' });
  assert.equal(clash.statusCode, 409);
  assert.equal(clash.json().error.code, 'name_taken');

  // Colors: a fixed set of keys, #RRGGBB values; the offending key is named.
  const unknownColor = await api('POST', url, {
    name: 'Other',
    colors: { primary: '#000000', shiny: '#000000' },
  });
  assert.equal(unknownColor.statusCode, 400);
  assert.equal(unknownColor.json().error.code, 'validation_failed');
  assert.match(unknownColor.json().error.message, /colors\.shiny/);
  const badHex = await api('POST', url, { name: 'Other', colors: { header: 'red' } });
  assert.equal(badHex.statusCode, 400);
  assert.match(badHex.json().error.message, /colors\.header/);
  const badEmail = await api('POST', url, { name: 'Other', email_reply_to: 'not-an-email' });
  assert.equal(badEmail.statusCode, 400);
  assert.match(badEmail.json().error.message, /email_reply_to/);

  // PATCH: colors merge key by key, null removes one.
  const patched = await api('PATCH', `${url}/${brand.id}`, {
    name: 'Acme Navy',
    company: null,
    colors: { primary: '#000080', secondary: null, button: '#ff8800' },
  });
  assert.equal(patched.statusCode, 200, patched.body);
  assert.equal(patched.json().name, 'Acme Navy');
  assert.equal(patched.json().company, null);
  assert.deepEqual(patched.json().colors, { primary: '#000080', button_text: '#000000', button: '#ff8800' });
  assert.equal(patched.json().email_sender_name, 'Acme Contracts', 'fields not in the patch are kept');

  const second = (await api('POST', url, { name: 'Second' })).json();
  const renameClash = await api('PATCH', `${url}/${second.id}`, { name: 'acme navy' });
  assert.equal(renameClash.statusCode, 409);
  assert.equal(renameClash.json().error.code, 'name_taken');
  assert.equal((await api('GET', `${url}/${second.id}`)).json().name, 'Second');

  // Keyset pagination visits every brand once.
  await api('POST', url, { name: 'Third' });
  const page1 = (await api('GET', `${url}?limit=2`)).json();
  assert.equal(page1.data.length, 2);
  assert.ok(page1.next_cursor);
  const page2 = (await api('GET', `${url}?limit=2&cursor=${page1.next_cursor}`)).json();
  assert.equal(page2.data.length, 1);
  assert.equal(page2.next_cursor, null);
  assert.deepEqual(
    [...page1.data, ...page2.data].map((b: any) => b.name),
    ['Acme Navy', 'Second', 'Third'],
  );

  const deleted = await api('DELETE', `${url}/${brand.id}`);
  assert.equal(deleted.statusCode, 204);
  assert.equal(deleted.body, '');
  const gone = await api('GET', `${url}/${brand.id}`);
  assert.equal(gone.statusCode, 404);
  assert.equal(gone.json().error.code, 'not_found');
  assert.equal((await api('DELETE', `${url}/${brand.id}`)).statusCode, 404);

  const events = await auditOf(api, brand.id);
  assert.deepEqual(
    events.map((e) => e.action),
    ['brand.created', 'brand.updated', 'brand.deleted'],
  );
  assert.deepEqual(events[0].changes.name, { before: null, after: 'Acme Blue' });
  assert.deepEqual(events[1].changes.name, { before: 'Acme Blue', after: 'Acme Navy' });
  assert.equal(events[1].account_id, tenant.accountId);
  assert.deepEqual(events[2].changes.name, { before: 'Acme Navy', after: null });
});

test('brands: making a brand the sending or signing default clears the flag on the others', async (t) => {
  const { app, services, config } = await buildApp(t);
  const tenant = await createTenant(services, config);
  const api = as(app, tenant.key);
  const url = brandsUrl(tenant.accountId);

  const a = (
    await api('POST', url, { name: 'A', is_sending_default: true, is_signing_default: true })
  ).json();
  assert.equal(a.is_sending_default, true);
  assert.equal(a.is_signing_default, true);

  const b = await api('POST', url, { name: 'B', is_sending_default: true });
  assert.equal(b.statusCode, 201, b.body);
  assert.equal(b.json().is_sending_default, true);
  let aNow = (await api('GET', `${url}/${a.id}`)).json();
  assert.equal(aNow.is_sending_default, false, 'A lost the sending default to B');
  assert.equal(aNow.is_signing_default, true, 'A keeps the signing default');

  const c = (await api('POST', url, { name: 'C' })).json();
  const cSigning = await api('PATCH', `${url}/${c.id}`, { is_signing_default: true });
  assert.equal(cSigning.statusCode, 200, cSigning.body);
  assert.equal(cSigning.json().is_signing_default, true);
  aNow = (await api('GET', `${url}/${a.id}`)).json();
  assert.equal(aNow.is_signing_default, false);

  const all = (await api('GET', url)).json().data;
  assert.deepEqual(
    all.filter((x: any) => x.is_sending_default).map((x: any) => x.name),
    ['B'],
  );
  assert.deepEqual(
    all.filter((x: any) => x.is_signing_default).map((x: any) => x.name),
    ['C'],
  );

  // Setting the flag again on the current default changes nothing else.
  const again = await api('PATCH', `${url}/${b.json().id}`, { is_sending_default: true });
  assert.equal(again.statusCode, 200);
  assert.equal(again.json().is_sending_default, true);

  // Concurrent moves of the default queue on the account: every request succeeds, one default remains.
  const racers = await Promise.all(
    [1, 2, 3, 4, 5].map((n) => api('POST', url, { name: `Racer ${n}`, is_sending_default: true })),
  );
  assert.deepEqual(
    racers.map((r) => r.statusCode),
    [201, 201, 201, 201, 201],
  );
  const defaults = (await api('GET', url)).json().data.filter((x: any) => x.is_sending_default);
  assert.equal(defaults.length, 1);
  assert.match(defaults[0].name, /^Racer /);

  // The cleared brand's change is in the audit log too.
  const aEvents = await auditOf(api, a.id);
  assert.deepEqual(
    aEvents.map((e) => e.action),
    ['brand.created', 'brand.updated', 'brand.updated'],
  );
  assert.deepEqual(aEvents[1].changes.is_sending_default, { before: true, after: false });
  assert.deepEqual(aEvents[2].changes.is_signing_default, { before: true, after: false });
  assert.match(aEvents[1].changes._meta.reason, new RegExp(b.json().id));
});

test('brands: logo upload and download round trip; bad files are refused and change nothing', async (t) => {
  const { app, services, config } = await buildApp(t);
  const tenant = await createTenant(services, config);
  const api = as(app, tenant.key);
  const url = brandsUrl(tenant.accountId);
  const brand = (await api('POST', url, { name: 'Logos' })).json();
  const logoUrl = (kind: string) => `${url}/${brand.id}/logos/${kind}`;

  const png = tinyPng();
  const put = await api('PUT', logoUrl('primary'), png, { 'content-type': 'image/png' });
  assert.equal(put.statusCode, 200, put.body);
  assert.deepEqual(put.json().logos.primary, {
    content_type: 'image/png',
    size_bytes: png.length,
    sha256: sha256(png),
    url: logoUrl('primary'),
  });
  assert.equal(put.json().logos.secondary, null);
  assert.deepEqual((await api('GET', `${url}/${brand.id}`)).json().logos, put.json().logos);

  const download = await api('GET', logoUrl('primary'));
  assert.equal(download.statusCode, 200);
  assert.equal(download.headers['content-type'], 'image/png');
  assert.equal(download.headers['x-content-type-options'], 'nosniff');
  assert.equal(download.headers['content-security-policy'], undefined);
  assert.ok(download.rawPayload.equals(png), 'the bytes come back unchanged');

  const row = await services.db
    .selectFrom('brand_logos')
    .selectAll()
    .where('brand_id', '=', brand.id)
    .executeTakeFirstOrThrow();
  assert.equal(row.kind, 'primary');
  assert.equal(row.sha256, sha256(png));
  assert.ok(row.content.equals(png));

  const refused = async (kind: string, body: Buffer | string, type: string, status: number, code: string) => {
    const res = await api('PUT', logoUrl(kind), body, { 'content-type': type });
    assert.equal(res.statusCode, status, res.body);
    assert.equal(res.json().error.code, code);
    return res.json().error.message as string;
  };
  // The declared type must match the magic bytes.
  assert.match(
    await refused('primary', JPEG, 'image/png', 422, 'invalid_logo'),
    /says image\/png.*is image\/jpeg/,
  );
  assert.match(
    await refused('primary', png, 'image/gif', 422, 'invalid_logo'),
    /says image\/gif.*is image\/png/,
  );
  assert.match(
    await refused('primary', Buffer.from('hello, not an image'), 'image/jpeg', 422, 'invalid_logo'),
    /not one/,
  );
  assert.match(await refused('primary', png, 'image/svg+xml', 422, 'invalid_logo'), /is image\/png/);
  assert.match(await refused('primary', Buffer.alloc(0), 'image/png', 422, 'invalid_logo'), /empty/);
  assert.match(await refused('primary', 'plain', 'text/plain', 415, 'unsupported_media_type'), /image\/png/);
  assert.match(
    await refused('primary', png, 'application/octet-stream', 415, 'unsupported_media_type'),
    /send the logo as the raw image: image\/png/,
  );
  assert.equal(
    (await api('PUT', logoUrl('primary'), { logo: 'x' })).json().error.code,
    'unsupported_media_type',
    'a JSON body is no logo',
  );
  assert.equal((await api('PUT', logoUrl('banner'), png, { 'content-type': 'image/png' })).statusCode, 400);
  // Only the logo routes take images.
  const elsewhere = await api('POST', '/api/accounts', png, { 'content-type': 'image/png' });
  assert.equal(elsewhere.statusCode, 415);
  assert.equal(elsewhere.json().error.code, 'unsupported_media_type');

  // SVG: accepted when it is plain drawing, served with a CSP; script in any form is refused.
  const svg = await api('PUT', logoUrl('email'), SVG, { 'content-type': 'image/svg+xml; charset=utf-8' });
  assert.equal(svg.statusCode, 200, svg.body);
  assert.equal(svg.json().logos.email.content_type, 'image/svg+xml');
  assert.equal(svg.json().logos.email.sha256, sha256(SVG));
  const svgDownload = await api('GET', logoUrl('email'));
  assert.equal(svgDownload.headers['content-type'], 'image/svg+xml');
  assert.equal(svgDownload.headers['x-content-type-options'], 'nosniff');
  assert.equal(
    svgDownload.headers['content-security-policy'],
    "default-src 'none'; style-src 'unsafe-inline'",
  );
  assert.equal(svgDownload.body, SVG);
  // The eSignature face serves the same file with the same headers (one helper, src/faces/logos.ts).
  const esignDownload = await api(
    'GET',
    `/restapi/v2.1/accounts/${tenant.accountId}/brands/${brand.id}/logos/email`,
  );
  assert.equal(esignDownload.statusCode, 200, esignDownload.body);
  for (const header of ['content-type', 'x-content-type-options', 'content-security-policy']) {
    assert.equal(esignDownload.headers[header], svgDownload.headers[header], header);
  }
  assert.equal(esignDownload.body, SVG);

  const xmlSvg = `<?xml version="1.0" encoding="UTF-8"?>\n${SVG}`;
  const okXml = await api('PUT', logoUrl('secondary'), xmlSvg, { 'content-type': 'image/svg+xml' });
  assert.equal(okXml.statusCode, 200, okXml.body);
  const malicious = [
    ['<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', /<script>/],
    ['<svg xmlns="http://www.w3.org/2000/svg"><SCRIPT>alert(1)</SCRIPT></svg>', /<script>/],
    ['<svg xmlns:s="http://www.w3.org/2000/svg"><s:script>alert(1)</s:script></svg>', /<script>/],
    ['<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>', /onload=/],
    ['<svg/onload=alert(1)>', /onload=/],
    ['<svg xmlns="http://www.w3.org/2000/svg"><rect width="1"onClick ="x()"/></svg>', /onClick=/],
    [
      '<svg xmlns="http://www.w3.org/2000/svg"><a href="javascript:alert(1)"><rect/></a></svg>',
      /javascript:/,
    ],
    ['<?xml version="1.0"?><html>no svg here</html>', /<svg/],
    ['<html><svg></svg></html>', /not one/],
  ] as const;
  for (const [body, message] of malicious) {
    const res = await api('PUT', logoUrl('secondary'), body, { 'content-type': 'image/svg+xml' });
    assert.equal(res.statusCode, 422, body);
    assert.equal(res.json().error.code, 'invalid_logo', body);
    assert.match(res.json().error.message, message, body);
  }
  // Nothing the refusals touched changed.
  const after = (await api('GET', `${url}/${brand.id}`)).json();
  assert.equal(after.logos.primary.sha256, sha256(png));
  assert.equal(after.logos.secondary.sha256, sha256(xmlSvg));
  assert.ok((await api('GET', logoUrl('primary'))).rawPayload.equals(png));

  // Replace, then delete.
  const replacement = tinyPng(200);
  const replaced = await api('PUT', logoUrl('primary'), replacement, { 'content-type': 'image/png' });
  assert.equal(replaced.json().logos.primary.size_bytes, 200);
  const del = await api('DELETE', logoUrl('primary'));
  assert.equal(del.statusCode, 204);
  assert.equal((await api('GET', logoUrl('primary'))).statusCode, 404);
  assert.equal((await api('DELETE', logoUrl('primary'))).statusCode, 404);
  assert.equal((await api('GET', `${url}/${brand.id}`)).json().logos.primary, null);

  // The audit log records what was stored (type, size, hash), never the bytes.
  const events = await auditOf(api, brand.id);
  const uploads = events.filter((e) => e.action === 'brand.logo_uploaded');
  assert.equal(uploads.length, 4); // primary, email, secondary, primary again
  assert.deepEqual(uploads[0].changes.logo, {
    before: null,
    after: { kind: 'primary', content_type: 'image/png', size_bytes: png.length, sha256: sha256(png) },
  });
  assert.equal(uploads[3].changes.logo.before.sha256, sha256(png));
  assert.equal(uploads[3].changes.logo.after.sha256, sha256(replacement));
  const deletion = events.find((e) => e.action === 'brand.logo_deleted');
  assert.deepEqual(deletion.changes.logo, {
    before: { kind: 'primary', content_type: 'image/png', size_bytes: 200, sha256: sha256(replacement) },
    after: null,
  });
  const everything = JSON.stringify(events);
  assert.ok(!everything.includes(png.toString('base64')) && !everything.includes(SVG), 'no logo bytes');

  // Deleting the brand takes its logos with it.
  assert.equal((await api('DELETE', `${url}/${brand.id}`)).statusCode, 204);
  const left = await services.db
    .selectFrom('brand_logos')
    .select('kind')
    .where('brand_id', '=', brand.id)
    .execute();
  assert.deepEqual(left, []);
});

test('brands: a logo over logoLimitBytes is refused with 413', async (t) => {
  const { app, services, config } = await buildApp(t, { logoLimitBytes: 2048 });
  const tenant = await createTenant(services, config);
  const api = as(app, tenant.key);
  const brand = (await api('POST', brandsUrl(tenant.accountId), { name: 'Small' })).json();
  const logoUrl = `${brandsUrl(tenant.accountId)}/${brand.id}/logos/primary`;

  const big = await api('PUT', logoUrl, tinyPng(2049), { 'content-type': 'image/png' });
  assert.equal(big.statusCode, 413, big.body);
  assert.equal(big.json().error.code, 'body_too_large');
  assert.equal((await api('GET', logoUrl)).statusCode, 404, 'nothing was stored');

  const fits = await api('PUT', logoUrl, tinyPng(2048), { 'content-type': 'image/png' });
  assert.equal(fits.statusCode, 200, fits.body);
  assert.equal(fits.json().logos.primary.size_bytes, 2048);
});

test('brands: another organization’s ids answer 404 and change nothing; members read but do not write', async (t) => {
  const built = await buildApp(t);
  const { app, services, config } = built;
  const a = await createTenant(services, config);
  const b = await createTenant(services, config);
  const apiA = as(app, a.key);
  const apiB = as(app, b.key);
  const urlA = brandsUrl(a.accountId);
  const brand = (await apiA('POST', urlA, { name: 'Mine', is_sending_default: true })).json();
  await apiA('PUT', `${urlA}/${brand.id}/logos/primary`, tinyPng(), { 'content-type': 'image/png' });
  const before = (await apiA('GET', `${urlA}/${brand.id}`)).json();

  const urlB = brandsUrl(b.accountId);
  const attempts: [string, string, unknown?, Record<string, string>?][] = [
    ['GET', urlA],
    ['POST', urlA, { name: 'Intruder', is_sending_default: true }],
    ['GET', `${urlA}/${brand.id}`],
    ['PATCH', `${urlA}/${brand.id}`, { name: 'Hijacked' }],
    ['DELETE', `${urlA}/${brand.id}`],
    ['GET', `${urlA}/${brand.id}/logos/primary`],
    ['PUT', `${urlA}/${brand.id}/logos/primary`, tinyPng(100), { 'content-type': 'image/png' }],
    ['DELETE', `${urlA}/${brand.id}/logos/primary`],
    // B's own account with A's brand id: still not found.
    ['GET', `${urlB}/${brand.id}`],
    ['PATCH', `${urlB}/${brand.id}`, { is_sending_default: true }],
    ['DELETE', `${urlB}/${brand.id}`],
    ['GET', `${urlB}/${brand.id}/logos/primary`],
    ['PUT', `${urlB}/${brand.id}/logos/primary`, tinyPng(100), { 'content-type': 'image/png' }],
  ];
  for (const [method, url, body, headers] of attempts) {
    const res = await apiB(method as any, url, body, headers);
    assert.equal(res.statusCode, 404, `${method} ${url}: ${res.body}`);
    assert.equal(res.json().error.code, 'not_found');
  }
  assert.deepEqual((await apiA('GET', `${urlA}/${brand.id}`)).json(), before, 'A’s brand is untouched');
  assert.equal((await apiA('GET', urlA)).json().data.length, 1);
  assert.deepEqual((await apiB('GET', urlB)).json().data, []);

  // A member whose profile does not grant manage_brands reads brands but cannot change them.
  const member = as(app, await memberKey(built, a));
  assert.equal((await member('GET', `${urlA}/${brand.id}`)).statusCode, 200);
  const denied = await member('PATCH', `${urlA}/${brand.id}`, { name: 'Renamed' });
  assert.equal(denied.statusCode, 403);
  assert.equal(denied.json().error.code, 'permission_denied');
  assert.equal(
    (await member('PUT', `${urlA}/${brand.id}/logos/email`, tinyPng(), { 'content-type': 'image/png' }))
      .statusCode,
    403,
  );
  assert.equal((await apiA('GET', `${urlA}/${brand.id}`)).json().name, 'Mine');
});
