// Tenancy is structural (migration 0014): whatever the code does, PostgreSQL itself refuses a row that pairs
// one organization with another organization's account, user or key, or one account with another account's
// profile, group or rule. Each table gets the same row twice, written directly in SQL: with a consistent pair
// it is accepted (so the refusal below is the pair's doing, not a missing column), with a crossed pair it is
// refused as a foreign-key violation (SQLSTATE 23503).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { type RawBuilder, sql } from 'kysely';
import { newId } from '../src/core/ids.ts';
import { buildApp, createTenant, testDb } from './helper.ts';

async function run(query: RawBuilder<unknown>): Promise<void> {
  await query.execute(testDb().db);
}

async function accepted(what: string, query: RawBuilder<unknown>): Promise<void> {
  await assert.doesNotReject(run(query), `${what}: the consistent row is accepted`);
}

async function refused(what: string, query: RawBuilder<unknown>): Promise<void> {
  await assert.rejects(
    run(query),
    (err: { code?: string; message?: string }) => {
      assert.equal(err.code, '23503', `${what}: ${err.message}`);
      return true;
    },
    `${what}: the crossed row is refused`,
  );
}

const hash = () => randomBytes(32);

test('the schema refuses a row that crosses organizations or accounts, table by table', async (t) => {
  const { services, config } = await buildApp(t);
  const A = await createTenant(services, config);
  const B = await createTenant(services, config);
  const db = testDb().db;

  // A second account in A (A2) and a fresh account in B (for tables keyed by the account alone).
  const account = async (orgId: string, name: string): Promise<string> => {
    const id = newId();
    await run(sql`INSERT INTO accounts (id, organization_id, name) VALUES (${id}, ${orgId}, ${name})`);
    return id;
  };
  const a2 = await account(A.organizationId, 'A2');
  const bFresh = await account(B.organizationId, 'B fresh');
  const aFresh = await account(A.organizationId, 'A fresh');

  const profile = async (orgId: string, accountId: string): Promise<number> =>
    (
      await sql<{ id: number }>`INSERT INTO permission_profiles (organization_id, account_id, name)
        VALUES (${orgId}, ${accountId}, ${`p-${newId()}`}) RETURNING id`.execute(db)
    ).rows[0]!.id;
  const group = async (orgId: string, accountId: string): Promise<number> =>
    (
      await sql<{ id: number }>`INSERT INTO groups (organization_id, account_id, name)
        VALUES (${orgId}, ${accountId}, ${`g-${newId()}`}) RETURNING id`.execute(db)
    ).rows[0]!.id;
  const user = async (orgId: string): Promise<string> => {
    const id = newId();
    await run(
      sql`INSERT INTO users (id, organization_id, email) VALUES (${id}, ${orgId}, ${`${id}@example.test`})`,
    );
    return id;
  };
  const membership = (orgId: string, accountId: string, userId: string, profileId: number | null = null) =>
    sql`INSERT INTO memberships (id, organization_id, account_id, user_id, status, permission_profile_id)
        VALUES (${newId()}, ${orgId}, ${accountId}, ${userId}, 'active', ${profileId})`;

  const pA1 = await profile(A.organizationId, A.accountId);
  const pA2 = await profile(A.organizationId, a2);
  const gA1 = await group(A.organizationId, A.accountId);
  const gA2 = await group(A.organizationId, a2);
  const uA = await user(A.organizationId);
  const uB = await user(B.organizationId);

  await t.test('permission_profiles', async () => {
    const row = (acct: string) =>
      sql`INSERT INTO permission_profiles (organization_id, account_id, name) VALUES (${A.organizationId}, ${acct}, ${newId()})`;
    await accepted('profile in its own organization', row(A.accountId));
    await refused('profile of org A in B’s account', row(B.accountId));
  });

  await t.test('memberships', async () => {
    await accepted('membership', membership(A.organizationId, A.accountId, uA, pA1));
    await refused(
      'membership of org A in B’s account',
      membership(A.organizationId, B.accountId, await user(A.organizationId)),
    );
    await refused('membership of org A for B’s user', membership(A.organizationId, a2, uB));
    await refused(
      'membership in A2 with A1’s profile',
      membership(A.organizationId, a2, await user(A.organizationId), pA1),
    );
  });

  await t.test('groups', async () => {
    const row = (acct: string) =>
      sql`INSERT INTO groups (organization_id, account_id, name) VALUES (${A.organizationId}, ${acct}, ${newId()})`;
    await accepted('group', row(A.accountId));
    await refused('group of org A in B’s account', row(B.accountId));
  });

  await t.test('group_members', async () => {
    // uA has a membership in A1 (above), none in A2; uB has none in A at all.
    await accepted(
      'member of A1’s group',
      sql`INSERT INTO group_members (group_id, user_id) VALUES (${gA1}, ${uA})`,
    );
    await refused(
      'B’s user in A’s group',
      sql`INSERT INTO group_members (group_id, user_id) VALUES (${gA1}, ${uB})`,
    );
    await refused(
      'user of A1 only in A2’s group',
      sql`INSERT INTO group_members (group_id, user_id) VALUES (${gA2}, ${uA})`,
    );
    await refused(
      'a member row naming A1 for A2’s group',
      sql`INSERT INTO group_members (account_id, group_id, user_id) VALUES (${A.accountId}, ${gA2}, ${uA})`,
    );
  });

  await t.test('brands', async () => {
    const row = (acct: string) =>
      sql`INSERT INTO brands (id, organization_id, account_id, name) VALUES (${newId()}, ${A.organizationId}, ${acct}, ${newId()})`;
    await accepted('brand', row(A.accountId));
    await refused('brand of org A in B’s account', row(B.accountId));
  });

  await t.test('account_settings', async () => {
    const row = (acct: string) =>
      sql`INSERT INTO account_settings (account_id, organization_id) VALUES (${acct}, ${A.organizationId})`;
    await accepted('settings', row(aFresh));
    await refused('settings of org A for B’s account', row(bFresh));
  });

  await t.test('api_keys', async () => {
    const row = (acct: string, createdBy: string, rotatedFrom: string | null = null, id = newId()) =>
      sql`INSERT INTO api_keys (id, organization_id, account_id, created_by, name, environment, role, secret_hash, last4, rotated_from)
          VALUES (${id}, ${A.organizationId}, ${acct}, ${createdBy}, 'k', 'test', 'member', ${hash()}, 'abcd', ${rotatedFrom})`;
    const keyA = newId();
    await accepted('key', row(A.accountId, A.ownerId, null, keyA));
    await refused('key of org A in B’s account', row(B.accountId, A.ownerId));
    await refused('key of org A created by B’s owner', row(A.accountId, B.ownerId));
    const keyB = (
      await db
        .selectFrom('api_keys')
        .select('id')
        .where('organization_id', '=', B.organizationId)
        .executeTakeFirstOrThrow()
    ).id;
    await refused('key of org A rotated from B’s key', row(A.accountId, A.ownerId, keyB));
  });

  await t.test('audit_events', async () => {
    const row = (acct: string | null) =>
      sql`INSERT INTO audit_events (id, organization_id, seq, occurred_at, actor_type, action, target_type, account_id, prev_hash, hash)
          VALUES (${newId()}, ${A.organizationId}, ${1_000_000 + Math.floor(Math.random() * 1e9)}, now(), 'system', 'x', 'x', ${acct}, '', '')`;
    await accepted('event in A’s account', row(A.accountId));
    await accepted('organization-level event', row(null));
    await refused('event of org A naming B’s account', row(B.accountId));
  });

  await t.test('sessions', async () => {
    const row = (userId: string) =>
      sql`INSERT INTO sessions (id, token_hash, user_id, organization_id, idle_timeout_minutes, expires_at)
          VALUES (${newId()}, ${hash()}, ${userId}, ${A.organizationId}, 30, now() + interval '1 hour')`;
    await accepted('session', row(uA));
    await refused('session of org A for B’s user', row(uB));
  });

  await t.test('user_tokens', async () => {
    const row = (userId: string) =>
      sql`INSERT INTO user_tokens (id, user_id, organization_id, purpose, token_hash, expires_at)
          VALUES (${newId()}, ${userId}, ${A.organizationId}, 'password_reset', ${hash()}, now() + interval '1 hour')`;
    await accepted('token', row(uA));
    await refused('token of org A for B’s user', row(uB));
  });

  await t.test('invites', async () => {
    const row = (
      acct: string,
      profileId: number | null,
      by: string | null = null,
      acceptedBy: string | null = null,
    ) =>
      sql`INSERT INTO invites (id, organization_id, account_id, email, role, permission_profile_id, invited_by, accepted_user_id, token_hash, expires_at)
          VALUES (${newId()}, ${A.organizationId}, ${acct}, 'i@example.test', 'member', ${profileId}, ${by}, ${acceptedBy}, ${hash()}, now() + interval '1 day')`;
    await accepted('invite', row(A.accountId, pA1, A.ownerId, uA));
    await refused('invite of org A into B’s account', row(B.accountId, null));
    await refused('invite into A2 with A1’s profile', row(a2, pA1));
    await refused('invite of org A sent by B’s owner', row(A.accountId, null, B.ownerId));
    await refused('invite of org A accepted by B’s user', row(A.accountId, null, null, uB));
  });

  await t.test('organization_domains', async () => {
    const row = (acct: string, profileId: number | null) =>
      sql`INSERT INTO organization_domains (id, organization_id, domain, account_id, permission_profile_id, verification_token)
          VALUES (${newId()}, ${A.organizationId}, ${`d${randomBytes(6).toString('hex')}.test`}, ${acct}, ${profileId}, 'token')`;
    await accepted('domain', row(a2, pA2));
    await refused('domain of org A joining B’s account', row(B.accountId, null));
    await refused('domain joining A2 with A1’s profile', row(a2, pA1));
  });

  await t.test('imports', async () => {
    const row = (acct: string | null) =>
      sql`INSERT INTO imports (id, organization_id, account_id, operation, status, requestor)
          VALUES (${newId()}, ${A.organizationId}, ${acct}, 'add', 'completed', '{}'::jsonb)`;
    await accepted('import', row(A.accountId));
    await accepted('import naming accounts per row', row(null));
    await refused('import of org A into B’s account', row(B.accountId));
  });

  const ruleA2 = newId();
  await t.test('mapping_rules', async () => {
    const row = (acct: string, profileId: number, id = newId()) =>
      sql`INSERT INTO mapping_rules (id, organization_id, account_id, position, name, conditions, permission_profile_id)
          VALUES (${id}, ${A.organizationId}, ${acct}, ${1 + Math.floor(Math.random() * 1e6)}, 'r', '{"company":{"equals":"x"}}'::jsonb, ${profileId})`;
    await accepted('rule', row(a2, pA2, ruleA2));
    await refused('rule of org A in B’s account', row(B.accountId, pA1));
    await refused('rule of A2 giving A1’s profile', row(a2, pA1));
  });

  await t.test('mapping_rule_groups', async () => {
    const row = (acct: string, groupId: number) =>
      sql`INSERT INTO mapping_rule_groups (account_id, rule_id, group_id) VALUES (${acct}, ${ruleA2}, ${groupId})`;
    await accepted('rule group', row(a2, gA2));
    await refused('A2’s rule adding A1’s group', row(a2, gA1));
    await refused('A2’s rule filed under A1', row(A.accountId, gA1));
  });

  await t.test('account_creations', async () => {
    const row = (acct: string, source: string | null, admin: string | null) =>
      sql`INSERT INTO account_creations (id, organization_id, account_id, status, request, requestor, kind, source_account_id, admin_user_id)
          VALUES (${newId()}, ${A.organizationId}, ${acct}, 'completed', '{}'::jsonb, '{}'::jsonb,
                  ${source ? 'clone' : 'create'}, ${source}, ${admin})`;
    await accepted('creation', row(a2, A.accountId, uA));
    await refused('creation of org A recording B’s account', row(B.accountId, null, null));
    await refused('clone of org A from B’s account', row(a2, B.accountId, null));
    await refused('creation of org A making B’s user admin', row(a2, null, uB));
  });
});
