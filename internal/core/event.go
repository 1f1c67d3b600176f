package core

import "time"

// EventKind names what happened. The dashboard and `paddock events` read
// these; new kinds may be added, so readers must skip kinds they do not know.
type EventKind string

const (
	// EventJobQueued: a job reached Paddock, waiting for a runner.
	EventJobQueued EventKind = "job.queued"
	// EventJobAssigned: the scheduler chose a pool for a queued job (Reason
	// says why it still waits, if it does).
	EventJobAssigned EventKind = "job.assigned"
	// EventJobWaiting: a queued job cannot be placed; Reason says why.
	EventJobWaiting EventKind = "job.waiting"
	// EventJobRunning: a runner started the job.
	EventJobRunning EventKind = "job.running"
	// EventJobDone: the job finished (State is its conclusion).
	EventJobDone EventKind = "job.done"
	// EventInstanceState: an instance changed state (From → State); Reason is
	// its fault or delete reason, if any.
	EventInstanceState EventKind = "instance.state"
	// EventInstanceRunner: the runner on an instance changed state (From → State).
	EventInstanceRunner EventKind = "instance.runner"
	// EventPoolDegraded: a pool's machine creates started failing (Reason: the error).
	EventPoolDegraded EventKind = "pool.degraded"
	// EventPoolRecovered: a failing pool created a machine again.
	EventPoolRecovered EventKind = "pool.recovered"
	// EventPoolEnabled and EventPoolDrained: an operator enabled or drained a pool.
	EventPoolEnabled EventKind = "pool.enabled"
	EventPoolDrained EventKind = "pool.drained"
)

// Event is one thing that happened, as kept in the store's event log so a
// stream can resume after a restart. Events carry names and states only,
// never secrets. ID is assigned by the store and increases in commit order.
type Event struct {
	ID       int64     `json:"id"`
	Kind     EventKind `json:"kind"`
	At       time.Time `json:"at"`
	PoolID   string    `json:"pool_id,omitempty"`
	Pool     string    `json:"pool,omitempty"`     // pool name, on pool events
	Instance string    `json:"instance,omitempty"` // instance name
	EntityID string    `json:"entity_id,omitempty"`
	JobID    int64     `json:"job_id,omitempty"`
	From     string    `json:"from,omitempty"`  // previous state
	State    string    `json:"state,omitempty"` // new state (a job's conclusion for job.done)
	Reason   string    `json:"reason,omitempty"`
	// Seconds is a duration the event measures: a job's wait for
	// job.running, its run time for job.done.
	Seconds float64 `json:"seconds,omitempty"`
}
