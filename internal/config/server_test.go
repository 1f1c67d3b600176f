package config

import (
	"strings"
	"testing"
	"time"
)

func TestShortTokensRefused(t *testing.T) {
	setBaseEnv(t)
	t.Setenv("T_SHORT", "x")
	for _, tc := range []struct{ name, src, want string }{
		{"one-character admin token", strings.Replace(minimal, "env:T_ADMIN", "env:T_SHORT", 1),
			"paddock.yaml:2: server.admin_token: is 1 characters; at least 32 are required (generate one with: openssl rand -hex 32)"},
		{"short metrics token", strings.Replace(minimal, "server:\n", "server:\n  metrics_token: env:T_SHORT\n", 1),
			"server.metrics_token: is 1 characters; at least 32 are required"},
		{"metrics token and public", strings.Replace(minimal, "server:\n", "server:\n  metrics_token: env:T_ADMIN\n  metrics_public: true\n", 1),
			"server.metrics_token: has no effect with metrics_public: true"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			probs := parseErr(t, tc.src)
			if len(probs) != 1 || !strings.Contains(probs[0].String(), tc.want) {
				t.Fatalf("problems = %v, want one containing %q", probs, tc.want)
			}
		})
	}
}

func TestServerLimits(t *testing.T) {
	setBaseEnv(t)
	c := mustParse(t, strings.Replace(minimal, "server:\n", "server:\n  limits:\n    max_connections: 100\n    read_header_timeout: 2s\n    webhook_max_body_mb: 10\n", 1))
	l := c.Server.Limits
	if l.MaxConnections != 100 || l.ReadHeaderTimeout != 2*time.Second || l.WebhookMaxBodyMB != 10 || l.UnauthenticatedMemoryMB != DefaultUnauthenticatedMemoryMB {
		t.Fatalf("limits = %+v", l)
	}
	for _, tc := range []struct{ name, limits, want string }{
		{"too few connections", "max_connections: 3", "server.limits.max_connections: must be ≥ 16"},
		{"timeout too short", "idle_timeout: 10ms", "server.limits.idle_timeout: must be at least 1s"},
		{"budget below one webhook", "unauthenticated_memory_mb: 40", "server.limits.unauthenticated_memory_mb: (40) must be at least twice webhook_max_body_mb (25)"},
		{"unknown key", "max_conns: 5", `server.limits: unknown key "max_conns"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			probs := parseErr(t, strings.Replace(minimal, "server:\n", "server:\n  limits: {"+tc.limits+"}\n", 1))
			if len(probs) != 1 || !strings.Contains(probs[0].String(), tc.want) {
				t.Fatalf("problems = %v, want one containing %q", probs, tc.want)
			}
		})
	}
}
