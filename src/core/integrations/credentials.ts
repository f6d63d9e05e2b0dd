// An integration's credentials: client secrets (confidential integrations) and RSA public keys (the JWT
// bearer grant). A secret is shown once and stored as its SHA-256, like an API key; a new secret starts a
// dual-run window in which the ones before it keep working, so a client can be redeployed with the new one
// before the old one stops. RSA keys are sent as PEM or generated here (rsa.ts), the private half then shown
// once. Revoking either takes effect at once: the OAuth endpoints read them uncached (lookup.ts).
import { randomUUID } from 'node:crypto';
import type { Db } from '../../db/connection.ts';
import type { IntegrationRow } from '../../db/schema.ts';
import { hashKey } from '../api-keys/format.ts';
import type { AuditBuffer } from '../audit/writer.ts';
import { type Ctx, mutate } from '../context.ts';
import { AppError, invalidField } from '../errors.ts';
import { newId } from '../ids.ts';
import {
  lockIntegration,
  type RsaKeyView,
  revokeChild,
  rsaKeyView,
  type SecretView,
  secretView,
} from './rows.ts';
import { generateRsaPair, normalisePublicKey } from './rsa.ts';

/** The dual-run window of the secrets a new one supersedes, as for API keys (docs/api-keys.md, rotation). */
export const SECRET_WINDOW_DEFAULT_SECONDS = 86_400;
export const SECRET_WINDOW_MAX_SECONDS = 30 * 86_400;

export type NewSecretView = SecretView & { client_secret: string };
export type NewRsaKeyView = RsaKeyView & { private_key?: string };

export interface RsaKeyInput {
  /** PEM ("BEGIN PUBLIC KEY" or "BEGIN RSA PUBLIC KEY"). */
  public_key?: string;
  /** Signet makes the pair and returns the private key once. */
  generate?: boolean;
}

const SECRET = {
  table: 'integration_secrets',
  resource: 'integration secret',
  targetType: 'integration_secret',
  view: secretView,
} as const;
const RSA_KEY = {
  table: 'integration_rsa_keys',
  resource: 'integration RSA key',
  targetType: 'integration_rsa_key',
  view: rsaKeyView,
} as const;

function publicIntegration(id: string, what: string): AppError {
  return new AppError(
    'conflict',
    `integration ${id} is public: it has no ${what} (a public client authenticates with PKCE alone; create a confidential integration)`,
  );
}

/**
 * A new secret for the integration, recorded in the audit log (never the secret itself). Client secrets have
 * the shape DocuSign's secret keys have, a random UUID (122 random bits), so clients that check it accept it.
 */
export async function insertSecret(
  trx: Db,
  integration: Pick<IntegrationRow, 'id'>,
  audit: AuditBuffer,
  extra?: Record<string, unknown>,
): Promise<{ secret: string; view: SecretView }> {
  const secret = randomUUID();
  const row = await trx
    .insertInto('integration_secrets')
    .values({
      id: newId(),
      integration_id: integration.id,
      secret_hash: hashKey(secret),
      last4: secret.slice(-4),
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  const view = secretView(row);
  audit.record({
    action: 'integration_secret.created',
    targetType: 'integration_secret',
    targetId: row.id,
    after: view,
    extra: { integration_id: integration.id, ...extra },
  });
  return { secret, view };
}

export class IntegrationCredentialsService {
  constructor(private readonly db: Db) {}

  /**
   * A new secret. The integration's other live secrets keep working for `expires_in_seconds` more (0: they
   * stop now); a secret that was to stop sooner keeps its earlier end.
   */
  async addSecret(
    ctx: Ctx,
    integrationId: string,
    input: { expires_in_seconds?: number } = {},
  ): Promise<{ new_secret: NewSecretView; superseded: SecretView[] }> {
    const seconds = input.expires_in_seconds ?? SECRET_WINDOW_DEFAULT_SECONDS;
    if (!Number.isInteger(seconds) || seconds < 0 || seconds > SECRET_WINDOW_MAX_SECONDS) {
      throw invalidField(
        'expires_in_seconds',
        `must be an integer from 0 to ${SECRET_WINDOW_MAX_SECONDS} (30 days)`,
      );
    }
    return mutate(this.db, ctx, async (trx, audit) => {
      const integration = await lockIntegration(trx, ctx, integrationId);
      if (integration.client_type === 'public') throw publicIntegration(integrationId, 'client secrets');
      const windowEnd = new Date(Date.now() + seconds * 1000);
      const superseded = await trx
        .updateTable('integration_secrets')
        .set({ expires_at: windowEnd })
        .where('integration_id', '=', integrationId)
        .where('revoked_at', 'is', null)
        .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', windowEnd)]))
        .returningAll()
        .execute();
      superseded.sort((a, b) => (a.id < b.id ? -1 : 1));
      const { secret, view } = await insertSecret(trx, integration, audit, {
        supersedes: superseded.map((s) => s.id),
      });
      for (const old of superseded) {
        audit.record({
          action: 'integration_secret.superseded',
          targetType: 'integration_secret',
          targetId: old.id,
          extra: {
            integration_id: integrationId,
            new_secret_id: view.id,
            expires_in_seconds: seconds,
            expires_at: windowEnd.toISOString(),
          },
        });
      }
      return { new_secret: { ...view, client_secret: secret }, superseded: superseded.map(secretView) };
    });
  }

  /** Stops a secret at once. Revoking it again answers the same. */
  async revokeSecret(ctx: Ctx, integrationId: string, secretId: string): Promise<SecretView> {
    const row = await mutate(this.db, ctx, (trx, audit) =>
      revokeChild(trx, ctx, audit, SECRET, integrationId, secretId),
    );
    return secretView(row);
  }

  /** Adds an RSA public key, sent as PEM or generated (then the private key is in the answer, once). */
  async addRsaKey(ctx: Ctx, integrationId: string, input: RsaKeyInput): Promise<NewRsaKeyView> {
    const sent = input.public_key !== undefined;
    if (sent === (input.generate === true)) {
      throw new AppError(
        'validation_failed',
        'send either public_key (a PEM RSA public key) or "generate": true for Signet to make the pair',
        [{ field: 'public_key', message: 'exactly one of public_key and generate: true' }],
      );
    }
    // Checked or generated before the transaction: no lock is held while the CPU works.
    const pair = sent ? null : await generateRsaPair();
    const pem = pair ? pair.publicKeyPem : normalisePublicKey(input.public_key!);
    return mutate(this.db, ctx, async (trx, audit) => {
      const integration = await lockIntegration(trx, ctx, integrationId);
      if (integration.client_type === 'public') throw publicIntegration(integrationId, 'RSA keys');
      const row = await trx
        .insertInto('integration_rsa_keys')
        .values({ id: newId(), integration_id: integrationId, public_key_pem: pem })
        .returningAll()
        .executeTakeFirstOrThrow();
      const view = rsaKeyView(row);
      audit.record({
        action: 'integration_rsa_key.added',
        targetType: 'integration_rsa_key',
        targetId: row.id,
        after: view,
        extra: { integration_id: integrationId, generated: pair !== null },
      });
      return pair ? { ...view, private_key: pair.privateKeyPem } : view;
    });
  }

  /** Stops an RSA key at once: assertions it signs are refused from then on. Revoking it again answers the same. */
  async revokeRsaKey(ctx: Ctx, integrationId: string, keyId: string): Promise<RsaKeyView> {
    const row = await mutate(this.db, ctx, (trx, audit) =>
      revokeChild(trx, ctx, audit, RSA_KEY, integrationId, keyId),
    );
    return rsaKeyView(row);
  }
}
