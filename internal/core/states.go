package core

import "fmt"

// InstanceState is the lifecycle of a machine as Paddock manages it.
type InstanceState string

const (
	// InstancePendingCreate: intent recorded, provider not called yet (a
	// retry of a failed create waiting for its turn).
	InstancePendingCreate InstanceState = "pending_create"
	// InstanceCreating: provider Create started or about to start (a new
	// machine is recorded in this state, a retry is moved to it just before
	// its call). The machine may already boot and call back in this state.
	InstanceCreating InstanceState = "creating"
	// InstanceRunning: the provider reports the machine exists (or the machine
	// itself called back although the provider's create answered an error).
	InstanceRunning InstanceState = "running"
	// InstancePendingDelete: decided to remove; forge runner removal and provider Delete follow.
	InstancePendingDelete InstanceState = "pending_delete"
	// InstanceDeleting: provider Delete in flight.
	InstanceDeleting InstanceState = "deleting"
	// InstanceDeleted: the provider confirmed the machine is gone. Terminal.
	InstanceDeleted InstanceState = "deleted"
	// InstanceError: a create failed; retried with backoff (bounded) or deleted.
	InstanceError InstanceState = "error"
)

// InstanceStates lists every instance state, for exhaustive tests and metrics.
var InstanceStates = []InstanceState{
	InstancePendingCreate, InstanceCreating, InstanceRunning, InstancePendingDelete,
	InstanceDeleting, InstanceDeleted, InstanceError,
}

// instanceTransitions is the whole instance state machine, as data.
var instanceTransitions = map[InstanceState][]InstanceState{
	// pending_create → creating just before a retry's provider call: a machine
	// may call back for its config before Create returns, and creating says
	// the provider has its token. pending_create → error: no provider to call.
	// A restart finding creating calls Create again (idempotent by name).
	InstancePendingCreate: {InstanceCreating, InstancePendingDelete, InstanceError},
	InstanceCreating:      {InstanceRunning, InstanceError, InstancePendingDelete},
	InstanceRunning:       {InstancePendingDelete, InstanceError},
	// pending_delete → running: scale-down cancelled because the forge reported
	// the runner busy (it picked up a job just before removal).
	InstancePendingDelete: {InstanceDeleting, InstanceRunning},
	// deleting → pending_delete: a delete that failed or was interrupted is retried.
	InstanceDeleting: {InstanceDeleted, InstancePendingDelete},
	InstanceDeleted:  {},
	InstanceError:    {InstancePendingCreate, InstancePendingDelete},
}

// CanTransition reports whether an instance may move from one state to another.
// Staying in the same state is always allowed (updates of other fields).
func (from InstanceState) CanTransition(to InstanceState) bool {
	if from == to {
		return true
	}
	for _, s := range instanceTransitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// Valid reports whether s is a known state.
func (s InstanceState) Valid() bool {
	_, ok := instanceTransitions[s]
	return ok
}

// Live reports whether the machine counts toward a pool's capacity: anything
// not yet confirmed gone counts, so max_runners holds through deletes too.
func (s InstanceState) Live() bool { return s != InstanceDeleted }

// LiveInstanceStates lists the states Live accepts, for queries that select
// them through a state index instead of "not deleted".
func LiveInstanceStates() []InstanceState {
	var live []InstanceState
	for _, st := range InstanceStates {
		if st.Live() {
			live = append(live, st)
		}
	}
	return live
}

// ErrTransition is returned for a move the state machine does not allow.
type ErrTransition struct {
	Kind     string
	From, To string
}

func (e *ErrTransition) Error() string {
	return fmt.Sprintf("invalid %s transition %s → %s", e.Kind, e.From, e.To)
}

// CheckInstanceTransition returns an *ErrTransition if from → to is not allowed.
func CheckInstanceTransition(from, to InstanceState) error {
	if !to.Valid() || !from.CanTransition(to) {
		return &ErrTransition{Kind: "instance", From: string(from), To: string(to)}
	}
	return nil
}

// RunnerState is the runner agent's lifecycle on a machine, as reported by the
// machine's callbacks and the forge's webhooks.
type RunnerState string

const (
	RunnerPending    RunnerState = "pending"    // machine not booted yet
	RunnerInstalling RunnerState = "installing" // machine fetched its config, runner starting
	RunnerIdle       RunnerState = "idle"       // runner online, waiting for a job
	RunnerActive     RunnerState = "active"     // runner running its one job
	RunnerDone       RunnerState = "done"       // job finished; the machine is to be destroyed
	RunnerFailed     RunnerState = "failed"     // bootstrap failed or timed out
)

// RunnerStates lists every runner state.
var RunnerStates = []RunnerState{RunnerPending, RunnerInstalling, RunnerIdle, RunnerActive, RunnerDone, RunnerFailed}

var runnerTransitions = map[RunnerState][]RunnerState{
	// A webhook can overtake a callback, so pending and installing may jump ahead.
	RunnerPending:    {RunnerInstalling, RunnerIdle, RunnerActive, RunnerDone, RunnerFailed},
	RunnerInstalling: {RunnerIdle, RunnerActive, RunnerDone, RunnerFailed},
	RunnerIdle:       {RunnerActive, RunnerDone, RunnerFailed},
	RunnerActive:     {RunnerDone, RunnerFailed},
	RunnerDone:       {},
	RunnerFailed:     {},
}

// CanTransition reports whether a runner may move from one state to another.
func (from RunnerState) CanTransition(to RunnerState) bool {
	if from == to {
		return true
	}
	for _, s := range runnerTransitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// Valid reports whether s is a known state.
func (s RunnerState) Valid() bool {
	_, ok := runnerTransitions[s]
	return ok
}

// Busy reports whether the runner may be running a job, so the machine must not be scaled down.
func (s RunnerState) Busy() bool { return s == RunnerActive }

// CheckRunnerTransition returns an *ErrTransition if from → to is not allowed.
func CheckRunnerTransition(from, to RunnerState) error {
	if !to.Valid() || !from.CanTransition(to) {
		return &ErrTransition{Kind: "runner", From: string(from), To: string(to)}
	}
	return nil
}

// JobState is a workflow job's state as the forge reports it.
type JobState string

const (
	JobQueued     JobState = "queued"
	JobInProgress JobState = "in_progress"
	JobCompleted  JobState = "completed"
)

// JobStates lists every job state.
var JobStates = []JobState{JobQueued, JobInProgress, JobCompleted}

var jobTransitions = map[JobState][]JobState{
	JobQueued:     {JobInProgress, JobCompleted},
	JobInProgress: {JobCompleted},
	JobCompleted:  {},
}

// CanTransition reports whether a job may move from one state to another.
// Webhooks arrive out of order; a late "queued" after "in_progress" is refused here
// and the caller ignores it.
func (from JobState) CanTransition(to JobState) bool {
	if from == to {
		return true
	}
	for _, s := range jobTransitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// Valid reports whether s is a known state.
func (s JobState) Valid() bool {
	_, ok := jobTransitions[s]
	return ok
}
