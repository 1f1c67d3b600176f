package gitea_test

import (
	"net/http"
	"testing"

	"github.com/paddock-ci/paddock/internal/forge/gitea"
	"github.com/paddock-ci/paddock/internal/forge/github"
)

func TestSignatureHeaders(t *testing.T) {
	secret, body := []byte("s3cret"), []byte(`{"action":"queued"}`)
	good := gitea.Sign(secret, body)
	ok := map[string]http.Header{
		"forgejo":   {"X-Forgejo-Signature": {good}},
		"gitea":     {"X-Gitea-Signature": {good}},
		"github":    {"X-Hub-Signature-256": {github.Sign(secret, body)}},
		"gitea+hub": {"X-Gitea-Signature": {good}, "X-Hub-Signature-256": {github.Sign(secret, body)}},
	}
	for name, h := range ok {
		if err := gitea.VerifySignature(secret, body, h); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	bad := map[string]http.Header{
		"wrong key":        {"X-Gitea-Signature": {gitea.Sign([]byte("other"), body)}},
		"not hex":          {"X-Forgejo-Signature": {"zz"}},
		"short":            {"X-Gitea-Signature": {good[:10]}},
		"forged first":     {"X-Forgejo-Signature": {gitea.Sign([]byte("x"), body)}, "X-Gitea-Signature": {good}},
		"hub without algo": {"X-Hub-Signature-256": {good}},
		"none":             {},
	}
	for name, h := range bad {
		if err := gitea.VerifySignature(secret, body, h); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := gitea.VerifySignature(nil, body, ok["gitea"]); err == nil {
		t.Error("empty secret accepted")
	}
}

func TestParseGiteaWorkflowJob(t *testing.T) {
	body := []byte(`{"action":"queued","workflow_job":{"id":7,"run_id":3,"status":"queued","labels":["linux"],
		"name":"build","created_at":"2026-01-01T00:00:00Z"},"repository":{"full_name":"acme/app","owner":{"login":"acme"}},
		"organization":{"id":1,"name":"acme","username":"acme"}}`)
	ev, err := gitea.ParseWorkflowJob(body)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Job.ID != 7 || ev.Entity.Repository != "acme/app" || ev.Entity.Organization != "acme" ||
		ev.Entity.Enterprise != gitea.InstanceEntity || ev.Action != "queued" {
		t.Fatalf("event = %+v", ev)
	}
	if _, err := gitea.ParseWorkflowJob([]byte(`{"action":"queued"}`)); err == nil {
		t.Fatal("payload without workflow_job accepted")
	}
}

// Gitea writes 1970-01-01 for a time that has not happened; read literally
// it made a job's wait 0 s. It must come out as unknown (zero).
func TestGiteaNotStartedTimestampIsUnknown(t *testing.T) {
	body := []byte(`{"action":"in_progress","workflow_job":{"id":7,"run_id":3,"status":"in_progress","labels":["linux"],
		"name":"build","created_at":"1970-01-01T00:00:00Z","started_at":"2026-01-01T00:00:05Z",
		"completed_at":"1970-01-01T00:00:00Z"},"repository":{"full_name":"acme/app","owner":{"login":"acme"}}}`)
	ev, err := gitea.ParseWorkflowJob(body)
	if err != nil {
		t.Fatal(err)
	}
	if !ev.Job.QueuedAt.IsZero() || !ev.Job.CompletedAt.IsZero() || ev.Job.StartedAt.IsZero() {
		t.Fatalf("times %v %v %v; want queued and completed unknown, started kept", ev.Job.QueuedAt, ev.Job.StartedAt, ev.Job.CompletedAt)
	}
}
