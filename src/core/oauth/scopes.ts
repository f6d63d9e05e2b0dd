// The OAuth scopes Signet's token endpoint knows: DocuSign's names (src/core/api-keys/scopes.ts maps each onto
// Signet's permissions), with the words the consent page shows for each. A token's scopes never widen what
// its user may do: they cut it down (the principal's permissions are the user's, narrowed by the scopes).
import { DOCUSIGN_SCOPES, docuSignScopesToSignet } from '../api-keys/scopes.ts';

/** What each scope lets an application do, as the consent page says it. */
const WORDS: Record<string, string> = {
  signature:
    'administer your accounts through the eSignature API: users, groups, permission profiles, brands and settings',
  impersonation: 'obtain tokens for you later without asking again (the JWT grant)',
  extended: 'keep its access: each refresh renews the refresh token for another 30 days',
  openid: 'know who you are (your user id, name and email address)',
  cors: 'call Signet from a web page',
  organization_read: 'read your organization and its accounts',
  account_read: 'read your accounts and their settings',
  account_write: 'change your accounts and their settings',
  permission_read: 'read permission profiles',
  group_read: 'read groups',
  user_read: 'read users and their memberships',
  user_write: 'create, change and close users and their memberships',
  user_data_redact: "redact users' personal data",
  domain_read: "read your organization's claimed domains",
  identity_provider_read: "read your organization's identity providers",
  organization_sub_account_read: 'read the accounts of your organization',
  organization_sub_account_write: 'create accounts in your organization',
};

/** Every scope name a client may request: DocuSign's that Signet maps, and the OpenID/CORS ones. */
export const OAUTH_SCOPES: readonly string[] = [
  ...new Set([...Object.keys(DOCUSIGN_SCOPES), 'openid', 'cors']),
].sort();

export function isOAuthScope(name: string): boolean {
  return OAUTH_SCOPES.includes(name);
}

/** The consent page's line for a scope. */
export function scopeWords(name: string): string {
  return WORDS[name] ?? name;
}

/** The Signet scopes (what restricted API keys carry) a token's DocuSign scopes stand for. */
export function signetScopesOf(oauthScopes: readonly string[]): string[] {
  return docuSignScopesToSignet(oauthScopes);
}

/** A space-separated scope parameter as a list: no empty names, no duplicates, order kept. */
export function splitScope(scope: unknown): string[] {
  if (typeof scope !== 'string') return [];
  return [...new Set(scope.split(' ').filter((s) => s !== ''))];
}
