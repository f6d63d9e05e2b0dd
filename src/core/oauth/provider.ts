// Signet's OAuth 2.0 authorization server: oidc-provider (node-oidc-provider 9, OpenID-certified) configured the
// way DocuSign's account server behaves, on DocuSign's paths (/oauth/auth, /oauth/token, /oauth/userinfo),
// over PostgreSQL (adapter.ts), with Signet's integrations as its clients (clients.ts). docs/oauth.md is the
// user's view. What the configuration decides, and why:
//
//   - grants: authorization_code (PKCE S256, required of public clients; RFC 9700 section 2.1.1), refresh_token
//     (rotated on every use; a rotated token presented again revokes its whole grant), the JWT bearer grant
//     (jwt-grant.ts) and client_credentials; no implicit, no password grant (RFC 9700 section 2.4);
//   - DocuSign's lifetimes: access tokens 8 h (the JWT grant's 1 h), refresh tokens 30 days, renewed by a
//     refresh only when the grant holds the `extended` scope (otherwise a refreshed token keeps the first
//     one's expiry); codes 60 s;
//   - a person signs in with their Signet password (or an existing dashboard session) and consents on pages
//     Signet serves (src/faces/oauth); a standing consent (theirs, or an admin's for the organization) skips
//     the consent page unless the client asks for prompt=consent;
//   - tokens are opaque, prefixed with their kind and environment (sat_test_…, srt_live_…), so a token from
//     another environment is refused by name before any lookup, as API keys are;
//   - a client may introspect and revoke only its own tokens (oidc-provider's default lets any confidential
//     client introspect any token, which would cross organizations).
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Account, Configuration, KoaContextWithOIDC } from 'oidc-provider';
import type { Db } from '../../db/connection.ts';
import type { OrgRole } from '../../db/schema.ts';
import type { RequestMeta } from '../audit/writer.ts';
import { personActor } from '../auth/actor.ts';
import type { Ctx } from '../context.ts';
import { AppError } from '../errors.ts';
import type { IntegrationLookup } from '../integrations/lookup.ts';
import type { Principal } from '../principal.ts';
import { PayloadWriter, PgAdapter, sweepExpired } from './adapter.ts';
import { GrantAudit, type RawWithMeta } from './audit.ts';
import { JWT_BEARER, OAuthClients } from './clients.ts';
import { invalidGrant } from './errors.ts';
import { jwtBearerGrant } from './jwt-grant.ts';
import { loadServerKeys } from './keys.ts';
import { Provider } from './oidc.ts';
import { isOAuthScope, OAUTH_SCOPES, splitScope } from './scopes.ts';
import type { AccessTokens } from './tokens.ts';

export const ACCESS_TOKEN_SECONDS = 8 * 3600;
export const REFRESH_TOKEN_SECONDS = 30 * 86400;
export const CLIENT_CREDENTIALS_SECONDS = 3600;
const GRANT_SECONDS = 365 * 86400;

/** The paths oidc-provider answers (the face forwards exactly these); userinfo is Signet's own route. */
export const OAUTH_ROUTES = {
  authorization: '/oauth/auth',
  token: '/oauth/token',
  jwks: '/oauth/jwks',
  revocation: '/oauth/revoke',
  introspection: '/oauth/introspect',
  userinfo: '/oauth/userinfo',
} as const;
export const INTERACTION_PATH = '/oauth/interaction';

export interface OAuthServerOptions {
  /** SIGNET_PUBLIC_URL: the issuer identifier, and the base of every URL the server publishes. */
  issuer: string;
  /** What a JWT grant's `aud` must be (SIGNET_OAUTH_AUDIENCE). */
  audience: string;
  environment: 'test' | 'live';
  /** Believe X-Forwarded-* (SIGNET_TRUST_PROXY set). */
  trustProxy: boolean;
  sessionMaxHours: number;
}

/** What the sign-in and consent pages need to know about the interaction in progress. */
export interface InteractionView {
  uid: string;
  /** What it waits for: 'login' or 'consent'. */
  prompt: string;
  /** The signed-in user, once there is one. */
  user: { id: string; email: string } | null;
  clientId: string;
  clientName: string;
  integrationId: string;
  organizationId: string;
  /** The scopes asked for that Signet knows (the others are ignored). */
  scopes: string[];
}

/** Records a user's own consent (the integrations service; audited there). */
export interface ConsentRecorder {
  recordUserConsent(ctx: Ctx, integrationId: string, scopes: string[]): Promise<unknown>;
}

/** The interaction is over, expired, or the cookie names another one. */
function interactionGone(): AppError {
  return new AppError(
    'not_found',
    'this sign-in has ended or belongs to another browser: start again from the application',
    [],
    'interaction',
  );
}

/** The user facts the OAuth server reads (sign-in, ID tokens, the JWT grant). */
interface UserFacts {
  id: string;
  organization_id: string;
  email: string;
  first_name: string;
  last_name: string;
  status: string;
  role: OrgRole;
  email_verified_at: Date | null;
}

/**
 * Opaque token values: kind prefix, environment, 256 random bits (base64url); tokens.ts parses them. The
 * random bytes are drawn from a pool refilled 128 tokens at a time (one call to the CSPRNG rather than one per
 * token, as nanoid does for oidc-provider's own ids).
 */
let pool = Buffer.alloc(0);
let offset = 0;
function tokenValue(prefix: 'sat' | 'srt', environment: string): string {
  if (offset + 32 > pool.length) {
    pool = randomBytes(32 * 128);
    offset = 0;
  }
  const random = pool.subarray(offset, offset + 32).toString('base64url');
  offset += 32;
  return `${prefix}_${environment}_${random}`;
}

export class OAuthServer {
  readonly clients: OAuthClients;
  readonly audit: GrantAudit;
  /**
   * The HTML page shown instead of redirecting when the authorization request cannot be answered at the
   * client's redirect URI (an unknown client, a redirect_uri that is not registered). The face sets it.
   */
  renderErrorPage: (error: string, description: string | undefined) => string = (error) =>
    `<!DOCTYPE html><title>Signet</title><p>${error.replace(/[^a-z_]/g, '')}</p>`;
  /** A request oidc-provider answered with a 500 (a bug, or the database gone). The face logs it. */
  onServerError: (err: unknown) => void = () => {};
  private provider: Provider | null = null;
  private callback: ((req: IncomingMessage, res: ServerResponse) => Promise<void>) | null = null;
  private starting: Promise<Provider> | null = null;

  constructor(
    private readonly db: Db,
    private readonly lookup: IntegrationLookup,
    private readonly tokens: AccessTokens,
    private readonly consents: ConsentRecorder,
    private readonly options: OAuthServerOptions,
    cacheTtlMs: number,
  ) {
    this.clients = new OAuthClients(lookup, cacheTtlMs);
    this.audit = new GrantAudit(db, options.environment);
  }

  /**
   * The provider, made on first use: its keys live in the database (keys.ts), and building the app must not
   * need a database (scripts/compatibility.ts lists the routes of an app that never connects).
   */
  async ready(): Promise<Provider> {
    if (this.provider) return this.provider;
    this.starting ??= this.build().then((p) => {
      // Koa composes its middleware in callback(): once, not per request.
      this.callback = p.callback();
      this.provider = p;
      return p;
    });
    try {
      return await this.starting;
    } catch (err) {
      this.starting = null;
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.audit.close();
  }

  /** Deletes expired tokens, codes, sessions and grants (an hour after they expire); a few batches a call. */
  async sweep(): Promise<void> {
    for (let i = 0; i < 20; i++) if ((await sweepExpired(this.db, 1000)) < 1000) break;
  }

  /** Hands a request to oidc-provider (the face calls this for the paths of OAUTH_ROUTES and discovery). */
  async handle(req: RawWithMeta, res: ServerResponse): Promise<void> {
    await this.ready();
    await this.callback!(req, res);
  }

  // --- the sign-in and consent interaction (pages in src/faces/oauth) ---------------------------------------

  /**
   * The interaction the browser's cookie names, checked against the `uid` of the page's URL: what it waits for
   * (`login` or `consent`), for which integration, which user (once signed in) and which scopes.
   */
  async interaction(req: IncomingMessage, res: ServerResponse, uid: string): Promise<InteractionView> {
    const provider = await this.ready();
    let details: Awaited<ReturnType<Provider['interactionDetails']>>;
    try {
      details = await provider.interactionDetails(req, res);
    } catch {
      throw interactionGone();
    }
    if (details.uid !== uid) throw interactionGone();
    const clientId = String(details.params.client_id);
    const integration = await this.clients.integration(clientId);
    if (!integration) throw interactionGone();
    const user = details.session?.accountId ? await this.loadUser(details.session.accountId) : undefined;
    return {
      uid: details.uid,
      prompt: details.prompt.name,
      user: user ? { id: user.id, email: user.email } : null,
      clientId,
      clientName: integration.name,
      integrationId: integration.id,
      organizationId: integration.organization_id,
      scopes: splitScope(details.params.scope).filter(isOAuthScope),
    };
  }

  /** The person signed in as `userId`: where the browser goes next (back to the authorization endpoint). */
  async signedIn(req: IncomingMessage, res: ServerResponse, userId: string): Promise<string> {
    const provider = await this.ready();
    return provider.interactionResult(
      req,
      res,
      { login: { accountId: userId } },
      { mergeWithLastSubmission: false },
    );
  }

  /**
   * The person allowed the integration the scopes it asked for: their consent is recorded (through the
   * integrations service, audited there), and a grant of those scopes finishes the interaction.
   */
  async consented(
    req: IncomingMessage,
    res: ServerResponse,
    view: InteractionView,
    meta: RequestMeta,
  ): Promise<string> {
    const user = view.user && (await this.loadUser(view.user.id));
    if (!user || view.prompt !== 'consent') throw interactionGone();
    if (view.scopes.length > 0) {
      const ctx: Ctx = {
        principal: personActor({ ...user, role: user.role }, this.options.environment),
        meta,
      };
      await this.consents.recordUserConsent(ctx, view.integrationId, view.scopes);
    }
    const provider = await this.ready();
    const grant = new provider.Grant({ accountId: user.id, clientId: view.clientId });
    grant.addOIDCScope(view.scopes);
    const grantId = await grant.save();
    return provider.interactionResult(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }

  /** The person cancelled: the client gets access_denied at its redirect URI. */
  async denied(req: IncomingMessage, res: ServerResponse): Promise<string> {
    const provider = await this.ready();
    return provider.interactionResult(
      req,
      res,
      { error: 'access_denied', error_description: 'the user did not allow the request' },
      { mergeWithLastSubmission: false },
    );
  }

  /**
   * GET /oauth/userinfo in DocuSign's shape (developers.docusign.com, "UserInfo"): the user, and every account
   * they are an active member of, the first one (their default account, where their tokens act unless told
   * otherwise) marked is_default. base_uri is where the eSignature API is: this server.
   */
  async userInfo(principal: Principal): Promise<Record<string, unknown>> {
    if (principal.kind !== 'user' || !principal.oauth || !principal.userId) {
      throw new AppError(
        'invalid_access_token',
        'userinfo describes a user: this access token acts for no user (client_credentials)',
      );
    }
    const user = await this.db
      .selectFrom('users')
      .select(['id', 'email', 'first_name', 'last_name', 'created_at'])
      .where('id', '=', principal.userId)
      .executeTakeFirstOrThrow();
    const accounts = await this.db
      .selectFrom('memberships as m')
      .innerJoin('accounts as a', 'a.id', 'm.account_id')
      .select(['a.id', 'a.name', 'a.organization_id'])
      .where('m.user_id', '=', user.id)
      .where('m.status', '=', 'active')
      .orderBy('m.created_at')
      .orderBy('m.id')
      .execute();
    const base = this.options.issuer;
    return {
      sub: user.id,
      name: `${user.first_name} ${user.last_name}`.trim(),
      given_name: user.first_name,
      family_name: user.last_name,
      created: user.created_at.toISOString(),
      email: user.email,
      accounts: accounts.map((a, i) => ({
        account_id: a.id,
        is_default: i === 0,
        account_name: a.name,
        base_uri: base,
        organization: {
          organization_id: a.organization_id,
          links: [{ rel: 'self', href: `${base}/management/v2/organizations/${a.organization_id}` }],
        },
      })),
    };
  }

  private async loadUser(id: string): Promise<UserFacts | undefined> {
    return this.db
      .selectFrom('users')
      .select([
        'id',
        'organization_id',
        'email',
        'first_name',
        'last_name',
        'status',
        'role',
        'email_verified_at',
      ])
      .where('id', '=', id)
      .executeTakeFirst();
  }

  private async build(): Promise<Provider> {
    const { db, lookup, clients, options } = this;
    const keys = await loadServerKeys(db);
    const tokens = this.tokens;
    const audit = this.audit;
    const loadUser = (id: string) => this.loadUser(id);
    const stillAuthorized = async (
      client: Record<string, unknown>,
      token: { accountId?: string; scope?: string },
    ) => {
      if (!token.accountId) return true;
      const user = await loadUser(token.accountId);
      if (user?.status !== 'active' || user.organization_id !== client['signet_organization_id'])
        return false;
      const consented = await lookup.consentFor(client['signet_integration_id'] as string, token.accountId);
      return splitScope(token.scope).some((s) => consented.includes(s));
    };
    const hooks = {
      writer: new PayloadWriter(db),
      findClient: async (clientId: string) => {
        const integration = await clients.integration(clientId);
        return integration && clients.metadata(integration, assertionOnly(Provider.ctx));
      },
      onGrantRevoked: (grantId: string) => {
        tokens.forgetGrant(grantId);
        const ctx = Provider.ctx;
        if (ctx) audit.reuse(ctx);
      },
    };

    const configuration: Configuration = {
      adapter: (name: string) => new PgAdapter(db, name, hooks),
      clients: [],
      // Only Signet's integrations, never clients registered over HTTP.
      extraClientMetadata: { properties: ['signet_integration_id', 'signet_organization_id'] },
      async findAccount(ctx, sub, token): Promise<Account | undefined> {
        const user = await loadUser(sub);
        const organizationId = ctx.oidc.client?.['signet_organization_id'];
        if (user?.status !== 'active' || (organizationId && user.organization_id !== organizationId)) {
          return undefined;
        }
        // Redeeming a code or a refresh token needs the consent still to cover what was granted.
        if (token && ctx.oidc.route === 'token' && ctx.oidc.client) {
          const granted = splitScope(token.scope);
          const consented = await lookup.consentFor(ctx.oidc.client['signet_integration_id'] as string, sub);
          const missing = granted.filter((s) => !consented.includes(s));
          if (missing.length > 0) {
            throw invalidGrant(
              `the consent to ${missing.join(' ')} was revoked; the user must authorize the integration again (/oauth/auth)`,
            );
          }
        }
        return {
          accountId: user.id,
          claims: async () => ({
            sub: user.id,
            email: user.email,
            email_verified: user.email_verified_at !== null,
            name: `${user.first_name} ${user.last_name}`.trim(),
            given_name: user.first_name,
            family_name: user.last_name,
          }),
        };
      },
      claims: { openid: ['sub', 'email', 'email_verified', 'name', 'given_name', 'family_name'] },
      scopes: [...OAUTH_SCOPES],
      responseTypes: ['code'],
      pkce: { required: (_ctx, client) => client.clientAuthMethod === 'none' },
      features: {
        devInteractions: { enabled: false },
        clientCredentials: { enabled: true },
        // Active at introspection exactly when the API would still accept the token (tokens.ts): its user
        // active, and the consent still covering some of its scopes.
        introspection: {
          enabled: true,
          allowedPolicy: async (ctx, client, token) =>
            ownTokensOnly(ctx, client, token) && (await stillAuthorized(client, token)),
        },
        revocation: { enabled: true, allowedPolicy: ownTokensOnly },
        // /oauth/userinfo answers in DocuSign's shape (accounts, base_uri), which is not OpenID's: Signet's route.
        userinfo: { enabled: false },
        rpInitiatedLogout: { enabled: false },
        resourceIndicators: { enabled: false },
      },
      discovery: { userinfo_endpoint: `${options.issuer}${OAUTH_ROUTES.userinfo}` },
      routes: {
        authorization: OAUTH_ROUTES.authorization,
        token: OAUTH_ROUTES.token,
        jwks: OAUTH_ROUTES.jwks,
        revocation: OAUTH_ROUTES.revocation,
        introspection: OAUTH_ROUTES.introspection,
      },
      ttl: {
        AccessToken: (_ctx, token) => (token.gty?.includes(JWT_BEARER) ? 3600 : ACCESS_TOKEN_SECONDS),
        AuthorizationCode: 60,
        ClientCredentials: CLIENT_CREDENTIALS_SECONDS,
        RefreshToken: (ctx, token) => {
          // DocuSign: a refresh keeps the refresh token's expiry, unless the grant holds `extended`.
          const rotated = ctx?.oidc?.entities.RotatedRefreshToken;
          if (rotated && !token.scopes.has('extended')) return Math.max(1, rotated.remainingTTL);
          return REFRESH_TOKEN_SECONDS;
        },
        Grant: GRANT_SECONDS,
        IdToken: 3600,
        Interaction: 3600,
        Session: options.sessionMaxHours * 3600,
      },
      issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
      rotateRefreshToken: true,
      expiresWithSession: async () => false,
      async loadExistingGrant(ctx) {
        const { oidc } = ctx;
        const finished = oidc.result?.consent?.grantId;
        if (finished) return oidc.provider.Grant.find(finished);
        // A standing consent (the user's own, or an admin's for the organization) stands in for the consent
        // page; what it does not cover is asked for. Never a session's earlier grant: its consent may be gone.
        const accountId = oidc.session?.accountId;
        if (!accountId || !oidc.client) return undefined;
        const consented = await lookup.consentFor(oidc.client['signet_integration_id'] as string, accountId);
        const covered = splitScope(oidc.params?.scope).filter(
          (s) => isOAuthScope(s) && consented.includes(s),
        );
        if (covered.length === 0) return undefined;
        const grant = new oidc.provider.Grant({ accountId, clientId: oidc.client.clientId });
        grant.addOIDCScope(covered);
        await grant.save();
        return grant;
      },
      interactions: { url: async (_ctx, interaction) => `${INTERACTION_PATH}/${interaction.uid}` },
      renderError: async (ctx, out) => {
        ctx.type = 'html';
        ctx.body = this.renderErrorPage(String(out.error), out.error_description as string | undefined);
      },
      cookies: { keys: [keys.cookieSecret] },
      jwks: { keys: [keys.signingKey as never] },
      clockTolerance: 30,
    };

    const provider = new Provider(options.issuer, configuration);
    provider.proxy = options.trustProxy;
    // Signet stores secrets hashed: compare through the integration's secrets, not the metadata's stand-in.
    provider.Client.prototype.compareClientSecret = function compare(actual: string) {
      return clients.verifySecret(this['signet_integration_id'] as string, actual);
    };
    // Token values say what they are and for which environment (tokens.ts parses them).
    // (oidc-provider draws a model's id from its prototype's generateTokenId; for opaque tokens the id is the
    // token. The type definitions do not declare the method.)
    const env = options.environment;
    const idFrom = (model: { prototype: object }, prefix: 'sat' | 'srt') => {
      (model.prototype as { generateTokenId: () => string }).generateTokenId = function opaqueId(this: {
        format?: string;
      }) {
        this.format = 'opaque'; // what oidc-provider's own generateTokenId records for an opaque token
        return tokenValue(prefix, env);
      };
    };
    idFrom(provider.AccessToken, 'sat');
    idFrom(provider.ClientCredentials, 'sat');
    idFrom(provider.RefreshToken, 'srt');
    provider.registerGrantType(JWT_BEARER, jwtBearerGrant({ db, lookup, audience: options.audience }), [
      'assertion',
      'scope',
    ]);

    provider.on('server_error', (_ctx: KoaContextWithOIDC, err: Error) => this.onServerError(err));
    provider.on('grant.success', (ctx: KoaContextWithOIDC) => audit.granted(ctx));
    provider.on('grant.error', (ctx: KoaContextWithOIDC, err: Error & { error_detail?: string }) => {
      if (err.error_detail) ctx.state.grantErrorDetail = err.error_detail;
      audit.refused(ctx, err);
    });
    // oidc-provider answers every invalid_grant with "grant request is invalid" and keeps the reason to itself
    // (error_detail); the client is authenticated by then and the reason is about its own request, so say it.
    provider.use(async (ctx, next) => {
      await next();
      const body = ctx.body as { error?: string; error_description?: string } | undefined;
      const detail = ctx.state.grantErrorDetail;
      if (body?.error === 'invalid_grant' && typeof detail === 'string') {
        ctx.body = { ...body, error_description: detail };
      }
    });
    provider.on('grant.revoked', (ctx: KoaContextWithOIDC, grantId: string) => {
      tokens.forgetGrant(grantId);
      audit.grantRevoked(ctx);
    });
    const destroyed = (token: { jti: string; kind: string }) => {
      tokens.forgetToken(token.jti);
      const ctx = Provider.ctx;
      if (ctx?.oidc.route === 'revocation') audit.tokenRevoked(ctx, token.kind);
    };
    provider.on('access_token.destroyed', destroyed);
    provider.on('client_credentials.destroyed', destroyed);
    provider.on('refresh_token.destroyed', destroyed);
    return provider;
  }
}

/** Introspection and revocation: a client sees and revokes its own tokens only. */
function ownTokensOnly(_ctx: KoaContextWithOIDC, client: { clientId: string }, token: { clientId?: string }) {
  return token.clientId === client.clientId;
}

/**
 * A JWT-bearer token request without client authentication (what DocuSign's SDKs send): the client is then
 * presented as one that needs none at the token endpoint, and the grant authenticates it by the assertion.
 */
function assertionOnly(ctx: KoaContextWithOIDC | undefined): boolean {
  if (ctx?.oidc.route !== 'token') return false;
  const params = ctx.oidc.params ?? {};
  return (
    params.grant_type === JWT_BEARER &&
    ctx.headers.authorization === undefined &&
    params.client_secret === undefined &&
    params.client_assertion === undefined
  );
}
