-- The DocuSign Admin API face's bulk operations (src/faces/management, docs/compatibility.md).
--
-- settings_imports: account-settings imports (BulkImportsApi.addBulkAccountSettingsImport). A CSV of
-- settings per account, applied through the settings service in the one transaction that also records the
-- import here, so an import is either wholly recorded with every setting it applied, or did nothing.
CREATE TABLE settings_imports (
  id uuid PRIMARY KEY,
  organization_id uuid NOT NULL REFERENCES organizations (id),
  status text NOT NULL CHECK (status IN ('completed', 'failed')),
  -- Who created it, as the audit log records them.
  requestor jsonb NOT NULL,
  file_name text,
  size_bytes integer NOT NULL,
  processed_accounts integer NOT NULL DEFAULT 0,
  unprocessed_accounts integer NOT NULL DEFAULT 0,
  -- {account id: [column header, …]}: columns that name no setting, skipped for that account.
  skipped_settings jsonb NOT NULL DEFAULT '{}',
  -- [{account_id, account_name, setting_key, error_key, error}]: why an account was not processed.
  issues jsonb NOT NULL DEFAULT '[]',
  -- {code, message} when the file as a whole was refused.
  error jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  completed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX settings_imports_org_idx ON settings_imports (organization_id, id);

-- The DocuSign export type a user-list export was requested as (organization_memberships_export or
-- organization_domain_users_export are both Signet users exports), so it reads back as it was asked for.
CREATE TABLE management_export_types (
  export_id uuid PRIMARY KEY REFERENCES exports (id) ON DELETE CASCADE,
  type text NOT NULL
);
