// Kysely's view of the tables in src/db/migrations. Keep in step with the SQL.
import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type WithDefault<T> = ColumnType<T, T | undefined, T>;
type CreatedAt = ColumnType<Date, Date | string | undefined, never>;

export interface OrganizationsTable {
  id: string;
  name: string;
  created_at: CreatedAt;
  updated_at: Timestamp;
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
}

export interface PermissionProfilesTable {
  id: Generated<number>; // bigint identity
  organization_id: string;
  account_id: string;
  name: string;
  description: string | null;
  permissions: string[];
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
  created_at: CreatedAt;
  updated_at: Timestamp;
}

export interface GroupMembersTable {
  group_id: number;
  user_id: string;
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
  audit_heads: AuditHeadsTable;
  audit_events: AuditEventsTable;
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
export type AuditEventRow = Selectable<AuditEventsTable>;
