// Package api serves Paddock's admin REST API (/api/v1), /healthz and
// /metrics, and mounts the subtrees other components own (webhooks, instance
// metadata and callbacks), which authenticate on their own terms.
package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/paddock-ci/paddock/internal/httplimit"
	"github.com/paddock-ci/paddock/internal/metrics"
	"github.com/paddock-ci/paddock/internal/scheduler"
	"github.com/paddock-ci/paddock/internal/store"
)

// Options configures the API handler.
type Options struct {
	Store   store.Store
	Metrics *metrics.Metrics
	// AdminToken guards /api/v1. Empty means every admin request is refused:
	// an unauthenticated admin API must never happen by accident.
	AdminToken string
	// MetricsToken, if set, is accepted on /metrics besides the admin token.
	MetricsToken string
	// MetricsPublic serves /metrics without a token.
	MetricsPublic bool
	// ViewerToken, if set, is accepted besides the admin token on read-only
	// surfaces: the event stream (and the dashboard, which mounts itself).
	ViewerToken string
	// Events serves GET /api/v1/events (Server-Sent Events). Nil: 404.
	Events http.Handler
	// AuthFailures limits failed token checks; nil uses 10 per minute per
	// client address and 300 per minute in total.
	AuthFailures *httplimit.AuthFailures
	// Mount adds subtrees (pattern → handler), e.g. "/webhooks/". They bypass
	// admin auth because forges and machines authenticate differently.
	Mount map[string]http.Handler
	// Notify is called after a forge, entity or pool changes so the controller
	// reconsiders at once instead of at its next tick. May be nil.
	Notify func()
	// DeleteInstance asks the controller to remove an instance. Nil → 501.
	DeleteInstance func(ctx context.Context, name string) error
	// PoolHealth returns, by pool id, the pools whose machine creates are
	// failing (shown in pool views). May be nil.
	PoolHealth func() map[string]scheduler.PoolHealth
	// Ready reports readiness for /healthz. Nil means always ready.
	Ready func() error
	// Role, if set, reports this replica's role ("leader" or "follower")
	// and epoch, shown by /healthz (several replicas on PostgreSQL).
	Role func() (role string, epoch int64)
	// Replicas, if set, lists the replicas for GET /api/v1/replicas.
	Replicas func(ctx context.Context) (any, error)
	// Providers lists configured provider names; pools naming another are
	// refused. Nil skips the check.
	Providers []string
	Logger    *slog.Logger
}

type server struct {
	opts     Options
	log      *slog.Logger
	failures *httplimit.AuthFailures
	failLog  failureLog
}

// New returns the HTTP handler for the whole manager surface.
func New(opts Options) http.Handler {
	s := &server{opts: opts, log: opts.Logger, failures: opts.AuthFailures}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.failLog.every.Interval = time.Second
	if s.failures == nil {
		s.failures = httplimit.NewAuthFailures(10, 300)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	if opts.Metrics != nil {
		var h http.Handler = promhttp.HandlerFor(opts.Metrics.Registry,
			promhttp.HandlerOpts{Registry: opts.Metrics.Registry})
		if !opts.MetricsPublic {
			h = s.auth(h, opts.AdminToken, opts.MetricsToken)
		}
		mux.Handle("GET /metrics", h)
	}
	for pattern, h := range opts.Mount {
		mux.Handle(pattern, h)
	}
	if opts.Events != nil {
		mux.Handle("GET /api/v1/events", s.auth(opts.Events, opts.AdminToken, opts.ViewerToken))
	}
	mux.Handle("/api/v1/", s.auth(s.routes(), opts.AdminToken))
	return mux
}

func (s *server) routes() http.Handler {
	m := http.NewServeMux()
	m.HandleFunc("GET /api/v1/forges", s.listForges)
	m.HandleFunc("POST /api/v1/forges", s.createForge)
	m.HandleFunc("GET /api/v1/forges/{ref}", s.getForge)
	m.HandleFunc("PATCH /api/v1/forges/{ref}", s.updateForge)
	m.HandleFunc("DELETE /api/v1/forges/{ref}", s.deleteForge)

	// Entity names contain a slash (owner/repo); {ref...} accepts it escaped
	// as %2F or not.
	m.HandleFunc("GET /api/v1/entities", s.listEntities)
	m.HandleFunc("POST /api/v1/entities", s.createEntity)
	m.HandleFunc("GET /api/v1/entities/{ref...}", s.getEntity)
	m.HandleFunc("PATCH /api/v1/entities/{ref...}", s.updateEntity)
	m.HandleFunc("DELETE /api/v1/entities/{ref...}", s.deleteEntity)

	m.HandleFunc("GET /api/v1/pools", s.listPools)
	m.HandleFunc("POST /api/v1/pools", s.createPool)
	m.HandleFunc("GET /api/v1/pools/{ref}", s.getPool)
	m.HandleFunc("PATCH /api/v1/pools/{ref}", s.updatePool)
	m.HandleFunc("DELETE /api/v1/pools/{ref}", s.deletePool)

	m.HandleFunc("GET /api/v1/tenants", s.listTenants)
	m.HandleFunc("POST /api/v1/tenants", s.createTenant)
	m.HandleFunc("GET /api/v1/tenants/{ref}", s.getTenant)
	m.HandleFunc("PATCH /api/v1/tenants/{ref}", s.updateTenant)
	m.HandleFunc("DELETE /api/v1/tenants/{ref}", s.deleteTenant)

	m.HandleFunc("GET /api/v1/instances", s.listInstances)
	m.HandleFunc("GET /api/v1/instances/{ref}", s.getInstance)
	m.HandleFunc("DELETE /api/v1/instances/{ref}", s.deleteInstance)

	m.HandleFunc("GET /api/v1/jobs", s.listJobs)
	m.HandleFunc("GET /api/v1/jobs/{id}", s.getJob)

	m.HandleFunc("GET /api/v1/replicas", s.listReplicas)
	m.HandleFunc("GET /api/v1/usage", s.getUsage)

	m.HandleFunc("/api/v1/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no such endpoint: %s %s", r.Method, r.URL.Path))
	})
	return m
}

func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	if s.opts.Role != nil {
		role, epoch := s.opts.Role()
		code, body := http.StatusOK, map[string]any{"status": "ok", "role": role, "epoch": epoch}
		if s.opts.Ready != nil {
			if err := s.opts.Ready(); err != nil {
				code, body["status"], body["error"] = http.StatusServiceUnavailable, "unavailable", err.Error()
			}
		}
		writeJSON(w, code, body)
		return
	}
	if s.opts.Ready != nil {
		if err := s.opts.Ready(); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "error": err.Error()})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *server) listReplicas(w http.ResponseWriter, r *http.Request) {
	if s.opts.Replicas == nil {
		writeError(w, http.StatusNotFound, "this manager runs alone (store.driver: sqlite): it has no replicas")
		return
	}
	rs, err := s.opts.Replicas(r.Context())
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "list replicas: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, rs)
}

// changed tells the controller that configuration moved.
func (s *server) changed() {
	if s.opts.Notify != nil {
		s.opts.Notify()
	}
}
