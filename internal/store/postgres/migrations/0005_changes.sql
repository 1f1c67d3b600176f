-- Change tracking (store.Store ChangesSince): the controller reads only the
-- instances and jobs written since its last decision instead of every live
-- row. Each row carries the id of the transaction that last wrote it,
-- stamped by a trigger, so no write path (nor an older binary during a
-- rolling upgrade) can forget it.
--
-- A plain sequence would not do: values are handed out in the order
-- transactions ask, not the order they commit, so a reader could see 6
-- before 5 commits and never look back. The events table solves that by
-- serialising appenders behind a table lock; here that would serialise every
-- instance and job write of every manager. A transaction id instead is
-- compared with the reader's previous snapshot (pg_visible_in_snapshot): a
-- row is new to the reader exactly when its writer had not committed in that
-- snapshot, however late it commits.
CREATE FUNCTION paddock_stamp_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.change_xid := pg_current_xact_id();
    RETURN NEW;
END
$$;

ALTER TABLE instances ADD COLUMN change_xid xid8 NOT NULL DEFAULT pg_current_xact_id();
ALTER TABLE jobs ADD COLUMN change_xid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX instances_change_xid ON instances(change_xid);
CREATE INDEX jobs_change_xid ON jobs(change_xid);

CREATE TRIGGER instances_change BEFORE INSERT OR UPDATE ON instances
    FOR EACH ROW EXECUTE FUNCTION paddock_stamp_change();
CREATE TRIGGER jobs_change BEFORE INSERT OR UPDATE ON jobs
    FOR EACH ROW EXECUTE FUNCTION paddock_stamp_change();
