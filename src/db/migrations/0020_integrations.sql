-- Integration keys: DocuSign's name for OAuth clients (issue 11, docs/oauth.md). An organization's owners and
-- admins register them; the OAuth endpoints (/oauth/*) authenticate them by a client secret (confidential
-- clients), by PKCE alone (public clients) or by a JWT assertion signed with one of their RSA keys, and issue
-- tokens for their users only after consent.
--
-- Tenancy (docs/security.md, "Tenancy in the schema"): an integration belongs to one organization; its
-- creator, the users a consent names and whoever granted it are referenced by (organization_id, user_id), and a
-- consent names its integration by (organization_id, integration_id), so no row pairs one organization's
-- integration with another's user. Secrets and RSA keys are children of one integration, reached only through
-- it and deleted with it (like brand_logos).

CREATE TABLE integrations (
  id uuid PRIMARY KEY,
  organization_id uuid NOT NULL REFERENCES organizations (id),
  -- The integration key the client sends (OAuth client_id): a UUID, the shape DocuSign's integration keys
  -- have, so clients that validate it as one accept Signet's.
  client_id text NOT NULL UNIQUE CHECK (client_id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'),
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  -- confidential: authenticates with a client secret (or a signed JWT); public: cannot keep a secret (a
  -- browser or native app), so it gets none and must use PKCE (RFC 9700 section 2.1.1).
  client_type text NOT NULL CHECK (client_type IN ('confidential', 'public')),
  -- Compared exactly, character for character (RFC 9700 section 4.1.3).
  redirect_uris text[] NOT NULL DEFAULT '{}',
  allowed_grants text[] NOT NULL CHECK (
    cardinality(allowed_grants) > 0
    AND allowed_grants <@ ARRAY['authorization_code', 'refresh_token',
      'urn:ietf:params:oauth:grant-type:jwt-bearer', 'client_credentials']::text[]
    -- A public client has no credential to act as itself with.
    AND (client_type = 'confidential' OR NOT 'client_credentials' = ANY (allowed_grants))
  ),
  -- NULL when an operator command made it (no user calling).
  created_by uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  -- Deleted integrations stay for the audit trail's references; nothing authenticates with them.
  deleted_at timestamptz,
  CONSTRAINT integrations_organization_id_id_key UNIQUE (organization_id, id),
  CONSTRAINT integrations_created_by_fkey
    FOREIGN KEY (organization_id, created_by) REFERENCES users (organization_id, id)
);

-- Client secrets, stored as the SHA-256 of the secret (high-entropy, so a fast hash is the right one, as for
-- API keys) and shown once. Rotation is a dual-run window: a new secret sets expires_at on the ones before it,
-- which keep working until then.
CREATE TABLE integration_secrets (
  id uuid PRIMARY KEY,
  integration_id uuid NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
  secret_hash bytea NOT NULL UNIQUE,
  last4 text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz,
  revoked_at timestamptz
);
CREATE INDEX integration_secrets_integration_idx ON integration_secrets (integration_id);

-- RSA public keys for the JWT bearer grant; the row's id is the key id (`kid`) a JWT's header may name.
CREATE TABLE integration_rsa_keys (
  id uuid PRIMARY KEY,
  integration_id uuid NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
  -- SPKI PEM ("BEGIN PUBLIC KEY"), whatever form it was sent in.
  public_key_pem text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz
);
CREATE INDEX integration_rsa_keys_integration_idx ON integration_rsa_keys (integration_id);

-- Consent: which OAuth scopes an integration may obtain for a user. A user's own consent (user_id set, given
-- on the consent page of /oauth/auth or by an admin for that user) or an organization admin's consent for
-- every user of the organization (user_id NULL). The JWT grant needs one (DocuSign answers consent_required
-- without it). Revoked consents stay for the record.
CREATE TABLE oauth_consents (
  id uuid PRIMARY KEY,
  organization_id uuid NOT NULL,
  integration_id uuid NOT NULL,
  user_id uuid,
  scopes text[] NOT NULL CHECK (cardinality(scopes) > 0),
  granted_by uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz,
  CONSTRAINT oauth_consents_integration_id_fkey
    FOREIGN KEY (organization_id, integration_id) REFERENCES integrations (organization_id, id) ON DELETE CASCADE,
  CONSTRAINT oauth_consents_user_id_fkey
    FOREIGN KEY (organization_id, user_id) REFERENCES users (organization_id, id),
  CONSTRAINT oauth_consents_granted_by_fkey
    FOREIGN KEY (organization_id, granted_by) REFERENCES users (organization_id, id)
);
-- One live consent per (integration, user), and one organization-wide one per integration; it also serves
-- the token endpoint's lookup (integration_id, then the user's or the NULL row).
CREATE UNIQUE INDEX oauth_consents_active_key
  ON oauth_consents (integration_id, coalesce(user_id, '00000000-0000-0000-0000-000000000000'::uuid))
  WHERE revoked_at IS NULL;
-- The API's list of an integration's consents, revoked ones included, in id order.
CREATE INDEX oauth_consents_integration_idx ON oauth_consents (integration_id, id);
