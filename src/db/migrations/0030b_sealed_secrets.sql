-- Secrets at rest (issue 13, docs/security.md "Secrets at rest"): webhook signing secrets, accounts' default
-- webhook secrets, Connect HMAC secrets and the Connect OAuth client secret are stored sealed
-- (src/core/secret-box.ts: AES-256-GCM, `sb1.<key id>.<base64url>`), no longer as they are. Sealing needs the
-- server's key, which SQL does not have: the values stored before this migration are sealed by resealAll,
-- which runs right after the migrations at every start (src/db/index.ts) and also moves values to a new key
-- after a rotation. Here: room for the sealed form of the longest client secret (2000 characters as given).
ALTER TABLE connect_oauth_configs DROP CONSTRAINT connect_oauth_configs_client_secret_check;
ALTER TABLE connect_oauth_configs ADD CONSTRAINT connect_oauth_configs_client_secret_check
  CHECK (length(client_secret) BETWEEN 1 AND 3000);
