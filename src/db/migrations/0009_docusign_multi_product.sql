-- DocuSign faces (docs/compatibility.md). A group is one object seen three ways: an /api group and a v2 Admin
-- API group (its bigint id), and a v2.1 "DS group" (a GUID). The GUID is the group's own, fixed at creation.
ALTER TABLE groups ADD COLUMN ds_group_id uuid NOT NULL DEFAULT gen_random_uuid();
ALTER TABLE groups ADD CONSTRAINT groups_ds_group_id_key UNIQUE (ds_group_id);

-- Account creations requested through the Admin API (ProvisionAssetGroupApi.createAssetGroupAccount). Signet
-- creates the account at once, in the request's transaction, so a process is recorded only when it completed
-- (a failed request leaves no row: the caller got the error). The row is what the "sub-account creation
-- process" reads (getSubAccountCreateProcessesByOrgId, getSubAccountCreateProcessByAssetGroupWorkId) return.
CREATE TABLE account_creations (
  id uuid PRIMARY KEY, -- the asset group work id
  organization_id uuid NOT NULL REFERENCES organizations (id),
  account_id uuid NOT NULL REFERENCES accounts (id),
  status text NOT NULL CHECK (status IN ('completed')),
  -- The target account and subscription as asked ({target_account, subscription}), echoed back on reads.
  request jsonb NOT NULL CHECK (jsonb_typeof(request) = 'object'),
  -- The user made the new account's administrator, if the request named one.
  admin_user_id uuid REFERENCES users (id),
  -- Who asked: {type, id, name, email}.
  requestor jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX account_creations_org_idx ON account_creations (organization_id, updated_at);
