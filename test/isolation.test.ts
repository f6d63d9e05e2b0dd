// Tenant isolation: organization A's owner key calls every route with organization B's ids. Each call must
// answer exactly as if the id did not exist (404 for ids in the path, 422 invalid_reference for ids in a
// body), and B's data must be byte-for-byte unchanged afterwards. The matrix is checked against the OpenAPI
// document, so a new route with an id in its path cannot be added without a row here.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'kysely';
import { PDFDocument } from 'pdf-lib';
import { newId } from '../src/core/ids.ts';
import { as, buildApp, createTenant, type Tenant, testDb } from './helper.ts';

const PNG = Buffer.from(
  '89504e470d0a1a0a0000000d4948445200000001000000010806000000' +
    '1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082',
  'hex',
);

interface World extends Tenant {
  userId: string;
  membershipId: string;
  profileId: number;
  groupId: number;
  brandId: string;
  keyId: string;
  ruleId: string;
  inviteId: string;
  domainId: string;
  importId: string;
  exportId: string;
  integrationId: string;
  secretId: string;
  rsaKeyId: string;
  consentId: string;
  webhookId: string;
  webhookDeliveryId: string;
  envelopeId: string;
  /** The PDF its envelope was made from, base64 (for bodies that make one). */
  pdfBase64: string;
  /** A connected account of the organization, a platform (docs/platform.md). */
  connectedId: string;
  connectedExternalId: string;
  /** A dashboard session of the owner (set by the test): the person's own routes take only a session. */
  session?: { id: string; headers: Record<string, string> };
}

async function populate(call: ReturnType<typeof as>, tenant: Tenant): Promise<World> {
  const profile = (
    await call('POST', `/api/accounts/${tenant.accountId}/permission_profiles`, {
      name: 'Ops',
      permissions: ['manage_users'],
    })
  ).json();
  const group = (await call('POST', `/api/accounts/${tenant.accountId}/groups`, { name: 'Finance' })).json();
  const user = (
    await call('POST', '/api/users', {
      email: 'victim@example.test',
      permission_profile_id: profile.id,
      group_ids: [group.id],
    })
  ).json();
  const brand = (await call('POST', `/api/accounts/${tenant.accountId}/brands`, { name: 'Blue' })).json();
  const logo = await call('PUT', `/api/accounts/${tenant.accountId}/brands/${brand.id}/logos/primary`, PNG, {
    'content-type': 'image/png',
  });
  assert.equal(logo.statusCode, 200, logo.body);
  await call('PATCH', `/api/accounts/${tenant.accountId}/settings`, { mfa_required: true });
  const key = (await call('POST', '/api/api_keys', { name: 'robot' })).json();
  const rule = (
    await call('POST', `/api/accounts/${tenant.accountId}/mapping_rules`, {
      name: 'Controllers',
      conditions: { job_title: { equals: 'Controller' } },
      permission_profile_id: profile.id,
      group_ids: [group.id],
    })
  ).json();
  const invite = (
    await call('POST', '/api/invites', {
      email: 'invitee@example.test',
      role: 'member',
      account_id: tenant.accountId,
    })
  ).json();
  const domain = (
    await call('POST', `/api/organizations/${tenant.organizationId}/domains`, {
      domain: `d${tenant.accountId.replace(/-/g, '').slice(-12)}.test`,
      auto_join: true,
      account_id: tenant.accountId,
    })
  ).json();
  // An import, written directly (creating one through the API needs the job queue's schema).
  const importId = newId();
  await testDb()
    .db.insertInto('imports')
    .values({
      id: importId,
      organization_id: tenant.organizationId,
      account_id: tenant.accountId,
      operation: 'add',
      status: 'completed',
      requestor: { kind: 'api_key', id: 'k', label: 'k' },
    })
    .execute();
  // An export, likewise written directly (completed, with its one chunk).
  const exportId = newId();
  await testDb()
    .db.insertInto('exports')
    .values({
      id: exportId,
      organization_id: tenant.organizationId,
      kind: 'users',
      format: 'csv',
      account_ids: null,
      status: 'completed',
      requestor: { kind: 'api_key', id: 'k', label: 'k' },
      next_seq: 1,
      expires_at: new Date(Date.now() + 3600_000),
    })
    .execute();
  await testDb()
    .db.insertInto('export_chunks')
    .values({ export_id: exportId, seq: 0, data: Buffer.from('AccountID\n') })
    .execute();
  const integration = (
    await call('POST', '/api/integrations', {
      name: 'HR sync',
      client_type: 'confidential',
      redirect_uris: ['https://app.example/cb'],
    })
  ).json();
  const rsaKey = (
    await call('POST', `/api/integrations/${integration.id}/rsa_keys`, { generate: true })
  ).json();
  const consent = (
    await call('POST', `/api/integrations/${integration.id}/consents`, { scopes: ['signature'] })
  ).json();
  const webhook = (
    await call('POST', '/api/webhook_endpoints', {
      account_id: tenant.accountId,
      url: 'https://hooks.example/signet',
      events: ['*'],
    })
  ).json();
  const webhookTest = (await call('POST', `/api/webhook_endpoints/${webhook.id}/test`)).json();
  const pdf = await PDFDocument.create();
  pdf.addPage();
  const envelope = (
    await call('POST', '/api/envelope', {
      document: Buffer.from(await pdf.save()).toString('base64'),
      parties: [{ email: 'party@example.test', name: 'Party' }],
    })
  ).json();
  assert.equal((await call('POST', '/api/platform', { enabled: true })).statusCode, 200);
  const connected = (
    await call('POST', '/api/platform/connected-accounts', {
      external_id: `iso-${tenant.organizationId}`,
      name: 'Customer',
    })
  ).json();
  for (const [name, value] of Object.entries({
    webhook,
    envelope,
    profile,
    group,
    user,
    brand,
    key,
    rule,
    invite,
    domain,
    integration,
    rsaKey,
    consent,
    connected,
  })) {
    assert.ok(value.id, `${name} was created: ${JSON.stringify(value)}`);
  }
  assert.ok(webhookTest.delivery_id, `webhook test event: ${JSON.stringify(webhookTest)}`);
  return {
    ...tenant,
    userId: user.id,
    membershipId: user.memberships[0].id,
    profileId: profile.id,
    groupId: group.id,
    brandId: brand.id,
    keyId: key.id,
    ruleId: rule.id,
    inviteId: invite.id,
    domainId: domain.id,
    importId,
    exportId,
    integrationId: integration.id,
    secretId: integration.secrets[0].id,
    rsaKeyId: rsaKey.id,
    consentId: consent.id,
    webhookId: webhook.id,
    webhookDeliveryId: webhookTest.delivery_id,
    envelopeId: envelope.id,
    pdfBase64: Buffer.from(await pdf.save()).toString('base64'),
    connectedId: connected.id,
    connectedExternalId: connected.external_id,
  };
}

/** Everything organization B owns, as one comparable value. */
async function snapshot(orgId: string): Promise<unknown> {
  const db = testDb().db;
  const rows = async (
    table:
      | 'organizations'
      | 'accounts'
      | 'users'
      | 'memberships'
      | 'permission_profiles'
      | 'groups'
      | 'brands'
      | 'account_settings'
      | 'api_keys'
      | 'mapping_rules'
      | 'imports'
      | 'exports'
      | 'invites'
      | 'organization_domains'
      | 'sessions'
      | 'user_tokens'
      | 'outbox_mail'
      | 'integrations'
      | 'oauth_consents'
      | 'webhook_endpoints'
      | 'envelopes'
      | 'credit_entries',
    column = 'organization_id',
  ) =>
    (
      await sql`SELECT to_jsonb(t) AS r FROM ${sql.table(table)} t WHERE ${sql.ref(column)} = ${orgId} ORDER BY 1::text`.execute(
        db,
      )
    ).rows;
  return {
    organizations: await rows('organizations', 'id'),
    connectedAccounts: await rows('organizations', 'platform_organization_id'),
    accounts: await rows('accounts'),
    users: await rows('users'),
    memberships: await rows('memberships'),
    profiles: await rows('permission_profiles'),
    groups: await rows('groups'),
    brands: await rows('brands'),
    settings: await rows('account_settings'),
    keys: await rows('api_keys'),
    mappingRules: await rows('mapping_rules'),
    imports: await rows('imports'),
    exports: await rows('exports'),
    invites: await rows('invites'),
    domains: await rows('organization_domains'),
    sessions: await rows('sessions'),
    userTokens: await rows('user_tokens'),
    mail: await rows('outbox_mail'),
    integrations: await rows('integrations'),
    consents: await rows('oauth_consents'),
    webhooks: await rows('webhook_endpoints'),
    envelopes: await rows('envelopes'),
    credits: await rows('credit_entries'),
    envelopeChildren: (
      await sql`SELECT to_jsonb(p) AS r FROM envelope_parties p WHERE p.organization_id = ${orgId}
                UNION ALL
                SELECT to_jsonb(e) FROM envelope_events e WHERE e.organization_id = ${orgId} ORDER BY 1`.execute(
        db,
      )
    ).rows,
    integrationCredentials: (
      await sql`SELECT to_jsonb(s) AS r FROM integration_secrets s JOIN integrations i ON i.id = s.integration_id
                WHERE i.organization_id = ${orgId}
                UNION ALL
                SELECT to_jsonb(k) FROM integration_rsa_keys k JOIN integrations i ON i.id = k.integration_id
                WHERE i.organization_id = ${orgId} ORDER BY 1`.execute(db)
    ).rows,
    webhookDeliveries: (
      await sql`SELECT to_jsonb(d) AS r FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
                WHERE e.organization_id = ${orgId}
                UNION ALL
                SELECT to_jsonb(s) FROM webhook_secrets s JOIN webhook_endpoints e ON e.id = s.endpoint_id
                WHERE e.organization_id = ${orgId} ORDER BY 1`.execute(db)
    ).rows,
    mappingRuleGroups: (
      await sql`SELECT rg.rule_id, rg.group_id FROM mapping_rule_groups rg JOIN mapping_rules r ON r.id = rg.rule_id
                WHERE r.organization_id = ${orgId} ORDER BY 1, 2`.execute(db)
    ).rows,
    groupMembers: (
      await sql`SELECT gm.group_id, gm.user_id FROM group_members gm JOIN groups g ON g.id = gm.group_id
                WHERE g.organization_id = ${orgId} ORDER BY 1, 2`.execute(db)
    ).rows,
    logos: (
      await sql`SELECT l.brand_id, l.kind, l.sha256 FROM brand_logos l JOIN brands b ON b.id = l.brand_id
                WHERE b.organization_id = ${orgId} ORDER BY 1, 2`.execute(db)
    ).rows,
    audit: (
      await sql`SELECT last_seq, last_hash FROM audit_heads WHERE organization_id = ${orgId}`.execute(db)
    ).rows,
  };
}

type Row = [method: string, path: string, body?: unknown, headers?: Record<string, string>];

/** A valid mapping rule body, in the world's own account. */
const rule = (w: World) => ({
  name: 'Rule',
  conditions: { company: { matches: '*' } },
  permission_profile_id: w.profileId,
});

function matrix(a: World, b: World): { path: Row[]; body: Row[] } {
  const acct = `/api/accounts/${b.accountId}`;
  // Paths mixing A's own account with B's objects must fail too: the object is checked against the account.
  const mixed = `/api/accounts/${a.accountId}`;
  const png = { 'content-type': 'image/png' };
  return {
    path: [
      ['GET', `/api/organizations/${b.organizationId}`],
      ['PATCH', `/api/organizations/${b.organizationId}`, { name: 'pwned' }],
      ['GET', `/api/accounts/${b.accountId}`],
      ['PATCH', `/api/accounts/${b.accountId}`, { name: 'pwned' }],
      ['GET', `/api/users/${b.userId}`],
      ['PATCH', `/api/users/${b.userId}`, { first_name: 'pwned' }],
      ['POST', `/api/users/${b.userId}/deactivate`],
      ['POST', `/api/users/${b.userId}/reactivate`],
      ['GET', `/api/users/${b.userId}/memberships`],
      ['POST', `/api/users/${b.userId}/memberships`, { account_id: a.accountId }],
      ['PATCH', `/api/users/${b.userId}/memberships/${b.membershipId}`, { status: 'closed' }],
      ['PATCH', `/api/users/${a.userId}/memberships/${b.membershipId}`, { status: 'closed' }],
      ['DELETE', `/api/api_keys/${b.keyId}`],
      ['POST', `/api/api_keys/${b.keyId}/rotate`, {}],
      ['GET', `${acct}/permission_profiles`],
      ['POST', `${acct}/permission_profiles`, { name: 'pwned', permissions: [] }],
      ['GET', `${acct}/permission_profiles/${b.profileId}`],
      ['PATCH', `${acct}/permission_profiles/${b.profileId}`, { name: 'pwned' }],
      ['DELETE', `${acct}/permission_profiles/${b.profileId}`],
      ['GET', `${mixed}/permission_profiles/${b.profileId}`],
      ['PATCH', `${mixed}/permission_profiles/${b.profileId}`, { name: 'pwned' }],
      ['DELETE', `${mixed}/permission_profiles/${b.profileId}`],
      ['GET', `${acct}/groups`],
      ['POST', `${acct}/groups`, { name: 'pwned' }],
      ['GET', `${acct}/groups/${b.groupId}`],
      ['PATCH', `${acct}/groups/${b.groupId}`, { name: 'pwned' }],
      ['DELETE', `${acct}/groups/${b.groupId}`],
      ['GET', `${acct}/groups/${b.groupId}/members`],
      ['POST', `${acct}/groups/${b.groupId}/members`, { user_ids: [b.userId] }],
      ['DELETE', `${acct}/groups/${b.groupId}/members`, { user_ids: [b.userId] }],
      ['GET', `${mixed}/groups/${b.groupId}`],
      ['PATCH', `${mixed}/groups/${b.groupId}`, { name: 'pwned' }],
      ['DELETE', `${mixed}/groups/${b.groupId}`],
      ['GET', `${mixed}/groups/${b.groupId}/members`],
      ['POST', `${mixed}/groups/${b.groupId}/members`, { user_ids: [a.userId] }],
      ['DELETE', `${mixed}/groups/${b.groupId}/members`, { user_ids: [b.userId] }],
      ['GET', `${acct}/brands`],
      ['POST', `${acct}/brands`, { name: 'pwned' }],
      ['GET', `${acct}/brands/${b.brandId}`],
      ['PATCH', `${acct}/brands/${b.brandId}`, { name: 'pwned' }],
      ['DELETE', `${acct}/brands/${b.brandId}`],
      ['GET', `${acct}/brands/${b.brandId}/logos/primary`],
      ['PUT', `${acct}/brands/${b.brandId}/logos/primary`, PNG, png],
      ['DELETE', `${acct}/brands/${b.brandId}/logos/primary`],
      ['GET', `${mixed}/brands/${b.brandId}`],
      ['PATCH', `${mixed}/brands/${b.brandId}`, { name: 'pwned' }],
      ['DELETE', `${mixed}/brands/${b.brandId}`],
      ['GET', `${mixed}/brands/${b.brandId}/logos/primary`],
      ['PUT', `${mixed}/brands/${b.brandId}/logos/primary`, PNG, png],
      ['DELETE', `${mixed}/brands/${b.brandId}/logos/primary`],
      ['GET', `${acct}/settings`],
      ['PATCH', `${acct}/settings`, { mfa_required: false }],
      ['GET', `${acct}/mapping_rules`],
      ['POST', `${acct}/mapping_rules`, { ...rule(b), name: 'pwned' }],
      ['GET', `${acct}/mapping_rules/${b.ruleId}`],
      ['PATCH', `${acct}/mapping_rules/${b.ruleId}`, { name: 'pwned' }],
      ['DELETE', `${acct}/mapping_rules/${b.ruleId}`],
      ['POST', `${acct}/mapping_rules/reorder`, { rule_ids: [b.ruleId] }],
      ['GET', `${mixed}/mapping_rules/${b.ruleId}`],
      ['PATCH', `${mixed}/mapping_rules/${b.ruleId}`, { name: 'pwned' }],
      ['DELETE', `${mixed}/mapping_rules/${b.ruleId}`],
      ['GET', `/api/imports/${b.importId}`],
      ['GET', `/api/imports/${b.importId}/rows`],
      ['GET', `/api/imports/${b.importId}/results.csv`],
      ['POST', `/api/imports/${b.importId}/cancel`],
      ['GET', `/api/exports/${b.exportId}`],
      ['GET', `/api/exports/${b.exportId}/download`],
      ['DELETE', `/api/exports/${b.exportId}`],
      ['GET', `/api/invites/${b.inviteId}`],
      ['POST', `/api/invites/${b.inviteId}/resend`],
      ['DELETE', `/api/invites/${b.inviteId}`],
      ['GET', `/api/organizations/${b.organizationId}/domains`],
      [
        'POST',
        `/api/organizations/${b.organizationId}/domains`,
        { domain: 'pwned.test', auto_join: true, account_id: a.accountId },
      ],
      ['POST', `/api/organizations/${b.organizationId}/domains/${b.domainId}/verify`],
      ['POST', `/api/organizations/${a.organizationId}/domains/${b.domainId}/verify`],
      ['DELETE', `/api/organizations/${b.organizationId}/domains/${b.domainId}`],
      ['DELETE', `/api/organizations/${a.organizationId}/domains/${b.domainId}`],
      ['POST', `/api/users/${b.userId}/password_reset`],
      ['DELETE', `/api/users/${b.userId}/mfa`],
      // A's owner, signed in, ends a session of B's owner: not one of theirs.
      ['DELETE', `/api/me/sessions/${b.session!.id}`, undefined, a.session!.headers],
      ['GET', `/api/integrations/${b.integrationId}`],
      ['PATCH', `/api/integrations/${b.integrationId}`, { name: 'pwned' }],
      ['DELETE', `/api/integrations/${b.integrationId}`],
      ['POST', `/api/integrations/${b.integrationId}/secrets`, {}],
      ['DELETE', `/api/integrations/${b.integrationId}/secrets/${b.secretId}`],
      ['DELETE', `/api/integrations/${a.integrationId}/secrets/${b.secretId}`],
      ['POST', `/api/integrations/${b.integrationId}/rsa_keys`, { generate: true }],
      ['DELETE', `/api/integrations/${b.integrationId}/rsa_keys/${b.rsaKeyId}`],
      ['DELETE', `/api/integrations/${a.integrationId}/rsa_keys/${b.rsaKeyId}`],
      ['GET', `/api/integrations/${b.integrationId}/consents`],
      ['POST', `/api/integrations/${b.integrationId}/consents`, { scopes: ['signature'] }],
      ['DELETE', `/api/integrations/${b.integrationId}/consents/${b.consentId}`],
      ['DELETE', `/api/integrations/${a.integrationId}/consents/${b.consentId}`],
      ['GET', `/api/webhook_endpoints/${b.webhookId}`],
      ['PATCH', `/api/webhook_endpoints/${b.webhookId}`, { description: 'pwned' }],
      ['DELETE', `/api/webhook_endpoints/${b.webhookId}`],
      ['POST', `/api/webhook_endpoints/${b.webhookId}/rotate_secret`, {}],
      ['GET', `/api/webhook_endpoints/${b.webhookId}/deliveries`],
      ['POST', `/api/webhook_endpoints/${b.webhookId}/test`],
      ['POST', `/api/webhook_endpoints/${b.webhookId}/deliveries/${b.webhookDeliveryId}/redeliver`],
      ['POST', `/api/webhook_endpoints/${a.webhookId}/deliveries/${b.webhookDeliveryId}/redeliver`],
      ['POST', `/api/webhook_endpoints/${b.webhookId}/replay`, { since: '2020-01-01T00:00:00Z' }],
      ['GET', `/api/envelope/${b.envelopeId}`],
      ['GET', `/api/envelope/${b.envelopeId}/status`],
      ['GET', `/api/envelope/${b.envelopeId}/pdf`],
      ['GET', `/api/envelope/${b.envelopeId}/events`],
      ['POST', `/api/envelope/${b.envelopeId}/send`],
      ['POST', `/api/envelope/${b.envelopeId}/void`, {}],
      ['POST', `/api/envelope/${b.envelopeId}/decline`, {}],
      ['POST', `/api/envelope/${b.envelopeId}/remind`],
      ['GET', `/api/envelope/${b.envelopeId}/webhook_deliveries`],
      ['GET', `/api/accounts/${b.accountId}/webhook_secret`],
      ['POST', `/api/accounts/${b.accountId}/webhook_secret`],
      ['GET', `/api/platform/connected-accounts/${b.connectedId}`],
      ['PATCH', `/api/platform/connected-accounts/${b.connectedId}`, { status: 'suspended' }],
      // By B's external id: A's platform has no account of that external id.
      ['GET', `/api/platform/connected-accounts/ext_${b.connectedExternalId}`],
    ],
    // Ids of B's objects inside a body: refused exactly like ids that do not exist.
    body: [
      ['POST', '/api/users', { email: 'x1@example.test', account_id: b.accountId }],
      [
        'POST',
        '/api/webhook_endpoints',
        { account_id: b.accountId, url: 'https://hooks.example/pwned', events: ['*'] },
      ],
      ['POST', '/api/users', { email: 'x2@example.test', permission_profile_id: b.profileId }],
      ['POST', '/api/users', { email: 'x3@example.test', group_ids: [b.groupId] }],
      ['POST', `/api/users/${a.userId}/memberships`, { account_id: b.accountId }],
      [
        'PATCH',
        `/api/users/${a.userId}/memberships/${a.membershipId}`,
        { permission_profile_id: b.profileId },
      ],
      ['POST', `/api/accounts/${a.accountId}/groups/${a.groupId}/members`, { user_ids: [b.userId] }],
      [
        'DELETE',
        `/api/accounts/${a.accountId}/permission_profiles/${a.profileId}?move_users_to=${b.profileId}`,
      ],
      ['POST', '/api/api_keys', { name: 'x', account_id: b.accountId }],
      [
        'POST',
        '/api/envelope',
        {
          account_id: b.accountId,
          document: a.pdfBase64,
          parties: [{ email: 'x@example.test', name: 'X' }],
        },
      ],
      ['POST', `${mixed}/mapping_rules`, { ...rule(a), permission_profile_id: b.profileId }],
      ['POST', `${mixed}/mapping_rules`, { ...rule(a), group_ids: [b.groupId] }],
      ['PATCH', `${mixed}/mapping_rules/${a.ruleId}`, { permission_profile_id: b.profileId }],
      ['PATCH', `${mixed}/mapping_rules/${a.ruleId}`, { group_ids: [a.groupId, b.groupId] }],
      ['POST', `${mixed}/mapping_rules/reorder`, { rule_ids: [a.ruleId, b.ruleId] }],
      ['POST', '/api/mapping_rules/test', { account_id: b.accountId, job_title: 'Controller' }],
      ['POST', '/api/exports', { kind: 'users', account_ids: [b.accountId] }],
      ['POST', '/api/exports', { kind: 'account_settings', account_ids: [a.accountId, b.accountId] }],
      ['POST', '/api/invites', { email: 'x9@example.test', role: 'member', account_id: b.accountId }],
      [
        'POST',
        '/api/invites',
        {
          email: 'x9@example.test',
          role: 'member',
          account_id: a.accountId,
          permission_profile_id: b.profileId,
        },
      ],
      [
        'POST',
        '/api/invites',
        { email: 'x9@example.test', role: 'member', account_id: a.accountId, group_ids: [b.groupId] },
      ],
      [
        'POST',
        `/api/organizations/${a.organizationId}/domains`,
        { domain: 'x9-iso.test', auto_join: false, account_id: b.accountId },
      ],
      [
        'POST',
        `/api/organizations/${a.organizationId}/domains`,
        {
          domain: 'x9-iso.test',
          auto_join: false,
          account_id: a.accountId,
          permission_profile_id: b.profileId,
        },
      ],
      ['POST', `/api/integrations/${a.integrationId}/consents`, { scopes: ['signature'], user_id: b.userId }],
    ],
  };
}

test('tenant isolation: every route with another organization’s ids answers as if they did not exist, and changes nothing', async (t) => {
  const { app, services, config } = await buildApp(t);
  const ta = await createTenant(services, config);
  const tb = await createTenant(services, config);
  const A = await populate(as(app, ta.key), ta);
  const B = await populate(as(app, tb.key), tb);
  // Each owner signed in. The worlds' account requires two-step verification (mfa_required above): A's owner
  // has enrolled (written here as enrolment leaves it), so their session reaches the API.
  await sql`UPDATE users SET totp_secret = 'JBSWY3DPEHPK3PXP', totp_enabled_at = now() WHERE id = ${A.ownerId}`.execute(
    testDb().db,
  );
  for (const w of [A, B]) {
    const s = await services.sessions.create(
      testDb().db,
      { id: w.ownerId, organization_id: w.organizationId },
      {},
    );
    w.session = {
      id: s.id,
      headers: { authorization: '', cookie: `signet_session=${s.token}`, 'x-csrf-token': s.csrfToken },
    };
  }
  const callA = as(app, A.key);
  // B's own key use while populating is written in batches by a timer; write it now, so a flush landing
  // between the two snapshots is not mistaken for a change made by A.
  await services.apiKeys.flushUsage();
  const before = await snapshot(B.organizationId);

  const { path, body } = matrix(A, B);
  for (const [method, url, payload, headers] of path) {
    const res = await callA(method as never, url, payload, headers);
    assert.equal(res.statusCode, 404, `${method} ${url} → ${res.statusCode} ${res.body}`);
    assert.equal(res.json().error.code, 'not_found', `${method} ${url}`);
    assert.ok(
      !res.body.includes(B.organizationId) || url.includes(B.organizationId),
      'no foreign data leaks',
    );
  }
  for (const [method, url, payload] of body) {
    const res = await callA(method as never, url, payload);
    assert.equal(
      res.statusCode,
      422,
      `${method} ${url} ${JSON.stringify(payload)} → ${res.statusCode} ${res.body}`,
    );
    assert.ok(
      ['invalid_reference', 'user_not_in_account'].includes(res.json().error.code),
      `${method} ${url}: ${res.body}`,
    );
  }

  // Lists filtered by B's ids come back empty, not with B's rows.
  for (const url of [
    `/api/users?account_id=${B.accountId}`,
    `/api/users?group_id=${B.groupId}`,
    `/api/users?permission_profile_id=${B.profileId}`,
    `/api/users?email=victim@example.test&account_id=${B.accountId}`,
    `/api/audit_events?target_id=${B.userId}`,
    `/api/envelopes?account_id=${B.accountId}`,
  ]) {
    const res = await callA('GET', url);
    assert.equal(res.statusCode, 200, url);
    assert.deepEqual(res.json().data, [], url);
  }
  // A's own lists never include B's rows.
  const own = JSON.stringify([
    (await callA('GET', '/api/users?limit=500')).json(),
    (await callA('GET', '/api/accounts')).json(),
    (await callA('GET', '/api/api_keys')).json(),
    (await callA('GET', '/api/audit_events?limit=500')).json(),
    (await callA('GET', '/api/invites?limit=500')).json(),
    (await callA('GET', `/api/organizations/${A.organizationId}/domains`)).json(),
    (await callA('GET', '/api/exports?limit=500')).json(),
    (await callA('GET', '/api/integrations?limit=500')).json(),
    (await callA('GET', '/api/envelopes?limit=500')).json(),
    (await callA('GET', '/api/credits')).json(),
  ]);
  for (const id of [
    B.organizationId,
    B.accountId,
    B.userId,
    B.keyId,
    B.brandId,
    B.inviteId,
    B.domainId,
    B.exportId,
    B.integrationId,
    B.envelopeId,
  ])
    assert.ok(!own.includes(id), id);

  assert.deepEqual(await snapshot(B.organizationId), before, "organization B's data is unchanged");
  assert.equal((await services.audit.verify(B.organizationId)).ok, true);

  // Completeness: every /api route with an id in its path has a row above.
  const doc = (await app.inject('/openapi.json')).json();
  const covered = new Set(
    path.map(
      ([method, url]) =>
        `${method} ${url
          .split('?')[0]!
          .replace(/\/api/, '')
          .replace(/\/[0-9a-f-]{36}|\/\d+(?=\/|$)/g, '/{}')
          .replace(/\/(primary)$/, '/{}')}`,
    ),
  );
  const missing: string[] = [];
  for (const [p, ops] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
    if (!p.startsWith('/api/') || !p.includes('{')) continue;
    for (const method of Object.keys(ops)) {
      const key = `${method.toUpperCase()} ${p.replace(/^\/api/, '').replace(/\{[^}]+\}/g, '{}')}`;
      if (!covered.has(key)) missing.push(key);
    }
  }
  assert.deepEqual(missing, [], 'routes with ids missing from the isolation matrix');
});
