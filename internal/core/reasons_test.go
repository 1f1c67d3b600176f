package core

import (
	"encoding/json"
	"testing"
)

// deleteReasons lists every delete reason.
var deleteReasons = []DeleteReason{
	DeleteScaleDown, DeleteBootstrapTimeout, DeleteMaxJobRuntime, DeleteRetriesExhausted,
	DeletePoolGone, DeletePoolDisabled, DeleteRunnerDone, DeleteRunnerFailed,
	DeleteJobCompleted, DeleteBootstrapFailed, DeleteOperator, DeleteRunnerGone, DeleteRunnerOffline, DeleteRunnerExited,
}

// The reasons are stored with instances and shown by the API: their values
// must not change when the Go names do.
func TestDeleteReasonWireValues(t *testing.T) {
	want := map[DeleteReason]string{
		DeleteScaleDown: "scale_down", DeleteBootstrapTimeout: "bootstrap_timeout",
		DeleteMaxJobRuntime: "max_job_runtime", DeleteRetriesExhausted: "retries_exhausted",
		DeletePoolGone: "pool_gone", DeletePoolDisabled: "pool_disabled",
		DeleteRunnerDone: "runner_done", DeleteRunnerFailed: "runner_failed",
		DeleteJobCompleted: "job_completed", DeleteBootstrapFailed: "bootstrap_failed",
		DeleteOperator: "operator", DeleteRunnerGone: "runner_gone", DeleteRunnerOffline: "runner_offline",
		DeleteRunnerExited: "runner_exited",
	}
	if len(deleteReasons) != len(want) {
		t.Fatalf("deleteReasons has %d entries, want %d", len(deleteReasons), len(want))
	}
	for _, r := range deleteReasons {
		if string(r) != want[r] {
			t.Errorf("%q: want %q", r, want[r])
		}
	}
	b, err := json.Marshal(Instance{DeleteReason: DeleteJobCompleted})
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil || back["delete_reason"] != "job_completed" {
		t.Fatalf("instance JSON delete_reason = %v (%v), want \"job_completed\"", back["delete_reason"], err)
	}
}

// A delete that would interrupt a running job is cancelled only for the
// reasons that merely tidy up; a finished, failed or timed-out runner goes.
func TestKeepIfBusy(t *testing.T) {
	keep := map[DeleteReason]bool{DeleteScaleDown: true, DeletePoolDisabled: true, DeletePoolGone: true,
		DeleteOperator: true, DeleteRunnerGone: true, DeleteRunnerOffline: true}
	for _, r := range deleteReasons {
		if r.KeepIfBusy() != keep[r] {
			t.Errorf("%s.KeepIfBusy() = %v, want %v", r, r.KeepIfBusy(), keep[r])
		}
	}
}

func TestJobActionState(t *testing.T) {
	for _, c := range []struct {
		a  JobAction
		s  JobState
		ok bool
	}{
		{JobActionQueued, JobQueued, true},
		{JobActionInProgress, JobInProgress, true},
		{JobActionCompleted, JobCompleted, true},
		{JobActionWaiting, "", false},
		{"requested", "", false},
	} {
		if s, ok := c.a.JobState(); s != c.s || ok != c.ok {
			t.Errorf("%q.JobState() = %q, %v; want %q, %v", c.a, s, ok, c.s, c.ok)
		}
	}
}
