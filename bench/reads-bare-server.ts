// The limit of Signet's stack for its two hottest reads (issue 15, target 1), for bench/reads.ts: Fastify and
// postgres.js, no authentication, no hooks, running exactly the SQL Signet runs for GET /api/users/{id} and
// GET /api/users?account_id&limit=100[&cursor] (the same compiled statements, prepared), and serialising with
// the same response schemas, so the bytes are the same (bench/reads.ts checks them). The organization is fixed
// by ORG_ID (Signet takes it from the key). Listens on 127.0.0.1:$PORT; stops on SIGTERM/SIGINT.
import Fastify from 'fastify';
import type { Kysely } from 'kysely';
import { decodeCursor, toPage } from '../src/core/pagination.ts';
import { membershipsOfMany, userPages, userWithMemberships } from '../src/core/users/repository.ts';
import { connect } from '../src/db/connection.ts';
import type { Database } from '../src/db/schema.ts';
import { Page } from '../src/faces/api/schemas.ts';
import { User } from '../src/faces/api/users.ts';

const orgId = process.env.ORG_ID!;
const { sql, db } = connect(process.env.DATABASE_URL!, 10);
const k: Kysely<Database> = db;
type Param = Parameters<typeof sql.unsafe>[1];
const run = (q: { sql: string; parameters: readonly unknown[] }) =>
  sql.unsafe(q.sql, q.parameters as Param, { prepare: true });

/** What Signet's user view shows of a row: no secrets, and whether MFA is on (src/core/users/service.ts). */
function shown(row: Record<string, unknown>): Record<string, unknown> {
  const {
    password_hash: _hash,
    totp_secret: _secret,
    totp_pending_secret: _pending,
    totp_enabled_at: enabledAt,
    totp_last_step: _step,
    ...rest
  } = row;
  return { ...rest, mfa_enabled: enabledAt != null };
}

const app = Fastify({ logger: false });
app.get('/api/users/:id', { schema: { response: { 200: User } } }, async (request) => {
  const { id } = request.params as { id: string };
  const rows = await run(userWithMemberships(k, { orgId, id }));
  const first = rows[0];
  if (!first) throw Object.assign(new Error('no such user'), { statusCode: 404 });
  const row: Record<string, unknown> = {};
  for (const key of Object.keys(first)) if (!key.startsWith('m_')) row[key] = first[key];
  const user = shown(row);
  user.memberships = rows
    .filter((r) => r.m_id !== null)
    .map((r) => ({
      id: r.m_id,
      organization_id: r.m_organization_id,
      account_id: r.m_account_id,
      user_id: first.id,
      status: r.m_status,
      permission_profile_id: r.m_permission_profile_id,
      created_at: r.m_created_at,
      updated_at: r.m_updated_at,
      closed_at: r.m_closed_at,
      closed_by_deactivation: r.m_closed_by_deactivation,
      group_ids: r.m_group_ids,
    }));
  return user;
});
app.get('/api/users', { schema: { response: { 200: Page(User) } } }, async (request) => {
  const q = request.query as { account_id: string; limit?: string; cursor?: string };
  const limit = Number(q.limit ?? 50);
  const after = decodeCursor(q.cursor);
  const page = userPages[2 + (after ? 1 : 0)]!;
  const rows = await run(page(k, { orgId, accountId: q.account_id, after: after ?? '', take: limit + 1 }));
  const { data, next_cursor } = toPage(rows as unknown as { id: string }[], limit, (u) => u.id);
  const ids = data.map((u) => u.id);
  const memberships = new Map<string, unknown[]>();
  for (const m of await run(membershipsOfMany(k, { ids }))) {
    const list = memberships.get(m.user_id) ?? [];
    list.push(m);
    memberships.set(m.user_id, list);
  }
  return {
    data: data.map((u) => ({
      ...shown(u as Record<string, unknown>),
      memberships: memberships.get(u.id) ?? [],
    })),
    next_cursor,
  };
});

const stop = () => {
  app.close().finally(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);

await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
