-- High availability (internal/leader): the leader lease and the replicas.
-- Numbered from 0100 so the store's own migrations (0001…) never collide.

-- One row: who leads, in which epoch (the fencing token: it increases on
-- every takeover), and until when by the database's clock.
CREATE TABLE paddock_leader (
    id          integer PRIMARY KEY CHECK (id = 1),
    holder      text        NOT NULL,
    epoch       bigint      NOT NULL,
    expires_at  timestamptz NOT NULL,
    acquired_at timestamptz NOT NULL
);

-- One row per running `paddock serve`, refreshed with every heartbeat, for
-- `paddock status` and GET /api/v1/replicas.
CREATE TABLE paddock_replicas (
    id           text PRIMARY KEY,
    name         text        NOT NULL,
    url          text        NOT NULL,
    version      text        NOT NULL,
    role         text        NOT NULL,
    epoch        bigint      NOT NULL,
    started_at   timestamptz NOT NULL,
    heartbeat_at timestamptz NOT NULL
);

