package api

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestAuth(t *testing.T) {
	h := newHarness(t, nil)
	for _, tc := range []struct {
		name, auth string
		want       int
	}{
		{"missing", "", 401},
		{"wrong scheme", "Basic " + testToken, 401},
		{"wrong token", "Bearer nope", 401},
		{"prefix of token", "Bearer " + testToken[:4], 401},
		{"right", "Bearer " + testToken, 200},
	} {
		code, body := h.callAuth("GET", "/api/v1/forges", nil, tc.auth)
		if code != tc.want {
			t.Errorf("%s: status %d, want %d (%s)", tc.name, code, tc.want, body)
		}
		if code == 401 && !strings.Contains(body, `"error"`) {
			t.Errorf("%s: 401 body is not a JSON error: %s", tc.name, body)
		}
	}
}

func TestNoAdminTokenRefusesEverything(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.AdminToken = "" })
	// An empty bearer must not match an empty configured token.
	for _, auth := range []string{"", "Bearer ", "Bearer x"} {
		if code, _ := h.callAuth("GET", "/api/v1/forges", nil, auth); code != 401 {
			t.Errorf("auth %q: status %d, want 401", auth, code)
		}
	}
}

func TestHealthzNeedsNoAuth(t *testing.T) {
	var ready error
	h := newHarness(t, func(o *Options) { o.Ready = func() error { return ready } })
	code, body := h.callAuth("GET", "/healthz", nil, "")
	if code != 200 || !strings.Contains(body, `"ok"`) {
		t.Fatalf("healthz: %d %s", code, body)
	}
	ready = errors.New("store unreachable")
	code, body = h.callAuth("GET", "/healthz", nil, "")
	if code != 503 || !strings.Contains(body, "store unreachable") {
		t.Fatalf("healthz not ready: %d %s", code, body)
	}
}

func TestMountBypassesAdminAuth(t *testing.T) {
	h := newHarness(t, func(o *Options) {
		o.Mount = map[string]http.Handler{
			"/webhooks/": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, "hook "+r.URL.Path)
			}),
			"/api/v1/callbacks/": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, "callback")
			}),
		}
	})
	if code, body := h.callAuth("POST", "/webhooks/github", "{}", ""); code != 200 || body != "hook /webhooks/github" {
		t.Fatalf("webhook mount: %d %q", code, body)
	}
	if code, body := h.callAuth("POST", "/api/v1/callbacks/status", "{}", ""); code != 200 || body != "callback" {
		t.Fatalf("callback mount: %d %q", code, body)
	}
	// The rest of /api/v1 still needs the token.
	if code, _ := h.callAuth("GET", "/api/v1/pools", nil, ""); code != 401 {
		t.Fatalf("pools without token: %d", code)
	}
}

func TestUnknownEndpointIsJSON404(t *testing.T) {
	h := newHarness(t, nil)
	h.wantError(404, "GET", "/api/v1/nothing", nil, "no such endpoint")
}

func TestMalformedBodies(t *testing.T) {
	h := newHarness(t, nil)
	h.wantError(400, "POST", "/api/v1/forges", "", "empty")
	h.wantError(400, "POST", "/api/v1/forges", `{"name": "x",`, "malformed JSON")
	h.wantError(400, "POST", "/api/v1/forges", `{"name": "x"} {}`, "after the JSON object")
	h.wantError(400, "POST", "/api/v1/forges", `{"nmae": "x"}`, `unknown field "nmae"`)
	h.wantError(400, "POST", "/api/v1/pools", `{"max_runners": "ten"}`, `"max_runners"`)
	h.wantError(400, "POST", "/api/v1/pools", `[1]`, "JSON object")
	if n := h.notify.Load(); n != 0 {
		t.Fatalf("Notify called %d times for rejected requests", n)
	}
}

func TestInstances(t *testing.T) {
	h := newHarness(t, nil)
	h.seed()
	ctx := context.Background()
	pool := h.pool("linux")
	for _, name := range []string{"linux-a", "linux-b"} {
		in := instance(pool.ID, name)
		if err := h.st.CreateInstance(ctx, &in); err != nil {
			t.Fatal(err)
		}
	}
	var list []InstanceView
	h.must(200, "GET", "/api/v1/instances?pool=linux", nil, &list)
	if len(list) != 2 || list[0].Pool != "linux" {
		t.Fatalf("list by pool: %+v", list)
	}
	h.must(200, "GET", "/api/v1/instances?state=running", nil, &list)
	if len(list) != 0 {
		t.Fatalf("state=running should match none, got %d", len(list))
	}
	h.must(200, "GET", "/api/v1/instances?state=running&state=pending_create", nil, &list)
	if len(list) != 2 {
		t.Fatalf("repeated state: got %d", len(list))
	}
	h.wantError(400, "GET", "/api/v1/instances?state=bogus", nil, "bogus", "pending_create")
	h.wantError(404, "GET", "/api/v1/instances?pool=nope", nil, `pool "nope" not found`)

	var one InstanceView
	h.must(200, "GET", "/api/v1/instances/linux-a", nil, &one)
	if one.Name != "linux-a" {
		t.Fatalf("show: %+v", one)
	}
	h.must(202, "DELETE", "/api/v1/instances/"+one.ID, nil, nil)
	h.mu.Lock()
	got := strings.Join(h.deleted, ",")
	h.mu.Unlock()
	if got != "linux-a" {
		t.Fatalf("DeleteInstance got %q, want the instance name even when asked by id", got)
	}
	h.wantError(404, "DELETE", "/api/v1/instances/ghost", nil, `instance "ghost" not found`)

	// A pool with live instances cannot go, and the answer names them.
	h.wantError(409, "DELETE", "/api/v1/pools/linux", nil, "linux-a", "linux-b")
}

func TestDeleteInstanceUnavailable(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.DeleteInstance = nil })
	h.seed()
	in := instance(h.pool("linux").ID, "linux-a")
	if err := h.st.CreateInstance(context.Background(), &in); err != nil {
		t.Fatal(err)
	}
	h.wantError(501, "DELETE", "/api/v1/instances/linux-a", nil, "not available")
}

func TestDeleteInstanceError(t *testing.T) {
	h := newHarness(t, func(o *Options) {
		o.DeleteInstance = func(context.Context, string) error { return errors.New("controller exploded: db path /secret") }
	})
	h.seed()
	in := instance(h.pool("linux").ID, "linux-a")
	if err := h.st.CreateInstance(context.Background(), &in); err != nil {
		t.Fatal(err)
	}
	code, body := h.call("DELETE", "/api/v1/instances/linux-a", nil)
	if code != 500 || strings.Contains(body, "/secret") {
		t.Fatalf("internal errors must be 500 without details: %d %s", code, body)
	}
}
