// The per-process dependency container: every service, built once over one database handle.
import { promises as dns } from 'node:dns';
import type { Config } from './config.ts';
import { AccountBatchesService } from './core/accounts/batches.ts';
import { AccountCreationsService } from './core/accounts/creations.ts';
import { AccountsService } from './core/accounts/service.ts';
import { ApiKeysService } from './core/api-keys/service.ts';
import { AuditService } from './core/audit/service.ts';
import { Activation } from './core/auth/activation.ts';
import { MfaService } from './core/auth/mfa.ts';
import { PasswordPolicies } from './core/auth/password-policy.ts';
import { PeopleService } from './core/auth/service.ts';
import { SessionsService } from './core/auth/sessions.ts';
import { LoginThrottle } from './core/auth/throttle.ts';
import { BrandsService } from './core/brands/service.ts';
import { CreditsService } from './core/credits/ledger.ts';
import { EnvelopesService } from './core/envelopes/service.ts';
import { ExportsService } from './core/exports/service.ts';
import { GroupsService } from './core/groups/service.ts';
import { IdempotencyStore } from './core/idempotency/store.ts';
import { ImportsService } from './core/imports/service.ts';
import { InstanceService } from './core/instance.ts';
import { ConsentsService } from './core/integrations/consents.ts';
import { IntegrationCredentialsService } from './core/integrations/credentials.ts';
import { IntegrationLookup } from './core/integrations/lookup.ts';
import { IntegrationsService } from './core/integrations/service.ts';
import { InvitesService } from './core/invites/service.ts';
import { Mailer } from './core/mail/mailer.ts';
import { MappingRulesService } from './core/mapping-rules/service.ts';
import { resolverFor } from './core/net/outbound.ts';
import { OAuthServer } from './core/oauth/provider.ts';
import { AccessTokens } from './core/oauth/tokens.ts';
import { DomainsService } from './core/organizations/domains.ts';
import { OrganizationsService } from './core/organizations/service.ts';
import { PermissionProfilesService } from './core/permission-profiles/service.ts';
import { PlatformService } from './core/platform/service.ts';
import { secretBoxOf } from './core/secret-box.ts';
import { SettingsImportsService } from './core/settings/imports.ts';
import { SettingsService } from './core/settings/service.ts';
import { SigningService } from './core/signing/service.ts';
import { SigningTokens } from './core/signing/tokens.ts';
import { EmailChanges } from './core/users/email-changes.ts';
import { ProvisioningService } from './core/users/provisioning.ts';
import { UsersService } from './core/users/service.ts';
import { ConnectService } from './core/webhooks/connect.ts';
import { WebhookEndpointsService } from './core/webhooks/endpoints.ts';
import type { Db } from './db/connection.ts';
import { enqueueExport, enqueueImport } from './jobs/queue.ts';

export function createServices(db: Db, config: Config) {
  // People: sessions, mail, sign-up/login/resets, invites, claimed domains (docs/people-and-sessions.md).
  const mailer = new Mailer(db, config);
  const emailChanges = new EmailChanges(db, mailer, config.environment, config.publicUrl);
  const activation = Activation.of(db, mailer, config);
  const users = new UsersService(db, emailChanges, activation);
  const sessions = new SessionsService(db, config.environment, config.sessionMaxHours);
  const mfa = new MfaService(db);
  const people = new PeopleService(
    db,
    users,
    sessions,
    new LoginThrottle(db),
    mailer,
    config.environment,
    config.publicUrl,
    config.signupCredits,
    mfa,
  );
  const invites = new InvitesService(db, sessions, mailer, config.environment, config.publicUrl);
  const integrationLookup = new IntegrationLookup(db);
  const consents = new ConsentsService(db);
  // OAuth (docs/oauth.md): access tokens resolve to principals like API keys; the server issues them.
  const oauthTokens = new AccessTokens(db, integrationLookup, config.environment, config.keyCacheTtlMs);
  const oauth = new OAuthServer(
    db,
    integrationLookup,
    oauthTokens,
    consents,
    {
      issuer: config.publicUrl,
      audience: config.oauthAudience,
      environment: config.environment,
      trustProxy: config.trustProxy !== false,
      sessionMaxHours: config.sessionMaxHours,
    },
    config.keyCacheTtlMs,
  );
  // Parties sign through their mailed links; the envelope service starts each party's turn through it.
  const secretBox = secretBoxOf(db, config.secretKeys);
  const signing = new SigningService(db, mailer, new SigningTokens(db), {
    publicUrl: config.publicUrl,
    environment: config.environment,
  });
  return {
    mailer,
    sessions,
    people,
    mfa,
    activation,
    passwordPolicies: new PasswordPolicies(db),
    emailChanges,
    invites,
    domains: new DomainsService(db, txtLookup(config.dnsServers)),
    db,
    instance: new InstanceService(db),
    idempotency: new IdempotencyStore(db),
    organizations: new OrganizationsService(db),
    // Platform mode, connected accounts and the Atlas-Account header (docs/platform.md).
    platform: new PlatformService(db),
    accounts: new AccountsService(db),
    accountCreations: new AccountCreationsService(db, emailChanges, activation),
    users,
    provisioning: new ProvisioningService(db, emailChanges, activation),
    accountBatches: new AccountBatchesService(db, emailChanges, activation),
    apiKeys: new ApiKeysService(db, config.environment, config.keyCacheTtlMs),
    // Integration keys (OAuth clients), their secrets and RSA keys, consents (docs/oauth.md), what the
    // OAuth endpoints read about them, the OAuth server, and access tokens as principals.
    integrations: new IntegrationsService(db),
    integrationCredentials: new IntegrationCredentialsService(db),
    consents,
    integrationLookup,
    oauth,
    oauthTokens,
    audit: new AuditService(db),
    permissionProfiles: new PermissionProfilesService(db),
    groups: new GroupsService(db),
    mappingRules: new MappingRulesService(db),
    brands: new BrandsService(db),
    settings: new SettingsService(db),
    settingsImports: new SettingsImportsService(db),
    imports: new ImportsService(db, config, (trx, id) => enqueueImport(trx, id, config)),
    exports: new ExportsService(db, config, (trx, id) => enqueueExport(trx, id, config)),
    // Webhook endpoints and their secrets (docs/webhooks.md); events reach them through the audit writer.
    // Signing through a party's mailed link (docs/envelopes.md, "Signing").
    signing,
    webhookEndpoints: new WebhookEndpointsService(
      db,
      { allow: config.outboundAllow, allowHttp: config.outboundAllowHttp },
      secretBox,
    ),
    // Envelopes and the credits their sends cost (docs/envelopes.md, docs/platform.md).
    credits: new CreditsService(db),
    envelopes: new EnvelopesService(db, {
      publicUrl: config.publicUrl,
      maxBytes: config.envelopeMaxBytes,
      outbound: { allow: config.outboundAllow, allowHttp: config.outboundAllowHttp },
      resolve: resolverFor(config.dnsServers),
      fetchTimeoutMs: config.webhookTimeoutMs,
      signUrl: (envelope, partyId) => signing.signUrl(envelope, partyId),
      startTurn: (trx, envelope, party, opts) => signing.startTurn(trx, envelope, party, opts),
    }),
    // The Connect operations of /management: organization-level Connect configurations on the same endpoints.
    connect: new ConnectService(
      db,
      { allow: config.outboundAllow, allowHttp: config.outboundAllowHttp },
      secretBox,
    ),
    // Seals the secrets Signet must keep readable (src/core/secret-box.ts).
    secretBox,
  };
}

export type Services = ReturnType<typeof createServices>;

/**
 * What the faces get (`fastify.services`): every service, and not the database handle. A face calls a core
 * operation, which runs its own transaction; it never reads or writes a table itself.
 */
export type FaceServices = Omit<Services, 'db'>;

/** TXT lookups for domain-claim proofs, through SIGNET_DNS_SERVERS (or the system's resolvers). */
function txtLookup(servers: string[]): (name: string) => Promise<string[][]> {
  // A few seconds at most: the lookup runs inside an HTTP request.
  const resolver = new dns.Resolver({ timeout: 2000, tries: 2 });
  if (servers.length > 0) resolver.setServers(servers);
  return (name) => resolver.resolveTxt(name);
}
