-- Password age (issue 14, docs/people-and-sessions.md "Password policy"): the account setting
-- password_policy.max_age_days is applied at sign-in, which needs to know when each password was chosen.
--
-- password_changed_at is kept by the database itself, not by each code path that sets a password (sign-up,
-- invite acceptance, activation, reset, change, bootstrap): one rule in one place, and a future path cannot
-- forget it. It is NULL exactly when the user has no password.
ALTER TABLE users ADD COLUMN password_changed_at timestamptz;

-- Passwords set before this migration have no known date: they count from the upgrade, so turning on
-- max_age_days does not lock out everyone at once on the day Signet is upgraded.
UPDATE users SET password_changed_at = now() WHERE password_hash IS NOT NULL;

CREATE FUNCTION signet_password_changed_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.password_hash IS NULL THEN
    NEW.password_changed_at := NULL;
  ELSIF TG_OP = 'INSERT' OR NEW.password_hash IS DISTINCT FROM OLD.password_hash THEN
    NEW.password_changed_at := now();
  END IF;
  RETURN NEW;
END;
$$;
CREATE TRIGGER users_password_changed_at BEFORE INSERT OR UPDATE OF password_hash ON users
  FOR EACH ROW EXECUTE FUNCTION signet_password_changed_at();
