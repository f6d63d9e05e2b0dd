// The scope catalogue for restricted API keys. A restricted key carries a list of Signet scopes; each scope
// grants a set of route permissions (src/core/principal.ts). The key's effective permissions are its
// creator's permissions intersected with what its scopes grant, so a key can never exceed its creator.
// A write scope grants the matching reads too (as Stripe's restricted keys do): a key that may change users
// may also look at them.
//
// DocuSign's scope names (the OAuth scopes of its eSignature and Admin APIs) are mapped onto Signet scopes
// below; the DocuSign face translates a token's scopes with docuSignScopesToSignet().
import type { Permission } from '../principal.ts';

export interface ScopeDefinition {
  description: string;
  grants: readonly Permission[];
}

export const SCOPES = {
  'account:read': {
    description: 'Read accounts, the organization, settings, brands, permission profiles and groups',
    grants: ['org:read', 'accounts:read', 'settings:read', 'brands:read', 'profiles:read', 'groups:read'],
  },
  'account:write': {
    description: 'Change accounts, the organization, settings, brands, permission profiles and groups',
    grants: [
      'org:read',
      'accounts:read',
      'settings:read',
      'brands:read',
      'profiles:read',
      'groups:read',
      'org:write',
      'accounts:write',
      'settings:write',
      'brands:write',
      'profiles:write',
      'groups:write',
    ],
  },
  'users:read': { description: 'Read users and their memberships', grants: ['users:read'] },
  'users:write': {
    description: 'Create, change, deactivate users and their memberships',
    grants: ['users:read', 'users:write'],
  },
  'audit:read': { description: 'Read and export the audit log', grants: ['audit:read'] },
  'keys:read': { description: 'List API keys', grants: ['keys:read'] },
  'keys:write': {
    description: 'Create, rotate and revoke API keys',
    grants: ['keys:read', 'keys:write'],
  },
  'integrations:read': {
    description: 'Read integration keys (OAuth clients), their RSA keys and consents',
    grants: ['integrations:read'],
  },
  'integrations:write': {
    description: 'Create, change and delete integration keys, their secrets, RSA keys and consents',
    grants: ['integrations:read', 'integrations:write'],
  },
  'webhooks:read': {
    description: 'Read webhook endpoints and their delivery logs',
    grants: ['webhooks:read'],
  },
  'webhooks:write': {
    description: 'Create, change, delete, test webhook endpoints and rotate their secrets',
    grants: ['webhooks:read', 'webhooks:write'],
  },
  'envelopes:read': {
    description: 'Read envelopes, their status, documents and histories',
    grants: ['envelopes:read'],
  },
  'envelopes:write': {
    description: 'Create, send, void, decline and remind envelopes',
    grants: ['envelopes:read', 'envelopes:write'],
  },
  'credits:read': { description: 'Read the credit balance and ledger', grants: ['credits:read'] },
  'credits:write': {
    description: "Grant credits to a platform's connected accounts",
    grants: ['credits:read', 'credits:write'],
  },
  'platform:read': {
    description: 'Read platform mode and the connected accounts of a platform organization',
    grants: ['platform:read'],
  },
  'platform:write': {
    description: 'Turn platform mode on or off; create, rename, suspend connected accounts',
    grants: ['platform:read', 'platform:write'],
  },
} as const satisfies Record<string, ScopeDefinition>;

export type Scope = keyof typeof SCOPES;
export const SCOPE_NAMES = Object.keys(SCOPES) as Scope[];

export function isScope(name: string): name is Scope {
  return Object.hasOwn(SCOPES, name);
}

/** Every permission the given scopes grant together. Unknown names grant nothing. */
export function scopeGrants(scopes: readonly string[]): Set<Permission> {
  const set = new Set<Permission>();
  for (const s of scopes) if (isScope(s)) for (const p of SCOPES[s].grants) set.add(p);
  return set;
}

/**
 * DocuSign OAuth scope → the Signet scopes it stands for. `impersonation` and `extended` are about how a
 * token is obtained and how long it lives, not what it may do, so they grant nothing on their own. These are
 * also the scope names an integration can be given consent for (src/core/integrations/consents.ts).
 * `signature` is the eSignature REST API scope, which covers that API's account administration (users,
 * groups, permission profiles, brands, settings), but not the organization's audit log.
 */
export const DOCUSIGN_SCOPES: Record<string, readonly Scope[]> = {
  signature: [
    'account:read',
    'account:write',
    'users:read',
    'users:write',
    'envelopes:read',
    'envelopes:write',
  ],
  impersonation: [],
  extended: [],
  // OpenID Connect's scope (the userinfo endpoint) and DocuSign's CORS scope: about the token, not the API.
  openid: [],
  cors: [],
  organization_read: ['account:read'],
  account_read: ['account:read'],
  account_write: ['account:write'],
  permission_read: ['account:read'],
  group_read: ['account:read'],
  user_read: ['users:read'],
  user_write: ['users:write'],
  user_data_redact: ['users:write'],
  domain_read: ['account:read'],
  identity_provider_read: ['account:read'],
  organization_sub_account_read: ['account:read'],
  organization_sub_account_write: ['account:write'],
};

/** The Signet scopes for a list of DocuSign scopes; names DocuSign has but Signet does not map are ignored. */
export function docuSignScopesToSignet(scopes: readonly string[]): Scope[] {
  const out = new Set<Scope>();
  for (const s of scopes) for (const mapped of DOCUSIGN_SCOPES[s] ?? []) out.add(mapped);
  return SCOPE_NAMES.filter((s) => out.has(s));
}
