// Integration rows as the API shows them (never a secret's hash), and loading the caller's own integration:
// another organization's integration, or a deleted one, answers exactly as one that does not exist.
import type { Db } from '../../db/connection.ts';
import type {
  IntegrationRow,
  IntegrationRsaKeyRow,
  IntegrationSecretRow,
  OauthConsentRow,
} from '../../db/schema.ts';
import type { AuditBuffer } from '../audit/writer.ts';
import type { Ctx } from '../context.ts';
import { notFound } from '../errors.ts';

export type IntegrationView = IntegrationRow;
export type SecretView = Omit<IntegrationSecretRow, 'secret_hash'>;
export type RsaKeyView = Omit<IntegrationRsaKeyRow, 'public_key_pem'> & { public_key: string };
export type ConsentView = OauthConsentRow;

export interface IntegrationDetail extends IntegrationView {
  secrets: SecretView[];
  rsa_keys: RsaKeyView[];
}

export function secretView(row: IntegrationSecretRow): SecretView {
  const { secret_hash: _omit, ...rest } = row;
  return rest;
}

export function rsaKeyView(row: IntegrationRsaKeyRow): RsaKeyView {
  const { public_key_pem, ...rest } = row;
  return { ...rest, public_key: public_key_pem };
}

/**
 * The caller's organization's live integration `id`. 404 for another organization's, a missing one, and a
 * deleted one unless `deleted` asks for it too. With `lock` it is locked against concurrent changes to it and
 * its secrets, keys and consents (FOR NO KEY UPDATE: rows that merely reference it are not held up).
 */
export async function ownIntegration(
  db: Db,
  ctx: Ctx,
  id: string,
  opts: { lock?: boolean; deleted?: boolean } = {},
): Promise<IntegrationRow> {
  let query = db
    .selectFrom('integrations')
    .selectAll()
    .where('id', '=', id)
    .where('organization_id', '=', ctx.principal.organizationId);
  if (!opts.deleted) query = query.where('deleted_at', 'is', null);
  if (opts.lock) query = query.forNoKeyUpdate();
  const row = await query.executeTakeFirst();
  if (!row) throw notFound('integration', id);
  return row;
}

/** ownIntegration, locked: what every change to an integration or its credentials and consents starts with. */
export function lockIntegration(
  trx: Db,
  ctx: Ctx,
  id: string,
  opts: { deleted?: boolean } = {},
): Promise<IntegrationRow> {
  return ownIntegration(trx, ctx, id, { ...opts, lock: true });
}

/** The integration with its secrets and RSA keys (revoked and expired ones too), oldest first. */
export async function detailOf(db: Db, row: IntegrationRow): Promise<IntegrationDetail> {
  // One after the other: inside a transaction both run on its one connection anyway.
  const secrets = await db
    .selectFrom('integration_secrets')
    .selectAll()
    .where('integration_id', '=', row.id)
    .orderBy('id')
    .execute();
  const keys = await db
    .selectFrom('integration_rsa_keys')
    .selectAll()
    .where('integration_id', '=', row.id)
    .orderBy('id')
    .execute();
  return { ...row, secrets: secrets.map(secretView), rsa_keys: keys.map(rsaKeyView) };
}

/** What revokeChild needs to know about the kind of row it revokes. */
interface ChildKind<R> {
  table: 'integration_secrets' | 'integration_rsa_keys' | 'oauth_consents';
  /** For the 404 ("integration secret") and the audit action (`${targetType}.revoked`). */
  resource: string;
  targetType: string;
  view: (row: R) => Record<string, unknown>;
  extra?: (row: R) => Record<string, unknown>;
}

/**
 * Revokes one of the integration's secrets, RSA keys or consents, at once, recording it in the audit log.
 * Revoking it again answers the same (a retry finds the work done).
 */
export async function revokeChild<R extends { id: string; revoked_at: Date | null }>(
  trx: Db,
  ctx: Ctx,
  audit: AuditBuffer,
  kind: ChildKind<R>,
  integrationId: string,
  id: string,
): Promise<R> {
  await lockIntegration(trx, ctx, integrationId);
  // The three tables share the columns used here (id, integration_id, revoked_at); the rows are the caller's R.
  const table = kind.table as 'integration_secrets';
  const before = (await trx
    .selectFrom(table)
    .selectAll()
    .where('id', '=', id)
    .where('integration_id', '=', integrationId)
    .executeTakeFirst()) as R | undefined;
  if (!before) throw notFound(kind.resource, id);
  if (before.revoked_at) return before;
  const after = (await trx
    .updateTable(table)
    .set({ revoked_at: new Date() })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow()) as unknown as R;
  audit.record({
    action: `${kind.targetType}.revoked`,
    targetType: kind.targetType,
    targetId: id,
    before: kind.view(before),
    after: kind.view(after),
    extra: { integration_id: integrationId, ...kind.extra?.(before) },
  });
  return after;
}
