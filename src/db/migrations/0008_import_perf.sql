-- Seat counting per statement instead of per row (for bulk imports; docs/benchmarks.md, "Imports").
--
-- 0001's memberships_count_seats ran FOR EACH ROW: a statement inserting N active memberships updated the
-- account row N times in one transaction. Each update adds a version of that row which nobody can prune before
-- commit, and the next update walks them all, so a batch cost grew with the square of its size (5,000
-- memberships: 250 ms in the trigger against 6 ms for the insert itself). The same rule is now kept by
-- statement-level triggers over the transition tables: one UPDATE per account per statement, accounts taken
-- in id order, and the same error (SQLSTATE SN001, same message) when a statement leaves an account over its
-- seat limit. What counts as a seat is unchanged: an active membership.

DROP TRIGGER memberships_count_seats ON memberships;
DROP FUNCTION memberships_count_seats();

CREATE FUNCTION memberships_apply_seat_deltas(deltas jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  d record;
  lim integer;
  used integer;
BEGIN
  FOR d IN
    SELECT key::uuid AS account_id, value::integer AS delta FROM jsonb_each_text(deltas) ORDER BY key
  LOOP
    CONTINUE WHEN d.delta = 0;
    UPDATE accounts SET seats_used = seats_used + d.delta WHERE id = d.account_id
      RETURNING seat_limit, seats_used INTO lim, used;
    IF d.delta > 0 AND lim IS NOT NULL AND used > lim THEN
      RAISE EXCEPTION 'seat limit % reached for account %', lim, d.account_id USING ERRCODE = 'SN001';
    END IF;
  END LOOP;
END $$;

CREATE FUNCTION memberships_count_seats_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM memberships_apply_seat_deltas(
    (SELECT coalesce(jsonb_object_agg(account_id, n), '{}') FROM (
       SELECT account_id, count(*) AS n FROM new_rows WHERE status = 'active' GROUP BY account_id) s));
  RETURN NULL;
END $$;

CREATE FUNCTION memberships_count_seats_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM memberships_apply_seat_deltas(
    (SELECT coalesce(jsonb_object_agg(account_id, -n), '{}') FROM (
       SELECT account_id, count(*) AS n FROM old_rows WHERE status = 'active' GROUP BY account_id) s));
  RETURN NULL;
END $$;

-- Transition tables rule out a column list (UPDATE OF status), so this runs for every UPDATE statement on
-- memberships; for the usual one-row update it is a join of two one-row tables.
CREATE FUNCTION memberships_count_seats_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM memberships_apply_seat_deltas(
    (SELECT coalesce(jsonb_object_agg(account_id, n), '{}') FROM (
       SELECT account_id, sum(delta) AS n FROM (
         SELECT account_id, 1 AS delta FROM new_rows WHERE status = 'active'
         UNION ALL
         SELECT account_id, -1 FROM old_rows WHERE status = 'active') x
       GROUP BY account_id) s));
  RETURN NULL;
END $$;

CREATE TRIGGER memberships_count_seats_insert AFTER INSERT ON memberships
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION memberships_count_seats_insert();
CREATE TRIGGER memberships_count_seats_update AFTER UPDATE ON memberships
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION memberships_count_seats_update();
CREATE TRIGGER memberships_count_seats_delete AFTER DELETE ON memberships
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION memberships_count_seats_delete();
