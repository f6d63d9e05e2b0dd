-- Issue 10, findings 6, 9 and 11 and "an email change is verified".
--
-- Domain claims count only once proven by DNS (src/core/organizations/domains.ts). Each claim carries the
-- token its TXT record must hold and, once found, verified_at. Several organizations may hold unproven claims
-- of one domain; only a verified claim is unique across the server. Claims made before this migration had no
-- proof: they stay, unverified, until their organization proves them (they no longer auto-join anyone).
ALTER TABLE organization_domains
  ADD COLUMN verification_token text,
  ADD COLUMN verified_at timestamptz;
UPDATE organization_domains SET verification_token = replace(gen_random_uuid()::text, '-', '')
  || replace(gen_random_uuid()::text, '-', '');
ALTER TABLE organization_domains ALTER COLUMN verification_token SET NOT NULL;
DROP INDEX organization_domains_domain_key;
CREATE UNIQUE INDEX organization_domains_verified_domain_key ON organization_domains (domain)
  WHERE verified_at IS NOT NULL;
CREATE UNIQUE INDEX organization_domains_org_domain_key ON organization_domains (organization_id, domain);

-- Mailed link tokens at rest (src/core/mail/mailer.ts): a mail's text and html hold a placeholder where the
-- token goes; the token itself sits in `secret` only while the link can still be used, so the operator can
-- read it with `signet mail list` when there is no SMTP. It is scrubbed (set to NULL, the placeholder then
-- renders as a marker) when the token is used, when the mail has been handed to SMTP, and when it expires
-- (a periodic sweep; reads treat an expired secret as scrubbed already). secret_hash is the token's SHA-256,
-- as user_tokens and invites store it, so the place that consumes a token can scrub its mail.
ALTER TABLE outbox_mail
  ADD COLUMN secret text,
  ADD COLUMN secret_hash bytea,
  ADD COLUMN secret_expires_at timestamptz;
CREATE INDEX outbox_mail_secret_hash_idx ON outbox_mail (secret_hash) WHERE secret IS NOT NULL;
CREATE INDEX outbox_mail_secret_expiry_idx ON outbox_mail (secret_expires_at) WHERE secret IS NOT NULL;

-- Verified email changes (src/core/users/email-change.ts): the address a user asked to move to waits in
-- pending_email until the link mailed there is followed; the token row names the address it confirms, so a
-- link for an address that was since replaced confirms nothing.
ALTER TABLE users ADD COLUMN pending_email text CHECK (length(pending_email) BETWEEN 3 AND 320);
ALTER TABLE user_tokens ADD COLUMN email text;
ALTER TABLE user_tokens DROP CONSTRAINT user_tokens_purpose_check;
ALTER TABLE user_tokens ADD CONSTRAINT user_tokens_purpose_check
  CHECK (purpose IN ('email_verification', 'password_reset', 'email_change'));
