-- Change sequence (store.Store ChangesSince): every write of an instance or a
-- job stamps the row with the next value of one counter, so the controller
-- reads only rows changed since its last decision instead of every live row.
-- Triggers stamp it, so no write path (nor an older binary sharing the file)
-- can forget to. SQLite has one writer at a time, so values follow commit
-- order. The counter lives in its own row rather than being max(seq) + 1, so
-- a value is never handed out twice, even after the newest row was purged.
CREATE TABLE change_seq (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n  INTEGER NOT NULL
);
INSERT INTO change_seq (id, n) VALUES (1, 0);

ALTER TABLE instances ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
CREATE INDEX instances_seq ON instances(seq);
CREATE INDEX jobs_seq ON jobs(seq);

-- The stamping UPDATE touches only seq, which is not in the UPDATE OF lists,
-- so it does not fire the triggers again.
CREATE TRIGGER instances_seq_insert AFTER INSERT ON instances BEGIN
    UPDATE change_seq SET n = n + 1 WHERE id = 1;
    UPDATE instances SET seq = (SELECT n FROM change_seq WHERE id = 1) WHERE rowid = NEW.rowid;
END;
CREATE TRIGGER instances_seq_update
AFTER UPDATE OF id, name, pool_id, state, token_hash, token_used, created_at, updated_at, data ON instances BEGIN
    UPDATE change_seq SET n = n + 1 WHERE id = 1;
    UPDATE instances SET seq = (SELECT n FROM change_seq WHERE id = 1) WHERE rowid = NEW.rowid;
END;
CREATE TRIGGER jobs_seq_insert AFTER INSERT ON jobs BEGIN
    UPDATE change_seq SET n = n + 1 WHERE id = 1;
    UPDATE jobs SET seq = (SELECT n FROM change_seq WHERE id = 1) WHERE rowid = NEW.rowid;
END;
CREATE TRIGGER jobs_seq_update
AFTER UPDATE OF entity_id, id, state, received_at, updated_at, data ON jobs BEGIN
    UPDATE change_seq SET n = n + 1 WHERE id = 1;
    UPDATE jobs SET seq = (SELECT n FROM change_seq WHERE id = 1) WHERE rowid = NEW.rowid;
END;
