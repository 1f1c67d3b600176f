// Package intake receives forge webhooks: it verifies the signature before
// anything is stored, parses workflow_job events, hands them to the
// controller, and remembers delivery ids so a replayed delivery changes nothing.
package intake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/paddock-ci/paddock/internal/controller"
	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
	"github.com/paddock-ci/paddock/internal/forge/github"
	"github.com/paddock-ci/paddock/internal/metrics"
	"github.com/paddock-ci/paddock/internal/store"
)

// maxBody is GitHub's own cap on webhook payloads.
const maxBody = 25 << 20

// Events is the part of the controller intake needs.
type Events interface {
	HandleJobEvent(ctx context.Context, forgeID string, ev forge.JobEvent, receivedAt time.Time) (controller.Outcome, error)
}

// Handler serves POST /webhooks/github and /webhooks/github/{forge}, and the
// Gitea and Forgejo equivalents (gitea.go).
type Handler struct {
	Store   store.Store
	Events  Events
	Metrics *metrics.Metrics
	Logger  *slog.Logger
	Now     func() time.Time
}

type answer struct {
	Result string `json:"result"`
	Reason string `json:"reason,omitempty"`
}

func (h *Handler) reply(w http.ResponseWriter, code int, outcome string, a answer) {
	h.Metrics.Webhooks.WithLabelValues("github", outcome).Inc()
	writeAnswer(w, code, a)
}

func writeAnswer(w http.ResponseWriter, code int, a answer) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(a)
}

// Routes registers the webhook endpoints on mux.
func (h *Handler) Routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /webhooks/github", h.serveGitHub)
	mux.HandleFunc("POST /webhooks/github/{forge}", h.serveGitHub)
	h.giteaRoutes(mux)
}

func (h *Handler) serveGitHub(w http.ResponseWriter, r *http.Request) {
	now := time.Now
	if h.Now != nil {
		now = h.Now
	}
	received := now()
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		h.reply(w, http.StatusBadRequest, "malformed", answer{Result: "error", Reason: "could not read body (limit 25 MB)"})
		return
	}
	f, err := h.verify(r.Context(), r.PathValue("forge"), body, r.Header.Get("X-Hub-Signature-256"))
	if err != nil {
		h.Logger.Warn("webhook rejected", "err", err, "remote", r.RemoteAddr)
		h.reply(w, http.StatusUnauthorized, "bad_signature", answer{Result: "error", Reason: err.Error()})
		return
	}
	delivery := r.Header.Get("X-GitHub-Delivery")
	event := r.Header.Get("X-GitHub-Event")
	if delivery == "" || event == "" {
		h.reply(w, http.StatusBadRequest, "malformed", answer{Result: "error", Reason: "X-GitHub-Event and X-GitHub-Delivery headers are required"})
		return
	}
	switch event {
	case "workflow_job":
	case "ping":
		h.reply(w, http.StatusOK, "ignored", answer{Result: "pong"})
		return
	default:
		h.reply(w, http.StatusAccepted, "ignored", answer{Result: "ignored", Reason: fmt.Sprintf("event %q is not used by Paddock (only workflow_job)", event)})
		return
	}
	ev, err := github.ParseWorkflowJob(body)
	if err != nil {
		h.reply(w, http.StatusBadRequest, "malformed", answer{Result: "error", Reason: err.Error()})
		return
	}
	outcome, err := h.Events.HandleJobEvent(r.Context(), f.ID, ev, received)
	switch {
	case errors.Is(err, controller.ErrNotManaged):
		// 2xx: the forge must not show this delivery as failed; it simply is not ours.
		h.reply(w, http.StatusAccepted, "ignored", answer{Result: "ignored", Reason: fmt.Sprintf("%s is not managed by this Paddock", entityName(ev.Entity))})
		return
	case err != nil:
		h.Logger.Error("webhook: handle job", "job", ev.Job.ID, "err", err)
		h.reply(w, http.StatusInternalServerError, "error", answer{Result: "error", Reason: "internal error; the delivery can be redelivered"})
		return
	}
	// Recorded only after success, so a delivery that failed here can be redelivered;
	// handling is idempotent, so a concurrent duplicate is harmless.
	fresh, err := h.Store.RecordDelivery(r.Context(), "github:"+f.ID, delivery, received)
	if err != nil {
		h.Logger.Warn("webhook: record delivery", "err", err)
	}
	if err == nil && !fresh {
		h.reply(w, http.StatusOK, "duplicate", answer{Result: "duplicate", Reason: "delivery " + delivery + " was already processed"})
		return
	}
	if outcome == controller.OutcomeIgnored {
		h.reply(w, http.StatusAccepted, "ignored", answer{Result: "ignored", Reason: fmt.Sprintf("workflow_job action %q needs no action", ev.Action)})
		return
	}
	h.reply(w, http.StatusOK, "accepted", answer{Result: string(outcome)})
}

// verify finds the GitHub forge whose webhook secret signed the body. Every
// candidate is checked in constant time.
func (h *Handler) verify(ctx context.Context, ref string, body []byte, sig string) (core.Forge, error) {
	if sig == "" {
		return core.Forge{}, errors.New("missing X-Hub-Signature-256 header")
	}
	var cands []core.Forge
	if ref != "" {
		f, err := h.Store.GetForge(ctx, ref)
		if err != nil {
			return core.Forge{}, fmt.Errorf("unknown forge %q", ref)
		}
		cands = []core.Forge{f}
	} else {
		all, err := h.Store.ListForges(ctx)
		if err != nil {
			return core.Forge{}, err
		}
		cands = all
	}
	var found *core.Forge
	for i := range cands {
		f := cands[i]
		if f.Kind != core.ForgeGitHub || f.WebhookSecret == "" {
			continue
		}
		ok := github.VerifySignature([]byte(f.WebhookSecret), body, sig) == nil
		// Keep checking the rest so the time taken does not say which forge matched.
		if ok && found == nil {
			found = &cands[i]
		}
	}
	if found == nil {
		return core.Forge{}, errors.New("signature does not match any configured webhook secret")
	}
	return *found, nil
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
