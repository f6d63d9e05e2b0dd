-- Envelopes and credits (issue 12 parts 4 and 5; docs/envelopes.md, docs/platform.md).
--
-- Tenancy (docs/security.md, "Tenancy in the schema"): an envelope belongs to one account, referenced by
-- (organization_id, account_id); its parties, documents and events reference it by (organization_id,
-- envelope_id), so no child row can name another organization's envelope. Credit rows are organization-level
-- (a credit pool is an organization's: a platform's, or a connected account's, which is an organization too).
--
-- Documents are kept as bytea in PostgreSQL, not on a file system or object store: PostgreSQL is Signet's one
-- storage engine (DESIGN.md), so a document commits with its envelope and its first event in one transaction,
-- is backed up and replicated with them, and several Signet processes need no shared disk. Documents are
-- bounded by SIGNET_ENVELOPE_MAX_BYTES (25 MB by default); PostgreSQL stores such values out of line
-- (TOAST) and reads them only when asked, so lists never touch them.

CREATE TABLE envelopes (
  id uuid PRIMARY KEY,
  organization_id uuid NOT NULL,
  account_id uuid NOT NULL,
  status text NOT NULL DEFAULT 'draft'
    CHECK (status IN ('draft', 'sent', 'completed', 'declined', 'voided', 'expired')),
  title text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
  message text NOT NULL DEFAULT '' CHECK (length(message) <= 2000),
  -- metadata.external_id, the caller's own reference (Atlas's ?external_id= filter).
  external_id text CHECK (length(external_id) BETWEEN 1 AND 200),
  metadata jsonb NOT NULL DEFAULT '{}',
  webhook_url text CHECK (length(webhook_url) BETWEEN 1 AND 2048),
  created_by_type text NOT NULL,
  created_by_id text,
  created_by_label text,
  -- Who paid the send's credit (the platform when it pays, else the organization itself); a refund goes back
  -- there whatever the billing mode is by then.
  payer_organization_id uuid REFERENCES organizations (id),
  sent_at timestamptz,
  completed_at timestamptz,
  declined_at timestamptz,
  voided_at timestamptz,
  expired_at timestamptz,
  expires_at timestamptz,
  void_reason text CHECK (length(void_reason) <= 500),
  decline_reason text CHECK (length(decline_reason) <= 500),
  reminder_count integer NOT NULL DEFAULT 0,
  last_reminded_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT envelopes_organization_id_id_key UNIQUE (organization_id, id),
  CONSTRAINT envelopes_account_id_fkey
    FOREIGN KEY (organization_id, account_id) REFERENCES accounts (organization_id, id)
);
-- The list is keyset-paged by id (UUIDv7: creation order), newest first, per organization and per account,
-- with or without a status; the exports and ?updated_since= read by updated_at.
CREATE INDEX envelopes_org_idx ON envelopes (organization_id, id);
CREATE INDEX envelopes_account_idx ON envelopes (account_id, id);
CREATE INDEX envelopes_org_status_idx ON envelopes (organization_id, status, id);
CREATE INDEX envelopes_org_updated_idx ON envelopes (organization_id, updated_at, id);
CREATE INDEX envelopes_external_idx ON envelopes (organization_id, external_id) WHERE external_id IS NOT NULL;

-- Parties sign in `signing_order` (Atlas: signing is always sequential). pending: the one whose turn it is;
-- waiting: later; signed; declined. A cc party receives the completed document and never signs.
CREATE TABLE envelope_parties (
  id uuid PRIMARY KEY,
  organization_id uuid NOT NULL,
  envelope_id uuid NOT NULL,
  email text NOT NULL CHECK (length(email) BETWEEN 3 AND 320),
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  role text NOT NULL DEFAULT 'signer' CHECK (role IN ('signer', 'cc')),
  signing_order integer NOT NULL CHECK (signing_order BETWEEN 1 AND 1000),
  status text NOT NULL DEFAULT 'waiting' CHECK (status IN ('pending', 'waiting', 'signed', 'declined')),
  viewed_at timestamptz,
  signed_at timestamptz,
  signed_name text CHECK (length(signed_name) <= 200),
  signed_ip text,
  signed_user_agent text,
  declined_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT envelope_parties_envelope_fkey
    FOREIGN KEY (organization_id, envelope_id) REFERENCES envelopes (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX envelope_parties_envelope_idx ON envelope_parties (envelope_id, signing_order, id);

-- The envelope's PDFs: the original upload, and the signed one (signature page appended) once completed.
CREATE TABLE envelope_documents (
  id uuid PRIMARY KEY,
  organization_id uuid NOT NULL,
  envelope_id uuid NOT NULL,
  kind text NOT NULL CHECK (kind IN ('original', 'signed')),
  filename text NOT NULL CHECK (length(filename) BETWEEN 1 AND 255),
  content_type text NOT NULL DEFAULT 'application/pdf',
  size_bytes integer NOT NULL CHECK (size_bytes > 0),
  page_count integer NOT NULL CHECK (page_count > 0),
  sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  data bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (envelope_id, kind),
  CONSTRAINT envelope_documents_envelope_fkey
    FOREIGN KEY (organization_id, envelope_id) REFERENCES envelopes (organization_id, id) ON DELETE CASCADE
);

-- The envelope's history: append-only and hash-chained per envelope with the audit log's chain code
-- (src/core/audit/chain.ts), so a stored event edited, removed or reordered breaks every later link.
-- Appending locks the envelope row, so an envelope's events get consecutive seq numbers.
CREATE TABLE envelope_events (
  id uuid PRIMARY KEY,
  organization_id uuid NOT NULL,
  envelope_id uuid NOT NULL,
  seq integer NOT NULL CHECK (seq > 0),
  type text NOT NULL,
  occurred_at timestamptz NOT NULL,
  actor_type text NOT NULL,
  actor_id text,
  actor_label text,
  party_id uuid,
  payload jsonb NOT NULL DEFAULT '{}',
  ip text,
  user_agent text,
  prev_hash text NOT NULL,
  hash text NOT NULL,
  UNIQUE (envelope_id, seq),
  CONSTRAINT envelope_events_envelope_fkey
    FOREIGN KEY (organization_id, envelope_id) REFERENCES envelopes (organization_id, id)
);

-- Credits: each organization's balance (the row sends lock and decrement; CHECK keeps it from ever going
-- below zero whatever the code does) and its append-only ledger. A send debits with
-- `UPDATE … SET balance = balance - 1 WHERE balance >= 1`: concurrent sends queue on the row, and the one
-- that finds it at zero changes nothing and answers 402.
CREATE TABLE credit_balances (
  organization_id uuid PRIMARY KEY REFERENCES organizations (id),
  balance bigint NOT NULL DEFAULT 0 CHECK (balance >= 0),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE credit_entries (
  id uuid PRIMARY KEY,
  organization_id uuid NOT NULL REFERENCES organizations (id),
  -- grant: credits given (an operator, a platform, or signup); send: one envelope sent (-1); refund: a void
  -- before anyone signed (+1).
  kind text NOT NULL CHECK (kind IN ('grant', 'signup', 'send', 'refund')),
  amount integer NOT NULL CHECK (amount <> 0),
  balance_after bigint NOT NULL CHECK (balance_after >= 0),
  -- For sends and refunds: the envelope, and the organization it belongs to (a connected account's, when
  -- its platform pays).
  envelope_id uuid,
  envelope_organization_id uuid REFERENCES organizations (id),
  actor_type text NOT NULL,
  actor_id text,
  actor_label text,
  reason text NOT NULL DEFAULT '' CHECK (length(reason) <= 500),
  created_at timestamptz NOT NULL DEFAULT now(),
  CHECK ((kind IN ('send', 'refund')) = (envelope_id IS NOT NULL))
);
CREATE INDEX credit_entries_org_idx ON credit_entries (organization_id, id);
CREATE INDEX credit_entries_org_created_idx ON credit_entries (organization_id, created_at, id);
-- Exactly once, whatever the code does: one debit and at most one refund per envelope.
CREATE UNIQUE INDEX credit_entries_send_key ON credit_entries (envelope_id) WHERE kind = 'send';
CREATE UNIQUE INDEX credit_entries_refund_key ON credit_entries (envelope_id) WHERE kind = 'refund';

-- Append-only: the ledger and the envelope history refuse UPDATE and DELETE.
CREATE FUNCTION signet_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'SN002';
END;
$$;
CREATE TRIGGER credit_entries_append_only BEFORE UPDATE OR DELETE ON credit_entries
  FOR EACH ROW EXECUTE FUNCTION signet_append_only();
CREATE TRIGGER envelope_events_append_only BEFORE UPDATE OR DELETE ON envelope_events
  FOR EACH ROW EXECUTE FUNCTION signet_append_only();
