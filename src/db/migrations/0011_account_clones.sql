-- Account clones (ProvisionAssetGroupApi.cloneAssetGroupAccount) are recorded with account creations: a clone
-- is a creation that copied a source account's configuration (settings, permission profiles, groups, brands).
ALTER TABLE account_creations
  ADD COLUMN kind text NOT NULL DEFAULT 'create' CHECK (kind IN ('create', 'clone')),
  ADD COLUMN source_account_id uuid REFERENCES accounts (id),
  ADD CONSTRAINT account_creations_source_check CHECK ((kind = 'clone') = (source_account_id IS NOT NULL));
