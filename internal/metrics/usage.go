package metrics

import "github.com/prometheus/client_golang/prometheus"

// UsageMetrics count what removed machines used and cost (docs/sharing.md,
// "Cost accounting"), so a dashboard can rate them per tenant and pool.
type UsageMetrics struct {
	// MachineSeconds by tenant, pool and phase (boot, wait, run, overhead).
	MachineSeconds *prometheus.CounterVec
	// Cost by tenant and pool, in the price table's currency.
	Cost *prometheus.CounterVec
	// ReferenceCost: what the same jobs would have cost on the reference runners.
	ReferenceCost *prometheus.CounterVec
	// MissingPrice counts machines removed with no price for their provider
	// and flavor (their cost is unknown, not 0).
	MissingPrice *prometheus.CounterVec
}

func newUsage(reg *prometheus.Registry) *UsageMetrics {
	u := &UsageMetrics{
		MachineSeconds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paddock_usage_machine_seconds_total",
			Help: "Machine time of removed machines by tenant, pool and phase (boot, wait, run, overhead).",
		}, []string{"tenant", "pool", "phase"}),
		Cost: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paddock_usage_cost_total",
			Help: "Cost of removed machines by tenant and pool, in the price table's currency.",
		}, []string{"tenant", "pool"}),
		ReferenceCost: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paddock_usage_reference_cost_total",
			Help: "What the jobs of removed machines would have cost at the reference (hosted runner) prices.",
		}, []string{"tenant", "pool"}),
		MissingPrice: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paddock_usage_missing_price_total",
			Help: "Removed machines whose provider and flavor have no price (cost unknown, not 0).",
		}, []string{"provider", "flavor"}),
	}
	reg.MustRegister(u.MachineSeconds, u.Cost, u.ReferenceCost, u.MissingPrice)
	return u
}
