// What the OAuth endpoints (src/core/oauth, src/faces/oauth) need to know about integrations, read without a
// principal: a client is identified by its integration key before anyone is signed in. Every read answers
// from the database as it is now (no cache), so a deleted integration, a revoked secret or key, or a revoked
// consent stops new tokens at once (issue 11, "Consent"). Changes go through the service (service.ts).
import { jsonArrayFrom } from 'kysely/helpers/postgres';
import type { Db } from '../../db/connection.ts';
import type { IntegrationRow } from '../../db/schema.ts';
import { hashKey } from '../api-keys/format.ts';

export type Integration = IntegrationRow;

export interface RsaPublicKey {
  /** The key id: a JWT whose header names a `kid` is checked against this key only. */
  kid: string;
  /** SPKI PEM ("BEGIN PUBLIC KEY"), as jose's importSPKI and node:crypto take it. */
  pem: string;
}

export class IntegrationLookup {
  constructor(private readonly db: Db) {}

  /** The live integration whose integration key (client_id) this is; undefined for unknown or deleted. */
  async findClient(clientId: string): Promise<Integration | undefined> {
    return this.db
      .selectFrom('integrations')
      .selectAll()
      .where('client_id', '=', clientId)
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
  }

  /**
   * Whether `secret` is one of the integration's secrets, neither revoked nor past its dual-run window.
   * Looked up by its SHA-256, so nothing about other secrets is compared.
   */
  async verifyClientSecret(integration: Pick<Integration, 'id'>, secret: string): Promise<boolean> {
    if (secret.length === 0 || secret.length > 200) return false;
    const row = await this.db
      .selectFrom('integration_secrets')
      .select('id')
      .where('secret_hash', '=', hashKey(secret))
      .where('integration_id', '=', integration.id)
      .where('revoked_at', 'is', null)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', new Date())]))
      .executeTakeFirst();
    return row !== undefined;
  }

  /** The integration's RSA public keys that are not revoked, oldest first. */
  async rsaKeysFor(integration: Pick<Integration, 'id'>): Promise<RsaPublicKey[]> {
    const rows = await this.liveKeys(integration.id).execute();
    return rows.map((r) => ({ kid: r.id, pem: r.public_key_pem }));
  }

  /**
   * The OAuth scopes the integration may obtain for the user: the union of the user's own consent and the
   * organization-wide one (an admin's, for every user), unrevoked. Empty: no consent at all.
   */
  async consentFor(integrationId: string, userId: string): Promise<string[]> {
    return unitedScopes(await this.liveConsents(integrationId, userId).execute());
  }

  /**
   * What the JWT grant checks, in one round trip: the integration's live RSA keys, the user's consent (as
   * consentFor), and the user's status in the integration's organization (undefined: no such user there).
   */
  async jwtGrantFacts(
    integration: Pick<Integration, 'id' | 'organization_id'>,
    userId: string,
  ): Promise<{ keys: RsaPublicKey[]; consented: string[]; userStatus: string | undefined }> {
    const row = await this.db
      .selectNoFrom((eb) => [
        jsonArrayFrom(this.liveKeys(integration.id)).as('keys'),
        jsonArrayFrom(this.liveConsents(integration.id, userId)).as('consents'),
        eb
          .selectFrom('users')
          .select('status')
          .where('id', '=', userId)
          .where('organization_id', '=', integration.organization_id)
          .as('user_status'),
      ])
      .executeTakeFirstOrThrow();
    return {
      keys: row.keys.map((r) => ({ kid: r.id, pem: r.public_key_pem })),
      consented: unitedScopes(row.consents),
      userStatus: row.user_status ?? undefined,
    };
  }

  private liveKeys(integrationId: string) {
    return this.db
      .selectFrom('integration_rsa_keys')
      .select(['id', 'public_key_pem'])
      .where('integration_id', '=', integrationId)
      .where('revoked_at', 'is', null)
      .orderBy('id');
  }

  private liveConsents(integrationId: string, userId: string) {
    return this.db
      .selectFrom('oauth_consents')
      .select('scopes')
      .where('integration_id', '=', integrationId)
      .where('revoked_at', 'is', null)
      .where((eb) => eb.or([eb('user_id', '=', userId), eb('user_id', 'is', null)]));
  }
}

function unitedScopes(rows: { scopes: string[] }[]): string[] {
  return [...new Set(rows.flatMap((r) => r.scopes))].sort();
}
