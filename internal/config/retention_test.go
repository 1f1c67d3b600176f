package config

import (
	"strings"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
)

func TestRetentionDefaultsAndValues(t *testing.T) {
	setBaseEnv(t)
	c := mustParse(t, minimal)
	r := c.Controller.Retention
	if r.Jobs != core.DefaultJobRetention || r.DeletedInstances != core.DefaultInstanceRetention || r.Deliveries != core.DefaultDeliveryRetention {
		t.Fatalf("defaults: %+v", r)
	}
	c = mustParse(t, minimal+"controller:\n  retention: {jobs: 720h, deleted_instances: 500h, deliveries: 2h}\n")
	r = c.Controller.Retention
	if r.Jobs != 720*time.Hour || r.DeletedInstances != 500*time.Hour || r.Deliveries != 2*time.Hour {
		t.Fatalf("given values: %+v", r)
	}
}

func TestRetentionBelowFloor(t *testing.T) {
	setBaseEnv(t)
	for _, tc := range []struct{ src, want string }{
		{"  retention: {jobs: 24h}\n", "paddock.yaml:9: controller.retention.jobs: must be at least 72h0m0s (got 24h0m0s): a finished job's record"},
		{"  retention: {deleted_instances: 1h}\n", "controller.retention.deleted_instances: must be at least 336h0m0s (got 1h0m0s): reconcile proves"},
		{"  retention: {deliveries: 0s}\n", "controller.retention.deliveries: must be at least 1h0m0s"},
		{"  retention: {jobs: -1h}\n", "controller.retention.jobs: must be at least"},
		{"  retention: {job: 100h}\n", `unknown key "job" (did you mean "jobs"?)`},
	} {
		probs := parseErr(t, minimal+"controller:\n"+tc.src)
		var got []string
		found := false
		for _, p := range probs {
			got = append(got, p.String())
			found = found || strings.Contains(p.String(), tc.want)
		}
		if !found {
			t.Errorf("%s: no problem contains %q; got:\n%s", tc.src, tc.want, strings.Join(got, "\n"))
		}
	}
}
