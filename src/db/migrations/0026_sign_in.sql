-- Sign-in (issue 14, docs/people-and-sessions.md): TOTP two-step verification with recovery codes, the
-- second step of a login, and activation links.
--
-- A user's TOTP secret (RFC 6238) is kept here: verifying a code needs the secret itself, so it cannot be
-- hashed. It is never returned after enrolment. totp_pending_secret holds an enrolment not yet confirmed;
-- totp_last_step is the time step of the last code accepted, so a code is never accepted twice (RFC 6238
-- section 5.2: "the verifier MUST NOT accept the second attempt of the OTP after the successful validation").
ALTER TABLE users
  ADD COLUMN totp_secret text,
  ADD COLUMN totp_pending_secret text,
  ADD COLUMN totp_enabled_at timestamptz,
  ADD COLUMN totp_last_step bigint,
  ADD CONSTRAINT users_totp_enabled_check CHECK ((totp_secret IS NULL) = (totp_enabled_at IS NULL));

-- Recovery codes: only their SHA-256 (they are random, 50 bits each; a slow hash buys nothing). Single use.
CREATE TABLE mfa_recovery_codes (
  id uuid PRIMARY KEY,
  organization_id uuid NOT NULL,
  user_id uuid NOT NULL,
  code_hash bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  used_at timestamptz,
  CONSTRAINT mfa_recovery_codes_user_id_fkey
    FOREIGN KEY (organization_id, user_id) REFERENCES users (organization_id, id)
);
CREATE INDEX mfa_recovery_codes_user_idx ON mfa_recovery_codes (user_id) WHERE used_at IS NULL;

-- The second step of a login: the right password for a user with two-step verification gives an mfa_token
-- (only its SHA-256 is kept), which a code then turns into a session. Short-lived, single use.
CREATE TABLE mfa_challenges (
  id uuid PRIMARY KEY,
  organization_id uuid NOT NULL,
  user_id uuid NOT NULL,
  token_hash bytea NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  used_at timestamptz,
  CONSTRAINT mfa_challenges_user_id_fkey
    FOREIGN KEY (organization_id, user_id) REFERENCES users (organization_id, id)
);
CREATE INDEX mfa_challenges_expiry_idx ON mfa_challenges (expires_at);

-- Activation links join the single-use links mailed to a user.
ALTER TABLE user_tokens DROP CONSTRAINT user_tokens_purpose_check;
ALTER TABLE user_tokens ADD CONSTRAINT user_tokens_purpose_check
  CHECK (purpose IN ('email_verification', 'password_reset', 'email_change', 'activation'));
