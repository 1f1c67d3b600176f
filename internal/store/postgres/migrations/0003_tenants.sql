-- Tenants group entities for quotas and fair share (docs/sharing.md). Like
-- the other catalog tables the record is JSON; its entity ids live in it,
-- and the store keeps an entity in at most one tenant.
CREATE TABLE tenants (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    data       TEXT NOT NULL
);
