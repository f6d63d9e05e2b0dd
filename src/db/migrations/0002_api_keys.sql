-- API keys, complete: key kinds (profile | platform), restricted keys (scopes), rotation with a dual-run
-- window (rotated_from links a key to the one it replaced), and where a key was last used (recorded in
-- batches, never by a write per request).

ALTER TABLE api_keys
  -- profile: acts as its creator inside one account. platform: the flag platform mode uses; owners and
  -- admins only.
  ADD COLUMN kind text NOT NULL DEFAULT 'profile' CHECK (kind IN ('profile', 'platform')),
  -- NULL: unrestricted (the creator's permissions). Otherwise the Signet scopes the key is restricted to;
  -- the key's permissions are its creator's intersected with what these scopes grant.
  ADD COLUMN scopes text[] CHECK (scopes IS NULL OR cardinality(scopes) > 0),
  -- The key this one replaced by rotation.
  ADD COLUMN rotated_from uuid REFERENCES api_keys (id),
  ADD COLUMN last_used_ip text;

CREATE INDEX api_keys_rotated_from_idx ON api_keys (rotated_from) WHERE rotated_from IS NOT NULL;
