-- Facts about this database as a whole, not about any organization: which database it is (`database_id`, a
-- random id the server shows on /healthz) and the environment (`test` | `live`) of the Signet that serves it.
-- `signet bootstrap` compares both, so a key that the running server would refuse (made in another data folder,
-- or for the other environment) is never printed.
CREATE TABLE signet_meta (
  key text PRIMARY KEY,
  value text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

INSERT INTO signet_meta (key, value) VALUES ('database_id', gen_random_uuid()::text);
