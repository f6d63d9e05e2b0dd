-- Webhooks (issue 13, docs/webhooks.md): endpoints an account registers, their signing secrets, and the
-- transactional outbox. A change that makes an event writes the event, and one delivery per endpoint that
-- subscribes to it, in the change's own transaction (DESIGN.md): a rolled-back change sends nothing, and a
-- crash after commit loses nothing, because the deliveries wait in this table until a worker sends them.
--
-- Tenancy (docs/security.md, "Tenancy in the schema"): an endpoint belongs to one account, referenced by
-- (organization_id, account_id); secrets, deliveries and attempts are children of one endpoint, reached only
-- through it and deleted with it. Events are organization-level facts whose account_id is optional, as in
-- audit_events.

CREATE TABLE webhook_endpoints (
  id uuid PRIMARY KEY,
  organization_id uuid NOT NULL,
  account_id uuid NOT NULL,
  url text NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
  description text NOT NULL DEFAULT '' CHECK (length(description) <= 500),
  -- standard: Standard Webhooks 1.0; atlas: X-Atlas-Signature; connect: DocuSign Connect's shape and headers.
  format text NOT NULL CHECK (format IN ('standard', 'atlas', 'connect')),
  -- Public event types (src/core/webhooks/events.ts), or '*' for every one.
  events text[] NOT NULL CHECK (cardinality(events) BETWEEN 1 AND 100),
  -- Events with no account (a person's identity, the organization) reach only endpoints an owner or admin
  -- registered: a member's endpoint hears of its own account only (docs/webhooks.md).
  organization_events boolean NOT NULL DEFAULT false,
  enabled boolean NOT NULL DEFAULT true,
  -- Why Signet itself disabled it (a 410 answer, days of failures); NULL when a person did, or it is enabled.
  disabled_reason text,
  created_by uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT webhook_endpoints_account_id_fkey
    FOREIGN KEY (organization_id, account_id) REFERENCES accounts (organization_id, id),
  CONSTRAINT webhook_endpoints_created_by_fkey
    FOREIGN KEY (organization_id, created_by) REFERENCES users (organization_id, id)
);
-- The per-transaction check "does this organization have an enabled endpoint?" and the account's list.
CREATE INDEX webhook_endpoints_org_idx ON webhook_endpoints (organization_id) WHERE enabled;
CREATE INDEX webhook_endpoints_account_idx ON webhook_endpoints (account_id, id);

-- Signing secrets. Kept as they are (not hashed): signing needs the secret itself (docs/webhooks.md says
-- why and how to protect them). A rotation sets expires_at on the secrets before the new one; until then
-- deliveries carry a signature with each (Standard Webhooks' list, Connect's -1..-N headers).
CREATE TABLE webhook_secrets (
  id uuid PRIMARY KEY,
  endpoint_id uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
  secret text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz
);
CREATE INDEX webhook_secrets_endpoint_idx ON webhook_secrets (endpoint_id, created_at);

-- The outbox: one row per event, with a thin payload (ids and the names of changed fields, never values that
-- could be secrets). The id is the webhook-id every attempt of every delivery carries.
CREATE TABLE webhook_events (
  id uuid PRIMARY KEY,
  organization_id uuid NOT NULL REFERENCES organizations (id),
  account_id uuid,
  type text NOT NULL,
  occurred_at timestamptz NOT NULL,
  payload jsonb NOT NULL
);
CREATE INDEX webhook_events_org_idx ON webhook_events (organization_id, id);

-- One event to one endpoint. pending → delivered, or failed (retries exhausted, or the endpoint answered 410).
CREATE TABLE webhook_deliveries (
  id uuid PRIMARY KEY,
  endpoint_id uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
  event_id uuid NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz,
  -- A worker sending it holds it until then (a crashed worker's delivery is picked up again after).
  locked_until timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (endpoint_id, event_id)
);
-- What the workers poll: due pending deliveries, oldest first.
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, id);

-- Every attempt, for the delivery log (GET /api/webhook_endpoints/{id}/deliveries).
CREATE TABLE webhook_attempts (
  id uuid PRIMARY KEY,
  delivery_id uuid NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
  attempt integer NOT NULL,
  started_at timestamptz NOT NULL,
  status_code integer,
  latency_ms integer NOT NULL,
  -- The first bytes of the answer, or why there was none (timeout, refused by the outbound guard, ...).
  response_excerpt text NOT NULL DEFAULT '',
  error text,
  next_retry_at timestamptz
);
CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id, attempt);
