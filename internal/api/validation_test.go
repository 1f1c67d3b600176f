package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/config"
	"github.com/paddock-ci/paddock/internal/core"
)

// send is a concurrency-safe request with extra headers; it returns the
// status, the ETag header and the body.
func (h *harness) send(method, path string, body any, hdr map[string]string) (int, string, string) {
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			panic(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, h.srv.URL+path, rd)
	if err != nil {
		panic(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		return 0, "", err.Error()
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("ETag"), string(data)
}

// A pool the config file accepts (here with max_job_runtime: 0, "no limit")
// can be drained through the API, as the README's procedure says.
func TestConfigPoolCanBePatched(t *testing.T) {
	t.Setenv("T_ADMIN", "admin-token-0123456789abcdef0123456")
	t.Setenv("T_KEY", strings.Repeat("ab", 32))
	cfg, err := config.Parse([]byte(`server: {admin_token: env:T_ADMIN}
store: {encryption_key: env:T_KEY}
providers: [{name: local, type: process}]
pools:
  - {name: cfg, entity: acme/app, provider: local, labels: [linux], max_runners: 3, max_job_runtime: 0}
`), "paddock.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, func(o *Options) { o.Providers = []string{"local"} })
	h.seed()
	e, _ := h.st.GetEntity(context.Background(), "acme/app")
	p := cfg.Pools[0].ToCore(e.ID)
	if err := h.st.CreatePool(context.Background(), &p); err != nil {
		t.Fatal(err)
	}
	var v PoolView
	h.must(200, "PATCH", "/api/v1/pools/cfg", map[string]any{"enabled": false}, &v)
	if v.Enabled || v.MaxJobRuntime != 0 {
		t.Fatalf("after drain: %+v", v)
	}
}

// Everything the config file refuses, the API refuses too, listing every
// field at once; nothing is stored.
func TestPoolCreateRefusesWhatConfigRefuses(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.Providers = []string{"local"} })
	h.seed()
	body := map[string]any{"name": "evil", "entity": "acme/app", "provider": "local", "labels": []string{"a"},
		"min_idle": 1 << 62, "max_runners": 1<<63 - 1, "runner_prefix": "../../tmp/evil", "os_type": "plan9",
		"arch": "sparc", "bootstrap_timeout": 1, "max_job_runtime": "1ns"}
	code, _, resp := h.send("POST", "/api/v1/pools", body, nil)
	if code != 400 {
		t.Fatalf("status %d: %s", code, resp)
	}
	var e Error
	if err := json.Unmarshal([]byte(resp), &e); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, f := range e.Fields {
		got[f.Field] = true
	}
	for _, f := range []string{"max_runners", "runner_prefix", "os_type", "arch", "bootstrap_timeout", "max_job_runtime"} {
		if !got[f] || !strings.Contains(e.Error, f) {
			t.Errorf("field %s not listed: %s", f, resp)
		}
	}
	for _, prefix := range []string{"x;$(id)", "UPPER", "has space", strings.Repeat("a", 53), "9lives"} {
		body := map[string]any{"name": "p", "entity": "acme/app", "provider": "local", "labels": []string{"a"}, "runner_prefix": prefix}
		h.wantError(400, "POST", "/api/v1/pools", body, "runner_prefix")
	}
	if _, err := h.st.GetPool(context.Background(), "evil"); err == nil {
		t.Fatal("refused pool was stored")
	}
}

// A PATCH must not smuggle in what a create refuses.
func TestPoolPatchRefusesHugeCounts(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.Providers = []string{"local"} })
	h.seed()
	h.wantError(400, "PATCH", "/api/v1/pools/linux", map[string]any{"min_idle": 1000000000, "max_runners": 1000000000}, "max_runners", "10000")
	if p := h.pool("linux"); p.MaxRunners != 4 {
		t.Fatalf("refused patch stored: %+v", p)
	}
}

// A pool written by an older version with values refused now can still be
// drained; re-enabling it needs the bad values fixed.
func TestLegacyInvalidPoolCanBeDisabled(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.Providers = []string{"local"} })
	h.seed()
	ctx := context.Background()
	e, _ := h.st.GetEntity(ctx, "acme/app")
	old := core.Pool{Name: "old", EntityID: e.ID, Provider: "local", Labels: []string{"a"}, MinIdle: 1e9, MaxRunners: 1e9,
		RunnerPrefix: "UPPER", OSType: "linux", Arch: "x64", BootstrapTimeout: 1, Enabled: true}
	if err := h.st.CreatePool(ctx, &old); err != nil {
		t.Fatal(err)
	}
	h.wantError(400, "PATCH", "/api/v1/pools/old", map[string]any{"priority": 2}, "max_runners", "runner_prefix", "bootstrap_timeout")
	h.must(200, "PATCH", "/api/v1/pools/old", map[string]any{"enabled": false}, nil)
	// Disabled, but a new problem is still refused.
	h.wantError(400, "PATCH", "/api/v1/pools/old", map[string]any{"arch": "sparc"}, "arch")
	h.wantError(400, "PATCH", "/api/v1/pools/old", map[string]any{"enabled": true}, "max_runners")
	h.must(200, "PATCH", "/api/v1/pools/old", map[string]any{"enabled": true, "min_idle": 1, "max_runners": 10,
		"runner_prefix": "upper", "bootstrap_timeout": "5m"}, nil)

	// An older API stored no runner prefix or image: read as the defaults
	// (as the manager always did), such a pool can be patched while enabled.
	legacy := core.Pool{Name: "legacy", EntityID: e.ID, Provider: "local", Labels: []string{"a"}, MaxRunners: 2,
		OSType: "linux", Arch: "x64", BootstrapTimeout: 20 * time.Minute, MaxJobRuntime: time.Hour, Enabled: true}
	if err := h.st.CreatePool(ctx, &legacy); err != nil {
		t.Fatal(err)
	}
	h.must(200, "PATCH", "/api/v1/pools/legacy", map[string]any{"priority": 1}, nil)
	if p := h.pool("legacy"); p.RunnerPrefix != "paddock" || !p.Enabled {
		t.Fatalf("legacy pool after patch: %+v", p)
	}
}

func TestPoolETagIfMatch(t *testing.T) {
	h := newHarness(t, nil)
	h.seed()
	code, tag, resp := h.send("GET", "/api/v1/pools/linux", nil, nil)
	if code != 200 || !strings.HasPrefix(tag, `"`) {
		t.Fatalf("GET: %d etag %q %s", code, tag, resp)
	}
	code, tag2, resp := h.send("PATCH", "/api/v1/pools/linux", map[string]any{"priority": 1}, map[string]string{"If-Match": tag})
	if code != 200 || tag2 == "" || tag2 == tag {
		t.Fatalf("PATCH with current tag: %d etag %q %s", code, tag2, resp)
	}
	code, _, resp = h.send("PATCH", "/api/v1/pools/linux", map[string]any{"priority": 2}, map[string]string{"If-Match": tag})
	if code != http.StatusPreconditionFailed || !strings.Contains(resp, "changed since you read it") {
		t.Fatalf("PATCH with stale tag: %d %s", code, resp)
	}
	if p := h.pool("linux"); p.Priority != 1 {
		t.Fatalf("stale patch written: priority %d", p.Priority)
	}
	if code, _, resp = h.send("PATCH", "/api/v1/pools/linux", map[string]any{"priority": 3}, map[string]string{"If-Match": `"x", ` + tag2}); code != 200 {
		t.Fatalf("PATCH with a list holding the current tag: %d %s", code, resp)
	}
	if code, _, resp = h.send("PATCH", "/api/v1/pools/linux", map[string]any{"priority": 4}, map[string]string{"If-Match": "*"}); code != 200 {
		t.Fatalf("PATCH with If-Match *: %d %s", code, resp)
	}
}

// Concurrent PATCHes of different fields of one pool, over real HTTP, all land.
func TestConcurrentPoolPatchesAllLand(t *testing.T) {
	h := newHarness(t, nil)
	h.seed()
	for round := range 5 {
		fields := map[string]any{
			"priority": round + 10, "min_idle": round % 3, "free_target_percent": round + 20,
			"runner_group": fmt.Sprint("g", round), "flavor": fmt.Sprint("f", round), "image": fmt.Sprint("i", round),
			"max_job_runtime": fmt.Sprint(round+2, "h"), "bootstrap_timeout": fmt.Sprint(round+11, "m"),
		}
		var wg sync.WaitGroup
		for k, v := range fields {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if code, _, resp := h.send("PATCH", "/api/v1/pools/linux", map[string]any{k: v}, nil); code != 200 {
					t.Errorf("PATCH %s: %d %s", k, code, resp)
				}
			}()
		}
		wg.Wait()
		var got PoolView
		h.must(200, "GET", "/api/v1/pools/linux", nil, &got)
		raw, _ := json.Marshal(got)
		var m map[string]any
		_ = json.Unmarshal(raw, &m)
		for k, v := range fields {
			want := fmt.Sprint(v)
			if d, err := time.ParseDuration(want); err == nil && (k == "max_job_runtime" || k == "bootstrap_timeout") {
				want = d.String()
			}
			if fmt.Sprint(m[k]) != want {
				t.Errorf("round %d: %s = %v, want %v (a concurrent patch was lost)", round, k, m[k], want)
			}
		}
	}
}

func TestEntityNamesTheForgeRefuses(t *testing.T) {
	h := newHarness(t, nil)
	h.seed()
	for _, name := range []string{"../../etc/passwd", "acme/a b", "acme/x;$(id)", "-acme", "ac.me/app", "acme/..", "a/b/c",
		strings.Repeat("o", 40), "acme/" + strings.Repeat("r", 101)} {
		h.wantError(400, "POST", "/api/v1/entities", map[string]any{"forge": "github", "name": name}, "name")
	}
	h.wantError(400, "PATCH", "/api/v1/entities/acme/app", map[string]any{"name": "acme/a b"}, "name")
}
