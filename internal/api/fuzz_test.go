package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/paddock-ci/paddock/internal/config"
	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/metrics"
	"github.com/paddock-ci/paddock/internal/store"
)

// fuzzServer is the API on a private store with forge "github", entity
// "acme/app" and pool "linux".
type fuzzServer struct {
	h    http.Handler
	st   store.Store
	pool core.Pool
}

func newFuzzServer(t *testing.T) *fuzzServer {
	st := newStore(t)
	s := &fuzzServer{st: st, h: New(Options{Store: st, Metrics: metrics.New(), AdminToken: testToken,
		Providers: []string{"local"}, Notify: func() {}})}
	for _, c := range []struct {
		path string
		body string
	}{
		{"/api/v1/forges", `{"name":"github","kind":"github","credential":{"kind":"pat","token":"t"}}`},
		{"/api/v1/entities", `{"forge":"github","name":"acme/app"}`},
		{"/api/v1/pools", `{"name":"linux","entity":"acme/app","provider":"local","labels":["linux"],"max_runners":4}`},
	} {
		if code, body := s.do("POST", c.path, c.body); code != 201 {
			t.Fatalf("seed %s: %d %s", c.path, code, body)
		}
	}
	var err error
	if s.pool, err = st.GetPool(context.Background(), "linux"); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *fuzzServer) do(method, path, body string) (int, string) {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testToken)
	rec := httptest.NewRecorder()
	s.h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

// configAccepts renders a stored pool (and its entity) as a config file and
// reports what the config loader says about it.
func configAccepts(t *testing.T, p core.Pool, e core.Entity) error {
	t.Helper()
	pool := map[string]any{"name": p.Name, "entity": e.Name, "provider": p.Provider, "labels": p.Labels,
		"image": p.Image, "flavor": p.Flavor, "os_type": p.OSType, "arch": p.Arch, "min_idle": p.MinIdle,
		"max_runners": p.MaxRunners, "free_target_percent": p.FreeTargetPercent, "priority": p.Priority,
		"bootstrap_timeout": p.BootstrapTimeout.String(), "max_job_runtime": p.MaxJobRuntime.String(),
		"runner_group": p.RunnerGroup, "runner_prefix": p.RunnerPrefix, "enabled": p.Enabled}
	if z := p.Sizes; z != nil {
		pool["sizes"] = map[string]any{"max_cpu": z.MaxCPU, "max_memory_gb": z.MaxMemoryGB, "max_disk_gb": z.MaxDiskGB}
	}
	doc := map[string]any{
		"server":    map[string]any{"admin_token": strings.Repeat("a", 32)},
		"store":     map[string]any{"encryption_key": strings.Repeat("ab", 32)},
		"providers": []any{map[string]any{"name": "local", "type": "process"}},
		"forges": []any{map[string]any{"name": "github", "kind": "github", "webhook_secret": "s",
			"credential": map[string]any{"kind": "pat", "token": "t"}}},
		"entities": []any{map[string]any{"forge": "github", "kind": string(e.Kind), "name": e.Name, "intake": string(e.Intake)}},
		"pools":    []any{pool},
	}
	src, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	_, err = config.Parse(src, "fuzz.yaml", "")
	return err
}

var poolSeeds = []string{
	`{"name":"p","entity":"acme/app","provider":"local","labels":["a"]}`,
	`{"name":"p","entity":"acme/app","provider":"local","labels":["a"],"max_job_runtime":0,"enabled":false}`,
	`{"name":"p","entity":"acme/app","provider":"local","labels":["a"],"min_idle":1000000000,"max_runners":1000000000}`,
	`{"name":"p","entity":"acme/app","provider":"local","labels":["a"],"min_idle":9223372036854775807,"max_runners":9223372036854775807}`,
	`{"name":"p","entity":"acme/app","provider":"local","labels":["a"],"runner_prefix":"../../tmp/evil"}`,
	`{"name":"p","entity":"acme/app","provider":"local","labels":["a"],"runner_prefix":"x;$(id)"}`,
	`{"name":"p","entity":"acme/app","provider":"local","labels":["a"],"runner_prefix":"UPPER"}`,
	`{"name":"p","entity":"acme/app","provider":"local","labels":["a"],"runner_prefix":"has space"}`,
	`{"name":"p","entity":"acme/app","provider":"local","labels":["a"],"os_type":"plan9","arch":"sparc"}`,
	`{"name":"p","entity":"acme/app","provider":"local","labels":["a"],"bootstrap_timeout":1,"max_job_runtime":"1ns"}`,
	`{"name":"p","entity":"acme/app","provider":"local","labels":["a","A"],"sizes":{"max_cpu":-1}}`,
	`{"name":"p","entity":"acme/app","provider":"local","labels":["a\n"],"image":"i\u0000","free_target_percent":101}`,
	`{"name":"../p","entity":"acme/app","provider":"local","labels":[]}`,
	`{"name":"p","entity":"acme/app","provider":"local","labels":["a"],"bootstrap_timeout":"-5m","max_job_runtime":"9999999h"}`,
	`{"enabled":false}`, `{"min_idle":3}`, `{"max_runners":0}`, `{"labels":null}`, `{"sizes":{"max_cpu":2,"max_memory_gb":4}}`,
	`null`, `[]`, `{"name":1}`, `{}`, `{"priority":-9223372036854775808}`,
}

// FuzzPoolCreate: no body crashes the API (no 5xx), and a pool it stores is
// one the config file accepts too.
func FuzzPoolCreate(f *testing.F) {
	for _, s := range poolSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		s := newFuzzServer(t)
		code, resp := s.do("POST", "/api/v1/pools", body)
		if code >= 500 {
			t.Fatalf("status %d for %q: %s", code, body, resp)
		}
		if code != http.StatusCreated {
			return
		}
		var v PoolView
		if err := json.Unmarshal([]byte(resp), &v); err != nil {
			t.Fatal(err)
		}
		p, err := s.st.GetPool(context.Background(), v.ID)
		if err != nil {
			t.Fatal(err)
		}
		e, _ := s.st.GetEntity(context.Background(), p.EntityID)
		if err := configAccepts(t, p, e); err != nil {
			t.Fatalf("API stored a pool the config file refuses (body %q):\n%v", body, err)
		}
	})
}

// FuzzPoolPatch: likewise for a PATCH of a valid pool.
func FuzzPoolPatch(f *testing.F) {
	for _, s := range poolSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		s := newFuzzServer(t)
		code, resp := s.do("PATCH", "/api/v1/pools/linux", body)
		if code >= 500 {
			t.Fatalf("status %d for %q: %s", code, body, resp)
		}
		p, err := s.st.GetPool(context.Background(), s.pool.ID)
		if err != nil {
			t.Fatal(err)
		}
		if code != http.StatusOK {
			if p.UpdatedAt != s.pool.UpdatedAt {
				t.Fatalf("refused patch (%d) was written: %q", code, body)
			}
			return
		}
		e, _ := s.st.GetEntity(context.Background(), p.EntityID)
		if err := configAccepts(t, p, e); err != nil {
			t.Fatalf("API stored a pool the config file refuses (body %q):\n%v", body, err)
		}
	})
}

// FuzzEntityCreate: an entity the API stores is one the config file accepts.
func FuzzEntityCreate(f *testing.F) {
	for _, name := range []string{"acme/lib", "acme", "../../etc/passwd", "acme/a b", "acme/x;$(id)", "-acme", "ac.me/app",
		"acme/..", "a/b/c", strings.Repeat("o", 40), "acme/" + strings.Repeat("r", 101), "Ünï/côde", "acme/app.git", ""} {
		b, _ := json.Marshal(map[string]any{"forge": "github", "name": name})
		f.Add(string(b))
	}
	f.Add(`{"forge":"github","name":"ent","kind":"enterprise","intake":"poll"}`)
	f.Add(`{"forge":"github","name":"acme","kind":"repository"}`)
	f.Add(`{"forge":"github","name":"acme/x","intake":"carrier-pigeon"}`)
	f.Fuzz(func(t *testing.T, body string) {
		s := newFuzzServer(t)
		code, resp := s.do("POST", "/api/v1/entities", body)
		if code >= 500 {
			t.Fatalf("status %d for %q: %s", code, body, resp)
		}
		if code != http.StatusCreated {
			return
		}
		var v EntityView
		if err := json.Unmarshal([]byte(resp), &v); err != nil {
			t.Fatal(err)
		}
		if err := configAccepts(t, s.pool, v.Entity); err != nil {
			t.Fatalf("API stored an entity the config file refuses (body %q):\n%v", body, err)
		}
	})
}
