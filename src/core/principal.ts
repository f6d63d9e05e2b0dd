// One principal model: whoever calls — an API key today; dashboard sessions, OAuth tokens and SCIM tokens
// later — is resolved to a Principal, and every rule below the faces asks the principal, never the wire.
import type { OrgRole } from '../db/schema.ts';
import { scopeGrants } from './api-keys/scopes.ts';
import { AppError } from './errors.ts';

/** Route-level permissions. Routes declare one; the default is deny. */
export const PERMISSIONS = [
  'org:read',
  'org:write',
  'accounts:read',
  'accounts:write',
  'users:read',
  'users:write',
  'profiles:read',
  'profiles:write',
  'groups:read',
  'groups:write',
  'brands:read',
  'brands:write',
  'settings:read',
  'settings:write',
  'keys:read',
  'keys:write',
  'audit:read',
  // Integration keys (OAuth clients): owners and admins only, no profile permission grants them.
  'integrations:read',
  'integrations:write',
  // Webhook endpoints (docs/webhooks.md): owners, admins, and members whose profile manages the account's
  // settings (an endpoint is an account setting that sends the account's events out).
  'webhooks:read',
  'webhooks:write',
  // Envelopes (docs/envelopes.md): owners, admins, and members whose profile has send_envelopes; the credit
  // pool's balance and ledger likewise. Granting credits (to a platform's connected accounts) is for owners
  // and admins only, like integration keys: no profile permission grants credits:write.
  'envelopes:read',
  'envelopes:write',
  'credits:read',
  'credits:write',
  // Platform mode and connected accounts (docs/platform.md): owners and admins only.
  'platform:read',
  'platform:write',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

/** What a permission profile can grant inside its account (DocuSign's profiles are sets like these). */
export const PROFILE_PERMISSIONS = [
  'send_envelopes',
  'manage_users',
  'manage_groups',
  'manage_permission_profiles',
  'manage_account_settings',
  'manage_brands',
  'manage_api_keys',
  'view_audit_log',
] as const;
export type ProfilePermission = (typeof PROFILE_PERMISSIONS)[number];

const MEMBER_BASE: Permission[] = [
  'org:read',
  'accounts:read',
  'users:read',
  'profiles:read',
  'groups:read',
  'brands:read',
  'settings:read',
];

const GRANTS: Record<ProfilePermission, Permission[]> = {
  send_envelopes: ['envelopes:read', 'envelopes:write', 'credits:read'],
  manage_users: ['users:write'],
  manage_groups: ['groups:write'],
  manage_permission_profiles: ['profiles:write'],
  manage_account_settings: ['settings:write', 'webhooks:read', 'webhooks:write'],
  manage_brands: ['brands:write'],
  manage_api_keys: ['keys:read', 'keys:write'],
  view_audit_log: ['audit:read'],
};

const ROLE_RANK: Record<OrgRole, number> = { member: 0, admin: 1, owner: 2 };

export function lowerRole(a: OrgRole, b: OrgRole): OrgRole {
  return ROLE_RANK[a] <= ROLE_RANK[b] ? a : b;
}

export function roleAtLeast(role: OrgRole, floor: OrgRole): boolean {
  return ROLE_RANK[role] >= ROLE_RANK[floor];
}

/** Owners and admins administer the whole organization; a member gets reads plus what their profile grants. */
export function permissionsFor(role: OrgRole, profilePermissions: readonly string[]): Set<Permission> {
  if (role !== 'member') return new Set(PERMISSIONS);
  const set = new Set<Permission>(MEMBER_BASE);
  for (const p of profilePermissions) for (const g of GRANTS[p as ProfilePermission] ?? []) set.add(g);
  return set;
}

export interface Principal {
  /**
   * `user` is a person: through a dashboard session, or through an OAuth access token an integration holds for
   * them (then `oauth` says which). `integration` is an integration acting as itself (a client_credentials
   * token; the token endpoint's audit events). `signer` is a party of an envelope acting through its signing
   * link (src/core/signing/service.ts): recorded in audit and history, never authorised by permissions.
   */
  kind: 'api_key' | 'user' | 'system' | 'integration' | 'signer';
  /** The key's id for API keys, the user's id for people, the integration's id, a fixed name for the system. */
  id: string;
  label: string;
  organizationId: string;
  /** The account the principal acts in (a profile key's account); members are confined to it. */
  accountId: string | null;
  userId: string | null;
  role: OrgRole;
  environment: 'test' | 'live';
  permissions: Set<Permission>;
  /** A restricted API key's scopes (its permissions are already cut down to them); absent = unrestricted. */
  scopes?: readonly string[] | null;
  /** An API key's kind: `profile` (acts as its creator in one account) or `platform` (platform mode). */
  keyKind?: 'profile' | 'platform';
  /**
   * Set when a platform key acts in one of its platform's connected accounts (the `Atlas-Account` header,
   * src/core/platform/service.ts): the platform organization the key belongs to. `organizationId` is then
   * the connected account's, and `userId` null (the key's creator is no user of the connected account).
   */
  platformOrganizationId?: string;
  /**
   * A member's profile permissions in `accountId` (what `permissions` was derived from). Owners and admins
   * hold every profile permission and need none; absent for a member, they are derived from `permissions`.
   */
  profilePermissions?: readonly string[];
  /** Set when the principal comes from an OAuth access token: whose token, with which (OAuth) scopes. */
  oauth?: {
    integrationId: string;
    clientId: string;
    /** The token's DocuSign scope names, as consent still covers them. */
    scopes: readonly string[];
  };
}

/** How a principal is named in a refusal: "API key", "access token", or "principal". */
export function credentialName(principal: Principal): string {
  if (principal.oauth) return 'access token';
  return principal.kind === 'api_key' ? 'API key' : 'principal';
}

export function can(principal: Principal, permission: Permission): boolean {
  return principal.permissions.has(permission);
}

export function requirePermission(principal: Principal, permission: Permission): void {
  if (!can(principal, permission)) {
    // An access token whose scopes do not grant the permission: name them (DocuSign's names).
    if (principal.oauth && principal.scopes && !scopeGrants(principal.scopes).has(permission)) {
      throw new AppError(
        'permission_denied',
        `this access token's scopes (${principal.oauth.scopes.join(' ') || 'none'}) do not grant ${permission}; ask for a scope that does when obtaining the token`,
        [
          {
            message: 'missing permission: the token lacks the scope',
            permission,
            restricted: true,
            scopes: [...principal.oauth.scopes],
          },
        ],
      );
    }
    // A restricted key whose scopes do not grant the permission: say so, and which scopes it has.
    if (principal.scopes && !scopeGrants(principal.scopes).has(permission)) {
      throw new AppError(
        'permission_denied',
        `this API key is restricted to scopes ${principal.scopes.join(', ')}; ${permission} is needed`,
        [
          {
            message: 'missing permission: the key is restricted',
            permission,
            restricted: true,
            scopes: [...principal.scopes],
          },
        ],
      );
    }
    throw new AppError(
      'permission_denied',
      `this ${credentialName(principal)} lacks the permission "${permission}" (role ${principal.role})`,
      [{ message: 'missing permission', permission }],
    );
  }
}

/** At least one of `permissions` (a route whose object decides which; the service then checks that one). */
export function requireAnyPermission(principal: Principal, permissions: readonly Permission[]): void {
  if (permissions.some((p) => can(principal, p))) return;
  if (permissions.length === 1) requirePermission(principal, permissions[0]!);
  throw new AppError(
    'permission_denied',
    `this ${credentialName(principal)} lacks every one of the permissions ` +
      `${permissions.map((p) => `"${p}"`).join(', ')} (role ${principal.role}${principal.scopes ? `, scopes ${principal.scopes.join(', ')}` : ''})`,
    [{ message: 'missing permission: any one of these is needed', permissions: [...permissions] }],
  );
}

/**
 * Members act only inside their own account; owners and admins in every account of their organization.
 * Called by services once they know which account a request touches.
 */
export function requireAccountAccess(principal: Principal, accountId: string): void {
  if (principal.role !== 'member' || principal.accountId === accountId) return;
  throw new AppError(
    'permission_denied',
    `a member's key acts only in its own account (${principal.accountId})`,
  );
}

/**
 * The profile permissions a principal HOLDS in its account: owners and admins all of them; a member those of
 * its profile there; a restricted key only those whose route permissions its scopes grant. This is the
 * ceiling of what the principal may hand out (a profile assigned, created or edited, an invite's profile).
 */
export function heldProfilePermissions(principal: Principal): Set<ProfilePermission> {
  let held: ProfilePermission[];
  if (principal.role !== 'member') held = [...PROFILE_PERMISSIONS];
  else if (principal.profilePermissions)
    held = PROFILE_PERMISSIONS.filter((p) => principal.profilePermissions!.includes(p));
  // No profile recorded: what the route permissions show (a permission that grants no route is not shown).
  else
    held = PROFILE_PERMISSIONS.filter((p) => GRANTS[p].length > 0 && grantsWithin(p, principal.permissions));
  if (principal.scopes) {
    const granted = scopeGrants(principal.scopes);
    held = held.filter((p) => grantsWithin(p, granted));
  }
  return new Set(held);
}

function grantsWithin(p: ProfilePermission, set: ReadonlySet<Permission>): boolean {
  return GRANTS[p].every((g) => set.has(g));
}

/** A profile's permissions as a restricted credential may use them: those its scopes grant (all when unrestricted). */
export function withinScopes(
  profilePermissions: readonly string[],
  scopes: readonly string[] | null | undefined,
): string[] {
  if (!scopes) return [...profilePermissions];
  const granted = scopeGrants(scopes);
  return PROFILE_PERMISSIONS.filter((p) => profilePermissions.includes(p) && grantsWithin(p, granted));
}

/**
 * The profile permissions among `wanted` that give power over the account (they grant a route permission)
 * and that `held` lacks. `send_envelopes` gives none over the account (it is what the default profile, DS
 * Sender, carries: sending one's envelopes), so whoever may manage users may hand it out.
 */
export function beyondHeld(held: ReadonlySet<string>, wanted: readonly string[]): ProfilePermission[] {
  return PROFILE_PERMISSIONS.filter(
    (p) => wanted.includes(p) && p !== 'send_envelopes' && GRANTS[p].length > 0 && !held.has(p),
  );
}

/**
 * Nobody grants more than they hold: throws permission_denied when `wanted` (a profile's permissions) holds
 * an administrative permission the principal does not hold. `what` names the object in the message.
 */
export function requireHolds(
  principal: Principal,
  wanted: readonly string[],
  what: string,
  field?: string,
): void {
  const missing = beyondHeld(heldProfilePermissions(principal), wanted);
  if (missing.length === 0) return;
  throw new AppError(
    'permission_denied',
    `${what} grants ${missing.join(', ')}, which this ${credentialName(principal)} does not hold; nobody grants more than they hold`,
    [{ ...(field ? { field } : {}), message: 'beyond your own permissions', missing }],
  );
}

/** The principal for operator commands run on the server itself (`signet bootstrap`). */
export function systemPrincipal(organizationId: string, environment: 'test' | 'live'): Principal {
  return {
    kind: 'system',
    id: 'cli',
    label: 'signet CLI',
    organizationId,
    accountId: null,
    userId: null,
    role: 'owner',
    environment,
    permissions: new Set(PERMISSIONS),
  };
}
