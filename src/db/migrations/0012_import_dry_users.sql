-- The simulated world of a running dry-run import (src/core/imports/spill.ts), so its worker keeps only the
-- current batch in memory, whatever the file's size.
--
-- import_dry_users: one row per user the dry-run's plan has created or changed, as the plan left it (its row,
-- memberships and groups as jsonb). Found by (import_id, user_id) and by the simulated email, lower-cased
-- (not unique: one statement may hand an email from one entry to another).
-- import_dry_state: the dry-run's seat counters and the checkpoint they belong to.
--
-- Both are written in each batch's transaction, with the import's checkpoint, and deleted when the import
-- ends or the dry-run starts over. UNLOGGED: a crash of PostgreSQL empties them, and a dry-run that finds no
-- state for its checkpoint starts over from its first row (it wrote nothing); a real import never uses them.
CREATE UNLOGGED TABLE import_dry_users (
  import_id uuid NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
  user_id uuid NOT NULL,
  email text NOT NULL,
  state jsonb NOT NULL,
  PRIMARY KEY (import_id, user_id)
);
CREATE INDEX import_dry_users_email_idx ON import_dry_users (import_id, email);

CREATE UNLOGGED TABLE import_dry_state (
  import_id uuid PRIMARY KEY REFERENCES imports (id) ON DELETE CASCADE,
  last_row integer NOT NULL,
  -- {account_id: {used, limit}}
  seats jsonb NOT NULL
);
