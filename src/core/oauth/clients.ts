// Integrations as oidc-provider's clients. oidc-provider asks for a client's metadata by client_id (the
// integration key) on every request that names one; the answer is built from the integration
// (src/core/integrations/lookup.ts) and cached as briefly as verified API keys are (SIGNET_KEY_CACHE_TTL_MS,
// at most 5 s), so a deleted integration or a revoked secret stops working everywhere within that bound.
import { createHash } from 'node:crypto';
import type { Integration, IntegrationLookup } from '../integrations/lookup.ts';
import { OAUTH_SCOPES } from './scopes.ts';

export const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const CACHE_MAX = 10_000;

/**
 * oidc-provider's schema wants a client_secret for a client that authenticates with one; Signet keeps only
 * secrets' hashes, so the metadata carries this stand-in and the comparison is Signet's own
 * (compareClientSecret in provider.ts, through verifySecret below). It is never compared with anything.
 */
const SECRET_STAND_IN = 'signet-compares-hashed-secrets-itself';

interface Cached<T> {
  at: number;
  value: T;
}

function remember<T>(map: Map<string, Cached<T>>, key: string, value: T, now: number): void {
  map.delete(key);
  if (map.size >= CACHE_MAX) map.delete(map.keys().next().value as string);
  map.set(key, { at: now, value });
}

export class OAuthClients {
  private readonly integrations = new Map<string, Cached<Integration | undefined>>();
  private readonly secrets = new Map<string, Cached<boolean>>();
  /** The metadata of a cached integration row, built once per row (oidc-provider hashes it on every request). */
  private readonly built = new WeakMap<Integration, [Record<string, unknown>, Record<string, unknown>]>();

  constructor(
    private readonly lookup: IntegrationLookup,
    private readonly ttlMs: number,
  ) {}

  /** The live integration with this integration key, or undefined (unknown, deleted, not a UUID). */
  async integration(clientId: string): Promise<Integration | undefined> {
    if (!UUID.test(clientId)) return undefined;
    const now = Date.now();
    const hit = this.integrations.get(clientId);
    if (hit && now - hit.at < this.ttlMs) return hit.value;
    const value = await this.lookup.findClient(clientId);
    remember(this.integrations, clientId, value, now);
    return value;
  }

  /**
   * oidc-provider's client metadata for an integration. `assertionOnly`: the request is a JWT-bearer grant
   * that carries no client authentication (DocuSign's SDKs send none; the assertion's signature by one of the
   * integration's RSA keys authenticates it, checked by the grant), so the client is presented as one that
   * authenticates with nothing at the token endpoint.
   */
  metadata(integration: Integration, assertionOnly: boolean): Record<string, unknown> {
    let both = this.built.get(integration);
    if (!both) {
      both = [this.build(integration, false), this.build(integration, true)];
      this.built.set(integration, both);
    }
    return both[assertionOnly ? 1 : 0];
  }

  private build(integration: Integration, assertionOnly: boolean): Record<string, unknown> {
    const none = integration.client_type === 'public' || assertionOnly;
    const grants = integration.allowed_grants.filter((g) => !(none && g === 'client_credentials'));
    const code = grants.includes('authorization_code');
    return {
      client_id: integration.client_id,
      client_name: integration.name,
      ...(none ? {} : { client_secret: SECRET_STAND_IN }),
      token_endpoint_auth_method: none ? 'none' : 'client_secret_basic',
      grant_types: grants,
      response_types: code ? ['code'] : [],
      redirect_uris: code ? integration.redirect_uris : [],
      // A native app's own scheme (com.example.app:/callback) makes it a native client (RFC 8252), whose
      // loopback redirect URIs may use any port; every other client's are matched exactly.
      application_type: integration.redirect_uris.some((u) => !/^https?:/i.test(u)) ? 'native' : 'web',
      scope: OAUTH_SCOPES.join(' '),
      signet_integration_id: integration.id,
      signet_organization_id: integration.organization_id,
    };
  }

  /** Whether `secret` is a live secret of the integration; cached like the integration itself. */
  async verifySecret(integrationId: string, secret: string): Promise<boolean> {
    const key = createHash('sha256').update(integrationId).update('\0').update(secret).digest('base64');
    const now = Date.now();
    const hit = this.secrets.get(key);
    if (hit && now - hit.at < this.ttlMs) return hit.value;
    const value = await this.lookup.verifyClientSecret({ id: integrationId }, secret);
    remember(this.secrets, key, value, now);
    return value;
  }
}
