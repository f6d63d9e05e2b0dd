-- People: sign-up, sessions, email verification, password resets, mail, invites and claimed email domains.
-- Every token (session, verification, reset, invite) is random and stored only as its SHA-256 hash.

ALTER TABLE users ADD COLUMN email_verified_at timestamptz;
CREATE INDEX users_email_lower_idx ON users (lower(email));

CREATE TABLE sessions (
  id uuid PRIMARY KEY,
  token_hash bytea NOT NULL UNIQUE,
  user_id uuid NOT NULL REFERENCES users (id),
  organization_id uuid NOT NULL REFERENCES organizations (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  last_seen_at timestamptz NOT NULL DEFAULT now(),
  -- Idle timeout (the account's session_timeout_minutes when the session began) and an absolute end.
  idle_timeout_minutes integer NOT NULL CHECK (idle_timeout_minutes > 0),
  expires_at timestamptz NOT NULL,
  ended_at timestamptz,
  ip text,
  user_agent text
);
CREATE INDEX sessions_user_idx ON sessions (user_id) WHERE ended_at IS NULL;

-- Single-use tokens mailed to a user: email verification (24 h) and password reset (30 min).
CREATE TABLE user_tokens (
  id uuid PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES users (id),
  organization_id uuid NOT NULL REFERENCES organizations (id),
  purpose text NOT NULL CHECK (purpose IN ('email_verification', 'password_reset')),
  token_hash bytea NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  used_at timestamptz
);
CREATE INDEX user_tokens_user_idx ON user_tokens (user_id, purpose) WHERE used_at IS NULL;

-- Failed logins, per lower-cased email, for throttling. Rows older than the window are purged on the way.
CREATE TABLE login_failures (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  email text NOT NULL,
  ip text,
  at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_email_idx ON login_failures (email, at);

-- Every mail Signet sends. Without SMTP_URL this is the outbox the operator reads (`signet mail list`);
-- with it, the record of what was sent (sent_at set once the SMTP server accepted it).
CREATE TABLE outbox_mail (
  id uuid PRIMARY KEY,
  organization_id uuid REFERENCES organizations (id),
  "to" text NOT NULL,
  subject text NOT NULL,
  text text NOT NULL,
  html text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  sent_at timestamptz
);
CREATE INDEX outbox_mail_to_idx ON outbox_mail (lower("to"), created_at);
CREATE INDEX outbox_mail_created_idx ON outbox_mail (created_at);

CREATE TABLE invites (
  id uuid PRIMARY KEY,
  organization_id uuid NOT NULL REFERENCES organizations (id),
  account_id uuid NOT NULL REFERENCES accounts (id),
  email text NOT NULL CHECK (length(email) BETWEEN 3 AND 320),
  role text NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
  permission_profile_id bigint REFERENCES permission_profiles (id) ON DELETE SET NULL,
  group_ids bigint[] NOT NULL DEFAULT '{}',
  invited_by uuid REFERENCES users (id),
  token_hash bytea NOT NULL UNIQUE,
  expires_at timestamptz NOT NULL,
  accepted_at timestamptz,
  accepted_user_id uuid REFERENCES users (id),
  revoked_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX invites_org_idx ON invites (organization_id, id);

-- Email domains an organization claims. With auto_join, a sign-up with an address at the domain joins the
-- organization (as a member of account_id) instead of creating a new one. A domain has one claimant.
CREATE TABLE organization_domains (
  id uuid PRIMARY KEY,
  organization_id uuid NOT NULL REFERENCES organizations (id),
  domain text NOT NULL CHECK (domain = lower(domain) AND length(domain) BETWEEN 3 AND 253),
  auto_join boolean NOT NULL DEFAULT false,
  account_id uuid NOT NULL REFERENCES accounts (id),
  permission_profile_id bigint REFERENCES permission_profiles (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX organization_domains_domain_key ON organization_domains (domain);
CREATE INDEX organization_domains_org_idx ON organization_domains (organization_id, id);
