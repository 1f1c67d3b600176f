package core

// DeleteReason says why an instance is being removed. The values are stored
// with the instance and shown by the API and CLI: keep them stable.
type DeleteReason string

const (
	// Decided by the scheduler.
	DeleteScaleDown        DeleteReason = "scale_down"        // idle beyond what the pool wants
	DeleteBootstrapTimeout DeleteReason = "bootstrap_timeout" // runner not up within bootstrap_timeout
	DeleteMaxJobRuntime    DeleteReason = "max_job_runtime"   // job ran longer than max_job_runtime
	DeleteRetriesExhausted DeleteReason = "retries_exhausted" // create failed max_create_attempts times
	DeletePoolGone         DeleteReason = "pool_gone"         // its pool was deleted
	DeletePoolDisabled     DeleteReason = "pool_disabled"     // its pool was disabled
	// A machine whose runner finished or failed can never take a job; left
	// alone it would hold a max_runners slot forever.
	DeleteRunnerDone   DeleteReason = "runner_done"
	DeleteRunnerFailed DeleteReason = "runner_failed"

	// Decided by the controller as events arrive.
	DeleteJobCompleted    DeleteReason = "job_completed"    // the forge reported its one job finished
	DeleteBootstrapFailed DeleteReason = "bootstrap_failed" // the machine reported its bootstrap failed
	DeleteOperator        DeleteReason = "operator"         // an operator asked (API or CLI)
	// The machine reported that its runner process exited: a single-use
	// machine can take no other job, so it is retired at once.
	DeleteRunnerExited DeleteReason = "runner_exited"
	// Decided by reconcile after checking the runner with the forge.
	// The forge no longer has the runner's registration: its job ended and
	// the ephemeral registration went, with the completed webhook lost; or,
	// on Gitea, the job was cancelled, which sends none.
	DeleteRunnerGone DeleteReason = "runner_gone"
	// The machine said its runner was up, but the forge has not seen it
	// online, so it will never take a job.
	DeleteRunnerOffline DeleteReason = "runner_offline"
)

// KeepIfBusy reports whether a forge "runner busy" answer cancels a delete
// for this reason: these must not interrupt a running job. The forge's
// runner listing may lag, so a runner retired as gone or offline that the
// forge then reports busy is kept too.
func (r DeleteReason) KeepIfBusy() bool {
	switch r {
	case DeleteScaleDown, DeletePoolDisabled, DeletePoolGone, DeleteOperator,
		DeleteRunnerGone, DeleteRunnerOffline:
		return true
	}
	return false
}

// CreateReason says why the scheduler plans a machine (logged with the plan).
type CreateReason string

const (
	CreateForJob     CreateReason = "job"         // a queued job needs it
	CreateMinIdle    CreateReason = "min_idle"    // the pool keeps min_idle idle runners
	CreateFreeTarget CreateReason = "free_target" // the pool keeps free_target_percent free
)

// JobAction is a workflow-job event's action, as the forges name it.
type JobAction string

const (
	JobActionQueued     JobAction = "queued"
	JobActionWaiting    JobAction = "waiting" // blocked on a deployment protection rule; not acted on
	JobActionInProgress JobAction = "in_progress"
	JobActionCompleted  JobAction = "completed"
)

// JobState returns the job state an action moves a job to; ok is false for
// actions Paddock does not act on.
func (a JobAction) JobState() (s JobState, ok bool) {
	switch a {
	case JobActionQueued:
		return JobQueued, true
	case JobActionInProgress:
		return JobInProgress, true
	case JobActionCompleted:
		return JobCompleted, true
	}
	return "", false
}
