// Package forge defines what Paddock needs from a code forge. Adapters live
// in sub-packages (github; gitea for Gitea and Forgejo), each on the HTTP
// layer in forgehttp; docs/extending.md says how to add one.
package forge

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
)

var (
	// ErrRunnerBusy: the forge refused to delete a runner that is running a job.
	ErrRunnerBusy = errors.New("runner is busy")
	// ErrNotFound: the forge does not know the object.
	ErrNotFound = errors.New("not found on forge")
)

// RateLimitError is returned when the forge answers 403/429 for rate limiting.
type RateLimitError struct {
	RetryAfter time.Duration
	Message    string
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("forge rate limit: retry after %s: %s", e.RetryAfter, e.Message)
}

// Runner is a runner registration as the forge reports it.
type Runner struct {
	ID     int64    `json:"id"`
	Name   string   `json:"name"`
	Status string   `json:"status"` // online | offline
	Busy   bool     `json:"busy"`
	Labels []string `json:"labels"`
}

// JITRequest asks for a single-use runner config.
type JITRequest struct {
	Name          string
	Labels        []string
	RunnerGroupID int64
	WorkFolder    string
	// FirstAttempt: no earlier JITConfig call was made for this name (the
	// caller records each attempt before making it, and names are unique), so
	// no earlier registration of it can exist and adapters that would look
	// for one (Gitea, Forgejo) skip that listing. False is always safe.
	FirstAttempt bool
}

// JITConfig is a single-use runner config: the machine runs `run.sh --jitconfig Encoded`.
type JITConfig struct {
	RunnerID int64
	Encoded  string
}

// RunnerTool is one downloadable runner package.
type RunnerTool struct {
	OS           string `json:"os"`
	Architecture string `json:"architecture"`
	DownloadURL  string `json:"download_url"`
	Filename     string `json:"filename"`
	SHA256       string `json:"sha256_checksum"`
}

// Client talks to one forge endpoint with its credential.
type Client interface {
	JITConfig(ctx context.Context, ent core.Entity, req JITRequest) (JITConfig, error)
	ListRunners(ctx context.Context, ent core.Entity) ([]Runner, error)
	// DeleteRunner returns nil if the runner is already gone and ErrRunnerBusy if it runs a job.
	DeleteRunner(ctx context.Context, ent core.Entity, runnerID int64) error
	RunnerDownloads(ctx context.Context, ent core.Entity) ([]RunnerTool, error)
	// ListQueuedJobs finds queued jobs (the webhook safety net and polling intake).
	ListQueuedJobs(ctx context.Context, ent core.Entity) ([]core.Job, error)
	// RunnerGroupID resolves a runner group name ("" = default group, id 1).
	RunnerGroupID(ctx context.Context, ent core.Entity, name string) (int64, error)
	// Capabilities declares what the forge can do beyond these methods.
	Capabilities() Capabilities
}

// JobEvent is a parsed workflow_job webhook.
type JobEvent struct {
	Action   core.JobAction
	Job      core.Job
	Entity   EntityRef
	RunnerID int64
	// FromScaleSet marks events from a scale-set listener. Webhooks and polls
	// for jobs that a scale-set pool serves are ignored: the scale set's own
	// messages (with their own job ids) already account for them.
	FromScaleSet bool
}

// EntityRef names the entities a webhook belongs to, most specific first
// (repository full name, organization login, enterprise slug).
type EntityRef struct {
	Repository   string
	Organization string
	Enterprise   string
}
