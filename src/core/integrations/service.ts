// Integration keys (DocuSign's name for OAuth clients), per organization, managed by its owners and admins
// (integrations:read / integrations:write). An integration has a client_id (the integration key, a UUID as
// DocuSign's are), a type (confidential: it keeps a secret; public: it cannot, and uses PKCE alone), the
// redirect URIs the authorization endpoint sends codes to, and the grants it may use. Its secrets and RSA keys
// are credentials.ts, its consents consents.ts; the OAuth endpoints read all of it through lookup.ts.
import { randomUUID } from 'node:crypto';
import type { Db } from '../../db/connection.ts';
import type { IntegrationClientType, IntegrationGrant } from '../../db/schema.ts';
import { type Ctx, mutate } from '../context.ts';
import { invalidField } from '../errors.ts';
import { newId } from '../ids.ts';
import { DEFAULT_LIMIT, decodeCursor, type Page, toPage } from '../pagination.ts';
import { insertSecret } from './credentials.ts';
import { checkRedirectUris } from './redirect-uris.ts';
import {
  detailOf,
  type IntegrationDetail,
  type IntegrationView,
  lockIntegration,
  ownIntegration,
} from './rows.ts';

export const GRANTS: readonly IntegrationGrant[] = [
  'authorization_code',
  'refresh_token',
  'urn:ietf:params:oauth:grant-type:jwt-bearer',
  'client_credentials',
];
const DEFAULT_GRANTS: IntegrationGrant[] = ['authorization_code', 'refresh_token'];

export interface IntegrationInput {
  name: string;
  client_type: IntegrationClientType;
  redirect_uris?: string[];
  allowed_grants?: IntegrationGrant[];
}

export type IntegrationPatch = Partial<Omit<IntegrationInput, 'client_type'>>;

export type NewIntegrationView = IntegrationDetail & {
  /** Confidential integrations only, shown once. */
  client_secret: string | null;
};

function checkName(name: string): string {
  const trimmed = name.trim();
  if (trimmed.length === 0) throw invalidField('name', 'must not be blank');
  return trimmed;
}

/**
 * The grants in catalogue order, duplicates dropped, or a 400 saying which combination cannot work: a grant
 * the client type cannot use, a refresh token without the grant that issues one, a code flow without a
 * redirect URI to send the code to.
 */
function checkGrants(
  clientType: IntegrationClientType,
  grants: readonly IntegrationGrant[],
  redirectUris: readonly string[],
): IntegrationGrant[] {
  if (grants.length === 0) throw invalidField('allowed_grants', 'give at least one grant');
  const set = GRANTS.filter((g) => grants.includes(g));
  if (clientType === 'public') {
    // A public client keeps no secret and no private key, so nothing but PKCE authenticates it.
    for (const g of ['client_credentials', 'urn:ietf:params:oauth:grant-type:jwt-bearer'] as const) {
      if (set.includes(g)) {
        throw invalidField(
          'allowed_grants',
          `a public integration cannot use ${g}: it has no credential of its own (make it confidential)`,
        );
      }
    }
  }
  if (set.includes('refresh_token') && !set.includes('authorization_code')) {
    throw invalidField(
      'allowed_grants',
      'refresh_token needs authorization_code: only the authorization code grant issues refresh tokens',
    );
  }
  if (set.includes('authorization_code') && redirectUris.length === 0) {
    throw invalidField('redirect_uris', 'authorization_code needs at least one redirect URI');
  }
  return set;
}

export class IntegrationsService {
  constructor(private readonly db: Db) {}

  async create(ctx: Ctx, input: IntegrationInput): Promise<NewIntegrationView> {
    const name = checkName(input.name);
    const redirectUris = checkRedirectUris(input.redirect_uris ?? []);
    const grants = checkGrants(input.client_type, input.allowed_grants ?? DEFAULT_GRANTS, redirectUris);
    return mutate(this.db, ctx, async (trx, audit) => {
      const row = await trx
        .insertInto('integrations')
        .values({
          id: newId(),
          organization_id: ctx.principal.organizationId,
          client_id: randomUUID(),
          name,
          client_type: input.client_type,
          redirect_uris: redirectUris,
          allowed_grants: grants,
          created_by: ctx.principal.userId,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      audit.record({
        action: 'integration.created',
        targetType: 'integration',
        targetId: row.id,
        after: row,
      });
      const secret = row.client_type === 'confidential' ? await insertSecret(trx, row, audit) : null;
      return { ...(await detailOf(trx, row)), client_secret: secret?.secret ?? null };
    });
  }

  async list(ctx: Ctx, q: { limit?: number; cursor?: string }): Promise<Page<IntegrationView>> {
    const limit = q.limit ?? DEFAULT_LIMIT;
    const after = decodeCursor(q.cursor);
    let query = this.db
      .selectFrom('integrations')
      .selectAll()
      .where('organization_id', '=', ctx.principal.organizationId)
      .where('deleted_at', 'is', null)
      .orderBy('id')
      .limit(limit + 1);
    if (after) query = query.where('id', '>', after);
    return toPage(await query.execute(), limit, (r) => r.id);
  }

  async get(ctx: Ctx, id: string): Promise<IntegrationDetail> {
    const row = await ownIntegration(this.db, ctx, id);
    return detailOf(this.db, row);
  }

  /** Name, redirect URIs and grants; the type is fixed at creation (a secret cannot be un-issued). */
  async update(ctx: Ctx, id: string, patch: IntegrationPatch): Promise<IntegrationDetail> {
    return mutate(this.db, ctx, async (trx, audit) => {
      const before = await lockIntegration(trx, ctx, id);
      const name = patch.name === undefined ? before.name : checkName(patch.name);
      const redirectUris =
        patch.redirect_uris === undefined ? before.redirect_uris : checkRedirectUris(patch.redirect_uris);
      const grants = checkGrants(
        before.client_type,
        patch.allowed_grants ?? before.allowed_grants,
        redirectUris,
      );
      const same =
        name === before.name &&
        JSON.stringify(redirectUris) === JSON.stringify(before.redirect_uris) &&
        JSON.stringify(grants) === JSON.stringify(before.allowed_grants);
      if (same) return detailOf(trx, before);
      const after = await trx
        .updateTable('integrations')
        .set({ name, redirect_uris: redirectUris, allowed_grants: grants, updated_at: new Date() })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirstOrThrow();
      audit.record({
        action: 'integration.updated',
        targetType: 'integration',
        targetId: id,
        before,
        after,
      });
      return detailOf(trx, after);
    });
  }

  /**
   * Deletes the integration: its secrets, RSA keys and consents are revoked with it, so nothing obtains a
   * token for it any more. The row stays (deleted_at) for the audit trail. Deleting it again answers the same.
   */
  async remove(ctx: Ctx, id: string): Promise<IntegrationDetail> {
    return mutate(this.db, ctx, async (trx, audit) => {
      const existing = await lockIntegration(trx, ctx, id, { deleted: true });
      // A retried DELETE finds the work done.
      if (existing.deleted_at) return detailOf(trx, existing);
      const now = new Date();
      const after = await trx
        .updateTable('integrations')
        .set({ deleted_at: now, updated_at: now })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirstOrThrow();
      const revoke = async (table: 'integration_secrets' | 'integration_rsa_keys' | 'oauth_consents') =>
        (
          await trx
            .updateTable(table)
            .set({ revoked_at: now })
            .where('integration_id', '=', id)
            .where('revoked_at', 'is', null)
            .returning('id')
            .execute()
        ).length;
      const counts = {
        secrets_revoked: await revoke('integration_secrets'),
        rsa_keys_revoked: await revoke('integration_rsa_keys'),
        consents_revoked: await revoke('oauth_consents'),
      };
      audit.record({
        action: 'integration.deleted',
        targetType: 'integration',
        targetId: id,
        before: existing,
        after,
        extra: counts,
      });
      return detailOf(trx, after);
    });
  }
}
