package config

import (
	"time"

	"github.com/paddock-ci/paddock/internal/core"
)

// retention checks controller.retention: each horizon, if given, must be at
// least its floor (see core's Retention constants for why each floor is what
// it is).
func (v *validator) retention() {
	r := v.c.Controller.Retention
	for _, k := range []struct {
		key   string
		d     time.Duration
		floor time.Duration
		why   string
	}{
		{"jobs", r.Jobs, core.MinJobRetention,
			"a finished job's record is what keeps a redelivered \"queued\" webhook (GitHub allows 3 days) from starting a machine"},
		{"deleted_instances", r.DeletedInstances, core.MinInstanceRetention,
			"reconcile proves a forge runner is Paddock's by its instance name, and GitHub keeps an offline runner registration up to 14 days"},
		{"deliveries", r.Deliveries, core.MinDeliveryRetention, "shorter windows stop repeated deliveries being recognised"},
	} {
		path := "controller.retention." + k.key
		if v.p.set[path] && k.d < k.floor {
			v.p.at(path, "must be at least %s (got %s): %s", k.floor, k.d, k.why)
		}
	}
}
