import assert from 'node:assert/strict';
import { test } from 'node:test';
import { conditionsHold, globMatch, resolveMapping } from '../src/core/mapping-rules/service.ts';
import { as, buildApp, type Caller, createTenant, everyoneGroupId, testDb, unique } from './helper.ts';

const base = (accountId: string) => `/api/accounts/${accountId}/mapping_rules`;
const NO_SUCH_RULE = '0190a0b0-0000-7000-8000-00000000abcd';

async function profile(call: Caller, accountId: string, name: string): Promise<number> {
  const res = await call('POST', `/api/accounts/${accountId}/permission_profiles`, { name, permissions: [] });
  assert.equal(res.statusCode, 201, res.body);
  return res.json().id;
}

async function group(call: Caller, accountId: string, name: string): Promise<number> {
  const res = await call('POST', `/api/accounts/${accountId}/groups`, { name });
  assert.equal(res.statusCode, 201, res.body);
  return res.json().id;
}

async function rule(call: Caller, accountId: string, body: Record<string, unknown>): Promise<any> {
  const res = await call('POST', base(accountId), body);
  assert.equal(res.statusCode, 201, res.body);
  return res.json();
}

async function probe(call: Caller, accountId: string, person: Record<string, unknown>): Promise<any> {
  const res = await call('POST', '/api/mapping_rules/test', { account_id: accountId, ...person });
  assert.equal(res.statusCode, 200, res.body);
  return res.json();
}

test('mapping rules: the glob matcher is literal but for * and ?, case-insensitive, and fast on hostile input', () => {
  assert.ok(globMatch('*engineer*', 'senior engineer ii'));
  assert.ok(globMatch('eng?neer', 'engineer'));
  assert.ok(!globMatch('eng?neer', 'enginneer'));
  assert.ok(globMatch('*', 'anything'));
  assert.ok(globMatch('a*b*c', 'a__b__c'));
  assert.ok(!globMatch('a*b*c', 'a__b__'));
  // Regex metacharacters are literal.
  assert.ok(globMatch('c++ dev (.net)', 'c++ dev (.net)'));
  assert.ok(!globMatch('.*', 'xy'));
  assert.ok(globMatch('[x]', '[x]'));
  // A pattern built to make a backtracking regex explode finishes at once.
  const started = Date.now();
  assert.ok(!globMatch(`${'*a'.repeat(50)}b`, 'a'.repeat(200)));
  assert.ok(Date.now() - started < 200);

  assert.ok(conditionsHold({ job_title: { equals: 'CFO' } }, { job_title: '  cfo ' }));
  assert.ok(!conditionsHold({ job_title: { equals: 'CFO' } }, { job_title: 'Deputy CFO' }));
  assert.ok(!conditionsHold({ job_title: { matches: '*' } }, { job_title: null }));
  assert.ok(!conditionsHold({ job_title: { matches: '*' } }, { job_title: '   ' }));
  assert.ok(
    conditionsHold(
      { job_title: { matches: '*engineer*' }, company: { equals: 'acme' } },
      { job_title: 'Staff Engineer', company: 'ACME' },
    ),
  );
  assert.ok(
    !conditionsHold(
      { job_title: { matches: '*engineer*' }, company: { equals: 'acme' } },
      { job_title: 'Staff Engineer', company: 'Initech' },
    ),
  );
  assert.ok(!conditionsHold({}, { job_title: 'x' }), 'a rule without conditions matches nobody');
});

test('mapping rules: create, read, list, update and delete round trip, each audited', async (t) => {
  const { app, services, config } = await buildApp(t);
  const tenant = await createTenant(services, config);
  const call = as(app, tenant.key);
  const url = base(tenant.accountId);
  const eng = await profile(call, tenant.accountId, 'Engineering');
  const fin = await profile(call, tenant.accountId, 'Finance');
  const g1 = await group(call, tenant.accountId, 'Builders');
  const g2 = await group(call, tenant.accountId, 'All hands');

  const created = await call('POST', url, {
    name: ' Engineers ',
    conditions: { job_title: { matches: ' *Engineer* ' } },
    permission_profile_id: eng,
    group_ids: [g2, g1, g2],
  });
  assert.equal(created.statusCode, 201, created.body);
  const r1 = created.json();
  assert.match(r1.id, /^[0-9a-f-]{36}$/);
  assert.equal(r1.account_id, tenant.accountId);
  assert.equal(r1.position, 1);
  assert.equal(r1.name, 'Engineers');
  assert.deepEqual(r1.conditions, { job_title: { matches: '*Engineer*' } });
  assert.equal(r1.permission_profile_id, eng);
  assert.deepEqual(
    r1.group_ids,
    [g1, g2].sort((a, b) => a - b),
  );
  assert.equal(r1.enabled, true);
  assert.equal(r1.organization_id, undefined);
  assert.deepEqual((await call('GET', `${url}/${r1.id}`)).json(), r1);

  const r2 = await rule(call, tenant.accountId, {
    name: 'Finance',
    conditions: { department: { equals: 'Finance' }, company: { equals: 'Acme' } },
    permission_profile_id: fin,
    enabled: false,
  });
  assert.equal(r2.position, 2);
  assert.deepEqual(r2.group_ids, []);
  assert.equal(r2.enabled, false);
  const list = (await call('GET', url)).json();
  assert.deepEqual(
    list.data.map((r: any) => [r.name, r.position]),
    [
      ['Engineers', 1],
      ['Finance', 2],
    ],
  );

  const patched = await call('PATCH', `${url}/${r1.id}`, {
    name: 'Builders',
    conditions: { department: { matches: 'R&D*' } },
    permission_profile_id: fin,
    group_ids: [],
    enabled: false,
  });
  assert.equal(patched.statusCode, 200, patched.body);
  const p = patched.json();
  assert.equal(p.name, 'Builders');
  assert.deepEqual(p.conditions, { department: { matches: 'R&D*' } });
  assert.equal(p.permission_profile_id, fin);
  assert.deepEqual(p.group_ids, []);
  assert.equal(p.enabled, false);
  assert.equal(p.position, 1);
  // A PATCH that changes nothing answers the rule as it is.
  assert.deepEqual((await call('PATCH', `${url}/${r1.id}`, {})).json(), p);

  // Deleting the first rule moves the second up.
  const removed = await call('DELETE', `${url}/${r1.id}`);
  assert.equal(removed.statusCode, 204);
  assert.equal(removed.body, '');
  assert.equal((await call('GET', `${url}/${r1.id}`)).statusCode, 404);
  assert.equal((await call('DELETE', `${url}/${r1.id}`)).statusCode, 404);
  assert.deepEqual(
    (await call('GET', url)).json().data.map((r: any) => [r.id, r.position]),
    [[r2.id, 1]],
  );
  // A new rule goes to the end.
  const r3 = await rule(call, tenant.accountId, {
    name: 'Anyone',
    conditions: { company: { matches: '*' } },
    permission_profile_id: eng,
  });
  assert.equal(r3.position, 2);

  const events = async (action: string, target = r1.id) =>
    (await call('GET', `/api/audit_events?action=${action}&target_id=${target}&order=asc`)).json()
      .data as any[];
  const [c] = await events('mapping_rule.created');
  assert.equal(c.target_type, 'mapping_rule');
  assert.equal(c.account_id, tenant.accountId);
  assert.deepEqual(c.changes.name, { before: null, after: 'Engineers' });
  assert.deepEqual(c.changes.permission_profile_id, { before: null, after: eng });
  const [u] = await events('mapping_rule.updated');
  assert.deepEqual(u.changes.name, { before: 'Engineers', after: 'Builders' });
  assert.deepEqual(u.changes.enabled, { before: true, after: false });
  assert.deepEqual(u.changes.group_ids.after, []);
  assert.equal((await events('mapping_rule.updated')).length, 1, 'the empty PATCH recorded nothing');
  const [d] = await events('mapping_rule.deleted');
  assert.deepEqual(d.changes.name, { before: 'Builders', after: null });
});

test('mapping rules: first matching enabled rule wins; reorder changes the outcome; disabled rules are skipped', async (t) => {
  const { app, services, config } = await buildApp(t);
  const tenant = await createTenant(services, config);
  const call = as(app, tenant.key);
  const acct = tenant.accountId;
  const url = base(acct);
  const senior = await profile(call, acct, 'Senior');
  const eng = await profile(call, acct, 'Engineering');
  const g = await group(call, acct, 'Engineers');

  const broad = await rule(call, acct, {
    name: 'Engineers',
    conditions: { job_title: { matches: '*engineer*' } },
    permission_profile_id: eng,
    group_ids: [g],
  });
  const narrow = await rule(call, acct, {
    name: 'Senior engineers',
    conditions: { job_title: { equals: 'Senior Engineer' } },
    permission_profile_id: senior,
  });

  // Exact and glob, case-insensitively: the broad rule is first, so it wins.
  let res = await probe(call, acct, { job_title: 'SENIOR ENGINEER' });
  assert.equal(res.matched, true);
  assert.equal(res.source, 'rule');
  assert.equal(res.rule.id, broad.id);
  assert.deepEqual(res.permission_profile, { id: eng, name: 'Engineering' });
  assert.deepEqual(res.group_ids, [g]);

  // Reorder: now the narrow rule wins for senior engineers; the broad one still takes the rest.
  const reordered = await call('POST', `${url}/reorder`, { rule_ids: [narrow.id, broad.id.toUpperCase()] });
  assert.equal(reordered.statusCode, 200, reordered.body);
  assert.deepEqual(
    reordered.json().data.map((r: any) => [r.id, r.position]),
    [
      [narrow.id, 1],
      [broad.id, 2],
    ],
  );
  res = await probe(call, acct, { job_title: 'senior engineer' });
  assert.equal(res.rule.id, narrow.id);
  assert.deepEqual(res.permission_profile, { id: senior, name: 'Senior' });
  assert.deepEqual(res.group_ids, []);
  assert.equal((await probe(call, acct, { job_title: 'Engineer' })).rule.id, broad.id);
  assert.equal((await probe(call, acct, { job_title: 'Senior Engineering Manager' })).rule.id, broad.id);

  // The exported matcher agrees.
  const m = await resolveMapping(testDb().db, acct, { job_title: 'Senior Engineer' });
  assert.deepEqual(m, { rule_id: narrow.id, permission_profile_id: senior, group_ids: [] });
  assert.equal(await resolveMapping(testDb().db, acct, { job_title: 'Accountant' }), null);

  // Disabled: skipped, the next rule matches.
  await call('PATCH', `${url}/${narrow.id}`, { enabled: false });
  assert.equal((await probe(call, acct, { job_title: 'Senior Engineer' })).rule.id, broad.id);
  await call('PATCH', `${url}/${broad.id}`, { enabled: false });

  // No rule: the default (DS Sender, which bootstrap creates), source 'default'.
  res = await probe(call, acct, { job_title: 'Senior Engineer' });
  assert.equal(res.matched, false);
  assert.equal(res.rule, null);
  assert.equal(res.source, 'default');
  assert.equal(res.permission_profile.name, 'DS Sender');
  assert.deepEqual(res.group_ids, []);
  assert.equal((await probe(call, acct, {})).source, 'default');

  // A no-op reorder records nothing; a real one is audited on the account.
  const [ev] = (await call('GET', `/api/audit_events?action=mapping_rule.reordered&target_id=${acct}`)).json()
    .data;
  assert.equal(ev.target_type, 'account');
  assert.deepEqual(ev.changes.rule_ids, { before: [broad.id, narrow.id], after: [narrow.id, broad.id] });
  await call('POST', `${url}/reorder`, { rule_ids: [narrow.id, broad.id] });
  assert.equal(
    (await call('GET', `/api/audit_events?action=mapping_rule.reordered&target_id=${acct}`)).json().data
      .length,
    1,
  );
});

test('mapping rules: reorder must list every rule exactly once', async (t) => {
  const { app, services, config } = await buildApp(t);
  const tenant = await createTenant(services, config);
  const call = as(app, tenant.key);
  const acct = tenant.accountId;
  const pid = await profile(call, acct, 'P');
  const a = await rule(call, acct, {
    name: 'A',
    conditions: { company: { equals: 'a' } },
    permission_profile_id: pid,
  });
  const b = await rule(call, acct, {
    name: 'B',
    conditions: { company: { equals: 'b' } },
    permission_profile_id: pid,
  });
  const cases: [unknown, number, string][] = [
    [{ rule_ids: [a.id] }, 400, 'validation_failed'],
    [{ rule_ids: [a.id, b.id, a.id] }, 400, 'validation_failed'],
    [{ rule_ids: [a.id, b.id, NO_SUCH_RULE] }, 422, 'invalid_reference'],
    [{ rule_ids: [] }, 400, 'validation_failed'],
  ];
  for (const [body, status, code] of cases) {
    const res = await call('POST', `${base(acct)}/reorder`, body);
    assert.equal(res.statusCode, status, `${JSON.stringify(body)}: ${res.body}`);
    assert.equal(res.json().error.code, code);
    assert.equal(res.json().error.details[0].field, 'rule_ids');
  }
  assert.deepEqual(
    (await call('GET', base(acct))).json().data.map((r: any) => r.id),
    [a.id, b.id],
  );
});

test('mapping rules: POST /api/users without a profile gets the mapped profile and groups, audited with the rule', async (t) => {
  const { app, services, config } = await buildApp(t);
  const tenant = await createTenant(services, config);
  const call = as(app, tenant.key);
  const acct = tenant.accountId;
  const eng = await profile(call, acct, 'Engineering');
  const other = await profile(call, acct, 'Other');
  const g1 = await group(call, acct, 'Engineers');
  const g2 = await group(call, acct, 'Staff');
  const r = await rule(call, acct, {
    name: 'Engineers at Acme',
    conditions: { job_title: { matches: '*Engineer*' }, company: { equals: 'acme' } },
    permission_profile_id: eng,
    group_ids: [g1, g2],
  });

  const created = await call('POST', '/api/users', {
    email: `${unique('eng')}@example.test`,
    job_title: 'Backend Engineer',
    company: 'ACME',
  });
  assert.equal(created.statusCode, 201, created.body);
  const user = created.json();
  const [m] = user.memberships;
  assert.equal(m.permission_profile_id, eng);
  // The rule's groups, and the built-in Everyone every membership is in.
  assert.deepEqual(
    m.group_ids,
    [await everyoneGroupId(services, acct), g1, g2].sort((x, y) => x - y),
  );
  const events = (await call('GET', `/api/audit_events?target_id=${user.id}`)).json().data as any[];
  const userCreated = events.find((e) => e.action === 'user.created');
  assert.deepEqual(userCreated.changes._meta, { mapping_rule_id: r.id });
  const membership = (await call('GET', `/api/audit_events?target_id=${m.id}`)).json().data[0];
  assert.equal(membership.action, 'membership.created');
  assert.deepEqual(membership.changes._meta, { mapping_rule_id: r.id });
  const added = (await call('GET', `/api/audit_events?action=group.member_added&target_id=${g1}`)).json()
    .data[0];
  assert.deepEqual(added.changes._meta, { mapping_rule_id: r.id });

  // No rule matches: the default, exactly as before, and no mapping_rule_id.
  const plain = (
    await call('POST', '/api/users', { email: `${unique('x')}@example.test`, job_title: 'Accountant' })
  ).json();
  const profiles = (await call('GET', `/api/accounts/${acct}/permission_profiles`)).json().data as any[];
  const dsSender = profiles.find((p) => p.name === 'DS Sender')?.id ?? null;
  assert.equal(plain.memberships[0].permission_profile_id, dsSender);
  assert.deepEqual(plain.memberships[0].group_ids, [await everyoneGroupId(services, acct)]);
  const plainEvent = (await call('GET', `/api/audit_events?action=user.created&target_id=${plain.id}`)).json()
    .data[0];
  assert.equal(plainEvent.changes._meta, undefined);

  // A request that names a profile, or groups, or null keeps what it names: rules do not apply.
  const named = (
    await call('POST', '/api/users', {
      email: `${unique('n')}@example.test`,
      job_title: 'Engineer',
      company: 'Acme',
      permission_profile_id: other,
    })
  ).json();
  assert.equal(named.memberships[0].permission_profile_id, other);
  assert.deepEqual(named.memberships[0].group_ids, [await everyoneGroupId(services, acct)]);
  const withGroups = (
    await call('POST', '/api/users', {
      email: `${unique('g')}@example.test`,
      job_title: 'Engineer',
      company: 'Acme',
      group_ids: [g2],
    })
  ).json();
  assert.equal(withGroups.memberships[0].permission_profile_id, dsSender);
  assert.deepEqual(withGroups.memberships[0].group_ids, [await everyoneGroupId(services, acct), g2]);
  const none = (
    await call('POST', '/api/users', {
      email: `${unique('z')}@example.test`,
      job_title: 'Engineer',
      company: 'Acme',
      permission_profile_id: null,
    })
  ).json();
  assert.equal(none.memberships[0].permission_profile_id, null);
});

test('mapping rules: invalid references are 422 naming the field; validation errors name the field', async (t) => {
  const { app, services, config } = await buildApp(t);
  const tenant = await createTenant(services, config);
  const foreign = await createTenant(services, config);
  const call = as(app, tenant.key);
  const callF = as(app, foreign.key);
  const url = base(tenant.accountId);
  const pid = await profile(call, tenant.accountId, 'Mine');
  const gid = await group(call, tenant.accountId, 'Mine');
  const fpid = await profile(callF, foreign.accountId, 'Theirs');
  const fgid = await group(callF, foreign.accountId, 'Theirs');
  const second = (await call('POST', '/api/accounts', { name: 'Second' })).json();
  const spid = await profile(call, second.id, 'Second account');
  const ok = { name: 'R', conditions: { company: { equals: 'x' } }, permission_profile_id: pid };
  const r = await rule(call, tenant.accountId, ok);

  const refs: [string, string, unknown, string][] = [
    ['POST', url, { ...ok, permission_profile_id: fpid }, 'permission_profile_id'],
    ['POST', url, { ...ok, permission_profile_id: spid }, 'permission_profile_id'],
    ['POST', url, { ...ok, permission_profile_id: 999999999 }, 'permission_profile_id'],
    ['POST', url, { ...ok, group_ids: [gid, fgid] }, 'group_ids'],
    ['PATCH', `${url}/${r.id}`, { permission_profile_id: fpid }, 'permission_profile_id'],
    ['PATCH', `${url}/${r.id}`, { group_ids: [fgid] }, 'group_ids'],
    ['POST', '/api/mapping_rules/test', { account_id: foreign.accountId }, 'account_id'],
  ];
  for (const [method, path, body, field] of refs) {
    const res = await call(method as any, path, body);
    assert.equal(res.statusCode, 422, `${method} ${path} ${JSON.stringify(body)}: ${res.body}`);
    assert.equal(res.json().error.code, 'invalid_reference');
    assert.equal(res.json().error.details[0].field, field);
  }

  const invalid: [string, string, unknown, string][] = [
    ['POST', url, { ...ok, name: '' }, 'name'],
    ['POST', url, { ...ok, name: '  ' }, 'name'],
    ['POST', url, { conditions: ok.conditions, permission_profile_id: pid }, 'name'],
    ['POST', url, { ...ok, conditions: {} }, 'conditions'],
    ['POST', url, { ...ok, conditions: undefined }, 'conditions'],
    ['POST', url, { ...ok, conditions: { title: { equals: 'x' } } }, 'conditions.title'],
    ['POST', url, { ...ok, conditions: { job_title: {} } }, 'conditions.job_title'],
    [
      'POST',
      url,
      { ...ok, conditions: { job_title: { equals: 'a', matches: 'b' } } },
      'conditions.job_title',
    ],
    ['POST', url, { ...ok, conditions: { job_title: { regex: '.*' } } }, 'conditions.job_title.regex'],
    ['POST', url, { ...ok, conditions: { job_title: { matches: '' } } }, 'conditions.job_title.matches'],
    ['POST', url, { ...ok, conditions: { job_title: { matches: '   ' } } }, 'conditions.job_title.matches'],
    ['POST', url, { ...ok, conditions: { job_title: 'Engineer' } }, 'conditions.job_title'],
    ['POST', url, { ...ok, permission_profile_id: 'abc' }, 'permission_profile_id'],
    ['POST', url, { name: 'R', conditions: ok.conditions }, 'permission_profile_id'],
    ['POST', url, { ...ok, group_ids: 'all' }, 'group_ids'],
    ['POST', url, { ...ok, enabled: 'yes' }, 'enabled'],
    ['POST', url, { ...ok, position: 1 }, 'position'],
    ['PATCH', `${url}/${r.id}`, { conditions: {} }, 'conditions'],
    ['PATCH', `${url}/${r.id}`, { position: 3 }, 'position'],
    ['GET', `${url}/not-a-uuid`, undefined, 'id'],
    ['POST', `${url}/reorder`, {}, 'rule_ids'],
    ['POST', `${url}/reorder`, { rule_ids: ['x'] }, 'rule_ids.0'],
    ['POST', '/api/mapping_rules/test', {}, 'account_id'],
    ['POST', '/api/mapping_rules/test', { account_id: tenant.accountId, title: 'x' }, 'title'],
  ];
  for (const [method, path, body, field] of invalid) {
    const res = await call(method as any, path, body);
    assert.equal(res.statusCode, 400, `${method} ${path} ${JSON.stringify(body)}: ${res.body}`);
    assert.equal(res.json().error.code, 'validation_failed');
    assert.equal(res.json().error.details[0].field, field, `${method} ${path} ${JSON.stringify(body)}`);
  }

  // Missing and foreign ids in the path are the same 404.
  for (const path of [`${url}/${NO_SUCH_RULE}`, `${base(foreign.accountId)}`, `${base(NO_SUCH_RULE)}`]) {
    const res = await call('GET', path);
    assert.equal(res.statusCode, 404, path);
    assert.equal(res.json().error.code, 'not_found');
  }

  // Nothing above changed the rules.
  assert.deepEqual(
    (await call('GET', url)).json().data.map((x: any) => x.id),
    [r.id],
  );
  assert.deepEqual((await call('GET', `${url}/${r.id}`)).json(), r);
});

test('mapping rules: a profile a rule assigns is not deleted (409); a deleted group leaves the rules', async (t) => {
  const { app, services, config } = await buildApp(t);
  const tenant = await createTenant(services, config);
  const call = as(app, tenant.key);
  const acct = tenant.accountId;
  const pid = await profile(call, acct, 'Assigned');
  const spare = await profile(call, acct, 'Spare');
  const g1 = await group(call, acct, 'Kept');
  const g2 = await group(call, acct, 'Doomed');
  const r = await rule(call, acct, {
    name: 'Sales',
    conditions: { department: { equals: 'Sales' } },
    permission_profile_id: pid,
    group_ids: [g1, g2],
  });

  const refused = await call('DELETE', `/api/accounts/${acct}/permission_profiles/${pid}`);
  assert.equal(refused.statusCode, 409, refused.body);
  assert.equal(refused.json().error.code, 'profile_in_use');
  assert.match(refused.json().error.message, /mapping rule/);
  assert.match(refused.json().error.message, new RegExp(r.id));
  assert.equal(refused.json().error.details[0].field, 'mapping_rules');
  assert.equal(refused.json().error.details[0].mapping_rule_id, r.id);
  // move_users_to moves memberships, not rules: still refused.
  const moving = await call(
    'DELETE',
    `/api/accounts/${acct}/permission_profiles/${pid}?move_users_to=${spare}`,
  );
  assert.equal(moving.statusCode, 409);
  assert.equal((await call('GET', `/api/accounts/${acct}/permission_profiles/${pid}`)).statusCode, 200);

  // Deleting a group takes it off the rule; the rule stays.
  assert.equal((await call('DELETE', `/api/accounts/${acct}/groups/${g2}`)).statusCode, 204);
  const after = (await call('GET', `${base(acct)}/${r.id}`)).json();
  assert.deepEqual(after.group_ids, [g1]);
  assert.deepEqual((await probe(call, acct, { department: 'sales' })).group_ids, [g1]);

  // Once the rule points elsewhere, the profile can go.
  await call('PATCH', `${base(acct)}/${r.id}`, { permission_profile_id: spare });
  assert.equal((await call('DELETE', `/api/accounts/${acct}/permission_profiles/${pid}`)).statusCode, 204);
});

test('mapping rules: reading needs profiles:read, writing profiles:write; a member stays in their account', async (t) => {
  const { app, services, config } = await buildApp(t);
  const tenant = await createTenant(services, config);
  const owner = as(app, tenant.key);
  const acct = tenant.accountId;
  const second = (await owner('POST', '/api/accounts', { name: 'Second' })).json();
  const plain = await profile(owner, acct, 'Plain');
  const r = await rule(owner, acct, {
    name: 'R',
    conditions: { company: { equals: 'x' } },
    permission_profile_id: plain,
  });
  // The owner's membership gets a profile that grants nothing; a member key then acts with it.
  const me = (await owner('GET', `/api/users/${tenant.ownerId}`)).json();
  const m = me.memberships.find((x: any) => x.account_id === acct);
  const moved = await owner('PATCH', `/api/users/${tenant.ownerId}/memberships/${m.id}`, {
    permission_profile_id: plain,
  });
  assert.equal(moved.statusCode, 200, moved.body);
  const issued = await owner('POST', '/api/api_keys', { name: 'member key', role: 'member' });
  assert.equal(issued.statusCode, 201, issued.body);
  const member = as(app, issued.json().key);

  assert.equal((await member('GET', base(acct))).statusCode, 200);
  assert.equal((await member('GET', `${base(acct)}/${r.id}`)).statusCode, 200);
  assert.equal((await member('POST', '/api/mapping_rules/test', { account_id: acct })).statusCode, 200);
  for (const [method, path, body] of [
    [
      'POST',
      base(acct),
      { name: 'x', conditions: { company: { equals: 'y' } }, permission_profile_id: plain },
    ],
    ['PATCH', `${base(acct)}/${r.id}`, { enabled: false }],
    ['DELETE', `${base(acct)}/${r.id}`, undefined],
    ['POST', `${base(acct)}/reorder`, { rule_ids: [r.id] }],
  ] as const) {
    const res = await member(method, path, body);
    assert.equal(res.statusCode, 403, `${method} ${path}: ${res.body}`);
    assert.equal(res.json().error.details[0].permission, 'profiles:write');
  }
  assert.equal((await member('GET', base(second.id))).statusCode, 403);
  const probeOther = await member('POST', '/api/mapping_rules/test', { account_id: second.id });
  assert.equal(probeOther.statusCode, 403);
});
