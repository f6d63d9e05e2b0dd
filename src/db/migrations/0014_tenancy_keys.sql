-- Tenancy made structural (docs/security.md, "The account boundary"). Every account-scoped row references its
-- account by (organization_id, account_id), and every account-scoped object it points at (a permission
-- profile, a group, a mapping rule) by (account_id, object_id), so the schema itself refuses a row that names
-- another organization's account or another account's profile or group, whatever the code above it does.
-- References to users (org-scoped people) become (organization_id, user_id) likewise.
--
-- Cost: a composite key is checked with one index lookup on the parent's (organization_id, id) or
-- (account_id, id) unique index, exactly like the single-column key it replaces. Where the composite key
-- implies an old key (a row whose (organization_id, account_id) is an account names an existing organization),
-- the old key is dropped, so no insert checks more parents than before (memberships: 3 lookups instead of 4;
-- docs/benchmarks.md, "Imports"). Constraint names are kept where the code maps them to errors.
--
-- Decided per table (every table of 0001-0012; 0013 adds no table):
--   organizations, audit_heads, settings_imports, exports, outbox_mail, login_failures: organization-level
--     (or no tenant); exports.account_ids is an array (checked by the service, an array cannot carry a key).
--   accounts: gains UNIQUE (organization_id, id), the target of every (organization_id, account_id) key.
--   users: gains UNIQUE (organization_id, id), the target of every (organization_id, user_id) key.
--   permission_profiles, groups, brands, account_settings, mapping_rules, api_keys, invites,
--     organization_domains, account_creations, memberships: (organization_id, account_id) → accounts.
--   imports, audit_events: account_id is optional; (organization_id, account_id) → accounts when set.
--   memberships, invites, organization_domains, mapping_rules → (account_id, permission_profile_id).
--   group_members: gains account_id (backfilled from the group): (account_id, group_id) → groups and
--     (account_id, user_id) → memberships, so a group member is a user with a membership in the group's
--     account (which is what the services already require).
--   mapping_rule_groups: gains account_id (backfilled from the rule): (account_id, rule_id) → mapping_rules,
--     (account_id, group_id) → groups.
--   api_keys.created_by, sessions, user_tokens, invites.invited_by/accepted_user_id,
--     account_creations.admin_user_id: (organization_id, user_id) → users. api_keys.rotated_from:
--     (organization_id, rotated_from) → api_keys.
--   Left as they are: brand_logos, import_files, export_chunks, management_export_types, import_dry_users,
--     import_dry_state (children of one tenant row, reached only through it, deleted with it);
--     import_rows (a results log like audit_events: its account_id/user_id/membership_id record what a row
--     did or, for a dry-run, would have done — dry-run ids name no row — so they are not references, and a
--     key there would cost the import a lookup per row for nothing); idempotency_keys (a response cache,
--     deliberately without keys, 0003).

-- Targets.
ALTER TABLE accounts ADD CONSTRAINT accounts_organization_id_id_key UNIQUE (organization_id, id);
DROP INDEX accounts_org_idx; -- same columns; the unique index serves its queries
ALTER TABLE users ADD CONSTRAINT users_organization_id_id_key UNIQUE (organization_id, id);
DROP INDEX users_org_id_idx;
-- (0013 adds this one for groups.permission_profile_id when it is there.)
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'permission_profiles_account_id_id_key') THEN
    ALTER TABLE permission_profiles ADD CONSTRAINT permission_profiles_account_id_id_key UNIQUE (account_id, id);
  END IF;
END $$;
ALTER TABLE groups ADD CONSTRAINT groups_account_id_id_key UNIQUE (account_id, id);
ALTER TABLE mapping_rules ADD CONSTRAINT mapping_rules_account_id_id_key UNIQUE (account_id, id);
ALTER TABLE api_keys ADD CONSTRAINT api_keys_organization_id_id_key UNIQUE (organization_id, id);
DROP INDEX api_keys_org_idx;

-- permission_profiles
ALTER TABLE permission_profiles
  DROP CONSTRAINT permission_profiles_account_id_fkey,
  DROP CONSTRAINT permission_profiles_organization_id_fkey,
  ADD CONSTRAINT permission_profiles_account_id_fkey
    FOREIGN KEY (organization_id, account_id) REFERENCES accounts (organization_id, id);

-- memberships
ALTER TABLE memberships
  DROP CONSTRAINT memberships_account_id_fkey,
  DROP CONSTRAINT memberships_organization_id_fkey,
  DROP CONSTRAINT memberships_user_id_fkey,
  DROP CONSTRAINT memberships_permission_profile_id_fkey,
  ADD CONSTRAINT memberships_account_id_fkey
    FOREIGN KEY (organization_id, account_id) REFERENCES accounts (organization_id, id),
  ADD CONSTRAINT memberships_user_id_fkey
    FOREIGN KEY (organization_id, user_id) REFERENCES users (organization_id, id),
  ADD CONSTRAINT memberships_permission_profile_id_fkey
    FOREIGN KEY (account_id, permission_profile_id) REFERENCES permission_profiles (account_id, id);

-- groups
ALTER TABLE groups
  DROP CONSTRAINT groups_account_id_fkey,
  DROP CONSTRAINT groups_organization_id_fkey,
  ADD CONSTRAINT groups_account_id_fkey
    FOREIGN KEY (organization_id, account_id) REFERENCES accounts (organization_id, id);

-- group_members
ALTER TABLE group_members ADD COLUMN account_id uuid;
UPDATE group_members gm SET account_id = g.account_id FROM groups g WHERE g.id = gm.group_id;
ALTER TABLE group_members
  ALTER COLUMN account_id SET NOT NULL,
  DROP CONSTRAINT group_members_group_id_fkey,
  DROP CONSTRAINT group_members_user_id_fkey,
  ADD CONSTRAINT group_members_group_id_fkey
    FOREIGN KEY (account_id, group_id) REFERENCES groups (account_id, id) ON DELETE CASCADE,
  -- A group member is a user with a membership (of any status) in the group's account. Memberships are
  -- closed, not deleted; should one be deleted, its group memberships go with it.
  ADD CONSTRAINT group_members_user_id_fkey
    FOREIGN KEY (account_id, user_id) REFERENCES memberships (account_id, user_id) ON DELETE CASCADE;
-- A writer that names only the group (group_id, user_id) gets the group's account filled in; the keys above
-- then still refuse a user without a membership in that account. The import names the account itself, and
-- the WHEN clause keeps the trigger function from running for its rows.
CREATE FUNCTION group_members_fill_account() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  SELECT g.account_id INTO NEW.account_id FROM groups g WHERE g.id = NEW.group_id;
  RETURN NEW;
END $$;
CREATE TRIGGER group_members_fill_account BEFORE INSERT ON group_members
  FOR EACH ROW WHEN (NEW.account_id IS NULL) EXECUTE FUNCTION group_members_fill_account();

-- brands
ALTER TABLE brands
  DROP CONSTRAINT brands_account_id_fkey,
  DROP CONSTRAINT brands_organization_id_fkey,
  ADD CONSTRAINT brands_account_id_fkey
    FOREIGN KEY (organization_id, account_id) REFERENCES accounts (organization_id, id);

-- account_settings
ALTER TABLE account_settings
  DROP CONSTRAINT account_settings_account_id_fkey,
  DROP CONSTRAINT account_settings_organization_id_fkey,
  ADD CONSTRAINT account_settings_account_id_fkey
    FOREIGN KEY (organization_id, account_id) REFERENCES accounts (organization_id, id);

-- api_keys
ALTER TABLE api_keys
  DROP CONSTRAINT api_keys_account_id_fkey,
  DROP CONSTRAINT api_keys_organization_id_fkey,
  DROP CONSTRAINT api_keys_created_by_fkey,
  DROP CONSTRAINT api_keys_rotated_from_fkey,
  ADD CONSTRAINT api_keys_account_id_fkey
    FOREIGN KEY (organization_id, account_id) REFERENCES accounts (organization_id, id),
  ADD CONSTRAINT api_keys_created_by_fkey
    FOREIGN KEY (organization_id, created_by) REFERENCES users (organization_id, id),
  ADD CONSTRAINT api_keys_rotated_from_fkey
    FOREIGN KEY (organization_id, rotated_from) REFERENCES api_keys (organization_id, id);

-- audit_events: account_id is optional (organization-level events carry none).
ALTER TABLE audit_events
  ADD CONSTRAINT audit_events_account_id_fkey
    FOREIGN KEY (organization_id, account_id) REFERENCES accounts (organization_id, id);

-- sessions, user_tokens
ALTER TABLE sessions
  DROP CONSTRAINT sessions_user_id_fkey,
  DROP CONSTRAINT sessions_organization_id_fkey,
  ADD CONSTRAINT sessions_user_id_fkey
    FOREIGN KEY (organization_id, user_id) REFERENCES users (organization_id, id);
ALTER TABLE user_tokens
  DROP CONSTRAINT user_tokens_user_id_fkey,
  DROP CONSTRAINT user_tokens_organization_id_fkey,
  ADD CONSTRAINT user_tokens_user_id_fkey
    FOREIGN KEY (organization_id, user_id) REFERENCES users (organization_id, id);

-- invites
ALTER TABLE invites
  DROP CONSTRAINT invites_account_id_fkey,
  DROP CONSTRAINT invites_organization_id_fkey,
  DROP CONSTRAINT invites_permission_profile_id_fkey,
  DROP CONSTRAINT invites_invited_by_fkey,
  DROP CONSTRAINT invites_accepted_user_id_fkey,
  ADD CONSTRAINT invites_account_id_fkey
    FOREIGN KEY (organization_id, account_id) REFERENCES accounts (organization_id, id),
  -- Deleting the profile clears the invite's profile only (account_id stays).
  ADD CONSTRAINT invites_permission_profile_id_fkey
    FOREIGN KEY (account_id, permission_profile_id) REFERENCES permission_profiles (account_id, id)
    ON DELETE SET NULL (permission_profile_id),
  ADD CONSTRAINT invites_invited_by_fkey
    FOREIGN KEY (organization_id, invited_by) REFERENCES users (organization_id, id),
  ADD CONSTRAINT invites_accepted_user_id_fkey
    FOREIGN KEY (organization_id, accepted_user_id) REFERENCES users (organization_id, id);

-- organization_domains
ALTER TABLE organization_domains
  DROP CONSTRAINT organization_domains_account_id_fkey,
  DROP CONSTRAINT organization_domains_organization_id_fkey,
  DROP CONSTRAINT organization_domains_permission_profile_id_fkey,
  ADD CONSTRAINT organization_domains_account_id_fkey
    FOREIGN KEY (organization_id, account_id) REFERENCES accounts (organization_id, id),
  ADD CONSTRAINT organization_domains_permission_profile_id_fkey
    FOREIGN KEY (account_id, permission_profile_id) REFERENCES permission_profiles (account_id, id)
    ON DELETE SET NULL (permission_profile_id);

-- imports: account_id is NULL when the CSV names accounts per row (the organization key stays for those).
ALTER TABLE imports
  DROP CONSTRAINT imports_account_id_fkey,
  ADD CONSTRAINT imports_account_id_fkey
    FOREIGN KEY (organization_id, account_id) REFERENCES accounts (organization_id, id);

-- mapping_rules
ALTER TABLE mapping_rules
  DROP CONSTRAINT mapping_rules_account_id_fkey,
  DROP CONSTRAINT mapping_rules_organization_id_fkey,
  DROP CONSTRAINT mapping_rules_profile_fkey,
  ADD CONSTRAINT mapping_rules_account_id_fkey
    FOREIGN KEY (organization_id, account_id) REFERENCES accounts (organization_id, id),
  ADD CONSTRAINT mapping_rules_profile_fkey
    FOREIGN KEY (account_id, permission_profile_id) REFERENCES permission_profiles (account_id, id);

-- mapping_rule_groups
ALTER TABLE mapping_rule_groups ADD COLUMN account_id uuid;
UPDATE mapping_rule_groups rg SET account_id = r.account_id FROM mapping_rules r WHERE r.id = rg.rule_id;
ALTER TABLE mapping_rule_groups
  ALTER COLUMN account_id SET NOT NULL,
  DROP CONSTRAINT mapping_rule_groups_rule_id_fkey,
  DROP CONSTRAINT mapping_rule_groups_group_id_fkey,
  ADD CONSTRAINT mapping_rule_groups_rule_id_fkey
    FOREIGN KEY (account_id, rule_id) REFERENCES mapping_rules (account_id, id) ON DELETE CASCADE,
  ADD CONSTRAINT mapping_rule_groups_group_id_fkey
    FOREIGN KEY (account_id, group_id) REFERENCES groups (account_id, id) ON DELETE CASCADE;

-- account_creations
ALTER TABLE account_creations
  DROP CONSTRAINT account_creations_account_id_fkey,
  DROP CONSTRAINT account_creations_organization_id_fkey,
  DROP CONSTRAINT account_creations_source_account_id_fkey,
  DROP CONSTRAINT account_creations_admin_user_id_fkey,
  ADD CONSTRAINT account_creations_account_id_fkey
    FOREIGN KEY (organization_id, account_id) REFERENCES accounts (organization_id, id),
  ADD CONSTRAINT account_creations_source_account_id_fkey
    FOREIGN KEY (organization_id, source_account_id) REFERENCES accounts (organization_id, id),
  ADD CONSTRAINT account_creations_admin_user_id_fkey
    FOREIGN KEY (organization_id, admin_user_id) REFERENCES users (organization_id, id);
