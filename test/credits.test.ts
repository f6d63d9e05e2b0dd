// Who pays and who grants (docs/platform.md, "Billing modes", "Credits", "Suspension"): a connected account's
// send debits the platform's pool (platform_pays) or its own (child_pays), a void refunds the pool that paid
// even after the mode changed, a suspended account's send is 403 and debits nothing; POST /api/credits/grants
// (owners and admins of a platform, to its own connected accounts only), initial_credits at creation (once),
// and `signet credits grant`, the operator's way.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { systemPrincipal } from '../src/core/principal.ts';
import { runSignet } from './cli-helper.ts';
import { makePdf, parties } from './envelope-helper.ts';
import { as, buildApp, type Caller, createTenant, testDb, testDbUrl, unique } from './helper.ts';
import { auditActions, connect, platformOf } from './platform-helper.ts';

async function balance(call: Caller): Promise<number> {
  const res = await call('GET', '/api/credits');
  assert.equal(res.statusCode, 200, res.body);
  return res.json().balance;
}

async function draft(call: Caller): Promise<string> {
  const pdf = await makePdf(1);
  const res = await call('POST', '/api/envelope', { document: pdf.toString('base64'), parties: parties(1) });
  assert.equal(res.statusCode, 201, res.body);
  return res.json().id;
}

test('billing modes: platform_pays debits the platform, child_pays the account; a void refunds the pool that paid', async (t) => {
  const { app, services, config } = await buildApp(t);
  const tp = await createTenant(services, config);
  const P = await platformOf(app, services, tp);
  const pays = await connect(P.caller);
  const own = await connect(P.caller, unique('own'), { billing_mode: 'child_pays', initial_credits: 2 });
  const asPays = P.actingFor(`ext_${pays.external_id}`);
  const asOwn = P.actingFor(own.id);
  const grant = await P.caller('POST', '/api/credits/grants', {
    organization_id: tp.organizationId,
    amount: 1,
    reason: 'x',
  });
  assert.equal(grant.statusCode, 404, 'a platform does not grant to itself');
  await services.credits.grant(
    { principal: systemPrincipal(tp.organizationId, 'test'), meta: {} },
    { organization_id: tp.organizationId, amount: 3, reason: 'the platform buys credits' },
  );

  // platform_pays: the connected account's send costs the platform, not the account.
  const e1 = await draft(asPays);
  const sent1 = await asPays('POST', `/api/envelope/${e1}/send`);
  assert.equal(sent1.statusCode, 200, sent1.body);
  assert.equal(sent1.json().payer_organization_id, tp.organizationId);
  assert.equal(await balance(P.caller), 2);
  assert.equal(await balance(asPays), 0);
  const debit = (await P.caller('GET', '/api/credits')).json().data[0];
  assert.equal(debit.kind, 'send');
  assert.equal(debit.envelope_id, e1);
  assert.equal(debit.envelope_organization_id, pays.id, "the platform's ledger names whose envelope it paid");
  assert.equal((await asPays('GET', '/api/credits')).json().data.length, 0, 'nothing in the account’s own');

  // child_pays: its own pool; the platform's is untouched.
  const e2 = await draft(asOwn);
  const sent2 = await asOwn('POST', `/api/envelope/${e2}/send`);
  assert.equal(sent2.statusCode, 200, sent2.body);
  assert.equal(sent2.json().payer_organization_id, own.id);
  assert.equal(await balance(asOwn), 1);
  assert.equal(await balance(P.caller), 2);

  // The mode changes after the send: the void's refund still goes to the pool that paid.
  const patched = await P.caller('PATCH', `/api/platform/connected-accounts/${pays.id}`, {
    billing_mode: 'child_pays',
  });
  assert.equal(patched.statusCode, 200, patched.body);
  const voided = await asPays('POST', `/api/envelope/${e1}/void`);
  assert.equal(voided.json().refunded, true, voided.body);
  assert.equal(await balance(P.caller), 3);
  assert.equal(await balance(asPays), 0);
  const refund = (await P.caller('GET', '/api/credits')).json().data[0];
  assert.deepEqual([refund.kind, refund.amount, refund.envelope_id], ['refund', 1, e1]);

  // Now child_pays with an empty pool: 402 names the account's pool, and nothing is debited anywhere.
  const e3 = await draft(asPays);
  const broke = await asPays('POST', `/api/envelope/${e3}/send`);
  assert.equal(broke.statusCode, 402, broke.body);
  assert.equal(broke.json().error.details[0].organization_id, pays.id);
  assert.equal(await balance(P.caller), 3);

  // An organization that is not a connected account pays for itself.
  const e4 = await draft(P.caller);
  const sent4 = await P.caller('POST', `/api/envelope/${e4}/send`);
  assert.equal(sent4.json().payer_organization_id, tp.organizationId, sent4.body);
  assert.equal(await balance(P.caller), 2);
});

test('suspension: a send is 403 connected_account_suspended and debits nothing; drafts still work', async (t) => {
  const { app, services, config } = await buildApp(t);
  const tp = await createTenant(services, config);
  const P = await platformOf(app, services, tp);
  const c = await connect(P.caller, unique('susp'), { billing_mode: 'child_pays', initial_credits: 1 });
  const asC = P.actingFor(c.id);
  await P.caller('PATCH', `/api/platform/connected-accounts/${c.id}`, { status: 'suspended' });

  const id = await draft(asC);
  const refused = await asC('POST', `/api/envelope/${id}/send`);
  assert.equal(refused.statusCode, 403, refused.body);
  assert.deepEqual(refused.json(), {
    error: {
      code: 'connected_account_suspended',
      message:
        `connected account ${c.id} is suspended, so it cannot send an envelope; drafts and reads still work. ` +
        'Its platform reactivates it with PATCH /api/platform/connected-accounts/{id} {"status": "active"}',
      details: [{ message: 'the connected account is suspended', organization_id: c.id }],
    },
  });
  assert.equal((await asC('GET', `/api/envelope/${id}`)).json().status, 'draft');
  assert.equal(await balance(asC), 1, 'nothing debited');

  // platform_pays too: the platform's pool is not touched by a suspended account.
  await P.caller('PATCH', `/api/platform/connected-accounts/${c.id}`, { billing_mode: 'platform_pays' });
  await services.credits.grant(
    { principal: systemPrincipal(tp.organizationId, 'test'), meta: {} },
    { organization_id: tp.organizationId, amount: 1, reason: 'x' },
  );
  assert.equal((await asC('POST', `/api/envelope/${id}/send`)).statusCode, 403);
  assert.equal(await balance(P.caller), 1);

  await P.caller('PATCH', `/api/platform/connected-accounts/${c.id}`, { status: 'active' });
  const sent = await asC('POST', `/api/envelope/${id}/send`);
  assert.equal(sent.statusCode, 200, sent.body);
  assert.equal(await balance(P.caller), 0);
});

test('grants: a platform’s owners and admins grant to its own connected accounts, and to nothing else', async (t) => {
  const { app, services, config } = await buildApp(t);
  const tp = await createTenant(services, config);
  const P = await platformOf(app, services, tp);
  const c1 = await connect(P.caller);
  const c2 = await connect(P.caller);
  const other = await platformOf(app, services, await createTenant(services, config));
  const foreign = await connect(other.caller);

  const ok = await P.caller(
    'POST',
    '/api/credits/grants',
    { organization_id: `ext_${c1.external_id}`, amount: 10, reason: 'March plan' },
    { 'idempotency-key': 'grant-1' },
  );
  assert.equal(ok.statusCode, 201, ok.body);
  const entry = ok.json();
  assert.equal(entry.organization_id, c1.id);
  assert.equal(entry.kind, 'grant');
  assert.equal(entry.amount, 10);
  assert.equal(entry.balance, 10);
  assert.equal(entry.reason, 'March plan');
  assert.equal(entry.actor.type, 'api_key');
  // The same Idempotency-Key replays the answer and grants nothing more.
  const replay = await P.caller(
    'POST',
    '/api/credits/grants',
    { organization_id: `ext_${c1.external_id}`, amount: 10, reason: 'March plan' },
    { 'idempotency-key': 'grant-1' },
  );
  assert.equal(replay.statusCode, 201);
  assert.equal(replay.json().id, entry.id);
  const ledger = (await P.actingFor(c1.id)('GET', '/api/credits')).json();
  assert.equal(ledger.balance, 10);
  assert.equal(ledger.data.length, 1);
  // Audited in the platform's chain and in the account's own.
  assert.ok((await auditActions(tp.organizationId)).includes('credits.granted'), 'platform chain');
  assert.ok((await auditActions(c1.id)).includes('credits.granted'), 'connected account chain');

  // An admin's key grants too (by the raw id); a member's does not (403 before anything is read).
  const admin = await P.owner('POST', '/api/users', { email: `${unique('a')}@example.test`, role: 'admin' });
  const adminKey = await services.apiKeys.create(
    { principal: systemPrincipal(tp.organizationId, 'test'), meta: {} },
    { name: 'admin', account_id: tp.accountId, created_by: admin.json().id, role: 'admin' },
  );
  const byAdmin = await as(app, adminKey.key)('POST', '/api/credits/grants', {
    organization_id: c2.id,
    amount: 1,
    reason: 'trial',
  });
  assert.equal(byAdmin.statusCode, 201, byAdmin.body);
  const member = await P.owner('POST', '/api/users', { email: `${unique('m')}@example.test` });
  const memberKey = await services.apiKeys.create(
    { principal: systemPrincipal(tp.organizationId, 'test'), meta: {} },
    { name: 'member', account_id: tp.accountId, created_by: member.json().id, role: 'member' },
  );
  const byMember = await as(app, memberKey.key)('POST', '/api/credits/grants', {
    organization_id: c2.id,
    amount: 1,
    reason: 'x',
  });
  assert.equal(byMember.statusCode, 403, byMember.body);
  assert.equal(byMember.json().error.code, 'permission_denied');

  // Another platform's account, an unknown one, the platform itself: 404 alike, and nothing granted.
  for (const ref of [foreign.id, `ext_${foreign.external_id}`, tp.organizationId, `ext_${unique('nope')}`]) {
    const res = await P.caller('POST', '/api/credits/grants', {
      organization_id: ref,
      amount: 5,
      reason: 'x',
    });
    assert.equal(res.statusCode, 404, `${ref}: ${res.body}`);
    assert.equal(res.json().error.code, 'not_found');
  }
  assert.equal((await other.actingFor(foreign.id)('GET', '/api/credits')).json().balance, 0);
  // Acting for a connected account (Atlas-Account), a platform key cannot grant: grants are the platform's.
  const scoped = await P.actingFor(c1.id)('POST', '/api/credits/grants', {
    organization_id: c1.id,
    amount: 5,
    reason: 'x',
  });
  assert.equal(scoped.statusCode, 400, scoped.body);
  assert.equal(scoped.json().error.code, 'invalid_request');

  // A connected account's own owner key grants neither to itself nor to its sibling: it is no platform.
  const owner = await P.actingFor(c1.id)('POST', '/api/users', {
    email: `${unique('own')}@example.test`,
    role: 'owner',
  });
  const ownKey = await services.apiKeys.create(
    { principal: systemPrincipal(c1.id, 'test'), meta: {} },
    { name: 'c1 own', account_id: c1.account_id, created_by: owner.json().id },
  );
  for (const ref of [c1.id, c2.id]) {
    const res = await as(app, ownKey.key)('POST', '/api/credits/grants', {
      organization_id: ref,
      amount: 5,
      reason: 'x',
    });
    assert.equal(res.statusCode, 403, res.body);
    assert.equal(res.json().error.code, 'platform_not_enabled');
  }
  assert.equal(await balance(P.actingFor(c1.id)), 10);
  assert.equal(await balance(P.actingFor(c2.id)), 1);

  // Bad input: 400 with the field, never a partial grant.
  for (const [body, field] of [
    [{ organization_id: c1.id, amount: 0, reason: 'x' }, 'amount'],
    [{ organization_id: c1.id, amount: 1_000_001, reason: 'x' }, 'amount'],
    [{ organization_id: c1.id, amount: 1, reason: '   ' }, 'reason'],
    [{ organization_id: c1.id, amount: 1 }, 'reason'],
    [{ organization_id: 'acme', amount: 1, reason: 'x' }, 'organization_id'],
  ] as const) {
    const res = await P.caller('POST', '/api/credits/grants', body);
    assert.equal(res.statusCode, 400, `${JSON.stringify(body)}: ${res.body}`);
    assert.match(JSON.stringify(res.json().error.details), new RegExp(field), res.body);
  }
  assert.equal(await balance(P.actingFor(c1.id)), 10);
});

test('initial_credits: granted in the creating transaction, recorded with who and why, once', async (t) => {
  const { app, services, config } = await buildApp(t);
  const tp = await createTenant(services, config);
  const P = await platformOf(app, services, tp);
  const ext = unique('init');
  const body = { external_id: ext, name: 'Init', billing_mode: 'child_pays', initial_credits: 7 };
  const made = await P.caller('POST', '/api/platform/connected-accounts', body);
  assert.equal(made.statusCode, 201, made.body);
  const id = made.json().id;
  const ledger = (await P.actingFor(id)('GET', '/api/credits')).json();
  assert.equal(ledger.balance, 7);
  assert.equal(ledger.data.length, 1);
  assert.equal(ledger.data[0].kind, 'grant');
  assert.match(ledger.data[0].reason, /initial_credits/);
  assert.equal(ledger.data[0].actor.type, 'api_key');
  assert.match(ledger.data[0].actor.label, new RegExp(`platform ${tp.organizationId}`));
  assert.ok((await auditActions(id)).includes('credits.granted'), 'in the account’s own chain');

  // A repeat of the create (same external_id) answers the account and grants nothing more.
  const again = await P.caller('POST', '/api/platform/connected-accounts', body);
  assert.equal(again.statusCode, 200, again.body);
  assert.equal(again.json().created, false);
  assert.equal(await balance(P.actingFor(id)), 7);

  // 20 concurrent creates of one new account with credits: one account, one grant.
  const ext2 = unique('race');
  const answers = await Promise.all(
    Array.from({ length: 20 }, () =>
      P.caller('POST', '/api/platform/connected-accounts', {
        external_id: ext2,
        name: 'R',
        initial_credits: 3,
      }),
    ),
  );
  const codes = answers.map((a) => a.statusCode);
  assert.equal(codes.filter((c) => c === 201).length, 1, JSON.stringify(codes));
  assert.equal(codes.filter((c) => c === 200).length, 19, JSON.stringify(codes));
  const raced = answers[0]!.json().id;
  assert.ok(
    answers.every((a) => a.json().id === raced),
    'one account',
  );
  assert.equal(await balance(P.actingFor(raced)), 3);

  // Out of range: 400 and no account.
  const tooMany = await P.caller('POST', '/api/platform/connected-accounts', {
    external_id: unique('big'),
    name: 'Big',
    initial_credits: 1_000_001,
  });
  assert.equal(tooMany.statusCode, 400, tooMany.body);
});

test('signet credits grant: the operator grants to any organization, in its ledger and audit chain', async (t) => {
  const { services, config } = await buildApp(t);
  const tenant = await createTenant(services, config);
  const env = { DATABASE_URL: testDbUrl() };
  const ok = await runSignet(
    [
      'credits',
      'grant',
      '--org',
      tenant.organizationId,
      '--amount',
      '12',
      '--reason',
      'invoice 2026-117',
      '--json',
    ],
    env,
  );
  assert.equal(ok.code, 0, ok.stderr);
  const grant = JSON.parse(ok.stdout);
  assert.equal(grant.organization_id, tenant.organizationId);
  assert.equal(grant.balance, 12);
  assert.equal(grant.reason, 'invoice 2026-117');
  assert.deepEqual(grant.actor, { type: 'system', id: 'cli', label: 'signet CLI' });
  const plain = await runSignet(
    ['credits', 'grant', '--org', tenant.organizationId, '--amount', '3', '--reason', 'more'],
    env,
  );
  assert.equal(plain.code, 0, plain.stderr);
  assert.equal(plain.stdout, `granted 3 credits to ${tenant.organizationId}; balance 15\n`);
  const audit = await testDb()
    .db.selectFrom('audit_events')
    .select(['action', 'actor_type'])
    .where('organization_id', '=', tenant.organizationId)
    .where('action', '=', 'credits.granted')
    .execute();
  assert.equal(audit.length, 2);

  const unknown = await runSignet(
    ['credits', 'grant', '--org', '00000000-0000-4000-8000-000000000000', '--amount', '1', '--reason', 'x'],
    env,
  );
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /not_found/);
  const usage = await runSignet(['credits', 'grant', '--org', tenant.organizationId, '--amount', '1'], env);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--reason/);
  const zero = await runSignet(
    ['credits', 'grant', '--org', tenant.organizationId, '--amount', '0', '--reason', 'x'],
    env,
  );
  assert.equal(zero.code, 1);
  assert.match(zero.stderr, /amount/);
  const help = await runSignet(['credits', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /signet credits grant --org ID --amount N --reason TEXT/);
});

test("a member reads the pool's balance but only its own account's entries (no other account's sends, no grants)", async (t) => {
  const { app, services, config } = await buildApp(t);
  const tp = await createTenant(services, config);
  const owner = as(app, tp.key);
  const a2 = await owner('POST', '/api/accounts', { name: unique('A2') });
  assert.equal(a2.statusCode, 201, a2.body);
  const a2Id: string = a2.json().id;
  const sender = await testDb()
    .db.selectFrom('permission_profiles')
    .select('id')
    .where('account_id', '=', tp.accountId)
    .where('name', '=', 'DS Sender')
    .executeTakeFirstOrThrow();
  const user = await owner('POST', '/api/users', {
    email: `${unique('sender')}@example.test`,
    account_id: tp.accountId,
    permission_profile_id: Number(sender.id),
  });
  assert.equal(user.statusCode, 201, user.body);
  const memberKey = await services.apiKeys.create(
    { principal: systemPrincipal(tp.organizationId, 'test'), meta: {} },
    { name: 'sender', account_id: tp.accountId, created_by: user.json().id, role: 'member' },
  );
  const member = as(app, memberKey.key);
  await services.credits.grant(
    { principal: systemPrincipal(tp.organizationId, 'test'), meta: {} },
    { organization_id: tp.organizationId, amount: 5, reason: 'secret purchase order 42' },
  );
  const pdf = (await makePdf(1)).toString('base64');
  const sendIn = async (call: Caller, accountId: string) => {
    const made = await call('POST', '/api/envelope', {
      document: pdf,
      parties: parties(1),
      account_id: accountId,
    });
    assert.equal(made.statusCode, 201, made.body);
    const sent = await call('POST', `/api/envelope/${made.json().id}/send`);
    assert.equal(sent.statusCode, 200, sent.body);
    return made.json().id as string;
  };
  const mine = await sendIn(member, tp.accountId);
  const theirs = await sendIn(owner, a2Id);

  const seen = await member('GET', '/api/credits');
  assert.equal(seen.statusCode, 200, seen.body);
  assert.equal(seen.json().balance, 3, 'the balance is the pool’s');
  assert.deepEqual(
    seen.json().data.map((e: { kind: string; envelope_id: string }) => [e.kind, e.envelope_id]),
    [['send', mine]],
    'only its own account’s send: not the other account’s, not the grant',
  );
  const all = (await owner('GET', '/api/credits')).json().data;
  assert.equal(all.length, 3, 'the owner sees the grant and both sends');
  assert.ok(
    all.some((e: { envelope_id: string }) => e.envelope_id === theirs),
    'the owner sees the other account’s send',
  );
});
