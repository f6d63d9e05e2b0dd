// DocuSign's OAuth scopes on the DocuSign faces. Every Admin API operation declares one scope in the spec
// (shared/specs/admin.rest.swagger-v2.1.json, `security`); the eSignature API has the one scope `signature`.
// A Signet route in these faces names both the scope the spec declares (for the error a client sees) and the
// Signet permission that enforces it (so the rule stays in the one principal model, src/core/principal.ts).
import type { Permission } from '../../core/principal.ts';

export const DOCUSIGN_ADMIN_SCOPES = [
  'organization_read',
  'account_read',
  'account_write',
  'user_read',
  'user_write',
  'permission_read',
  'group_read',
  'domain_read',
  'identity_provider_read',
  'user_data_redact',
  'organization_sub_account_read',
  'organization_sub_account_write',
  'asset_group_account_read',
  'asset_group_account_clone_read',
  'asset_group_account_clone_write',
  'connect_org_config_read_api',
  'connect_org_config_write_api',
  'connect_org_hmac_read_api',
  'connect_org_hmac_write_api',
  'connect_org_oauth_read_api',
  'connect_org_oauth_write_api',
] as const;
export type DocuSignScope = (typeof DOCUSIGN_ADMIN_SCOPES)[number] | 'signature';

/**
 * The Signet permission a DocuSign scope stands for on a route that does not name a narrower one. Write
 * scopes over users map to users:write; account settings to settings:*; the organization-level reads to
 * org:read; Connect to integrations:*. Operations Signet answers with 501 still name their scope, so the table
 * is complete.
 */
export const SCOPE_PERMISSION: Record<DocuSignScope, Permission> = {
  organization_read: 'org:read',
  account_read: 'accounts:read',
  account_write: 'settings:write',
  user_read: 'users:read',
  user_write: 'users:write',
  permission_read: 'profiles:read',
  group_read: 'groups:read',
  domain_read: 'org:read',
  identity_provider_read: 'org:read',
  user_data_redact: 'users:write',
  organization_sub_account_read: 'accounts:read',
  organization_sub_account_write: 'accounts:write',
  asset_group_account_read: 'accounts:read',
  asset_group_account_clone_read: 'accounts:read',
  asset_group_account_clone_write: 'accounts:write',
  // Organization-level Connect configurations hear every account they name and the OAuth configuration holds a
  // client secret: owners and admins only, as for integrations (no profile permission grants these).
  connect_org_config_read_api: 'integrations:read',
  connect_org_config_write_api: 'integrations:write',
  connect_org_hmac_read_api: 'integrations:read',
  connect_org_hmac_write_api: 'integrations:write',
  connect_org_oauth_read_api: 'integrations:read',
  connect_org_oauth_write_api: 'integrations:write',
  signature: 'accounts:read',
};
