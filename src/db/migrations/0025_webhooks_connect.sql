-- Webhooks, part two (issue 13, docs/webhooks.md): the Connect operations of /management, endpoints that fail
-- for days, and fair claiming across processes.
--
-- An organization-level Connect configuration (OrgConnectApi of the DocuSign Admin API) is a webhook endpoint
-- of format 'connect' that belongs to the organization rather than to one account: account_id is NULL, and
-- account_ids, when set, limits it to those accounts (Connect's accountIds). Only owners and admins reach such
-- an endpoint (a member's list filters by its account). `connect` keeps the configuration's own fields as
-- /management set them (name, configurationType, includeHMAC, includeOAuth, ...), so the SDK reads back what
-- it wrote.
ALTER TABLE webhook_endpoints ALTER COLUMN account_id DROP NOT NULL;
ALTER TABLE webhook_endpoints ADD COLUMN account_ids uuid[];
ALTER TABLE webhook_endpoints ADD COLUMN connect jsonb;
ALTER TABLE webhook_endpoints ADD CONSTRAINT webhook_endpoints_scope_check
  CHECK (account_id IS NOT NULL OR connect IS NOT NULL);
-- When its current run of failed attempts began (NULL after a success): an endpoint failing for longer than
-- SIGNET_WEBHOOK_DISABLE_AFTER_SECONDS (three days) is disabled and its organization's admins are mailed.
ALTER TABLE webhook_endpoints ADD COLUMN failing_since timestamptz;

-- The organization's Connect HMAC secrets (OrgConnectApi.postConnectHmacSecret): a Connect configuration with
-- includeHMAC "true" is signed with each of them (X-DocuSign-Signature-1..N). Kept as they are, like the
-- endpoints' secrets: signing needs them (docs/webhooks.md).
CREATE TABLE connect_hmac_secrets (
  id uuid PRIMARY KEY,
  organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  secret text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX connect_hmac_secrets_org_idx ON connect_hmac_secrets (organization_id, created_at);

-- The organization's Connect OAuth configuration (OrgConnectApi.*OrganizationConnectOAuthConfiguration): a
-- Connect configuration with includeOAuth "true" is sent with a Bearer token Signet obtains from this
-- authorization server with the client-credentials grant.
CREATE TABLE connect_oauth_configs (
  organization_id uuid PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
  authorization_server_url text NOT NULL CHECK (length(authorization_server_url) BETWEEN 1 AND 2048),
  client_id text NOT NULL CHECK (length(client_id) BETWEEN 1 AND 500),
  client_secret text NOT NULL CHECK (length(client_secret) BETWEEN 1 AND 2000),
  scope text NOT NULL DEFAULT '',
  custom_parameters jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Claiming looks at each endpoint's oldest due deliveries and counts its leased ones (in flight in any
-- process): one endpoint's backlog must not hide the others' deliveries behind it.
CREATE INDEX webhook_deliveries_endpoint_due_idx ON webhook_deliveries (endpoint_id, next_attempt_at)
  WHERE status = 'pending';
-- The deliveries leased (in flight somewhere), counted per endpoint at each claim: few rows, a small index.
-- A lease is cleared when its attempt is recorded, so only in-flight (or a crashed worker's) rows are in it.
CREATE INDEX webhook_deliveries_leased_idx ON webhook_deliveries (endpoint_id, locked_until)
  WHERE locked_until IS NOT NULL;
