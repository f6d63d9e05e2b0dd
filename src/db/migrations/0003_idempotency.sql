-- Idempotency keys (docs/idempotency-and-rate-limits.md). One row per (organization, principal, method,
-- route pattern, key): claimed `in_flight` with a lease before the handler runs, then `done` with the
-- response, written in the same transaction as the request's effect. Rows past expires_at are ignored and
-- swept. No foreign key to organizations: the table is a cache of responses, swept on its own schedule.

CREATE TABLE idempotency_keys (
  organization_id uuid NOT NULL,
  -- The principal's id: an API key id, later a session or OAuth client id.
  principal_id text NOT NULL,
  method text NOT NULL,
  -- The route pattern (e.g. /api/users/:id), not the URL: the URL is part of the fingerprint.
  route text NOT NULL,
  key text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
  -- SHA-256 (hex) of method, URL (path and query) and body bytes.
  fingerprint text NOT NULL,
  state text NOT NULL CHECK (state IN ('in_flight', 'done')),
  -- Which attempt holds the row: a takeover after the lease lapsed gives it a new token, and the old
  -- attempt's completion (which checks its token) then fails and rolls its effect back.
  lock_token uuid NOT NULL,
  locked_until timestamptz,
  status integer,
  headers jsonb,
  body bytea,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (organization_id, principal_id, method, route, key),
  CHECK (state = 'in_flight' OR status IS NOT NULL)
);
CREATE INDEX idempotency_keys_expires_idx ON idempotency_keys (expires_at);
