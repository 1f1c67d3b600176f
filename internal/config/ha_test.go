package config

import (
	"strings"
	"testing"
	"time"
)

func TestHAConfig(t *testing.T) {
	setBaseEnv(t)
	t.Setenv("T_DSN", "postgres://paddock@127.0.0.1:5432/paddock?sslmode=disable")
	pg := strings.Replace(minimal, "store:\n", "store:\n  driver: postgres\n  dsn: env:T_DSN\n", 1)
	c := mustParse(t, pg)
	if c.HA.Lease != DefaultHALease || DefaultHALease > 15*time.Second {
		t.Fatalf("default lease %s", c.HA.Lease)
	}
	c = mustParse(t, pg+"ha: {lease: 3s, replica_name: node-2}\n")
	if c.HA.Lease != 3*time.Second || c.HA.ReplicaName != "node-2" {
		t.Fatalf("ha = %+v", c.HA)
	}
	for _, tc := range []struct{ name, src, want string }{
		{"lease too short", pg + "ha: {lease: 200ms}\n", "ha.lease: must be between 1s and 5m0s (got 200ms)"},
		{"lease too long", pg + "ha: {lease: 1h}\n", "ha.lease: must be between 1s and 5m0s (got 1h0m0s)"},
		{"bad replica name", pg + "ha: {replica_name: 'a b'}\n", "ha.replica_name: must be 1-63 letters"},
		{"several replicas on sqlite", minimal + "ha: {lease: 5s}\n", "ha: only with store.driver: postgres; a SQLite store serves exactly one manager"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			probs := parseErr(t, tc.src)
			if len(probs) != 1 || !strings.Contains(probs[0].String(), tc.want) {
				t.Fatalf("problems = %v, want one containing %q", probs, tc.want)
			}
		})
	}
}
