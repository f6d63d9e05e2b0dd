-- Platform mode and connected accounts (issue 12, docs/platform.md). A platform organization
-- (platform_enabled) provisions connected accounts; each connected account is an organization of its own
-- (its own accounts, users, brands, settings, audit chain, credits), linked to the platform organization that
-- created it by platform_organization_id and named by the platform's own external_id (Atlas's
-- `Atlas-Account: ext_<external_id>`). Everything already keyed by organization_id is therefore isolated
-- between a platform and its connected accounts, and between siblings, by the keys of 0014 unchanged.
--
-- API keys already carry kind 'profile' | 'platform' (0014); a platform key is honoured as one only while its
-- organization has platform_enabled (checked where the Atlas-Account header is resolved).

ALTER TABLE organizations
  ADD COLUMN platform_enabled boolean NOT NULL DEFAULT false,
  -- Set for a connected account: the platform organization it belongs to.
  ADD COLUMN platform_organization_id uuid REFERENCES organizations (id),
  -- The platform's own id for the connected account (unique per platform, below).
  ADD COLUMN external_id text CHECK (external_id IS NULL OR length(external_id) BETWEEN 1 AND 255),
  -- Who pays for the connected account's sends: the platform's credit pool (default) or its own.
  ADD COLUMN billing_mode text NOT NULL DEFAULT 'platform_pays'
    CHECK (billing_mode IN ('platform_pays', 'child_pays')),
  -- NULL for organizations that are not connected accounts.
  ADD COLUMN connected_status text CHECK (connected_status IN ('active', 'suspended')),
  -- A connected account has all three of platform, external id and status; any other organization none.
  ADD CONSTRAINT organizations_connected_check CHECK (
    (platform_organization_id IS NULL) = (external_id IS NULL)
    AND (platform_organization_id IS NULL) = (connected_status IS NULL)
  ),
  -- One level only: a connected account is not itself a platform (Atlas documents no nesting).
  ADD CONSTRAINT organizations_platform_nesting_check CHECK (
    NOT (platform_enabled AND platform_organization_id IS NOT NULL)
  );

-- Idempotent provisioning: two creates with one external_id meet on this index (the second finds the first).
CREATE UNIQUE INDEX organizations_platform_external_id_key
  ON organizations (platform_organization_id, external_id) WHERE platform_organization_id IS NOT NULL;
-- A platform's list of connected accounts, in creation order (ids are UUIDv7).
CREATE INDEX organizations_platform_idx
  ON organizations (platform_organization_id, id) WHERE platform_organization_id IS NOT NULL;
