-- The event log behind GET /api/v1/events and the dashboard. An identity
-- column never hands out an id again, even after the newest events were
-- pruned. AppendEvents makes ids follow commit order (see events.go).
CREATE TABLE events (
    id   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at   BIGINT NOT NULL,
    kind TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX events_at ON events(at);
