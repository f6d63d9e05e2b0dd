-- Bulk CSV user imports (docs/imports.md). An import is a row in `imports`; its raw file is kept in
-- `import_files` as ~1 MB chunks (streamed in on upload, streamed out by the worker and by results.csv);
-- each CSV data row's outcome is one row of `import_rows`. The job itself lives in pg-boss's queue
-- (schema pgboss, created by pg-boss at worker start); this table holds the import's state and checkpoint.

CREATE TABLE imports (
  id uuid PRIMARY KEY,
  organization_id uuid NOT NULL REFERENCES organizations (id),
  -- The account given on the request (account_id=…); NULL when the CSV names accounts in an AccountID column.
  account_id uuid REFERENCES accounts (id),
  operation text NOT NULL CHECK (operation IN ('add', 'update', 'close')),
  dry_run boolean NOT NULL DEFAULT false,
  -- receiving: the upload is being stored (not yet queued); then queued → in_process → completed | failed |
  -- canceled.
  status text NOT NULL CHECK (status IN ('receiving', 'queued', 'in_process', 'completed', 'failed', 'canceled')),
  -- Who created it, as the audit log records them; the worker acts as this principal.
  requestor jsonb NOT NULL,
  request_meta jsonb NOT NULL DEFAULT '{}',
  file_name text,
  size_bytes bigint NOT NULL DEFAULT 0,
  sha256 text,
  header text[],
  invalid_column_headers text[] NOT NULL DEFAULT '{}',
  -- File-level failure: {code, message}.
  error jsonb,
  validated boolean NOT NULL DEFAULT false,
  user_count integer NOT NULL DEFAULT 0,
  processed_user_count integer NOT NULL DEFAULT 0,
  added_user_count integer NOT NULL DEFAULT 0,
  updated_user_count integer NOT NULL DEFAULT 0,
  closed_user_count integer NOT NULL DEFAULT 0,
  no_action_required_user_count integer NOT NULL DEFAULT 0,
  error_count integer NOT NULL DEFAULT 0,
  warning_count integer NOT NULL DEFAULT 0,
  -- {error_type: count}
  error_rollups jsonb NOT NULL DEFAULT '{}',
  -- Checkpoint: the last data row (1-based) whose result is committed. A batch's user writes, row results,
  -- audit events and this checkpoint commit in one transaction.
  last_row integer NOT NULL DEFAULT 0,
  -- The worker processing it holds a lease, renewed every batch, so two workers never run one import at once.
  lease_owner text,
  lease_until timestamptz,
  attempts integer NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  started_at timestamptz,
  completed_at timestamptz
);
CREATE INDEX imports_org_idx ON imports (organization_id, id);

CREATE TABLE import_files (
  import_id uuid NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
  seq integer NOT NULL,
  data bytea NOT NULL,
  PRIMARY KEY (import_id, seq)
);

CREATE TABLE import_rows (
  import_id uuid NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
  -- 1-based data row number (the header is not counted). The key also makes a row's result unique: a batch
  -- applied twice cannot commit.
  row_number integer NOT NULL,
  status text NOT NULL CHECK (status IN ('ok', 'error')),
  -- add | update | close | no_action (dry-run: what would be done)
  action text NOT NULL,
  -- user_added, user_updated, membership_closed, no_action_taken… or the DocuSign error_type of an error.
  result text NOT NULL,
  error_type text,
  message text,
  email text,
  account_id uuid,
  user_id uuid,
  membership_id uuid,
  PRIMARY KEY (import_id, row_number)
);
CREATE INDEX import_rows_errors_idx ON import_rows (import_id, row_number) WHERE status = 'error';
