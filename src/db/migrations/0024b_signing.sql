-- Signing (issue 12 part 6; src/core/signing/service.ts, docs/envelopes.md "Signing").
--
-- The expiry sweep looks for envelopes still out past their expires_at, every minute: only those rows are
-- indexed, so the index stays as small as the number of envelopes out for signature.
CREATE INDEX envelopes_sent_expiry_idx ON envelopes (expires_at) WHERE status = 'sent';

-- The display name a mail is sent as: the brand's sender name ("Acme Legal <no-reply@…>"), which the signing
-- mails (and the people mails, whose templates already chose one) carry; null sends as SIGNET_MAIL_FROM.
ALTER TABLE outbox_mail ADD COLUMN from_name text CHECK (length(from_name) BETWEEN 1 AND 200);
