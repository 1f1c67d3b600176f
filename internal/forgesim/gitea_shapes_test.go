package forgesim_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/forgesim"
	"github.com/paddock-ci/paddock/internal/testutil"
)

// The Gitea flavour's webhook matches what a real Gitea 1.25.4 sent: the
// headers (X-Gitea-*, X-Gogs-*, GitHub's, both Hub signatures, the target
// type) and the job payload (no workflow_name, runner group, node_id or
// check_run_url; steps null; run_attempt 0 and no conclusion while queued).
func TestGiteaWebhookHeadersAndPayloadMatchGitea125(t *testing.T) {
	sink := newHookSink(t)
	s, _ := startSim(t, forgesim.Options{Flavor: forgesim.FlavorGitea, ForgeVersion: "1.25.4",
		WebhookURL: sink.srv.URL, WebhookSecret: hookSecret})
	j, err := s.QueueJob(forgesim.JobSpec{Repo: "acme/app", Labels: []string{"linux"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SupersedeJob(j.ID); err != nil {
		t.Fatal(err)
	}
	hs := sink.waitN(t, 2)
	h := hs[0].Header
	sig := forgesim.Sign(hookSecret, hs[0].Body)
	for k, want := range map[string]string{
		"X-Gitea-Event": "workflow_job", "X-Gogs-Event": "workflow_job", "X-GitHub-Event": "workflow_job",
		"X-Gitea-Signature": sig, "X-Gogs-Signature": sig, "X-Hub-Signature-256": "sha256=" + sig,
		"X-GitHub-Hook-Installation-Target-Type": "repository",
		"X-Gogs-Delivery":                        h.Get("X-Gitea-Delivery"),
	} {
		if got := h.Get(k); got != want || got == "" {
			t.Errorf("%s = %q; want %q", k, got, want)
		}
	}
	if v := h.Get("X-Hub-Signature"); len(v) != len("sha1=")+40 {
		t.Errorf("X-Hub-Signature = %q; want sha1=<40 hex>", v)
	}
	for _, k := range []string{"X-GitHub-Hook-ID", "X-GitHub-Hook-Installation-Target-ID"} {
		if v := h.Get(k); v != "" {
			t.Errorf("%s = %q; Gitea sends none", k, v)
		}
	}
	job := func(b []byte) map[string]any {
		var p struct {
			Job map[string]any `json:"workflow_job"`
		}
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatal(err)
		}
		return p.Job
	}
	queued, done := job(hs[0].Body), job(hs[1].Body)
	for _, k := range []string{"workflow_name", "runner_group_id", "runner_group_name", "node_id", "check_run_url", "conclusion"} {
		if v, ok := queued[k]; ok {
			t.Errorf("queued job has %s = %v; Gitea sends none", k, v)
		}
	}
	for _, k := range []string{"url", "html_url", "run_url"} {
		if v, _ := queued[k].(string); v == "" {
			t.Errorf("queued job has no %s", k)
		}
	}
	if v, ok := queued["steps"]; !ok || v != nil {
		t.Errorf("queued steps = %v (present %v); want null", v, ok)
	}
	if queued["run_attempt"] != float64(0) || done["run_attempt"] != float64(1) {
		t.Errorf("run_attempt queued %v, completed %v; want 0 then 1", queued["run_attempt"], done["run_attempt"])
	}
	if done["conclusion"] != "cancelled" || done["runner_id"] != nil || done["runner_name"] != nil {
		t.Errorf("superseded job: conclusion %v runner %v %v; want cancelled and no runner",
			done["conclusion"], done["runner_id"], done["runner_name"])
	}
}

// A job needing another waits (Gitea announces it "waiting"); it is queued
// when the job it needs succeeds, and skipped without a webhook when that
// job is superseded.
func TestNeedsWaitsThenQueuesOrSkips(t *testing.T) {
	sink := newHookSink(t)
	s, gh := startSim(t, forgesim.Options{WebhookURL: sink.srv.URL, WebhookSecret: hookSecret})
	a, _ := s.QueueJob(forgesim.JobSpec{Repo: "acme/app", Labels: []string{"linux"}})
	b, _ := s.QueueJob(forgesim.JobSpec{Repo: "acme/app", Labels: []string{"linux"}, Needs: a.ID})
	if b.Status != forgesim.StatusWaiting {
		t.Fatalf("b is %q; want waiting", b.Status)
	}
	rs, _ := connect(t, s, mintJIT(t, gh, "acme/app", "r1", "linux").GetEncodedJITConfig())
	if code, got := rs.poll(); code != http.StatusOK || got.ID != a.ID {
		t.Fatalf("runner got %d %+v; want job a, not the waiting b", code, got)
	}
	if code := rs.complete(a.ID, forgesim.ConclusionSuccess); code != http.StatusNoContent {
		t.Fatalf("complete: %d", code)
	}
	// GitHub creates the job only once unblocked: queued, in_progress and
	// completed for a, then queued for b; no "waiting".
	hs := sink.waitN(t, 4)
	var last struct {
		Action string `json:"action"`
		Job    struct {
			ID int64 `json:"id"`
		} `json:"workflow_job"`
	}
	if err := json.Unmarshal(hs[3].Body, &last); err != nil || last.Action != "queued" || last.Job.ID != b.ID {
		t.Fatalf("4th webhook %s; want b queued", hs[3].Body)
	}

	c, _ := s.QueueJob(forgesim.JobSpec{Repo: "acme/app", Labels: []string{"other"}})
	d, _ := s.QueueJob(forgesim.JobSpec{Repo: "acme/app", Labels: []string{"other"}, Needs: c.ID})
	if err := s.SupersedeJob(c.ID); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "d skipped", 5*time.Second, func() bool {
		for _, j := range s.Jobs() {
			if j.ID == d.ID {
				return j.Status == forgesim.StatusCompleted && j.Conclusion == forgesim.ConclusionSkipped
			}
		}
		return false
	})
}
