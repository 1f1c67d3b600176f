package check

import (
	"regexp"
	"strings"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/machineapi"
)

// ranRepoRE is an "owner/name" as any supported forge spells it (the union
// of the owner and repository rules in entity.go).
var ranRepoRE = regexp.MustCompile(`^[A-Za-z0-9]+([-._][A-Za-z0-9]+)*/[A-Za-z0-9._-]+$`)

// maxRunAttempt is far above any real re-run count; it only keeps nonsense out.
const maxRunAttempt = 1 << 20

// StatusReport checks a machine's report that names a run: only "active"
// (the runner took a job) and "done" (it exited) may, and "active" must.
func StatusReport(r machineapi.StatusReport) Errors {
	var errs Errors
	active, done := string(core.RunnerActive), string(core.RunnerDone)
	switch {
	case r.Status != active && r.Status != done:
		if r.Ran != nil {
			errs.add("ran", "only an active or done report names the run its job is in, not %q", shorten(r.Status))
		}
	case r.Status == active && r.Ran == nil:
		errs.add("ran", "an active report names the run its job is in")
	}
	if r.Ran != nil {
		errs = append(errs, RanJob(*r.Ran)...)
	}
	return errs
}

// RanJob checks the run a machine says its runner's job belonged to. A
// machine holds no credential worth stealing, but its report comes from a
// host that ran untrusted code, so it is held to the forge's own shapes
// before the planner reads it.
func RanJob(r machineapi.RanJob) Errors {
	var errs Errors
	if r.RunID <= 0 {
		errs.add("ran.run_id", "must be a positive run id, got %d", r.RunID)
	}
	if r.RunAttempt < 0 || r.RunAttempt > maxRunAttempt {
		errs.add("ran.run_attempt", "must be between 0 and %d, got %d", maxRunAttempt, r.RunAttempt)
	}
	if r.Repository != "" {
		owner, _, _ := strings.Cut(r.Repository, "/")
		if len(r.Repository) > maxGiteaOwner+1+maxRepo || len(owner) > maxGiteaOwner || !ranRepoRE.MatchString(r.Repository) {
			errs.add("ran.repository", "must be owner/name, got %q", shorten(r.Repository))
		}
	}
	return errs
}

// shorten keeps an error message about hostile input short and printable.
func shorten(s string) string {
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}
