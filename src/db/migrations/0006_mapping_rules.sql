-- HR mapping rules: per account, an ordered list of rules from a person's attributes (job title, department,
-- company) to a permission profile and groups. The first enabled rule whose conditions all hold applies to a
-- new member who is given no profile (POST /api/users, CSV imports). See docs/mapping-rules.md.

CREATE TABLE mapping_rules (
  id uuid PRIMARY KEY,
  organization_id uuid NOT NULL REFERENCES organizations (id),
  account_id uuid NOT NULL REFERENCES accounts (id),
  -- 1..n within the account, without gaps; the first matching enabled rule wins.
  position integer NOT NULL CHECK (position >= 1),
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  -- {"job_title"?: {"equals": s} | {"matches": glob}, "department"?: …, "company"?: …}; at least one.
  conditions jsonb NOT NULL CHECK (jsonb_typeof(conditions) = 'object' AND conditions <> '{}'::jsonb),
  -- No cascade: a profile that rules use is not deleted (the API answers 409 profile_in_use naming them).
  permission_profile_id bigint NOT NULL,
  enabled boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT mapping_rules_profile_fkey FOREIGN KEY (permission_profile_id) REFERENCES permission_profiles (id),
  -- Deferred, so a reorder can permute positions in one transaction.
  CONSTRAINT mapping_rules_position_key UNIQUE (account_id, position) DEFERRABLE INITIALLY DEFERRED
);
CREATE INDEX mapping_rules_profile_idx ON mapping_rules (permission_profile_id);

-- The groups a rule adds the person to. Deleting a group takes it off every rule (the rules stay).
CREATE TABLE mapping_rule_groups (
  rule_id uuid NOT NULL REFERENCES mapping_rules (id) ON DELETE CASCADE,
  group_id bigint NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
  PRIMARY KEY (rule_id, group_id)
);
CREATE INDEX mapping_rule_groups_group_idx ON mapping_rule_groups (group_id);
