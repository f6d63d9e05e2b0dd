// The audit trail of the token endpoint: every grant, refused or not (never the token itself), refresh-token
// and code reuse (and the revocation of the family that follows), and revocations (RFC 7009). The events are
// attributed to the integration that asked, in its organization's chain, and name the user a token is for.
//
// Written in batches, not one transaction per token: each audit append locks the organization's chain tip,
// and a per-grant lock would cap the token endpoint at one grant per commit for an organization. Events wait
// in memory at most `flushMs` (1 s), each keeping who asked, from where and when, and are written with one
// append per organization (and all of them on shutdown); a crash of the process can lose that last second of
// token-endpoint events (not of any change to Signet's data: those are audited in their own transactions). A request to the token endpoint for an unknown client has no organization to record it in;
// it is logged instead (onUnattributed).
import type { IncomingMessage } from 'node:http';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Db } from '../../db/connection.ts';
import type { AuditInput, RequestMeta } from '../audit/writer.ts';
import { mutate } from '../context.ts';
import type { Principal } from '../principal.ts';

/** A Signet request's facts, attached to the raw request the face hands to oidc-provider (for audit). */
export interface RawWithMeta extends IncomingMessage {
  signetMeta?: RequestMeta;
}

/** The RequestMeta the face attached to the raw request (or the connection's address when it did not). */
export function metaOf(ctx: KoaContextWithOIDC): RequestMeta {
  return (ctx.req as RawWithMeta).signetMeta ?? { ip: ctx.ip, userAgent: ctx.get('user-agent') || null };
}

interface Pending {
  principal: Principal;
  input: AuditInput;
}

interface ClientLike {
  clientId: string;
  clientName?: string;
  [key: string]: unknown;
}

/** Who an OAuth event is attributed to: the integration (it carries no permissions; it never authorises). */
export function integrationActor(client: ClientLike, environment: 'test' | 'live'): Principal {
  return {
    kind: 'integration',
    id: client['signet_integration_id'] as string,
    label: client.clientName ?? client.clientId,
    organizationId: client['signet_organization_id'] as string,
    accountId: null,
    userId: null,
    role: 'member',
    environment,
    permissions: new Set(),
  };
}

export class GrantAudit {
  private pending: Pending[] = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;
  /** Called with a failed flush's error, and with refusals no organization can be named for. */
  onError: (err: unknown) => void = () => {};
  onUnattributed: (event: Record<string, unknown>) => void = () => {};

  constructor(
    private readonly db: Db,
    private readonly environment: 'test' | 'live',
    private readonly flushMs = 1000,
  ) {}

  /** A token was issued (any grant). */
  granted(ctx: KoaContextWithOIDC): void {
    const { entities } = ctx.oidc;
    const token = entities.AccessToken ?? entities.ClientCredentials;
    this.record(ctx, 'oauth.token_granted', {
      user_id: entities.AccessToken?.accountId ?? null,
      scope: token?.scope ?? null,
      expires_in: token?.expiration ?? null,
      refresh_token_issued: ctx.body !== null && typeof ctx.body === 'object' && 'refresh_token' in ctx.body,
    });
  }

  /** The token endpoint refused (the error says why; OAuth error descriptions carry no secrets). */
  refused(ctx: KoaContextWithOIDC, err: Error & { error?: string; error_description?: string }): void {
    const extra = { error: err.error ?? 'server_error', error_description: err.error_description ?? null };
    if (!ctx.oidc.client) {
      this.onUnattributed({ ...extra, grant_type: ctx.oidc.params?.grant_type ?? null, ...metaOf(ctx) });
      return;
    }
    this.record(ctx, 'oauth.token_refused', extra);
  }

  /** A code or refresh token was presented again (or by two requests at once): its grant is revoked. */
  reuse(ctx: KoaContextWithOIDC): void {
    const grantType = ctx.oidc.params?.grant_type;
    this.record(
      ctx,
      grantType === 'authorization_code' ? 'oauth.authorization_code_reused' : 'oauth.refresh_token_reused',
      { user_id: reusedUser(ctx) },
    );
  }

  /** oidc-provider revoked a grant: at the token endpoint that is a reuse; at /oauth/revoke, a revocation. */
  grantRevoked(ctx: KoaContextWithOIDC): void {
    if (ctx.oidc.route === 'token') this.reuse(ctx);
    else this.record(ctx, 'oauth.grant_revoked', { user_id: reusedUser(ctx) });
  }

  /** A client revoked one of its tokens (RFC 7009). */
  tokenRevoked(ctx: KoaContextWithOIDC, kind: string): void {
    this.record(ctx, 'oauth.token_revoked', { token_type: kind });
  }

  private record(ctx: KoaContextWithOIDC, action: string, extra: Record<string, unknown>): void {
    const client = ctx.oidc.client as unknown as ClientLike | undefined;
    if (!client) return;
    const principal = integrationActor(client, this.environment);
    this.pending.push({
      principal,
      input: {
        action,
        targetType: 'integration',
        targetId: principal.id,
        extra: printable({
          grant_type: ctx.oidc.params?.grant_type ?? null,
          client_id: client.clientId,
          ...extra,
        }),
        recorded: { principal, meta: metaOf(ctx), occurredAt: new Date().toISOString() },
      },
    });
    if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.flush().catch((err: unknown) => this.onError(err));
      }, this.flushMs);
      this.timer.unref();
    }
  }

  /** Writes what is pending: one transaction per organization. */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing.catch(() => {});
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    const byOrganization = new Map<string, Pending[]>();
    for (const p of batch) {
      const list = byOrganization.get(p.principal.organizationId) ?? [];
      list.push(p);
      byOrganization.set(p.principal.organizationId, list);
    }
    const groups = [...byOrganization.values()];
    let written = 0;
    const run = (async () => {
      for (const events of groups) {
        // One append for the organization: each event carries its own actor, request and time (`recorded`).
        await mutate(this.db, { principal: events[0]!.principal, meta: {} }, async (_trx, audit) => {
          for (const e of events) audit.record(e.input);
        });
        written++;
      }
    })();
    this.flushing = run;
    try {
      await run;
    } catch (err) {
      // What was not written is kept for the next flush rather than lost.
      this.pending.unshift(...groups.slice(written).flat());
      throw err;
    } finally {
      this.flushing = null;
    }
  }

  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.flush();
  }
}

/**
 * Control characters dropped from the strings an event records: descriptions can quote the request (a JWT's
 * `kid`), and a NUL cannot be stored (jsonb refuses it), which would fail every later flush.
 */
function printable(extra: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(extra).map(([k, v]) => [k, typeof v === 'string' ? v.replace(/\p{Cc}/gu, '') : v]),
  );
}

function reusedUser(ctx: KoaContextWithOIDC): string | null {
  const { entities } = ctx.oidc;
  return entities.RefreshToken?.accountId ?? entities.AuthorizationCode?.accountId ?? null;
}
