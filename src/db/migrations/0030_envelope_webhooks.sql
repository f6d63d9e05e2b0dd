-- Webhooks, part three (issue 13, docs/webhooks.md "An envelope's webhook_url"): Atlas's per-envelope
-- webhook_url. Such an envelope's events go to its URL through the same outbox, relay, retries and outbound
-- guard as every endpoint's: the envelope gets a one-off endpoint of its own (envelope_id set, format atlas,
-- every envelope event of that envelope), made with its first event. It is not listed among the account's
-- endpoints and does not count towards their limit.
ALTER TABLE webhook_endpoints ADD COLUMN envelope_id uuid;
ALTER TABLE webhook_endpoints ADD CONSTRAINT webhook_endpoints_envelope_id_fkey
  FOREIGN KEY (organization_id, envelope_id) REFERENCES envelopes (organization_id, id) ON DELETE CASCADE;
CREATE UNIQUE INDEX webhook_endpoints_envelope_idx ON webhook_endpoints (envelope_id)
  WHERE envelope_id IS NOT NULL;
-- The per-transaction subscriber check reads the registered endpoints only (an organization may have an
-- envelope endpoint per envelope; those are found by envelope id).
DROP INDEX webhook_endpoints_org_idx;
CREATE INDEX webhook_endpoints_org_idx ON webhook_endpoints (organization_id)
  WHERE enabled AND envelope_id IS NULL;

-- The account's default signing secret: Atlas signs an envelope's webhook with the API key that created it,
-- which Signet never keeps (only its hash), so an envelope endpoint is signed with this secret instead. Made
-- with the account's first such envelope, or by POST /api/accounts/{id}/webhook_secret (which shows it once and
-- replaces the one before at once: X-Atlas-Signature carries one signature).
CREATE TABLE webhook_account_secrets (
  account_id uuid PRIMARY KEY,
  organization_id uuid NOT NULL,
  secret text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT webhook_account_secrets_account_id_fkey
    FOREIGN KEY (organization_id, account_id) REFERENCES accounts (organization_id, id) ON DELETE CASCADE
);
