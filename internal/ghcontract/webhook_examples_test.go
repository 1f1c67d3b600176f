package ghcontract_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	ghforge "github.com/paddock-ci/paddock/internal/forge/github"
	"github.com/paddock-ci/paddock/internal/ghcontract"
)

// Every workflow_job payload GitHub publishes must parse, with fields matching
// an independent decode of the same JSON.
func TestWorkflowJobExamplesParse(t *testing.T) {
	examples, err := ghcontract.WebhookExamples("workflow_job")
	if err != nil {
		t.Fatal(err)
	}
	actions := map[string]bool{}
	for i, raw := range examples {
		var want struct {
			Action      string `json:"action"`
			WorkflowJob struct {
				ID       int64      `json:"id"`
				RunID    int64      `json:"run_id"`
				Status   string     `json:"status"`
				Labels   []string   `json:"labels"`
				RunnerID *int64     `json:"runner_id"`
				Created  *time.Time `json:"created_at"`
			} `json:"workflow_job"`
			Repository struct {
				FullName string `json:"full_name"`
			} `json:"repository"`
		}
		if err := json.Unmarshal(raw, &want); err != nil {
			t.Fatalf("example %d: %v", i, err)
		}
		actions[want.Action] = true
		ev, err := ghforge.ParseWorkflowJob(raw)
		if err != nil {
			t.Errorf("example %d (%s): %v", i, want.Action, err)
			continue
		}
		j := ev.Job
		if string(ev.Action) != want.Action || j.ID != want.WorkflowJob.ID || j.RunID != want.WorkflowJob.RunID ||
			!slices.Equal(j.Labels, want.WorkflowJob.Labels) || ev.Entity.Repository != want.Repository.FullName ||
			j.Repository != want.Repository.FullName {
			t.Errorf("example %d: parsed %+v, want %+v", i, ev, want)
		}
		if want.WorkflowJob.RunnerID != nil && ev.RunnerID != *want.WorkflowJob.RunnerID {
			t.Errorf("example %d: runner id %d, want %d", i, ev.RunnerID, *want.WorkflowJob.RunnerID)
		}
		wantState := map[string]core.JobState{"queued": core.JobQueued, "waiting": core.JobQueued,
			"in_progress": core.JobInProgress, "completed": core.JobCompleted}[want.WorkflowJob.Status]
		if wantState == "" || j.State != wantState {
			t.Errorf("example %d: status %q → state %q", i, want.WorkflowJob.Status, j.State)
		}
		// Older examples predate created_at; where present it is the queue time.
		if c := want.WorkflowJob.Created; c != nil && !j.QueuedAt.Equal(*c) || c == nil && !j.QueuedAt.IsZero() {
			t.Errorf("example %d: queued at %v, want %v", i, j.QueuedAt, c)
		}
		if a, err := ghforge.EventAction(ghforge.EventWorkflowJob, raw); err != nil || a != want.Action {
			t.Errorf("example %d: EventAction = %q, %v", i, a, err)
		}
	}
	for _, a := range []string{"queued", "in_progress", "completed", "waiting"} {
		if !actions[a] {
			t.Errorf("no example with action %q: the examples package changed shape", a)
		}
	}
}

func TestPingExampleIsRecognised(t *testing.T) {
	examples, err := ghcontract.WebhookExamples("ping")
	if err != nil {
		t.Fatal(err)
	}
	for i, raw := range examples {
		if a, err := ghforge.EventAction(ghforge.EventPing, raw); err != nil || a != ghforge.EventPing {
			t.Errorf("ping example %d: %q %v", i, a, err)
		}
	}
}
