-- Tenants group entities for quotas and fair share (docs/sharing.md). The
-- record is JSON like the other catalog tables; its entity ids live in it,
-- and the store keeps an entity in at most one tenant.
CREATE TABLE tenants (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    data       TEXT NOT NULL
);
