// Bearer tokens for Connect configurations with includeOAuth "true" (docs/webhooks.md, "Connect"): DocuSign
// Connect's "OAuth 2.0 for Connect" has the sender obtain a token from the organization's authorization server
// with the client-credentials grant (RFC 6749 §4.4) and send it as `Authorization: Bearer …`, so a receiver
// that already checks tokens from its own server needs no HMAC. The token request goes through the outbound
// guard like the deliveries themselves; tokens are cached per organization until shortly before they expire.
import type { Db } from '../../db/connection.ts';
import { guardedPost, type OutboundPolicy, type Resolve } from '../net/outbound.ts';
import { contextOf, type SecretBox } from '../secret-box.ts';

/** A token is used until this long before its expiry (a delivery must not arrive with an expired one). */
const EARLY_MS = 60_000;
/** expires_in when the server gives none (RFC 6749 makes it optional). */
const DEFAULT_EXPIRES_S = 300;

export class ConnectTokenError extends Error {}

interface Cached {
  token: string;
  until: number;
  /** The configuration it was obtained with: a changed configuration makes a new token. */
  version: string;
}

export class ConnectTokens {
  private readonly cache = new Map<string, Cached>();

  constructor(
    private readonly policy: OutboundPolicy,
    private readonly resolve: Resolve,
    private readonly timeoutMs: number,
    private readonly box: SecretBox,
  ) {}

  /** The organization's bearer token; throws ConnectTokenError when there is no configuration or no token. */
  async token(db: Db, organizationId: string): Promise<string> {
    const config = await db
      .selectFrom('connect_oauth_configs')
      .selectAll()
      .where('organization_id', '=', organizationId)
      .executeTakeFirst();
    if (!config) {
      throw new ConnectTokenError(
        'includeOAuth is "true" but the organization has no Connect OAuth configuration',
      );
    }
    const version = new Date(config.updated_at).toISOString();
    const hit = this.cache.get(organizationId);
    if (hit && hit.version === version && hit.until > Date.now()) return hit.token;
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    if (config.scope) form.set('scope', config.scope);
    for (const [k, v] of Object.entries(config.custom_parameters ?? {})) {
      if (!form.has(k)) form.set(k, String(v));
    }
    const clientSecret = await this.box.open(
      config.client_secret,
      contextOf('connect_oauth_configs', organizationId),
    );
    // client_secret_basic (RFC 6749 §2.3.1): the form-encoded id and secret, base64 together.
    const basic = Buffer.from(
      `${encodeURIComponent(config.client_id)}:${encodeURIComponent(clientSecret)}`,
    ).toString('base64');
    let answer: Awaited<ReturnType<typeof guardedPost>>;
    try {
      answer = await guardedPost(
        new URL(config.authorization_server_url),
        { authorization: `Basic ${basic}`, accept: 'application/json' },
        form.toString(),
        this.policy,
        this.resolve,
        this.timeoutMs,
        { contentType: 'application/x-www-form-urlencoded', keepBytes: 64 * 1024 },
      );
    } catch (err) {
      throw new ConnectTokenError(
        `no OAuth token from ${config.authorization_server_url}: ${(err as Error).message}`,
      );
    }
    let body: { access_token?: unknown; expires_in?: unknown } = {};
    try {
      body = JSON.parse(answer.excerpt);
    } catch {}
    if (answer.status !== 200 || typeof body.access_token !== 'string' || body.access_token === '') {
      throw new ConnectTokenError(
        `no OAuth token from ${config.authorization_server_url}: it answered ${answer.status} ${answer.excerpt.slice(0, 200)}`,
      );
    }
    const expires = typeof body.expires_in === 'number' ? body.expires_in : DEFAULT_EXPIRES_S;
    const until = Date.now() + Math.max(expires * 1000 - EARLY_MS, 0);
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(organizationId, { token: body.access_token, until, version });
    return body.access_token;
  }
}
