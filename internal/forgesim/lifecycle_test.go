package forgesim_test

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v89/github"
	"github.com/google/uuid"
	"github.com/paddock-ci/paddock/internal/forgesim"
	"github.com/paddock-ci/paddock/internal/testutil"
)

// Required keys of GitHub's webhook-workflow-job-* schemas.
var (
	requiredJobKeys = strings.Fields(`id run_id run_url run_attempt node_id head_sha url html_url status
		conclusion started_at completed_at name steps check_run_url labels runner_id runner_name
		runner_group_id runner_group_name workflow_name head_branch created_at`)
	requiredRepoKeys = strings.Fields(`archive_url assignees_url blobs_url branches_url collaborators_url
		comments_url commits_url compare_url contents_url contributors_url deployments_url description
		downloads_url events_url fork forks_url full_name git_commits_url git_refs_url git_tags_url hooks_url
		html_url id node_id issue_comment_url issue_events_url issues_url keys_url labels_url languages_url
		merges_url milestones_url name notifications_url owner private pulls_url releases_url stargazers_url
		statuses_url subscribers_url subscription_url tags_url teams_url trees_url url clone_url
		default_branch forks forks_count git_url has_downloads has_issues has_projects has_wiki has_pages
		homepage language archived disabled mirror_url open_issues open_issues_count license pushed_at size
		ssh_url stargazers_count svn_url watchers watchers_count created_at updated_at`)
)

func requireKeys(t *testing.T, what string, m map[string]any, keys []string) {
	t.Helper()
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			t.Errorf("%s lacks required key %q", what, k)
		}
	}
}

type hookBody struct {
	Action       string         `json:"action"`
	WorkflowJob  map[string]any `json:"workflow_job"`
	Repository   map[string]any `json:"repository"`
	Organization map[string]any `json:"organization"`
	Sender       map[string]any `json:"sender"`
}

func decodeHook(t *testing.T, h hook) hookBody {
	t.Helper()
	var b hookBody
	if err := json.Unmarshal(h.Body, &b); err != nil {
		t.Fatalf("webhook body: %v", err)
	}
	return b
}

func TestQueuedWebhookIsSignedAndShapedLikeGitHub(t *testing.T) {
	sink := newHookSink(t)
	s, _ := startSim(t, forgesim.Options{WebhookURL: sink.srv.URL, WebhookSecret: hookSecret})
	j, err := s.QueueJob(forgesim.JobSpec{Repo: "octo-org/app", Org: "octo-org", Labels: []string{"self-hosted", "linux"}})
	if err != nil {
		t.Fatal(err)
	}
	h := sink.waitN(t, 1)[0]

	for k, want := range map[string]string{"X-GitHub-Event": "workflow_job", "Content-Type": "application/json",
		"X-GitHub-Hook-Installation-Target-Type": "repository"} {
		if got := h.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if _, err := uuid.Parse(h.Header.Get("X-GitHub-Delivery")); err != nil {
		t.Errorf("X-GitHub-Delivery %q is not a uuid", h.Header.Get("X-GitHub-Delivery"))
	}
	if h.Header.Get("X-GitHub-Hook-ID") == "" || !strings.HasPrefix(h.Header.Get("User-Agent"), "GitHub-Hookshot/") {
		t.Errorf("missing hook id or hookshot user agent: %v", h.Header)
	}
	sig := h.Header.Get("X-Hub-Signature-256")
	want := "sha256=" + forgesim.Sign(hookSecret, h.Body)
	if !hmac.Equal([]byte(sig), []byte(want)) {
		t.Fatalf("signature %q does not match body (want %q)", sig, want)
	}
	if forgesim.Sign("wrong", h.Body) == strings.TrimPrefix(sig, "sha256=") {
		t.Fatal("signature does not depend on the secret")
	}

	b := decodeHook(t, h)
	if b.Action != "queued" {
		t.Errorf("action = %q", b.Action)
	}
	requireKeys(t, "workflow_job", b.WorkflowJob, requiredJobKeys)
	requireKeys(t, "repository", b.Repository, requiredRepoKeys)
	wj := b.WorkflowJob
	if wj["id"].(float64) != float64(j.ID) || wj["status"] != "queued" || wj["conclusion"] != nil || wj["runner_id"] != nil {
		t.Errorf("workflow_job = %v", wj)
	}
	if labels, _ := wj["labels"].([]any); len(labels) != 2 || labels[1] != "linux" {
		t.Errorf("labels = %v", wj["labels"])
	}
	if b.Repository["full_name"] != "octo-org/app" || b.Repository["owner"].(map[string]any)["type"] != "Organization" {
		t.Errorf("repository = %v", b.Repository)
	}
	if b.Organization["login"] != "octo-org" || b.Sender["login"] == nil || b.Sender["type"] != "User" {
		t.Errorf("organization/sender = %v / %v", b.Organization, b.Sender)
	}
}

// TestRunnerLifecycle covers GitHub's runner rules end to end through the
// broker protocol: JIT once, one job, in_progress/completed webhooks, and
// the ephemeral runner vanishing after its job.
func TestRunnerLifecycle(t *testing.T) {
	sink := newHookSink(t)
	s, c := startSim(t, forgesim.Options{WebhookURL: sink.srv.URL, WebhookSecret: hookSecret})
	ctx := context.Background()
	job, _ := s.QueueJob(forgesim.JobSpec{Repo: "o/r", Labels: []string{"linux"}, Duration: time.Second})
	job2, _ := s.QueueJob(forgesim.JobSpec{Repo: "o/r", Labels: []string{"linux"}})
	cfg := mintJIT(t, c, "o/r", "r-1", "self-hosted", "Linux")
	if cfg.Runner.GetStatus() != "offline" || cfg.Runner.GetBusy() || len(cfg.Runner.Labels) != 2 ||
		cfg.Runner.Labels[0].GetType() != "read-only" {
		t.Fatalf("minted runner = %+v", cfg.Runner)
	}

	// Same name again: 409, like GitHub's "Already exists".
	_, resp, err := c.Actions.CreateRepoJITConfig(ctx, "o", "r",
		github.CreateJITConfigRequest{Name: "r-1", RunnerGroupID: 1, Labels: []string{"x"}})
	if resp == nil || resp.StatusCode != http.StatusConflict {
		t.Fatalf("duplicate name: resp %v err %v", resp, err)
	}

	rs, code := connect(t, s, cfg.GetEncodedJITConfig())
	if code != http.StatusOK {
		t.Fatalf("first connect = %d", code)
	}
	if _, code := connect(t, s, cfg.GetEncodedJITConfig()); code != http.StatusUnauthorized {
		t.Fatalf("second connect with the same JIT config = %d, want 401", code)
	}
	code, got := rs.poll()
	if code != http.StatusOK || got.ID != job.ID || got.DurationMS != 1000 {
		t.Fatalf("poll = %d %+v, want the oldest job %d", code, got, job.ID)
	}

	// Busy runner: delete refused with GitHub's message.
	_, err = c.Actions.RemoveRunner(ctx, "o", "r", cfg.Runner.GetID())
	var ge *github.ErrorResponse
	if !errors.As(err, &ge) || ge.Response.StatusCode != http.StatusUnprocessableEntity ||
		!strings.Contains(ge.Message, `Runner "r-1" is still running a job`) {
		t.Fatalf("delete busy runner: %v", err)
	}
	r, _, err := c.Actions.GetRunner(ctx, "o", "r", cfg.Runner.GetID())
	if err != nil || !r.GetBusy() || r.GetStatus() != "online" {
		t.Fatalf("runner while busy = %+v, %v", r, err)
	}
	if code := rs.complete(got.ID, "failure"); code != http.StatusNoContent {
		t.Fatalf("complete = %d", code)
	}
	// One job per runner: the registration is gone and a second poll says so.
	if code, _ := rs.poll(); code != http.StatusGone {
		t.Fatalf("poll after the job = %d, want 410", code)
	}
	list, _, err := c.Actions.ListRunners(ctx, "o", "r", nil)
	if err != nil || list.TotalCount != 0 {
		t.Fatalf("runners after the job = %+v, %v", list, err)
	}
	if _, err := c.Actions.RemoveRunner(ctx, "o", "r", cfg.Runner.GetID()); !errors.As(err, &ge) ||
		ge.Response.StatusCode != http.StatusNotFound {
		t.Fatalf("delete removed runner: %v", err)
	}

	hooks := sink.waitN(t, 4)
	var actions []string
	for _, h := range hooks {
		b := decodeHook(t, h)
		if b.WorkflowJob["id"].(float64) == float64(job.ID) {
			actions = append(actions, b.Action)
			if b.Action == "in_progress" && (b.WorkflowJob["runner_name"] != "r-1" || b.WorkflowJob["runner_id"] == nil) {
				t.Errorf("in_progress without runner: %v", b.WorkflowJob)
			}
			if b.Action == "completed" && b.WorkflowJob["conclusion"] != "failure" {
				t.Errorf("completed conclusion = %v", b.WorkflowJob["conclusion"])
			}
		}
	}
	if strings.Join(actions, ",") != "queued,in_progress,completed" {
		t.Fatalf("webhook actions for job = %v", actions)
	}
	jobs := s.Jobs()
	if jobs[0].Status != "completed" || jobs[0].Conclusion != "failure" || jobs[0].RunnerName != "r-1" ||
		jobs[1].ID != job2.ID || jobs[1].Status != "queued" {
		t.Fatalf("jobs = %+v", jobs)
	}
	// The sim counts a delivery once the receiver's answer is back, which
	// can be after the receiver has recorded it: wait for the count.
	testutil.Eventually(t, "4 webhooks counted as delivered", 10*time.Second,
		func() bool { return s.Stats().WebhooksDelivered >= 4 })
	if st := s.Stats(); st.JITConfigsMinted != 1 || st.RunnersConnected != 1 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestDeletingIdleRunnerEndsItsPoll(t *testing.T) {
	s, c := startSim(t, forgesim.Options{LongPoll: 20 * time.Second})
	cfg := mintJIT(t, c, "o/r", "idle", "linux")
	rs, _ := connect(t, s, cfg.GetEncodedJITConfig())
	done := make(chan int, 1)
	go func() { code, _ := rs.poll(); done <- code }()
	time.Sleep(100 * time.Millisecond)
	if _, err := c.Actions.RemoveRunner(context.Background(), "o", "r", cfg.Runner.GetID()); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != http.StatusGone {
			t.Fatalf("poll ended with %d, want 410", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("long-poll did not end when the runner was deleted")
	}
	// A deleted runner's JIT config no longer connects.
	if _, code := connect(t, s, cfg.GetEncodedJITConfig()); code != http.StatusNotFound {
		t.Fatalf("connect after delete = %d", code)
	}
}

func TestLabelMatching(t *testing.T) {
	s, c := startSim(t, forgesim.Options{LongPoll: 300 * time.Millisecond})
	gpuJob, _ := s.QueueJob(forgesim.JobSpec{Repo: "o/r", Labels: []string{"self-hosted", "linux", "gpu"}})
	other, _ := s.QueueJob(forgesim.JobSpec{Repo: "o/other", Labels: []string{"linux"}})
	plain, _ := s.QueueJob(forgesim.JobSpec{Repo: "o/r", Labels: []string{"LINUX"}})

	// No self-hosted label on the runner: it is implied. Case does not matter.
	cfg := mintJIT(t, c, "o/r", "a", "Linux", "x64")
	rs, _ := connect(t, s, cfg.GetEncodedJITConfig())
	if code, j := rs.poll(); code != http.StatusOK || j.ID != plain.ID {
		t.Fatalf("runner without gpu got %d %+v, want job %d (skipping gpu job and other repo)", code, j, plain.ID)
	}
	cfg = mintJIT(t, c, "o/r", "b", "linux", "x64")
	rs, _ = connect(t, s, cfg.GetEncodedJITConfig())
	if code, _ := rs.poll(); code != http.StatusNoContent {
		t.Fatalf("no matching job: poll = %d, want 204", code)
	}
	// An organization runner serves the org's repositories.
	org, _, err := c.Actions.CreateOrgJITConfig(context.Background(), "o",
		github.CreateJITConfigRequest{Name: "org-gpu", RunnerGroupID: 1, Labels: []string{"gpu", "linux"}})
	if err != nil {
		t.Fatal(err)
	}
	rs, _ = connect(t, s, org.GetEncodedJITConfig())
	if code, j := rs.poll(); code != http.StatusOK || j.ID != gpuJob.ID {
		t.Fatalf("org gpu runner got %d %+v, want %d", code, j, gpuJob.ID)
	}
	for _, j := range s.Jobs() {
		if j.ID == other.ID && j.Status != "queued" {
			t.Fatalf("job for another repo was taken: %+v", j)
		}
	}
}

func TestJITValidation(t *testing.T) {
	s, _ := startSim(t, forgesim.Options{})
	url := s.URL() + "repos/o/r/actions/runners/generate-jitconfig"
	for name, body := range map[string]any{
		"no name":     map[string]any{"runner_group_id": 1, "labels": []string{"a"}},
		"no group":    map[string]any{"name": "x", "labels": []string{"a"}},
		"no labels":   map[string]any{"name": "x", "runner_group_id": 1, "labels": []string{}},
		"bad type":    map[string]any{"name": 5, "runner_group_id": 1, "labels": []string{"a"}},
		"empty label": map[string]any{"name": "x", "runner_group_id": 1, "labels": []string{" "}},
	} {
		var e struct{ Message string }
		if resp := rawCall(t, "POST", url, "tok", body, &e); resp.StatusCode != http.StatusUnprocessableEntity || e.Message == "" {
			t.Errorf("%s: status %d message %q, want 422", name, resp.StatusCode, e.Message)
		}
	}
	if _, err := s.QueueJob(forgesim.JobSpec{Repo: "norepo", Labels: []string{"a"}}); err == nil {
		t.Error("QueueJob accepted a repo without owner")
	}
	if _, err := s.QueueJob(forgesim.JobSpec{Repo: "o/r"}); err == nil {
		t.Error("QueueJob accepted a job without labels")
	}
}
