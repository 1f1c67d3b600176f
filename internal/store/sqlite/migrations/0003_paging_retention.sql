-- Paged lists walk these indexes in their stable order (keyset paging), so a
-- page costs its own size whatever the table holds. Jobs are listed newest
-- first by (received_at, entity_id, id), instances oldest first by
-- (created_at, name).
CREATE INDEX jobs_order ON jobs(received_at, entity_id, id);
DROP INDEX jobs_received;
CREATE INDEX jobs_entity_order ON jobs(entity_id, received_at, id);
-- "paddock job list --state queued" must not walk 300,000 completed jobs to
-- find the few queued ones.
CREATE INDEX jobs_state_order ON jobs(state, received_at, entity_id, id);
-- Job ids are unique per forge only, so GET /jobs/{id} looks them up without
-- an entity; the primary key (entity_id, id) cannot serve that.
CREATE INDEX jobs_id ON jobs(id);
-- Retention removes finished jobs by age; state alone is covered by this too.
CREATE INDEX jobs_state_updated ON jobs(state, updated_at);
DROP INDEX jobs_state;

CREATE INDEX instances_order ON instances(created_at, name);
