package forgesim_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v89/github"
	"github.com/paddock-ci/paddock/internal/forgesim"
	"github.com/paddock-ci/paddock/internal/testutil"
)

func TestPaginationWithLinkHeader(t *testing.T) {
	s, c := startSim(t, forgesim.Options{})
	for i := range 5 {
		mintJIT(t, c, "o/r", fmt.Sprintf("r-%d", i), "linux")
	}
	mintJIT(t, c, "o/elsewhere", "r-x", "linux") // another scope: never listed with o/r
	ctx := context.Background()
	opts := &github.ListRunnersOptions{ListOptions: github.ListOptions{PerPage: 2}}
	var names []string
	pages := 0
	for {
		list, resp, err := c.Actions.ListRunners(ctx, "o", "r", opts)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if list.TotalCount != 5 {
			t.Fatalf("total_count = %d", list.TotalCount)
		}
		for _, r := range list.Runners {
			names = append(names, r.GetName())
		}
		if resp.NextPage == 0 {
			if resp.LastPage != 0 || resp.PrevPage != 2 {
				t.Errorf("last page links: prev %d last %d", resp.PrevPage, resp.LastPage)
			}
			break
		}
		if resp.LastPage != 3 {
			t.Errorf("rel=last = %d, want 3", resp.LastPage)
		}
		opts.Page = resp.NextPage
	}
	if pages != 3 || strings.Join(names, ",") != "r-0,r-1,r-2,r-3,r-4" {
		t.Fatalf("pages %d names %v", pages, names)
	}
	// per_page is capped at 100 and bad values are refused.
	var out struct{ Runners []any }
	resp := rawCall(t, "GET", s.URL()+"repos/o/r/actions/runners?per_page=500", "t", nil, &out)
	if resp.StatusCode != 200 || len(out.Runners) != 5 || resp.Header.Get("Link") != "" {
		t.Fatalf("per_page=500: %d %d %q", resp.StatusCode, len(out.Runners), resp.Header.Get("Link"))
	}
	if resp := rawCall(t, "GET", s.URL()+"repos/o/r/actions/runners?page=0", "t", nil, nil); resp.StatusCode != 422 {
		t.Fatalf("page=0: %d", resp.StatusCode)
	}
}

func TestRateLimitHeadersCountDown(t *testing.T) {
	s, _ := startSim(t, forgesim.Options{})
	url := s.URL() + "orgs/o/actions/runner-groups"
	var last int
	for i := range 3 {
		resp := rawCall(t, "GET", url, "tok-a", nil, nil)
		rem, _ := strconv.Atoi(resp.Header.Get("X-RateLimit-Remaining"))
		used, _ := strconv.Atoi(resp.Header.Get("X-RateLimit-Used"))
		reset, _ := strconv.ParseInt(resp.Header.Get("X-RateLimit-Reset"), 10, 64)
		if resp.Header.Get("X-RateLimit-Limit") != "5000" || used != i+1 || rem != 5000-used ||
			reset < time.Now().Unix() {
			t.Fatalf("call %d headers: %v", i, resp.Header)
		}
		last = rem
	}
	// Budgets are per token.
	if resp := rawCall(t, "GET", url, "tok-b", nil, nil); resp.Header.Get("X-RateLimit-Remaining") != "4999" {
		t.Fatalf("fresh token remaining = %s", resp.Header.Get("X-RateLimit-Remaining"))
	}
	if last != 4997 {
		t.Fatalf("remaining after 3 calls = %d", last)
	}
	// An exhausted budget answers 403 with remaining 0, as GitHub does.
	s.SetRateBudget("tok-a", 5000)
	resp := rawCall(t, "GET", url, "tok-a", nil, nil)
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-RateLimit-Remaining") != "0" {
		t.Fatalf("exhausted: %d remaining %s", resp.StatusCode, resp.Header.Get("X-RateLimit-Remaining"))
	}
	// No credentials: 401, still with rate-limit headers.
	resp = rawCall(t, "GET", url, "", nil, nil)
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("X-RateLimit-Limit") == "" {
		t.Fatalf("anonymous: %d %v", resp.StatusCode, resp.Header)
	}
	st := s.Stats()
	if st.APICalls["GET /orgs/{org}/actions/runner-groups"][200] != 4 ||
		st.APICalls["GET /orgs/{org}/actions/runner-groups"][403] != 1 {
		t.Fatalf("api call stats = %v", st.APICalls)
	}
}

func TestErrorAndRateLimitFaults(t *testing.T) {
	s, c := startSim(t, forgesim.Options{Seed: 7})
	ctx := context.Background()
	if err := s.SetFaults(forgesim.Faults{ErrorRate: 1}); err != nil {
		t.Fatal(err)
	}
	_, resp, err := c.Actions.ListRunners(ctx, "o", "r", nil)
	if err == nil || resp.StatusCode != 500 {
		t.Fatalf("ErrorRate=1: %v", err)
	}
	if err := s.SetFaults(forgesim.Faults{RateLimitRate: 1, RetryAfter: 3 * time.Second}); err != nil {
		t.Fatal(err)
	}
	codes := map[int]int{}
	for range 20 {
		r := rawCall(t, "GET", s.URL()+"repos/o/r/actions/runners", "t", nil, nil)
		codes[r.StatusCode]++
		if r.Header.Get("Retry-After") != "3" {
			t.Fatalf("Retry-After = %q", r.Header.Get("Retry-After"))
		}
	}
	if codes[429] == 0 || codes[403] == 0 || codes[429]+codes[403] != 20 {
		t.Fatalf("rate limit codes = %v, want a mix of 429 and 403", codes)
	}
	// go-github recognises the answer as a secondary rate limit.
	_, _, err = ghClient(t, s, "other").Actions.ListRunners(ctx, "o", "r", nil)
	var abuse *github.AbuseRateLimitError
	if !errors.As(err, &abuse) || abuse.GetRetryAfter() != 3*time.Second {
		t.Fatalf("want AbuseRateLimitError with RetryAfter 3s, got %v", err)
	}
	if err := s.SetFaults(forgesim.Faults{ErrorRate: 2}); err == nil {
		t.Fatal("accepted a rate above 1")
	}
	if err := s.SetFaults(forgesim.Faults{Latency: 150 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, _, err := c.Actions.ListRunners(ctx, "o", "r", nil); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("latency fault: call took %v", d)
	}
}

func TestFaultsAreDeterministicForASeed(t *testing.T) {
	run := func() string {
		s, _ := startSim(t, forgesim.Options{Seed: 42})
		_ = s.SetFaults(forgesim.Faults{ErrorRate: 0.5})
		var b strings.Builder
		for range 30 {
			b.WriteString(strconv.Itoa(rawCall(t, "GET", s.URL()+"repos/o/r/actions/runners", "t", nil, nil).StatusCode))
		}
		return b.String()
	}
	a, b := run(), run()
	if a != b || !strings.Contains(a, "500") || !strings.Contains(a, "200") {
		t.Fatalf("same seed gave different or degenerate sequences:\n%s\n%s", a, b)
	}
}

func TestFailNextHTTPControl(t *testing.T) {
	s, c := startSim(t, forgesim.Options{})
	ctx := context.Background()
	body := map[string]any{"fail_next": []map[string]any{
		{"pattern": "POST /repos/{owner}/{repo}/actions/runners/generate-jitconfig", "status": 502, "n": 2}}}
	if r := rawCall(t, "PUT", s.URL()+"_sim/faults", "", body, nil); r.StatusCode != 200 {
		t.Fatalf("PUT faults = %d", r.StatusCode)
	}
	s.FailNext("DELETE /repos/o/r/actions/runners/*", 429, 1)
	req := github.CreateJITConfigRequest{Name: "n", RunnerGroupID: 1, Labels: []string{"a"}}
	for i := range 2 {
		if _, resp, _ := c.Actions.CreateRepoJITConfig(ctx, "o", "r", req); resp.StatusCode != 502 {
			t.Fatalf("call %d: %d, want injected 502", i, resp.StatusCode)
		}
	}
	cfg, _, err := c.Actions.CreateRepoJITConfig(ctx, "o", "r", req)
	if err != nil {
		t.Fatalf("third call should pass: %v", err)
	}
	resp := rawCall(t, "DELETE", fmt.Sprintf("%srepos/o/r/actions/runners/%d", s.URL(), cfg.Runner.GetID()), "t", nil, nil)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("injected 429: %d", resp.StatusCode)
	}
	if _, err := c.Actions.RemoveRunner(ctx, "o", "r", cfg.Runner.GetID()); err != nil {
		t.Fatalf("rule should be used up: %v", err)
	}
	var f map[string]any
	rawCall(t, "GET", s.URL()+"_sim/faults", "", nil, &f)
	if rules, _ := f["fail_next"].([]any); len(rules) != 0 {
		t.Fatalf("rules left: %v", f)
	}
	if r := rawCall(t, "PUT", s.URL()+"_sim/faults", "", map[string]any{"latency": "soon"}, nil); r.StatusCode != 422 {
		t.Fatalf("bad latency accepted: %d", r.StatusCode)
	}
}

func TestWebhookDropAndDuplicate(t *testing.T) {
	sink := newHookSink(t)
	s, _ := startSim(t, forgesim.Options{WebhookURL: sink.srv.URL, WebhookSecret: hookSecret})
	_ = s.SetFaults(forgesim.Faults{WebhookDropRate: 1})
	if _, err := s.QueueJob(forgesim.JobSpec{Repo: "o/r", Labels: []string{"a"}}); err != nil {
		t.Fatal(err)
	}
	_ = s.SetFaults(forgesim.Faults{WebhookDuplicateRate: 1})
	j, _ := s.QueueJob(forgesim.JobSpec{Repo: "o/r", Labels: []string{"b"}})
	// Hooks go out one at a time in queue order, so once a later job's hook
	// has arrived, a wrongly sent dropped one would have arrived before it.
	_ = s.SetFaults(forgesim.Faults{})
	last, _ := s.QueueJob(forgesim.JobSpec{Repo: "o/r", Labels: []string{"c"}})
	hooks := sink.waitN(t, 3)
	if n, third := sink.count(), decodeHook(t, hooks[2]).WorkflowJob["id"]; n != 3 || third != float64(last.ID) {
		t.Fatalf("got %d deliveries, the third for job %v; want 3: none for the dropped job, two for the duplicated one, then job %d's",
			n, third, last.ID)
	}
	if id := hooks[0].Header.Get("X-GitHub-Delivery"); id == "" || id != hooks[1].Header.Get("X-GitHub-Delivery") {
		t.Fatalf("duplicate deliveries have ids %q and %q", id, hooks[1].Header.Get("X-GitHub-Delivery"))
	}
	if b := decodeHook(t, hooks[1]); b.WorkflowJob["id"].(float64) != float64(j.ID) {
		t.Fatalf("duplicated the wrong job: %v", b.WorkflowJob["id"])
	}
	// The sim counts a delivery after the receiver's answer is back.
	testutil.Eventually(t, "3 deliveries counted", 10*time.Second, func() bool { return s.Stats().WebhooksDelivered == 3 })
	st := s.Stats()
	if st.WebhooksDropped != 1 || st.WebhooksDuplicated != 1 || st.WebhooksDelivered != 3 {
		t.Fatalf("stats = %+v", st)
	}
	if d := s.Deliveries(); len(d) != 4 || !d[0].Dropped || d[2].Status != http.StatusAccepted || d[3].JobID != last.ID {
		t.Fatalf("deliveries = %+v", d)
	}
}

// TestRunnerDownloadsTarball: the list has GitHub's shape (os linux/win/osx,
// architecture x64/arm64/arm, .zip for Windows, .tar.gz otherwise) and every
// package matches its sha256_checksum.
func TestRunnerDownloadsTarball(t *testing.T) {
	s, c := startSim(t, forgesim.Options{RunnerCommand: []string{"/opt/my paddock", "agent", "it's"}})
	tools, _, err := c.Actions.ListRunnerApplicationDownloads(context.Background(), "o", "r")
	if err != nil {
		t.Fatal(err)
	}
	platforms := map[string]bool{}
	for _, tool := range tools {
		platform := tool.GetOS() + "-" + tool.GetArchitecture()
		platforms[platform] = true
		ext := ".tar.gz"
		if tool.GetOS() == "win" {
			ext = ".zip"
		}
		if tool.GetFilename() != "actions-runner-"+platform+"-2.328.0"+ext ||
			!strings.HasPrefix(tool.GetDownloadURL(), s.URL()+"_sim/downloads/") ||
			!strings.HasSuffix(tool.GetDownloadURL(), tool.GetFilename()) {
			t.Fatalf("tool = %+v", tool)
		}
		resp, err := http.Get(tool.GetDownloadURL())
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		sum := sha256.Sum256(data)
		if hex.EncodeToString(sum[:]) != tool.GetSHA256Checksum() {
			t.Fatalf("sha256 of %s does not match sha256_checksum", tool.GetFilename())
		}
		if ext == ".zip" {
			run := readZipEntry(t, data, "run.cmd")
			if want := "\"/opt/my paddock\" agent it's %*\r\n"; !strings.Contains(run, want) {
				t.Fatalf("run.cmd = %q, want it to contain %q", run, want)
			}
			continue
		}
		run := readTarEntry(t, data, "run.sh")
		want := "exec '/opt/my paddock' agent 'it'\\''s' \"$@\"\n"
		if run.mode != 0o755 || !strings.HasPrefix(run.body, "#!/bin/sh\n") || !strings.HasSuffix(run.body, want) {
			t.Fatalf("run.sh mode %o body %q", run.mode, run.body)
		}
	}
	for _, p := range []string{"linux-x64", "linux-arm64", "linux-arm", "win-x64", "win-arm64", "osx-x64", "osx-arm64"} {
		if !platforms[p] {
			t.Errorf("no %s download in %v", p, platforms)
		}
	}
	if tools[0].GetOS() != "linux" || tools[0].GetArchitecture() != "x64" {
		t.Errorf("first download is %s-%s; callers that take the first expect linux-x64", tools[0].GetOS(), tools[0].GetArchitecture())
	}
	for _, p := range []string{"orgs/o", "enterprises/e"} {
		var out []map[string]any
		if r := rawCall(t, "GET", s.URL()+p+"/actions/runners/downloads", "t", nil, &out); r.StatusCode != 200 || len(out) != len(tools) {
			t.Fatalf("%s downloads: %d %v", p, r.StatusCode, out)
		}
	}
	if r, _ := http.Get(s.URL() + "_sim/downloads/evil.tar.gz"); r.StatusCode != 404 {
		t.Fatalf("unknown tarball: %d", r.StatusCode)
	}
}

func readZipEntry(t *testing.T, data []byte, name string) string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	f, err := zr.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

type tarEntry struct {
	mode int64
	body string
}

func readTarEntry(t *testing.T, data []byte, name string) tarEntry {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("%s not in tarball: %v", name, err)
		}
		if h.Name == name {
			b, _ := io.ReadAll(tr)
			return tarEntry{h.Mode, string(b)}
		}
	}
}

func TestQueuedRunsAndJobsEndpoints(t *testing.T) {
	s, c := startSim(t, forgesim.Options{LongPoll: 300 * time.Millisecond})
	ctx := context.Background()
	a, _ := s.QueueJob(forgesim.JobSpec{Repo: "o/r", Labels: []string{"linux"}, Name: "test"})
	b, _ := s.QueueJob(forgesim.JobSpec{Repo: "o/r", Labels: []string{"linux"}, Name: "lint"})
	rs, _ := connect(t, s, mintJIT(t, c, "o/r", "w", "linux").GetEncodedJITConfig())
	if code, got := rs.poll(); code != 200 || got.ID != a.ID {
		t.Fatalf("poll: %d %+v", code, got)
	}
	runs, _, err := c.Actions.ListRepositoryWorkflowRuns(ctx, "o", "r", &github.ListWorkflowRunsOptions{Status: "queued"})
	if err != nil || runs.GetTotalCount() != 1 || runs.WorkflowRuns[0].GetID() != b.RunID ||
		runs.WorkflowRuns[0].GetRepository().GetFullName() != "o/r" {
		t.Fatalf("queued runs = %+v, %v", runs, err)
	}
	jobs, _, err := c.Actions.ListWorkflowJobs(ctx, "o", "r", b.RunID, nil)
	if err != nil || jobs.GetTotalCount() != 1 || jobs.Jobs[0].GetID() != b.ID || jobs.Jobs[0].GetStatus() != "queued" ||
		jobs.Jobs[0].Labels[0] != "linux" {
		t.Fatalf("run jobs = %+v, %v", jobs, err)
	}
	got, _, err := c.Actions.GetWorkflowJobByID(ctx, "o", "r", a.ID)
	if err != nil || got.GetStatus() != "in_progress" || got.GetRunnerName() != "w" || got.GetRunnerGroupName() != "Default" {
		t.Fatalf("job = %+v, %v", got, err)
	}
	if _, _, err := c.Actions.GetWorkflowJobByID(ctx, "o", "other", a.ID); err == nil {
		t.Fatal("job visible from another repository")
	}
	groups, _, err := c.Actions.ListOrganizationRunnerGroups(ctx, "o", nil)
	if err != nil || groups.TotalCount != 1 || groups.RunnerGroups[0].GetID() != 1 || !groups.RunnerGroups[0].GetDefault() {
		t.Fatalf("runner groups = %+v, %v", groups, err)
	}
	tok, resp, err := c.Actions.CreateRegistrationToken(ctx, "o", "r")
	if err != nil || resp.StatusCode != 201 || tok.GetToken() == "" || tok.GetExpiresAt().Before(time.Now()) {
		t.Fatalf("registration token = %+v, %v", tok, err)
	}
	if code := rs.complete(a.ID, "success"); code != http.StatusNoContent {
		t.Fatalf("complete = %d", code)
	}
	// WaitJobs wakes on changes made elsewhere.
	ctx2, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	go func() {
		time.Sleep(50 * time.Millisecond)
		_, _ = s.QueueJob(forgesim.JobSpec{Repo: "o/r", Labels: []string{"late"}})
	}()
	if err := s.WaitJobs(ctx2, func(js []forgesim.Job) bool { return len(js) == 3 && js[0].Conclusion == "success" }); err != nil {
		t.Fatal(err)
	}
}

func TestControlAPIOverHTTP(t *testing.T) {
	s, _ := startSim(t, forgesim.Options{})
	var j forgesim.Job
	spec := forgesim.JobSpec{Repo: "o/r", Labels: []string{"linux"}, Duration: 1500 * time.Millisecond, Command: "true"}
	if r := rawCall(t, "POST", s.URL()+"_sim/jobs", "", spec, &j); r.StatusCode != 201 || j.ID == 0 ||
		j.Duration != 1500*time.Millisecond || j.Status != "queued" {
		t.Fatalf("POST /_sim/jobs: %d %+v", r.StatusCode, j)
	}
	bad := map[string]any{"repo": "o/r", "labels": []string{"x"}, "duration": "forever"}
	if r := rawCall(t, "POST", s.URL()+"_sim/jobs", "", bad, nil); r.StatusCode != 400 {
		t.Fatalf("bad duration: %d", r.StatusCode)
	}
	if r := rawCall(t, "POST", s.URL()+"_sim/jobs", "", map[string]any{"repo": "o/r"}, nil); r.StatusCode != 422 {
		t.Fatalf("no labels: %d", r.StatusCode)
	}
	var jobs []forgesim.Job
	rawCall(t, "GET", s.URL()+"_sim/jobs", "", nil, &jobs)
	if len(jobs) != 1 || jobs[0].ID != j.ID {
		t.Fatalf("GET /_sim/jobs = %+v", jobs)
	}
	rawCall(t, "GET", s.URL()+"repos/o/r/actions/runs?status=queued", "t", nil, nil)
	var st struct {
		Stats forgesim.Stats `json:"stats"`
	}
	rawCall(t, "GET", s.URL()+"_sim/stats", "", nil, &st)
	if st.Stats.Calls("GET /repos/{owner}/{repo}/actions/runs") != 1 {
		t.Fatalf("stats = %+v", st.Stats)
	}
}
