-- What the OAuth server (oidc-provider, src/core/oauth/) stores: grants, and every other artifact it makes
-- (authorization codes, access and refresh tokens, client-credentials tokens, sign-in sessions and
-- interactions, used assertion ids). docs/oauth.md describes the tokens; this is their storage.
--
-- Ids are stored as their SHA-256: for a token the id IS the token (an opaque random string), so a copy of
-- the database holds no usable token, as for API keys and sessions.

-- A grant: one user's authorization of one integration, with the scopes granted. Every code and refresh
-- token made from it, and the access tokens made from those, reference it: revoking the grant (revoked_at)
-- revokes the whole family at once (refresh-token reuse, a reused authorization code, a revoked refresh
-- token). A token is inserted only while its grant is unrevoked, under a share lock on the grant row, so a
-- rotation racing a revocation cannot leave a live token behind (RFC 9700 section 4.14.2; adapter.ts).
-- Revoked rows stay until they expire, so a revoked token is told apart from an unknown one.
CREATE TABLE oauth_grants (
  id bytea PRIMARY KEY,
  organization_id uuid NOT NULL,
  integration_id uuid NOT NULL,
  -- The user the grant acts for (client_credentials tokens act for no user and carry no grant).
  user_id uuid NOT NULL,
  payload jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz,
  revoked_at timestamptz,
  CONSTRAINT oauth_grants_integration_id_fkey
    FOREIGN KEY (organization_id, integration_id) REFERENCES integrations (organization_id, id) ON DELETE CASCADE,
  CONSTRAINT oauth_grants_user_id_fkey
    FOREIGN KEY (organization_id, user_id) REFERENCES users (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX oauth_grants_integration_user_idx ON oauth_grants (integration_id, user_id);
CREATE INDEX oauth_grants_expires_idx ON oauth_grants (expires_at);

-- Everything else oidc-provider stores, by model name ("AccessToken", "RefreshToken", "AuthorizationCode",
-- "ClientCredentials", "Session", "Interaction", "ReplayDetection", ...). The payload is oidc-provider's
-- own, minus the id itself (`jti`), which is the secret. Expired rows are swept an hour after they expire.
CREATE TABLE oauth_payloads (
  model text NOT NULL,
  id bytea NOT NULL,
  grant_id bytea REFERENCES oauth_grants (id) ON DELETE CASCADE,
  -- A sign-in session's fixed internal id (oidc-provider's findByUid), hashed too.
  uid bytea,
  payload jsonb NOT NULL,
  expires_at timestamptz,
  -- Set once, atomically, when a code or refresh token is redeemed (the adapter's consume()).
  consumed_at timestamptz,
  -- Set when the token itself is revoked (RFC 7009); its grant's revoked_at revokes it too.
  revoked_at timestamptz,
  PRIMARY KEY (model, id)
);
CREATE INDEX oauth_payloads_grant_idx ON oauth_payloads (grant_id) WHERE grant_id IS NOT NULL;
CREATE UNIQUE INDEX oauth_payloads_uid_key ON oauth_payloads (model, uid) WHERE uid IS NOT NULL;
CREATE INDEX oauth_payloads_expires_idx ON oauth_payloads (expires_at);

-- The OAuth server's own secrets live in signet_meta (one set per database, shared by every Signet process
-- on it): 'oauth_signing_key' (the private JWK that signs ID tokens, published at /oauth/jwks) and
-- 'oauth_cookie_secret' (signs the sign-in and interaction cookies). Made on first start (keys.ts).
