// Bench data: many members of one account, inserted by SQL in seconds rather than through the API.
import type postgres from 'postgres';

/** 100,000 members of one account, in one statement each for users and memberships. Ids are UUIDv7-shaped
 *  (48-bit millisecond timestamp first, one millisecond apart), so id order is creation order, as with newId(). */
export async function seed(sql: postgres.Sql, orgId: string, accountId: string, n: number): Promise<void> {
  const base = String(Date.now() - n - 60_000);
  await sql.begin(async (tx) => {
    // The seat trigger would update the account row once per membership; count the seats once instead.
    await tx`ALTER TABLE memberships DISABLE TRIGGER memberships_count_seats_insert`;
    const [profile] = await tx`
      SELECT id FROM permission_profiles WHERE account_id = ${accountId} AND name = 'DS Sender'`;
    await tx`
      INSERT INTO users (id, organization_id, email, first_name, last_name, job_title, department,
                         created_at, updated_at)
      SELECT (lpad(to_hex(${base}::bigint + i), 12, '0') || '7' || substr(h, 1, 3) || '8' || substr(h, 4, 15))::uuid,
             ${orgId}, 'user' || i || '@bench.test', 'First' || i, 'Last' || i, 'Engineer', 'R&D',
             to_timestamp((${base}::bigint + i) / 1000.0), to_timestamp((${base}::bigint + i) / 1000.0)
      FROM generate_series(1, ${n}::int) AS i, LATERAL (SELECT md5('u' || i) AS h) AS r`;
    await tx`
      INSERT INTO memberships (id, organization_id, account_id, user_id, status, permission_profile_id,
                               created_at, updated_at)
      SELECT (substr(replace(u.id::text, '-', ''), 1, 12) || '7' || substr(h, 1, 3) || '9' || substr(h, 4, 15))::uuid,
             ${orgId}, ${accountId}, u.id, 'active', ${profile!.id}, u.created_at, u.created_at
      FROM users u, LATERAL (SELECT md5('m' || u.id::text) AS h) AS r
      WHERE u.organization_id = ${orgId} AND u.role = 'member'`;
    await tx`UPDATE accounts SET seats_used = seats_used + ${n}::int WHERE id = ${accountId}`;
    await tx`ALTER TABLE memberships ENABLE TRIGGER memberships_count_seats_insert`;
  });
  await sql`VACUUM ANALYZE users`;
  await sql`VACUUM ANALYZE memberships`;
}

/** The id of the account's member at 0-based position `offset` in id order (the order pages follow). */
export async function memberAt(
  sql: postgres.Sql,
  orgId: string,
  accountId: string,
  offset: number,
): Promise<string> {
  const [row] = await sql`
    SELECT u.id FROM users u
    WHERE u.organization_id = ${orgId}
      AND EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = u.id AND m.account_id = ${accountId})
    ORDER BY u.id OFFSET ${offset}::int LIMIT 1`;
  if (!row) throw new Error(`no member at position ${offset}`);
  return row.id as string;
}
