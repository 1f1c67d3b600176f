// Package intake receives forge webhooks: it verifies the signature before
// anything is stored, parses workflow_job events, hands them to the
// controller, and remembers delivery ids so a replayed delivery changes nothing.
package intake

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/paddock-ci/paddock/internal/forge"
	"github.com/paddock-ci/paddock/internal/httplimit"
	"github.com/paddock-ci/paddock/internal/jobevent"
	"github.com/paddock-ci/paddock/internal/metrics"
	"github.com/paddock-ci/paddock/internal/store"
)

// maxBody is GitHub's own cap on webhook payloads.
const maxBody = 25 << 20

// Handler serves POST /webhooks/{github,gitea,forgejo}[/{forge}].
type Handler struct {
	Store   store.Store
	Events  jobevent.Handler
	Metrics *metrics.Metrics
	Logger  *slog.Logger
	Now     func() time.Time
	// Polls, optional, is asked for an immediate poll when a forge that sends
	// no workflow_job webhooks (Forgejo) reports other activity; see forgejo.go.
	Polls PollTrigger
}

type answer struct {
	Result string `json:"result"`
	Reason string `json:"reason,omitempty"`
}

func (h *Handler) reply(w http.ResponseWriter, d *dialect, code int, outcome string, a answer) {
	h.Metrics.Webhooks.WithLabelValues(string(d.kind), outcome).Inc()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(a)
}

// Routes registers the webhook endpoints on mux.
func (h *Handler) Routes(mux *http.ServeMux) {
	for _, d := range dialects {
		serve := func(w http.ResponseWriter, r *http.Request) { h.serve(w, r, d) }
		mux.HandleFunc("POST /webhooks/"+string(d.kind), serve)
		mux.HandleFunc("POST /webhooks/"+string(d.kind)+"/{forge}", serve)
	}
}

// serve is every forge's webhook flow: read, verify against the forges of
// that kind, parse, hand over, then record the delivery.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request, d *dialect) {
	now := time.Now
	if h.Now != nil {
		now = h.Now
	}
	received := now()
	// Behind httplimit.Preauth (as in the manager) the body was already
	// read within the unauthenticated-request limits.
	body, ok := httplimit.Body(r)
	if !ok {
		var err error
		body, err = io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil || len(body) > maxBody {
			h.reply(w, d, http.StatusBadRequest, "malformed", answer{Result: "error", Reason: "could not read body (limit 25 MB)"})
			return
		}
	}
	f, err := h.verify(r.Context(), d, r.PathValue("forge"), body, r.Header)
	if err != nil {
		h.Logger.Warn("webhook rejected", "kind", d.kind, "err", err, "remote", r.RemoteAddr)
		h.reply(w, d, http.StatusUnauthorized, "bad_signature", answer{Result: "error", Reason: err.Error()})
		return
	}
	delivery, event := d.delivery(r.Header), d.event(r.Header)
	if delivery == "" || event == "" {
		h.reply(w, d, http.StatusBadRequest, "malformed", answer{Result: "error", Reason: d.headersHint + " headers are required"})
		return
	}
	switch event {
	case "workflow_job":
	case "ping":
		h.reply(w, d, http.StatusOK, "ignored", answer{Result: "pong"})
		return
	default:
		if d.triggersPoll {
			h.triggerPoll(r.Context(), w, d, f, event, body)
			return
		}
		h.reply(w, d, http.StatusAccepted, "ignored", answer{Result: "ignored", Reason: fmt.Sprintf("event %q is not used by Paddock (only workflow_job)", event)})
		return
	}
	ev, err := d.parse(body)
	if err == nil {
		err = checkEvent(&ev)
	}
	if err != nil {
		h.reply(w, d, http.StatusBadRequest, "malformed", answer{Result: "error", Reason: err.Error()})
		return
	}
	outcome, err := h.Events.HandleJobEvent(r.Context(), f.ID, ev, received)
	switch {
	case errors.Is(err, jobevent.ErrNotManaged):
		// 2xx: the forge must not show this delivery as failed; it simply is not ours.
		h.reply(w, d, http.StatusAccepted, "ignored", answer{Result: "ignored", Reason: fmt.Sprintf("%s is not managed by this Paddock", entityName(ev.Entity))})
		return
	case err != nil:
		h.Logger.Error("webhook: handle job", "job", ev.Job.ID, "err", err)
		h.reply(w, d, http.StatusInternalServerError, "error", answer{Result: "error", Reason: "internal error; the delivery can be redelivered"})
		return
	}
	// Recorded only after success, so a delivery that failed here can be redelivered;
	// handling is idempotent, so a concurrent duplicate is harmless.
	fresh, err := h.Store.RecordDelivery(r.Context(), string(d.kind)+":"+f.ID, delivery, received)
	if err != nil {
		h.Logger.Warn("webhook: record delivery", "err", err)
	}
	if err == nil && !fresh {
		h.reply(w, d, http.StatusOK, "duplicate", answer{Result: "duplicate", Reason: "delivery " + delivery + " was already processed"})
		return
	}
	if outcome == jobevent.OutcomeIgnored {
		h.reply(w, d, http.StatusAccepted, "ignored", answer{Result: "ignored", Reason: fmt.Sprintf("workflow_job action %q needs no action", ev.Action)})
		return
	}
	h.reply(w, d, http.StatusOK, "accepted", answer{Result: string(outcome)})
}

func entityName(e forge.EntityRef) string {
	switch {
	case e.Repository != "":
		return "repository " + e.Repository
	case e.Organization != "":
		return "organization " + e.Organization
	case e.Enterprise != "":
		return "enterprise " + e.Enterprise
	}
	return "the sender"
}
