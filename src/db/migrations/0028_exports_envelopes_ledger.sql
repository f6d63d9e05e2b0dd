-- Exports for the warehouse (issue 12 part 8; docs/exports.md): envelopes and the credit ledger join users and
-- account settings as export kinds, through the same durable jobs and chunks. `updated_since` keeps an export
-- to the envelopes changed (ledger entries made) at or after that time, so a nightly mirror exports only what
-- changed since its last run; it means nothing for the other kinds, which refuse it.
ALTER TABLE exports DROP CONSTRAINT exports_kind_check;
ALTER TABLE exports ADD CONSTRAINT exports_kind_check
  CHECK (kind IN ('users', 'account_settings', 'envelopes', 'credit_ledger'));
ALTER TABLE exports ADD COLUMN updated_since timestamptz;
ALTER TABLE exports ADD CONSTRAINT exports_updated_since_kind_check
  CHECK (updated_since IS NULL OR kind IN ('envelopes', 'credit_ledger'));
