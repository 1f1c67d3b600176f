-- The event log behind GET /api/v1/events and the dashboard. AUTOINCREMENT,
-- unlike a plain rowid, never hands out an id again after the newest events
-- were pruned, so a client resuming with Last-Event-ID cannot be handed an
-- unrelated newer event under an id it has already seen.
CREATE TABLE events (
    id   INTEGER PRIMARY KEY AUTOINCREMENT,
    at   INTEGER NOT NULL,
    kind TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX events_at ON events(at);
