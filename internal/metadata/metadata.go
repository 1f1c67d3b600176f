// Package metadata serves the endpoints a booting machine calls with its
// single-use instance token: its runner config (once) and status callbacks
// (until its runner is idle, then one "active" naming the run its job is in
// and one "done" when it exits). Nothing here accepts an admin token, and nothing
// here ever returns a forge credential.
package metadata

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/paddock-ci/paddock/internal/check"
	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/machineapi"
)

// Machines is the part of the controller machines talk to.
type Machines interface {
	RunnerConfigFor(ctx context.Context, token string) (machineapi.RunnerConfig, error)
	Report(ctx context.Context, token string, status core.RunnerState, message string) error
	// ReportRan is Report(active or done) with the run the runner's job is
	// in, as the machine saw it.
	ReportRan(ctx context.Context, token string, status core.RunnerState, message string, ran *machineapi.RanJob) error
}

// Handler serves /api/v1/metadata/ and /api/v1/callbacks/.
type Handler struct {
	Machines Machines
	Logger   *slog.Logger
}

// Routes registers the machine-facing endpoints on mux.
func (h *Handler) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/metadata/runner", h.runner)
	mux.HandleFunc("POST /api/v1/callbacks/status", h.status)
	h.garmRoutes(mux)
}

func bearer(r *http.Request) string {
	a := r.Header.Get("Authorization")
	if t, ok := strings.CutPrefix(a, "Bearer "); ok {
		return strings.TrimSpace(t)
	}
	return ""
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func (h *Handler) fail(w http.ResponseWriter, err error) {
	code := http.StatusServiceUnavailable // forge trouble: the machine retries
	switch {
	case errors.Is(err, machineapi.ErrBadToken), errors.Is(err, machineapi.ErrTokenUsed):
		code = http.StatusUnauthorized
	case errors.Is(err, machineapi.ErrInstanceGone):
		code = http.StatusGone
	default:
		h.Logger.Warn("machine request failed", "err", err)
	}
	writeJSON(w, code, map[string]string{"error": err.Error()})
}

func (h *Handler) runner(w http.ResponseWriter, r *http.Request) {
	tok := bearer(r)
	if tok == "" {
		h.fail(w, machineapi.ErrBadToken)
		return
	}
	cfg, err := h.Machines.RunnerConfigFor(r.Context(), tok)
	if errors.Is(err, machineapi.ErrNotBound) {
		// Late binding: a shared pool's warm machine waits for a job; the
		// long-poll ended without one, so the machine asks again.
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if err != nil {
		h.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, cfg)
}

func (h *Handler) status(w http.ResponseWriter, r *http.Request) {
	tok := bearer(r)
	if tok == "" {
		h.fail(w, machineapi.ErrBadToken)
		return
	}
	var rep machineapi.StatusReport
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&rep); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body must be JSON {\"status\": …, \"message\": …}"})
		return
	}
	var err error
	switch {
	case rep.Ran != nil || core.RunnerState(rep.Status) == core.RunnerActive:
		if errs := check.StatusReport(rep); len(errs) > 0 {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": errs.Error(), "fields": errs})
			return
		}
		err = h.Machines.ReportRan(r.Context(), tok, core.RunnerState(rep.Status), rep.Message, rep.Ran)
	default:
		err = h.Machines.Report(r.Context(), tok, core.RunnerState(rep.Status), rep.Message)
	}
	if errors.Is(err, machineapi.ErrBadStatus) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	if err != nil {
		h.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"result": "ok"})
}
