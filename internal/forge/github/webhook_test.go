package github

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
)

func TestVerifySignature(t *testing.T) {
	secret, body := []byte("s3cret"), []byte(`{"action":"queued"}`)
	good := Sign(secret, body)
	if err := VerifySignature(secret, body, good); err != nil {
		t.Fatalf("good signature: %v", err)
	}
	for name, tc := range map[string]struct {
		secret []byte
		body   []byte
		header string
	}{
		"missing":      {secret, body, ""},
		"other secret": {[]byte("nope"), body, good},
		"other body":   {secret, []byte(`{"action":"completed"}`), good},
		"sha1":         {secret, body, "sha1=" + strings.TrimPrefix(good, "sha256=")[:40]},
		"not hex":      {secret, body, "sha256=zz"},
		"short":        {secret, body, good[:20]},
		"no secret":    {nil, body, good},
	} {
		if err := VerifySignature(tc.secret, tc.body, tc.header); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := VerifySignature(secret, body, ""); !errors.Is(err, ErrNoSignature) {
		t.Errorf("missing header error = %v", err)
	}
}

// GitHub's documented example: secret "It's a Secret to Everybody", payload "Hello, World!".
func TestSignatureKnownAnswer(t *testing.T) {
	const want = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
	if got := Sign([]byte("It's a Secret to Everybody"), []byte("Hello, World!")); got != want {
		t.Fatalf("Sign = %s", got)
	}
	if err := VerifySignature([]byte("It's a Secret to Everybody"), []byte("Hello, World!"), want); err != nil {
		t.Fatal(err)
	}
}

const sampleJob = `{
  "action": "completed",
  "workflow_job": {
    "id": 29679449, "run_id": 2832853555, "run_attempt": 2, "status": "completed", "conclusion": "success",
    "labels": ["self-hosted", "gpu"], "runner_id": 7, "runner_name": "pool-abc", "name": "test",
    "workflow_name": "CI", "created_at": "2024-05-01T10:00:00Z", "started_at": "2024-05-01T10:00:05Z",
    "completed_at": "2024-05-01T10:03:00Z"
  },
  "repository": {"full_name": "octo/hello", "owner": {"login": "octo"}},
  "organization": {"login": "octo"},
  "enterprise": {"slug": "acme"}
}`

func TestParseWorkflowJob(t *testing.T) {
	ev, err := ParseWorkflowJob([]byte(sampleJob))
	if err != nil {
		t.Fatal(err)
	}
	j := ev.Job
	if ev.Action != "completed" || ev.RunnerID != 7 || j.ID != 29679449 || j.RunID != 2832853555 || j.RunAttempt != 2 ||
		j.State != core.JobCompleted || j.Conclusion != "success" || j.RunnerName != "pool-abc" || j.Name != "test" ||
		j.Workflow != "CI" || j.Repository != "octo/hello" || strings.Join(j.Labels, ",") != "self-hosted,gpu" {
		t.Fatalf("event = %+v", ev)
	}
	if !j.QueuedAt.Equal(time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)) || j.CompletedAt.Sub(j.StartedAt) != 175*time.Second {
		t.Fatalf("times = %v %v %v", j.QueuedAt, j.StartedAt, j.CompletedAt)
	}
	if ev.Entity.Repository != "octo/hello" || ev.Entity.Organization != "octo" || ev.Entity.Enterprise != "acme" {
		t.Fatalf("entity = %+v", ev.Entity)
	}
}

func TestParseWorkflowJobRejectsBadInput(t *testing.T) {
	for name, body := range map[string]string{
		"malformed":  `{"action":`,
		"no job":     `{"action":"queued"}`,
		"no id":      `{"action":"queued","workflow_job":{"status":"queued"}}`,
		"no action":  `{"workflow_job":{"id":1,"status":"queued"}}`,
		"wrong type": `{"action":"queued","workflow_job":{"id":"one"}}`,
	} {
		if _, err := ParseWorkflowJob([]byte(body)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestEventAction(t *testing.T) {
	if a, err := EventAction(EventPing, []byte(`{"zen":"Keep it logically awesome.","hook_id":1}`)); err != nil || a != EventPing {
		t.Errorf("ping: %q %v", a, err)
	}
	if a, err := EventAction(EventWorkflowJob, []byte(`{"action":"queued"}`)); err != nil || a != "queued" {
		t.Errorf("workflow_job: %q %v", a, err)
	}
	if _, err := EventAction("", []byte(`{}`)); err == nil {
		t.Error("missing event type accepted")
	}
	if _, err := EventAction("push", []byte(`nope`)); err == nil {
		t.Error("malformed body accepted")
	}
}
