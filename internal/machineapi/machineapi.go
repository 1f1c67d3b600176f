// Package machineapi is the contract between the manager and a booting
// machine: the runner config the machine fetches once with its instance
// token, the status reports it posts, and the errors that decide the
// metadata endpoints' answers.
//
// The in-VM bootstrap imports it, so it imports nothing of Paddock's.
package machineapi

import "errors"

var (
	// ErrBadToken: no instance has this token, or it is no longer accepted.
	ErrBadToken = errors.New("instance token not valid")
	// ErrTokenUsed: the single-use runner config was already handed out.
	ErrTokenUsed = errors.New("runner config already fetched: instance tokens work once")
	// ErrInstanceGone: the instance is being removed; the machine should stop.
	ErrInstanceGone = errors.New("instance is being removed")
	// ErrNotBound: a shared pool's warm machine is still waiting for a job
	// (late binding); it asks again at once.
	ErrNotBound = errors.New("no job for this machine yet: ask again")
	// ErrBadStatus: a callback named a status machines may not report.
	ErrBadStatus = errors.New("machines report installing, idle, failed, active (with the run) or done")
)

// RunnerConfig is what a booting machine receives, once.
type RunnerConfig struct {
	Name      string     `json:"name"`
	Labels    []string   `json:"labels"`
	JITConfig string     `json:"jit_config"`
	Tool      RunnerTool `json:"tool"`
	// WorkFolder is relative to the runner directory.
	WorkFolder string `json:"work_folder"`
	// Kind is the runner program: "" for GitHub's (run.sh --jitconfig), or
	// act_runner / forgejo-runner, whose JITConfig is the base64 `.runner`
	// file (per-runner credentials; never a registration token).
	Kind string `json:"kind,omitempty"`
}

// StatusReport is the body of a status callback (POST …/callbacks/status).
// Machines report installing, idle, failed or done.
type StatusReport struct {
	Status  string `json:"status"`
	Message string `json:"message,omitempty"`
	// Ran, with "done": the workflow run whose job the runner took, as the
	// runner's job-started hook saw it. Only a hint for planning (a machine
	// could lie); the job's state still comes from the forge.
	Ran *RanJob `json:"ran,omitempty"`
}

// RanJob names the run of the job a runner took.
type RanJob struct {
	RunID      int64  `json:"run_id"`
	RunAttempt int64  `json:"run_attempt,omitempty"`
	Repository string `json:"repository,omitempty"` // owner/name
}

// RunnerTool is the runner package the machine downloads. Its fields match
// forge.RunnerTool, which converts to it directly.
type RunnerTool struct {
	OS           string `json:"os"`
	Architecture string `json:"architecture"`
	DownloadURL  string `json:"download_url"`
	Filename     string `json:"filename"`
	SHA256       string `json:"sha256_checksum"`
}
