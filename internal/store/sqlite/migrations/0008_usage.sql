-- Usage: what each removed machine cost (docs/sharing.md, "Cost accounting").
-- One row per instance name, written once; the filter columns are copied
-- out of the JSON record so reports need no decoding to select.
CREATE TABLE usage (
    instance  TEXT PRIMARY KEY,
    pool_id   TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    ended_at  BIGINT NOT NULL,
    data      TEXT NOT NULL
);
CREATE INDEX usage_ended ON usage (ended_at);
