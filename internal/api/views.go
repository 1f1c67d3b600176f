package api

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/scheduler"
)

// Duration is a time.Duration written as a Go duration string ("20m0s") so
// people can read it; input also accepts integer nanoseconds.
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

func (d *Duration) UnmarshalJSON(b []byte) error {
	v, err := parseDuration(b)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

func (d Duration) String() string { return time.Duration(d).String() }

// parseDuration reads a JSON string ("20m") or integer (nanoseconds).
func parseDuration(b []byte) (time.Duration, error) {
	s := strings.TrimSpace(string(b))
	if strings.HasPrefix(s, `"`) {
		var str string
		if err := json.Unmarshal(b, &str); err != nil {
			return 0, err
		}
		d, err := time.ParseDuration(str)
		if err != nil {
			return 0, fmt.Errorf("%q is not a duration (use e.g. \"20m\", \"1h30m\" or integer nanoseconds)", str)
		}
		return d, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s is not a duration (use e.g. \"20m\", \"1h30m\" or integer nanoseconds)", s)
	}
	return time.Duration(n), nil
}

// EntityView is an entity as the API returns it, with its forge's name.
type EntityView struct {
	core.Entity
	Forge string `json:"forge"`
}

// PoolView is a pool as the API returns it. The outer duration fields shadow
// core.Pool's (encoding/json prefers the shallower field) so durations read
// as "20m0s" instead of nanoseconds.
type PoolView struct {
	core.Pool
	Entity           string   `json:"entity"`
	BootstrapTimeout Duration `json:"bootstrap_timeout"`
	MaxJobRuntime    Duration `json:"max_job_runtime"`
	// Live counts instances not yet deleted; Idle those whose runner waits for a job.
	Live int `json:"live"`
	Idle int `json:"idle"`
	// Status is "ok", or "failing" while the pool's machine creates keep
	// failing; Health then says why and when the next create is tried.
	Status string                `json:"status"`
	Health *scheduler.PoolHealth `json:"health,omitempty"`
}

// Pool statuses.
const (
	PoolOK      = "ok"
	PoolFailing = "failing"
)

// addHealth fills a pool view's status from the controller's record.
func (s *server) addHealth(v *PoolView) {
	v.Status = PoolOK
	if s.opts.PoolHealth == nil {
		return
	}
	if h, ok := s.opts.PoolHealth()[v.ID]; ok && h.Failing() {
		v.Status, v.Health = PoolFailing, &h
	}
}

// InstanceView is an instance with its pool's name.
type InstanceView struct {
	core.Instance
	Pool string `json:"pool"`
}

// JobView is a job with its entity's and chosen pool's names.
type JobView struct {
	core.Job
	Entity string `json:"entity"`
	Pool   string `json:"pool,omitempty"`
}

// redactForge blanks secrets: credentials are write-only through the API.
func redactForge(f core.Forge) core.Forge {
	f.Credential = f.Credential.Redacted()
	if f.WebhookSecret != "" {
		f.WebhookSecret = "***"
	}
	return f
}

func poolView(p core.Pool, entity string) PoolView {
	return PoolView{Pool: p, Entity: entity,
		BootstrapTimeout: Duration(p.BootstrapTimeout), MaxJobRuntime: Duration(p.MaxJobRuntime)}
}

// countIdle reports whether an instance's runner is online and waiting.
func countIdle(i core.Instance) bool {
	return i.State == core.InstanceRunning && i.Runner == core.RunnerIdle
}
