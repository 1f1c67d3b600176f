package api

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// With several replicas, /healthz names this replica's role and epoch, and
// says unavailable (503, role still shown) while it cannot reach the
// database, so a load balancer stops sending it work.
func TestHealthzShowsRole(t *testing.T) {
	var down error
	h := newHarness(t, func(o *Options) {
		o.Role = func() (string, int64) { return "follower", 7 }
		o.Ready = func() error { return down }
		o.Replicas = func(context.Context) (any, error) { return []map[string]string{{"name": "r1"}}, nil }
	})
	var ok map[string]any
	h.must(200, "GET", "/healthz", nil, &ok)
	if ok["role"] != "follower" || ok["epoch"] != float64(7) || ok["status"] != "ok" {
		t.Fatalf("healthz: %v", ok)
	}
	down = errors.New("database unreachable: last heartbeat 12s ago")
	var bad map[string]any
	h.must(503, "GET", "/healthz", nil, &bad)
	if bad["role"] != "follower" || bad["status"] != "unavailable" || !strings.Contains(bad["error"].(string), "unreachable") {
		t.Fatalf("healthz while cut off: %v", bad)
	}
	if body := h.must(200, "GET", "/api/v1/replicas", nil, nil); !strings.Contains(body, `"r1"`) {
		t.Fatalf("replicas: %s", body)
	}
}
