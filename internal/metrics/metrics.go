// Package metrics holds Paddock's Prometheus collectors in one registry, so
// every component records into the same names and /metrics serves them all.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics is one set of collectors registered on its own registry (tests and
// the demo run several managers in one process, so no global registry).
type Metrics struct {
	Registry *prometheus.Registry

	// JobWait: job queued at the forge (or first seen) → job started on a runner.
	JobWait *prometheus.HistogramVec
	// DispatchLatency: webhook received → provider Create called (the hot path).
	DispatchLatency prometheus.Histogram
	// Instances by pool and state; set from snapshots.
	Instances *prometheus.GaugeVec
	// PoolFailing is 1 while a pool's machine creates keep failing (its creates
	// then back off), else 0; PoolCreateFailures counts its failed creates in a row.
	PoolFailing, PoolCreateFailures *prometheus.GaugeVec
	// ForgeCalls by forge, endpoint (method + path template) and status code ("error" for transport failures).
	ForgeCalls *prometheus.CounterVec
	// ProviderOps: duration of provider calls by provider, op and result (ok|error).
	ProviderOps *prometheus.HistogramVec
	// Webhooks received, by forge kind and outcome (accepted, duplicate, bad_signature, malformed, ignored).
	Webhooks *prometheus.CounterVec
	// RateLimitRemaining as last reported by each forge.
	RateLimitRemaining *prometheus.GaugeVec
	// Polling intake (internal/poller), by forge: budget spent in the last
	// hour and what is left of it, calls by kind (charged, or not_modified:
	// 304s GitHub does not charge), polls by result (ok, not_modified,
	// rate_limited, error) and new queued jobs found.
	PollBudgetUsed, PollBudgetRemaining *prometheus.GaugeVec
	PollCalls, Polls, PollJobsFound     *prometheus.CounterVec
	// Usage: machine time and cost by tenant and pool (usage.go).
	Usage *UsageMetrics
}

// New creates and registers all collectors.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		JobWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "paddock_job_wait_seconds",
			Help:    "Time from a job being queued to it starting on a runner.",
			Buckets: []float64{.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800},
		}, []string{"pool"}),
		DispatchLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "paddock_dispatch_seconds",
			Help:    "Time from a queued-job event being received to the provider Create call for it.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}),
		Instances: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "paddock_instances",
			Help: "Instances by pool and state.",
		}, []string{"pool", "state"}),
		PoolFailing: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "paddock_pool_failing",
			Help: "1 while the pool's machine creates keep failing and its creates back off, else 0.",
		}, []string{"pool"}),
		PoolCreateFailures: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "paddock_pool_create_failures",
			Help: "Failed machine creates in a row in the pool (0 once one succeeds).",
		}, []string{"pool"}),
		ForgeCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paddock_forge_calls_total",
			Help: "Forge API calls by forge, endpoint and HTTP status.",
		}, []string{"forge", "endpoint", "status"}),
		ProviderOps: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "paddock_provider_op_seconds",
			Help:    "Provider call durations by provider, operation and result.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}, []string{"provider", "op", "result"}),
		Webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paddock_webhooks_total",
			Help: "Webhook deliveries by forge kind and outcome.",
		}, []string{"forge", "outcome"}),
		RateLimitRemaining: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "paddock_forge_rate_limit_remaining",
			Help: "Requests left in the forge's current rate-limit window.",
		}, []string{"forge"}),
		PollBudgetUsed: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "paddock_poll_budget_used",
			Help: "Forge API calls the poller was charged in the last hour.",
		}, []string{"forge"}),
		PollBudgetRemaining: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "paddock_poll_budget_remaining",
			Help: "Forge API calls the poller may still make in the current hour.",
		}, []string{"forge"}),
		PollCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paddock_poll_calls_total",
			Help: "Forge API calls made by the poller, by kind (charged, not_modified).",
		}, []string{"forge", "kind"}),
		Polls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paddock_polls_total",
			Help: "Queued-job polls by result (ok, not_modified, rate_limited, error).",
		}, []string{"forge", "result"}),
		PollJobsFound: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paddock_poll_jobs_found_total",
			Help: "Queued jobs the poller found that Paddock did not know yet.",
		}, []string{"forge"}),
	}
	m.Registry.MustRegister(m.JobWait, m.DispatchLatency, m.Instances, m.PoolFailing, m.PoolCreateFailures, m.ForgeCalls, m.ProviderOps,
		m.Webhooks, m.RateLimitRemaining,
		m.PollBudgetUsed, m.PollBudgetRemaining, m.PollCalls, m.Polls, m.PollJobsFound,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.Usage = newUsage(m.Registry)
	return m
}
