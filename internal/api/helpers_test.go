package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/metrics"
	"github.com/paddock-ci/paddock/internal/secretbox"
	"github.com/paddock-ci/paddock/internal/store"
	"github.com/paddock-ci/paddock/internal/store/sqlite"
)

const testToken = "test-admin-token"

type harness struct {
	t       *testing.T
	srv     *httptest.Server
	st      store.Store
	notify  atomic.Int32
	mu      sync.Mutex
	deleted []string // names passed to DeleteInstance
	// bodies collects every response body, for the redaction check.
	bodies []string
}

func newStore(t *testing.T) store.Store {
	t.Helper()
	box, err := secretbox.New(bytes.Repeat([]byte{7}, secretbox.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(context.Background(), ":memory:", box)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func newHarness(t *testing.T, tweak func(*Options)) *harness {
	t.Helper()
	h := &harness{t: t, st: newStore(t)}
	opts := Options{
		Store:      h.st,
		Metrics:    metrics.New(),
		AdminToken: testToken,
		Notify:     func() { h.notify.Add(1) },
		DeleteInstance: func(_ context.Context, name string) error {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.deleted = append(h.deleted, name)
			return nil
		},
	}
	if tweak != nil {
		tweak(&opts)
	}
	h.srv = httptest.NewServer(New(opts))
	t.Cleanup(h.srv.Close)
	return h
}

// call sends body (a string is sent verbatim, anything else as JSON) with the admin token.
func (h *harness) call(method, path string, body any) (int, string) {
	return h.callAuth(method, path, body, "Bearer "+testToken)
}

func (h *harness) callAuth(method, path string, body any, auth string) (int, string) {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, h.srv.URL+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	h.bodies = append(h.bodies, string(data))
	return resp.StatusCode, string(data)
}

// must calls and fails the test unless the status matches; it decodes into out if non-nil.
func (h *harness) must(want int, method, path string, body, out any) string {
	h.t.Helper()
	code, resp := h.call(method, path, body)
	if code != want {
		h.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, code, want, resp)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(resp), out); err != nil {
			h.t.Fatalf("%s %s: decode %s: %v", method, path, resp, err)
		}
	}
	return resp
}

// wantError asserts an error status and that the message mentions each of subs.
func (h *harness) wantError(code int, method, path string, body any, subs ...string) {
	h.t.Helper()
	got, resp := h.call(method, path, body)
	if got != code {
		h.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, got, code, resp)
	}
	var e Error
	if err := json.Unmarshal([]byte(resp), &e); err != nil || e.Error == "" {
		h.t.Fatalf("%s %s: error body not {\"error\":…}: %s", method, path, resp)
	}
	for _, s := range subs {
		if !strings.Contains(e.Error, s) {
			h.t.Errorf("%s %s: error %q does not mention %q", method, path, e.Error, s)
		}
	}
}

// seed creates a forge "github", entity "acme/app" and pool "linux".
func (h *harness) seed() {
	h.t.Helper()
	h.must(201, "POST", "/api/v1/forges", map[string]any{
		"name": "github", "kind": "github",
		"credential": map[string]any{"kind": "pat", "token": "ghp_supersecret"},
	}, nil)
	h.must(201, "POST", "/api/v1/entities", map[string]any{"forge": "github", "name": "acme/app"}, nil)
	h.must(201, "POST", "/api/v1/pools", map[string]any{
		"name": "linux", "entity": "acme/app", "provider": "local", "labels": []string{"linux", "x64"},
		"max_runners": 4,
	}, nil)
}

func (h *harness) pool(ref string) core.Pool {
	h.t.Helper()
	p, err := h.st.GetPool(context.Background(), ref)
	if err != nil {
		h.t.Fatal(err)
	}
	return p
}
