-- PostgreSQL schema, the same tables and columns as the SQLite store's
-- migrations 0001-0005: the columns a table is queried, joined or constrained
-- by, and the rest of the object as JSON in "data". Times are unix
-- nanoseconds (BIGINT), so ordering and ranges are integer comparisons.
-- Versions 0100 and up are left to the leader-election tables.

CREATE TABLE forges (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL,
    -- secretbox-sealed JSON of the webhook secret and credential; never plaintext.
    secrets    TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    data       TEXT NOT NULL
);

CREATE TABLE entities (
    id         TEXT PRIMARY KEY,
    forge_id   TEXT NOT NULL REFERENCES forges(id),
    kind       TEXT NOT NULL,
    name       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    data       TEXT NOT NULL,
    UNIQUE (forge_id, kind, name)
);
CREATE INDEX entities_name ON entities(name);

CREATE TABLE pools (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    entity_id  TEXT NOT NULL REFERENCES entities(id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    data       TEXT NOT NULL
);
CREATE INDEX pools_entity ON pools(entity_id);

-- instances.pool_id has no foreign key on purpose: deleted instances are kept
-- as history after their pool is removed, until PurgeInstances drops them.
-- The unique name is what makes a second machine for one intent impossible,
-- however many managers plan at once.
CREATE TABLE instances (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    pool_id    TEXT NOT NULL,
    state      TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    token_used INTEGER NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    data       TEXT NOT NULL
);
CREATE INDEX instances_pool_state ON instances(pool_id, state);
CREATE INDEX instances_state ON instances(state, updated_at);
CREATE INDEX instances_token ON instances(token_hash);
CREATE INDEX instances_order ON instances(created_at, name);

-- A job is one row per (entity, forge job id) whichever manager hears of it first.
CREATE TABLE jobs (
    entity_id   TEXT NOT NULL,
    id          BIGINT NOT NULL,
    state       TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    data        TEXT NOT NULL,
    PRIMARY KEY (entity_id, id)
);
-- Paged lists walk these in their stable order (keyset paging).
CREATE INDEX jobs_order ON jobs(received_at, entity_id, id);
CREATE INDEX jobs_entity_order ON jobs(entity_id, received_at, id);
CREATE INDEX jobs_state_order ON jobs(state, received_at, entity_id, id);
CREATE INDEX jobs_id ON jobs(id);
CREATE INDEX jobs_state_updated ON jobs(state, updated_at);

CREATE TABLE deliveries (
    source      TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    at          BIGINT NOT NULL,
    PRIMARY KEY (source, delivery_id)
);
CREATE INDEX deliveries_at ON deliveries(at);

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
