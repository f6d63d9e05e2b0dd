// Kysely's view of the tables in src/db/migrations. Keep in step with the SQL.
import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type WithDefault<T> = ColumnType<T, T | undefined, T>;
type CreatedAt = ColumnType<Date, Date | string | undefined, never>;

export type BillingMode = 'platform_pays' | 'child_pays';
export type ConnectedStatus = 'active' | 'suspended';

export interface OrganizationsTable {
  id: string;
  name: string;
  created_at: CreatedAt;
  updated_at: Timestamp;
  /** Platform mode (0023): this organization provisions connected accounts. */
  platform_enabled: WithDefault<boolean>;
  /** Set for a connected account: the platform organization it belongs to. */
  platform_organization_id: ColumnType<string | null, string | null | undefined, string | null>;
  /** A connected account's id in the platform's own system (unique per platform). */
  external_id: ColumnType<string | null, string | null | undefined, string | null>;
  billing_mode: WithDefault<BillingMode>;
  /** NULL unless the organization is a connected account. */
  connected_status: ColumnType<
    ConnectedStatus | null,
    ConnectedStatus | null | undefined,
    ConnectedStatus | null
  >;
}

export interface AccountsTable {
  id: string;
  organization_id: string;
  external_account_id: ColumnType<number, never, never>;
  name: string;
  seat_limit: number | null;
  seats_used: ColumnType<number, never, never>;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

export type OrgRole = 'owner' | 'admin' | 'member';
export type UserStatus = 'active' | 'deactivated';
export type MembershipStatus = 'active' | 'pending' | 'closed';

export interface UsersTable {
  id: string;
  organization_id: string;
  email: string;
  first_name: WithDefault<string>;
  last_name: WithDefault<string>;
  job_title: string | null;
  department: string | null;
  company: string | null;
  language: string | null;
  role: WithDefault<OrgRole>;
  status: WithDefault<UserStatus>;
  password_hash: string | null;
  created_at: CreatedAt;
  updated_at: Timestamp;
  email_verified_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  /** An address the user is moving to, until the link mailed there is followed (0015). */
  pending_email: ColumnType<string | null, string | null | undefined, string | null>;
  /** TOTP two-step verification (0026): the secret once confirmed, an enrolment not yet confirmed, when it
   * was turned on, and the time step of the last code accepted (no code is accepted twice). */
  totp_secret: ColumnType<string | null, string | null | undefined, string | null>;
  totp_pending_secret: ColumnType<string | null, string | null | undefined, string | null>;
  totp_enabled_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  totp_last_step: ColumnType<number | null, number | null | undefined, number | null>;
  /** Set by the database (migration 0031) whenever password_hash changes; NULL without a password. */
  password_changed_at: ColumnType<Date | null, never, never>;
}

export interface PermissionProfilesTable {
  id: Generated<number>; // bigint identity
  organization_id: string;
  account_id: string;
  name: string;
  description: string | null;
  permissions: string[];
  /** The eSignature AccountRoleSettings fields Signet does not enforce, kept as sent (0013). */
  role_settings: Generated<Record<string, unknown>>;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

export interface MembershipsTable {
  id: string;
  organization_id: string;
  account_id: string;
  user_id: string;
  status: MembershipStatus;
  permission_profile_id: number | null;
  created_at: CreatedAt;
  updated_at: Timestamp;
  closed_at: Date | null;
  closed_by_deactivation: Generated<boolean>;
}

export interface GroupsTable {
  id: Generated<number>;
  organization_id: string;
  account_id: string;
  name: string;
  description: string | null;
  /** The group's GUID on the DocuSign faces (a v2.1 "DS group"); 0009_docusign_multi_product.sql. */
  ds_group_id: Generated<string>;
  /** DocuSign's built-in groups (`admin`: Administrators, `everyone`: Everyone) or the account's own (0013). */
  group_type: Generated<GroupType>;
  /** A permission profile of the same account (eSignature's Group.permissionProfileId), or none (0013). */
  permission_profile_id: number | null;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

export type GroupType = 'custom' | 'admin' | 'everyone';

export interface GroupMembersTable {
  group_id: number;
  user_id: string;
  /** The group's account (0014); filled in from the group by a trigger when an insert leaves it out. */
  account_id: ColumnType<string, string | undefined, string>;
  created_at: CreatedAt;
}

export interface BrandsTable {
  id: string;
  organization_id: string;
  account_id: string;
  name: string;
  company: string | null;
  colors: Record<string, string>;
  email_sender_name: string | null;
  email_reply_to: string | null;
  is_sending_default: boolean;
  is_signing_default: boolean;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

export interface BrandLogosTable {
  brand_id: string;
  kind: 'primary' | 'secondary' | 'email';
  content_type: string;
  size_bytes: number;
  sha256: string;
  content: Buffer;
  created_at: CreatedAt;
}

export interface AccountSettingsTable {
  account_id: string;
  organization_id: string;
  values: Record<string, unknown>;
  updated_at: Timestamp;
}

export interface ApiKeysTable {
  id: string;
  organization_id: string;
  account_id: string;
  created_by: string;
  name: string;
  environment: 'test' | 'live';
  role: OrgRole;
  secret_hash: Buffer;
  last4: string;
  created_at: CreatedAt;
  expires_at: Date | null;
  revoked_at: Date | null;
  last_used_at: Date | null;
  kind: WithDefault<ApiKeyKind>;
  /** null: unrestricted; otherwise the Signet scopes the key is restricted to (src/core/api-keys/scopes.ts). */
  scopes: string[] | null;
  rotated_from: string | null;
  last_used_ip: string | null;
}

export type ApiKeyKind = 'profile' | 'platform';

// --- integrations (0020_integrations.sql): DocuSign's integration keys, i.e. OAuth clients ---
export type IntegrationClientType = 'confidential' | 'public';
export type IntegrationGrant =
  | 'authorization_code'
  | 'refresh_token'
  | 'urn:ietf:params:oauth:grant-type:jwt-bearer'
  | 'client_credentials';

export interface IntegrationsTable {
  id: string;
  organization_id: string;
  /** The integration key (OAuth client_id): a UUID, as DocuSign's are. */
  client_id: string;
  name: string;
  client_type: IntegrationClientType;
  redirect_uris: WithDefault<string[]>;
  allowed_grants: IntegrationGrant[];
  /** null when an operator command made it. */
  created_by: string | null;
  created_at: CreatedAt;
  updated_at: Timestamp;
  deleted_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

export interface IntegrationSecretsTable {
  id: string;
  integration_id: string;
  /** SHA-256 of the secret (src/core/api-keys/format.ts hashKey). */
  secret_hash: Buffer;
  last4: string;
  created_at: CreatedAt;
  /** Set when a newer secret starts its dual-run window: valid until then. */
  expires_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  revoked_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

export interface IntegrationRsaKeysTable {
  /** Also the key id (`kid`). */
  id: string;
  integration_id: string;
  /** SPKI PEM. */
  public_key_pem: string;
  created_at: CreatedAt;
  revoked_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

export interface OauthConsentsTable {
  id: string;
  organization_id: string;
  integration_id: string;
  /** null: an admin's consent for every user of the organization. */
  user_id: string | null;
  /** DocuSign OAuth scope names (src/core/api-keys/scopes.ts DOCUSIGN_SCOPES). */
  scopes: string[];
  /** null when an operator command granted it. */
  granted_by: string | null;
  created_at: CreatedAt;
  revoked_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

// --- the OAuth server's storage (0021_oauth_payloads.sql); ids are SHA-256 hashes ---
export interface OauthGrantsTable {
  id: Buffer;
  organization_id: string;
  integration_id: string;
  user_id: string;
  /** oidc-provider's Grant payload, without its id. */
  payload: Record<string, unknown>;
  created_at: CreatedAt;
  expires_at: Date | null;
  revoked_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

export interface OauthPayloadsTable {
  /** oidc-provider's model name: AccessToken, RefreshToken, AuthorizationCode, Session, ... */
  model: string;
  id: Buffer;
  grant_id: Buffer | null;
  uid: Buffer | null;
  /** oidc-provider's payload, without its id (`jti`). */
  payload: Record<string, unknown>;
  expires_at: Date | null;
  consumed_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  revoked_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

export interface AuditHeadsTable {
  organization_id: string;
  last_seq: number;
  last_hash: string;
}

export interface AuditEventsTable {
  id: string;
  organization_id: string;
  seq: number;
  occurred_at: Date | string;
  actor_type: string;
  actor_id: string | null;
  actor_label: string | null;
  action: string;
  target_type: string;
  target_id: string | null;
  account_id: string | null;
  changes: Record<string, unknown>;
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
  prev_hash: string;
  hash: string;
}

// --- people (0004_people.sql) ---
export interface SessionsTable {
  id: string;
  token_hash: Buffer;
  user_id: string;
  organization_id: string;
  created_at: CreatedAt;
  last_seen_at: Timestamp;
  idle_timeout_minutes: number;
  expires_at: Date;
  ended_at: Date | null;
  ip: string | null;
  user_agent: string | null;
}

export type UserTokenPurpose = 'email_verification' | 'password_reset' | 'email_change' | 'activation';

export interface UserTokensTable {
  id: string;
  user_id: string;
  organization_id: string;
  purpose: UserTokenPurpose;
  token_hash: Buffer;
  created_at: CreatedAt;
  expires_at: Date;
  used_at: Date | null;
  /** email_change: the address this token confirms. */
  email: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface MfaRecoveryCodesTable {
  id: string;
  organization_id: string;
  user_id: string;
  code_hash: Buffer;
  created_at: CreatedAt;
  used_at: Date | null;
}

export interface MfaChallengesTable {
  id: string;
  organization_id: string;
  user_id: string;
  token_hash: Buffer;
  created_at: CreatedAt;
  expires_at: Date;
  used_at: Date | null;
}

export interface LoginFailuresTable {
  id: Generated<number>;
  email: string;
  ip: string | null;
  at: WithDefault<Date>;
}

export interface OutboxMailTable {
  id: string;
  organization_id: string | null;
  to: string;
  subject: string;
  text: string;
  html: string;
  created_at: CreatedAt;
  sent_at: Date | null;
  /** The link token while it can be used; NULL once scrubbed (0015). */
  secret: ColumnType<string | null, string | null | undefined, string | null>;
  secret_hash: ColumnType<Buffer | null, Buffer | null | undefined, Buffer | null>;
  secret_expires_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  /** The display name to send as (a brand's sender name), or null for SIGNET_MAIL_FROM's (0024b). */
  from_name: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface InvitesTable {
  id: string;
  organization_id: string;
  account_id: string;
  email: string;
  role: OrgRole;
  permission_profile_id: number | null;
  group_ids: WithDefault<number[]>;
  invited_by: string | null;
  token_hash: Buffer;
  expires_at: Date;
  accepted_at: Date | null;
  accepted_user_id: string | null;
  revoked_at: Date | null;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

export interface OrganizationDomainsTable {
  id: string;
  organization_id: string;
  domain: string;
  auto_join: boolean;
  account_id: string;
  permission_profile_id: number | null;
  /** The value a TXT record `signet-domain-verification=<token>` must carry (0015). */
  verification_token: string;
  /** When the TXT record was found; a claim counts only from then on. */
  verified_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

// --- idempotency (0003_idempotency.sql) ---
export interface IdempotencyKeysTable {
  organization_id: string;
  principal_id: string;
  method: string;
  route: string;
  key: string;
  fingerprint: string;
  state: 'in_flight' | 'done';
  lock_token: string;
  locked_until: Date | null;
  status: number | null;
  headers: Record<string, string> | null;
  body: Buffer | null;
  created_at: CreatedAt;
  expires_at: Date;
}

// --- mapping rules (0006_mapping_rules.sql) ---
export type MappingAttribute = 'job_title' | 'department' | 'company';
/** One attribute's test: an exact value or a glob (`*` any run, `?` one character), both case-insensitive. */
export type MappingCondition = { equals: string } | { matches: string };
export type MappingConditions = Partial<Record<MappingAttribute, MappingCondition>>;

export interface MappingRulesTable {
  id: string;
  organization_id: string;
  account_id: string;
  position: number;
  name: string;
  conditions: MappingConditions;
  permission_profile_id: number;
  enabled: WithDefault<boolean>;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

export interface MappingRuleGroupsTable {
  rule_id: string;
  group_id: number;
  /** The rule's (and so the group's) account: both are referenced by (account_id, id). */
  account_id: string;
}

export interface Database {
  organizations: OrganizationsTable;
  accounts: AccountsTable;
  users: UsersTable;
  permission_profiles: PermissionProfilesTable;
  memberships: MembershipsTable;
  groups: GroupsTable;
  group_members: GroupMembersTable;
  brands: BrandsTable;
  brand_logos: BrandLogosTable;
  account_settings: AccountSettingsTable;
  api_keys: ApiKeysTable;
  integrations: IntegrationsTable;
  integration_secrets: IntegrationSecretsTable;
  integration_rsa_keys: IntegrationRsaKeysTable;
  oauth_consents: OauthConsentsTable;
  oauth_grants: OauthGrantsTable;
  oauth_payloads: OauthPayloadsTable;
  audit_heads: AuditHeadsTable;
  audit_events: AuditEventsTable;
  sessions: SessionsTable;
  user_tokens: UserTokensTable;
  mfa_recovery_codes: MfaRecoveryCodesTable;
  mfa_challenges: MfaChallengesTable;
  login_failures: LoginFailuresTable;
  outbox_mail: OutboxMailTable;
  invites: InvitesTable;
  organization_domains: OrganizationDomainsTable;
  idempotency_keys: IdempotencyKeysTable;
  mapping_rules: MappingRulesTable;
  mapping_rule_groups: MappingRuleGroupsTable;
  account_creations: AccountCreationsTable;
  imports: ImportsTable;
  import_files: ImportFilesTable;
  import_rows: ImportRowsTable;
  exports: ExportsTable;
  export_chunks: ExportChunksTable;
  webhook_endpoints: WebhookEndpointsTable;
  webhook_secrets: WebhookSecretsTable;
  webhook_account_secrets: WebhookAccountSecretsTable;
  webhook_events: WebhookEventsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  webhook_attempts: WebhookAttemptsTable;
  envelopes: EnvelopesTable;
  envelope_parties: EnvelopePartiesTable;
  envelope_documents: EnvelopeDocumentsTable;
  envelope_events: EnvelopeEventsTable;
  credit_balances: CreditBalancesTable;
  credit_entries: CreditEntriesTable;
  connect_hmac_secrets: ConnectHmacSecretsTable;
  connect_oauth_configs: ConnectOAuthConfigsTable;
}

export type Organization = Selectable<OrganizationsTable>;
export type Account = Selectable<AccountsTable>;
export type User = Selectable<UsersTable>;
export type NewUser = Insertable<UsersTable>;
export type PermissionProfile = Selectable<PermissionProfilesTable>;
export type Membership = Selectable<MembershipsTable>;
export type Group = Selectable<GroupsTable>;
export type Brand = Selectable<BrandsTable>;
export type ApiKeyRow = Selectable<ApiKeysTable>;
export type IntegrationRow = Selectable<IntegrationsTable>;
export type IntegrationSecretRow = Selectable<IntegrationSecretsTable>;
export type IntegrationRsaKeyRow = Selectable<IntegrationRsaKeysTable>;
export type OauthConsentRow = Selectable<OauthConsentsTable>;
export type AuditEventRow = Selectable<AuditEventsTable>;
export type Invite = Selectable<InvitesTable>;
export type OrganizationDomain = Selectable<OrganizationDomainsTable>;
export type OutboxMail = Selectable<OutboxMailTable>;
export type MappingRule = Selectable<MappingRulesTable>;

// --- bulk imports (0005_imports.sql) ---
export type ImportOperation = 'add' | 'update' | 'close';
export type ImportStatus = 'receiving' | 'queued' | 'in_process' | 'completed' | 'failed' | 'canceled';

export interface ImportsTable {
  id: string;
  organization_id: string;
  account_id: string | null;
  operation: ImportOperation;
  dry_run: WithDefault<boolean>;
  status: ImportStatus;
  requestor: Record<string, unknown>;
  request_meta: WithDefault<Record<string, unknown>>;
  file_name: string | null;
  size_bytes: WithDefault<number>;
  sha256: string | null;
  header: string[] | null;
  invalid_column_headers: WithDefault<string[]>;
  error: { code: string; message: string } | null;
  validated: WithDefault<boolean>;
  user_count: WithDefault<number>;
  processed_user_count: WithDefault<number>;
  added_user_count: WithDefault<number>;
  updated_user_count: WithDefault<number>;
  closed_user_count: WithDefault<number>;
  no_action_required_user_count: WithDefault<number>;
  error_count: WithDefault<number>;
  warning_count: WithDefault<number>;
  error_rollups: WithDefault<Record<string, number>>;
  last_row: WithDefault<number>;
  lease_owner: string | null;
  lease_until: Date | null;
  attempts: WithDefault<number>;
  created_at: CreatedAt;
  updated_at: Timestamp;
  started_at: Date | null;
  completed_at: Date | null;
}

export interface ImportFilesTable {
  import_id: string;
  seq: number;
  data: Buffer;
}

export interface ImportRowsTable {
  import_id: string;
  row_number: number;
  status: 'ok' | 'error';
  action: 'add' | 'update' | 'close' | 'no_action';
  result: string;
  error_type: string | null;
  message: string | null;
  email: string | null;
  account_id: string | null;
  user_id: string | null;
  membership_id: string | null;
}

export type ImportRow = Selectable<ImportsTable>;

// --- account creations (0009_docusign_multi_product.sql) ---
export interface AccountCreationsTable {
  id: string;
  organization_id: string;
  account_id: string;
  status: 'completed';
  /** 0011_account_clones.sql: a clone copied source_account_id's configuration. */
  kind: ColumnType<'create' | 'clone', 'create' | 'clone' | undefined, 'create' | 'clone'>;
  source_account_id: string | null;
  request: Record<string, unknown>;
  admin_user_id: string | null;
  requestor: Record<string, unknown>;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

export type AccountCreation = Selectable<AccountCreationsTable>;

// --- exports (0007_exports.sql) ---
export type ExportKind = 'users' | 'account_settings' | 'envelopes' | 'credit_ledger';
export type ExportFormat = 'csv' | 'jsonl';
export type ExportStatus = 'queued' | 'in_process' | 'completed' | 'failed';

export interface ExportsTable {
  id: string;
  organization_id: string;
  kind: ExportKind;
  format: ExportFormat;
  account_ids: string[] | null;
  /** envelopes and credit_ledger only (0028): rows changed (entries made) at or after this time. */
  updated_since: Date | null;
  status: ExportStatus;
  requestor: Record<string, unknown>;
  prepared: WithDefault<boolean>;
  group_columns: WithDefault<number>;
  total_rows: WithDefault<number>;
  row_count: WithDefault<number>;
  size_bytes: WithDefault<number>;
  last_key: string | null;
  next_seq: WithDefault<number>;
  error: { code: string; message: string } | null;
  lease_owner: string | null;
  lease_until: Date | null;
  attempts: WithDefault<number>;
  created_at: CreatedAt;
  updated_at: Timestamp;
  started_at: Date | null;
  completed_at: Date | null;
  expires_at: Date;
  purged_at: Date | null;
}

export interface ExportChunksTable {
  export_id: string;
  seq: number;
  data: Buffer;
}

export type ExportRow = Selectable<ExportsTable>;

// --- webhooks (0022_webhooks.sql) ---
export type WebhookFormat = 'standard' | 'atlas' | 'connect';

export interface WebhookEndpointsTable {
  id: string;
  organization_id: string;
  /** NULL for an organization-level Connect configuration (0025). */
  account_id: string | null;
  /** An organization-level endpoint's accounts (Connect's accountIds); NULL: every account (0025). */
  account_ids: ColumnType<string[] | null, string[] | null | undefined, string[] | null>;
  /** The Connect configuration's own fields, as /management set them (0025). */
  connect: ColumnType<
    Record<string, unknown> | null,
    Record<string, unknown> | null | undefined,
    Record<string, unknown> | null
  >;
  /** An envelope's one-off endpoint (its webhook_url), else NULL (0030). */
  envelope_id: ColumnType<string | null, string | null | undefined, string | null>;
  /** When the current run of failed attempts began; NULL after a success (0025). */
  failing_since: ColumnType<Date | null, Date | null | undefined, Date | null>;
  url: string;
  description: ColumnType<string, string | undefined, string>;
  format: WebhookFormat;
  /** Public event types, or '*'. */
  events: string[];
  organization_events: ColumnType<boolean, boolean | undefined, boolean>;
  enabled: ColumnType<boolean, boolean | undefined, boolean>;
  disabled_reason: ColumnType<string | null, string | null | undefined, string | null>;
  created_by: string | null;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

export interface WebhookSecretsTable {
  id: string;
  endpoint_id: string;
  secret: string;
  created_at: CreatedAt;
  expires_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

/** An account's default signing secret, for its envelopes' webhook_url (0030). */
export interface WebhookAccountSecretsTable {
  account_id: string;
  organization_id: string;
  secret: string;
  /** Set again by a rotation. */
  created_at: ColumnType<Date, Date | undefined, Date>;
}

export interface WebhookEventsTable {
  id: string;
  organization_id: string;
  account_id: string | null;
  type: string;
  occurred_at: Date | string;
  payload: Record<string, unknown>;
}

export interface WebhookDeliveriesTable {
  id: string;
  endpoint_id: string;
  event_id: string;
  status: ColumnType<
    'pending' | 'delivered' | 'failed',
    'pending' | undefined,
    'pending' | 'delivered' | 'failed'
  >;
  attempts: ColumnType<number, number | undefined, number>;
  next_attempt_at: Date | null;
  locked_until: ColumnType<Date | null, Date | null | undefined, Date | null>;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

export interface WebhookAttemptsTable {
  id: string;
  delivery_id: string;
  attempt: number;
  started_at: Date;
  status_code: number | null;
  latency_ms: number;
  response_excerpt: string;
  error: string | null;
  next_retry_at: Date | null;
}

export interface ConnectHmacSecretsTable {
  id: string;
  organization_id: string;
  secret: string;
  created_at: CreatedAt;
}

export interface ConnectOAuthConfigsTable {
  organization_id: string;
  authorization_server_url: string;
  client_id: string;
  client_secret: string;
  scope: ColumnType<string, string | undefined, string>;
  custom_parameters: ColumnType<
    Record<string, string>,
    Record<string, string> | undefined,
    Record<string, string>
  >;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

export type WebhookEndpointRow = Selectable<WebhookEndpointsTable>;
export type WebhookAttemptRow = Selectable<WebhookAttemptsTable>;

// --- envelopes and credits (0024_envelopes_credits.sql) ---
export type EnvelopeStatus = 'draft' | 'sent' | 'completed' | 'declined' | 'voided' | 'expired';
export type PartyStatus = 'pending' | 'waiting' | 'signed' | 'declined';
export type PartyRole = 'signer' | 'cc';
type Nullable<T> = ColumnType<T | null, T | null | undefined, T | null>;

export interface EnvelopesTable {
  id: string;
  organization_id: string;
  account_id: string;
  status: WithDefault<EnvelopeStatus>;
  title: string;
  message: WithDefault<string>;
  external_id: Nullable<string>;
  metadata: WithDefault<Record<string, unknown>>;
  webhook_url: Nullable<string>;
  created_by_type: string;
  created_by_id: string | null;
  created_by_label: string | null;
  payer_organization_id: Nullable<string>;
  sent_at: Nullable<Date>;
  completed_at: Nullable<Date>;
  declined_at: Nullable<Date>;
  voided_at: Nullable<Date>;
  expired_at: Nullable<Date>;
  expires_at: Nullable<Date>;
  void_reason: Nullable<string>;
  decline_reason: Nullable<string>;
  reminder_count: WithDefault<number>;
  last_reminded_at: Nullable<Date>;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

export interface EnvelopePartiesTable {
  id: string;
  organization_id: string;
  envelope_id: string;
  email: string;
  name: string;
  role: WithDefault<PartyRole>;
  signing_order: number;
  status: WithDefault<PartyStatus>;
  viewed_at: Nullable<Date>;
  signed_at: Nullable<Date>;
  signed_name: Nullable<string>;
  signed_ip: Nullable<string>;
  signed_user_agent: Nullable<string>;
  declined_at: Nullable<Date>;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

export interface EnvelopeDocumentsTable {
  id: string;
  organization_id: string;
  envelope_id: string;
  kind: 'original' | 'signed';
  filename: string;
  content_type: WithDefault<string>;
  size_bytes: number;
  page_count: number;
  sha256: string;
  data: Buffer;
  created_at: CreatedAt;
}

export interface EnvelopeEventsTable {
  id: string;
  organization_id: string;
  envelope_id: string;
  seq: number;
  type: string;
  occurred_at: Date | string;
  actor_type: string;
  actor_id: string | null;
  actor_label: string | null;
  party_id: string | null;
  payload: Record<string, unknown>;
  ip: string | null;
  user_agent: string | null;
  prev_hash: string;
  hash: string;
}

export interface CreditBalancesTable {
  organization_id: string;
  balance: WithDefault<number>;
  updated_at: Timestamp;
}

export type CreditKind = 'grant' | 'signup' | 'send' | 'refund';

export interface CreditEntriesTable {
  id: string;
  organization_id: string;
  kind: CreditKind;
  amount: number;
  balance_after: number;
  envelope_id: string | null;
  envelope_organization_id: string | null;
  actor_type: string;
  actor_id: string | null;
  actor_label: string | null;
  reason: WithDefault<string>;
  created_at: CreatedAt;
}

export type EnvelopeRow = Selectable<EnvelopesTable>;
export type EnvelopePartyRow = Selectable<EnvelopePartiesTable>;
export type EnvelopeEventRow = Selectable<EnvelopeEventsTable>;
export type CreditEntryRow = Selectable<CreditEntriesTable>;
