package app

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/paddock-ci/paddock/internal/config"
	"github.com/paddock-ci/paddock/internal/httplimit"
)

// edge is what stands between the network and the handlers: the connection
// cap and the pre-authentication limits (see docs/security.md).
type edge struct {
	conns   *httplimit.Conns
	webhook *httplimit.Preauth
	machine *httplimit.Preauth
	auth    *httplimit.AuthFailures
}

// preauthRetryAfter is what a sender turned away for lack of budget is told;
// bodies in flight are bounded by the body timeout, so room frees up soon.
const preauthRetryAfter = 5 * time.Second

// smallBody is the largest webhook body that counts as ordinary.
const smallBody = 1 << 20

func (a *App) newEdge(l config.ServerLimits) *edge {
	nofile, err := httplimit.RaiseFileLimit()
	if err != nil {
		a.Logger.Warn("could not raise the open-file limit", "err", err, "limit", nofile)
	}
	capN := httplimit.ConnectionCap(l.MaxConnections, nofile)
	if capN < l.MaxConnections {
		a.Logger.Warn("server.limits.max_connections lowered to fit the open-file limit",
			"configured", l.MaxConnections, "effective", capN, "open_file_limit", nofile)
	}
	rejected := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "paddock_http_unauthenticated_rejected_total",
		Help: "Unauthenticated requests (webhooks, machine endpoints) refused before their handler, by endpoint and reason.",
	}, []string{"endpoint", "reason"})
	// Webhook bodies over smallBody (rare: ordinary deliveries are a few KB)
	// draw on unauthenticated_memory_mb; smaller ones and machine requests
	// have a quarter of it each, so a flood of large bodies crowds out
	// neither. All together: 1.5 × unauthenticated_memory_mb.
	mem := int64(l.UnauthenticatedMemoryMB) << 20
	e := &edge{
		conns: httplimit.NewConns(capN),
		webhook: &httplimit.Preauth{Budget: httplimit.NewBudget(mem, l.UnauthenticatedRequests),
			MaxBody: int64(l.WebhookMaxBodyMB) << 20,
			Small:   httplimit.NewBudget(mem/4, l.UnauthenticatedRequests), SmallBody: smallBody,
			ReadTimeout: l.UnauthenticatedBodyTimeout, RetryAfter: preauthRetryAfter,
			Rejected: func(r string) { rejected.WithLabelValues("webhook", r).Inc() }},
		machine: &httplimit.Preauth{Budget: httplimit.NewBudget(mem/4, l.UnauthenticatedRequests),
			MaxBody:     int64(l.MachineMaxBodyKB) << 10,
			ReadTimeout: l.UnauthenticatedBodyTimeout, RetryAfter: preauthRetryAfter,
			Rejected: func(r string) { rejected.WithLabelValues("machine", r).Inc() }},
		auth: httplimit.NewAuthFailures(l.AuthFailuresPerMinute, l.AuthFailuresPerMinuteTotal),
	}
	stat := func(f func(open int, shed, refused int64) float64) func() float64 {
		return func() float64 { return f(e.conns.Stats()) }
	}
	a.Metrics.Registry.MustRegister(rejected,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "paddock_http_connections_open", Help: "Inbound connections open."},
			stat(func(o int, _, _ int64) float64 { return float64(o) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "paddock_http_connections_shed_total",
			Help: "Idle or slow inbound connections closed to make room at server.limits.max_connections."},
			stat(func(_ int, s, _ int64) float64 { return float64(s) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "paddock_http_connections_refused_total",
			Help: "Inbound connections closed at once because max_connections were all busy."},
			stat(func(_ int, _, r int64) float64 { return float64(r) })),
	)
	return e
}

// server is the manager's HTTP server with the configured limits.
func (a *App) server(l config.ServerLimits) *http.Server {
	return &http.Server{
		Handler:           a.Handler,
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		ReadTimeout:       l.ReadTimeout,
		WriteTimeout:      l.WriteTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    l.MaxHeaderKB << 10,
		ConnState:         a.edge.conns.ConnState,
		ConnContext:       a.edge.conns.ConnContext,
	}
}
