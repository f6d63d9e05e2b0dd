-- DocuSign compatibility the official SDKs need (docs/compatibility.md):
--
-- 1. A permission profile keeps the eSignature AccountRoleSettings fields Signet does not enforce, as sent
--    (the enforced ones map onto `permissions`; src/core/permission-profiles/role-settings.ts).
ALTER TABLE permission_profiles ADD COLUMN role_settings jsonb NOT NULL DEFAULT '{}'
  CHECK (jsonb_typeof(role_settings) = 'object');

-- 2. A group may name a permission profile of its own account (eSignature's Group.permissionProfileId). The
--    composite key makes a profile of another account (or organization) impossible to reference; deleting a
--    profile moves or clears the groups' reference first (PermissionProfilesService.delete).
ALTER TABLE permission_profiles ADD CONSTRAINT permission_profiles_account_id_id_key UNIQUE (account_id, id);
ALTER TABLE groups ADD COLUMN permission_profile_id bigint;
ALTER TABLE groups ADD CONSTRAINT groups_permission_profile_fkey
  FOREIGN KEY (account_id, permission_profile_id) REFERENCES permission_profiles (account_id, id);
CREATE INDEX groups_permission_profile_idx ON groups (permission_profile_id)
  WHERE permission_profile_id IS NOT NULL;

-- 3. DocuSign's built-in groups: every account has exactly one Administrators (`admin`) and one Everyone
--    (`everyone`) group besides its own (`custom`) groups. Everyone's members are every user with a membership
--    in the account (of any status, the same users any group may hold), kept by the trigger below on every
--    write path (API, imports' COPY, invites, SQL).
ALTER TABLE groups ADD COLUMN group_type text NOT NULL DEFAULT 'custom'
  CHECK (group_type IN ('custom', 'admin', 'everyone'));
CREATE UNIQUE INDEX groups_builtin_key ON groups (account_id, group_type) WHERE group_type <> 'custom';

-- An existing group that already carries a built-in name becomes that built-in group (names are unique per
-- account, case-insensitively, so there is at most one of each); the other accounts get new ones, as new
-- accounts do (src/core/groups/builtin.ts: Administrators names the account's DS Admin profile).
UPDATE groups SET group_type = 'admin' WHERE lower(name) = 'administrators';
UPDATE groups SET group_type = 'everyone' WHERE lower(name) = 'everyone';
INSERT INTO groups (organization_id, account_id, name, description, group_type, permission_profile_id)
SELECT a.organization_id, a.id, b.name, b.description, b.group_type,
  CASE WHEN b.group_type = 'admin' THEN (
    SELECT p.id FROM permission_profiles p WHERE p.account_id = a.id AND p.name = 'DS Admin'
  ) END
FROM accounts a
CROSS JOIN (VALUES
  ('Administrators', 'The account''s administrators.', 'admin'),
  ('Everyone', 'Every user of the account.', 'everyone')
) AS b (name, description, group_type)
WHERE NOT EXISTS (
  SELECT 1 FROM groups g WHERE g.account_id = a.id AND g.group_type = b.group_type
);
INSERT INTO group_members (group_id, user_id)
SELECT g.id, m.user_id
FROM memberships m
JOIN groups g ON g.account_id = m.account_id AND g.group_type = 'everyone'
ON CONFLICT DO NOTHING;

-- Statement-level with transition tables: one INSERT … SELECT per statement, so a bulk COPY of memberships
-- costs one join, not a query per row.
CREATE FUNCTION memberships_join_everyone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO group_members (group_id, user_id)
  SELECT g.id, n.user_id
  FROM new_memberships n
  JOIN groups g ON g.account_id = n.account_id AND g.group_type = 'everyone'
  ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$;
CREATE TRIGGER memberships_join_everyone AFTER INSERT ON memberships
  REFERENCING NEW TABLE AS new_memberships
  FOR EACH STATEMENT EXECUTE FUNCTION memberships_join_everyone();

CREATE FUNCTION memberships_leave_everyone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM group_members gm
  USING old_memberships o, groups g
  WHERE g.account_id = o.account_id AND g.group_type = 'everyone'
    AND gm.group_id = g.id AND gm.user_id = o.user_id;
  RETURN NULL;
END $$;
CREATE TRIGGER memberships_leave_everyone AFTER DELETE ON memberships
  REFERENCING OLD TABLE AS old_memberships
  FOR EACH STATEMENT EXECUTE FUNCTION memberships_leave_everyone();
