package github

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
)

func TestJITConfigAtEveryLevel(t *testing.T) {
	for _, tc := range []struct {
		ent  core.Entity
		path string
	}{
		{repoEnt, "/repos/octo/hello/actions/runners/generate-jitconfig"},
		{orgEnt, "/orgs/octo/actions/runners/generate-jitconfig"},
		{enterEnt, "/enterprises/acme/actions/runners/generate-jitconfig"},
	} {
		c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPost || r.URL.Path != tc.path {
				t.Errorf("%s %s", r.Method, r.URL.Path)
			}
			var body map[string]any
			if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
				t.Error(err)
			}
			if body["name"] != "pool-1" || body["runner_group_id"] != float64(1) || body["work_folder"] != "_w" {
				t.Errorf("body %v", body)
			}
			writeJSON(w, 201, `{"runner":{"id":77,"name":"pool-1"},"encoded_jit_config":"abc=="}`)
		}, nil)
		cfg, err := c.JITConfig(context.Background(), tc.ent, forge.JITRequest{Name: "pool-1", Labels: []string{"self-hosted"}, WorkFolder: "_w"})
		if err != nil || cfg.RunnerID != 77 || cfg.Encoded != "abc==" {
			t.Fatalf("%s: cfg=%+v err=%v", tc.ent.Kind, cfg, err)
		}
	}
}

// fakeRunners is a tiny runner registry that answers 409 for taken names.
type fakeRunners struct {
	mu      sync.Mutex
	byName  map[string]int64
	busy    map[int64]bool
	nextID  int64
	deleted []int64
}

func (f *fakeRunners) handler(t *testing.T) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		switch {
		case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/generate-jitconfig"):
			b, _ := io.ReadAll(r.Body)
			var req struct{ Name string }
			_ = json.Unmarshal(b, &req)
			if _, taken := f.byName[req.Name]; taken {
				writeJSON(w, 409, `{"message":"Already exists - A runner with the name `+req.Name+` already exists."}`)
				return
			}
			f.nextID++
			f.byName[req.Name] = f.nextID
			out, _ := json.Marshal(map[string]any{"runner": map[string]any{"id": f.nextID, "name": req.Name}, "encoded_jit_config": "enc"})
			writeJSON(w, 201, string(out))
		case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/actions/runners"):
			name := r.URL.Query().Get("name")
			var runners []map[string]any
			for n, id := range f.byName {
				if name == "" || n == name {
					runners = append(runners, map[string]any{"id": id, "name": n, "status": "offline", "busy": f.busy[id], "labels": []any{}})
				}
			}
			out, _ := json.Marshal(map[string]any{"total_count": len(runners), "runners": runners})
			writeJSON(w, 200, string(out))
		case r.Method == http.MethodDelete:
			var id int64
			for n, rid := range f.byName {
				if strings.HasSuffix(r.URL.Path, "/"+itoa(rid)) {
					id = rid
					delete(f.byName, n)
				}
			}
			f.deleted = append(f.deleted, id)
			w.WriteHeader(204)
		default:
			t.Errorf("unexpected %s %s", r.Method, r.URL)
		}
	}
}

func itoa(i int64) string { b, _ := json.Marshal(i); return string(b) }

func TestJITConfigReclaimsStaleName(t *testing.T) {
	f := &fakeRunners{byName: map[string]int64{"inst-1": 5}, busy: map[int64]bool{}, nextID: 5}
	c := newTestClient(t, f.handler(t), nil)
	cfg, err := c.JITConfig(context.Background(), orgEnt, forge.JITRequest{Name: "inst-1", Labels: []string{"l"}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RunnerID != 6 || len(f.deleted) != 1 || f.deleted[0] != 5 {
		t.Fatalf("cfg=%+v deleted=%v", cfg, f.deleted)
	}
}

func TestJITConfigLeavesBusyRunnerAlone(t *testing.T) {
	f := &fakeRunners{byName: map[string]int64{"inst-1": 5}, busy: map[int64]bool{5: true}, nextID: 5}
	c := newTestClient(t, f.handler(t), nil)
	_, err := c.JITConfig(context.Background(), repoEnt, forge.JITRequest{Name: "inst-1", Labels: []string{"l"}})
	if !errors.Is(err, forge.ErrRunnerBusy) || len(f.deleted) != 0 {
		t.Fatalf("err=%v deleted=%v", err, f.deleted)
	}
}

func TestListQueuedJobsRepository(t *testing.T) {
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/repos/octo/hello/actions/runs":
			if r.URL.Query().Get("status") == "queued" {
				writeJSON(w, 200, `{"total_count":1,"workflow_runs":[{"id":10}]}`)
			} else {
				// run 10 moved to in_progress between listings: must not be scanned twice
				writeJSON(w, 200, `{"total_count":2,"workflow_runs":[{"id":10},{"id":11}]}`)
			}
		case "/repos/octo/hello/actions/runs/10/jobs":
			writeJSON(w, 200, `{"total_count":2,"jobs":[
				{"id":100,"run_id":10,"run_attempt":1,"status":"queued","name":"build","workflow_name":"CI","labels":["self-hosted","linux"],"created_at":"2024-05-01T10:00:00Z"},
				{"id":101,"run_id":10,"status":"in_progress","labels":["x"]}]}`)
		case "/repos/octo/hello/actions/runs/11/jobs":
			writeJSON(w, 200, `{"total_count":1,"jobs":[{"id":110,"run_id":11,"status":"queued","labels":["gpu"]}]}`)
		default:
			t.Errorf("unexpected %s", r.URL)
		}
	}, nil)
	jobs, err := c.ListQueuedJobs(context.Background(), repoEnt)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 2 {
		t.Fatalf("jobs = %+v", jobs)
	}
	j := jobs[0]
	if j.ID != 100 || j.RunID != 10 || j.Repository != "octo/hello" || j.Workflow != "CI" || j.State != core.JobQueued ||
		len(j.Labels) != 2 || j.QueuedAt.IsZero() || jobs[1].ID != 110 {
		t.Fatalf("jobs = %+v", jobs)
	}
	if _, err := c.ListQueuedJobs(context.Background(), orgEnt); err == nil || !strings.Contains(err.Error(), "repository entities") {
		t.Fatalf("org polling: %v", err)
	}
}

func TestRunnerGroupID(t *testing.T) {
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/orgs/octo/actions/runner-groups":
			writeJSON(w, 200, `{"total_count":2,"runner_groups":[{"id":1,"name":"Default"},{"id":4,"name":"gpu"}]}`)
		case "/enterprises/acme/actions/runner-groups":
			writeJSON(w, 200, `{"total_count":1,"runner_groups":[{"id":9,"name":"big"}]}`)
		default:
			t.Errorf("unexpected %s", r.URL)
		}
	}, nil)
	ctx := context.Background()
	for _, tc := range []struct {
		ent  core.Entity
		name string
		want int64
		ok   bool
	}{
		{repoEnt, "", 1, true}, {orgEnt, "gpu", 4, true}, {enterEnt, "big", 9, true},
		{orgEnt, "missing", 0, false}, {repoEnt, "gpu", 0, false},
	} {
		got, err := c.RunnerGroupID(ctx, tc.ent, tc.name)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("%s %q: got %d, %v", tc.ent.Kind, tc.name, got, err)
		}
	}
}
