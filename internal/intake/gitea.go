package intake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/paddock-ci/paddock/internal/controller"
	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge/gitea"
)

// giteaRoutes serves POST /webhooks/{gitea,forgejo}[/{forge}] with the same
// flow as GitHub's: verify before anything is stored, dedupe on the
// delivery id, 2xx with a reason for what Paddock does not manage.
func (h *Handler) giteaRoutes(mux *http.ServeMux) {
	for _, kind := range []core.ForgeKind{core.ForgeGitea, core.ForgeForgejo} {
		serve := func(w http.ResponseWriter, r *http.Request) { h.serveGitea(w, r, kind) }
		mux.HandleFunc("POST /webhooks/"+string(kind), serve)
		mux.HandleFunc("POST /webhooks/"+string(kind)+"/{forge}", serve)
	}
}

func (h *Handler) replyKind(w http.ResponseWriter, kind core.ForgeKind, code int, outcome string, a answer) {
	h.Metrics.Webhooks.WithLabelValues(string(kind), outcome).Inc()
	writeAnswer(w, code, a)
}

func (h *Handler) serveGitea(w http.ResponseWriter, r *http.Request, kind core.ForgeKind) {
	now := time.Now
	if h.Now != nil {
		now = h.Now
	}
	received := now()
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		h.replyKind(w, kind, http.StatusBadRequest, "malformed", answer{Result: "error", Reason: "could not read body (limit 25 MB)"})
		return
	}
	f, err := h.verifyGitea(r.Context(), kind, r.PathValue("forge"), body, r.Header)
	if err != nil {
		h.Logger.Warn("webhook rejected", "kind", kind, "err", err, "remote", r.RemoteAddr)
		h.replyKind(w, kind, http.StatusUnauthorized, "bad_signature", answer{Result: "error", Reason: err.Error()})
		return
	}
	delivery, event := gitea.DeliveryID(r.Header), gitea.EventType(r.Header)
	if delivery == "" || event == "" {
		h.replyKind(w, kind, http.StatusBadRequest, "malformed", answer{Result: "error",
			Reason: "X-Gitea-Event/X-Forgejo-Event and X-Gitea-Delivery/X-Forgejo-Delivery headers are required"})
		return
	}
	if event != "workflow_job" {
		h.replyKind(w, kind, http.StatusAccepted, "ignored", answer{Result: "ignored",
			Reason: fmt.Sprintf("event %q is not used by Paddock (only workflow_job)", event)})
		return
	}
	ev, err := gitea.ParseWorkflowJob(body)
	if err != nil {
		h.replyKind(w, kind, http.StatusBadRequest, "malformed", answer{Result: "error", Reason: err.Error()})
		return
	}
	outcome, err := h.Events.HandleJobEvent(r.Context(), f.ID, ev, received)
	switch {
	case errors.Is(err, controller.ErrNotManaged):
		h.replyKind(w, kind, http.StatusAccepted, "ignored", answer{Result: "ignored",
			Reason: fmt.Sprintf("%s is not managed by this Paddock", entityName(ev.Entity))})
		return
	case err != nil:
		h.Logger.Error("webhook: handle job", "job", ev.Job.ID, "err", err)
		h.replyKind(w, kind, http.StatusInternalServerError, "error", answer{Result: "error", Reason: "internal error; the delivery can be redelivered"})
		return
	}
	fresh, err := h.Store.RecordDelivery(r.Context(), string(kind)+":"+f.ID, delivery, received)
	if err != nil {
		h.Logger.Warn("webhook: record delivery", "err", err)
	}
	if err == nil && !fresh {
		h.replyKind(w, kind, http.StatusOK, "duplicate", answer{Result: "duplicate", Reason: "delivery " + delivery + " was already processed"})
		return
	}
	if outcome == controller.OutcomeIgnored {
		h.replyKind(w, kind, http.StatusAccepted, "ignored", answer{Result: "ignored", Reason: fmt.Sprintf("workflow_job action %q needs no action", ev.Action)})
		return
	}
	h.replyKind(w, kind, http.StatusOK, "accepted", answer{Result: string(outcome)})
}

// verifyGitea finds the forge of this kind whose webhook secret signed the
// body, checking every candidate so timing does not say which matched.
func (h *Handler) verifyGitea(ctx context.Context, kind core.ForgeKind, ref string, body []byte, hdr http.Header) (core.Forge, error) {
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
	var lastErr error = errors.New("no " + string(kind) + " forge with a webhook secret is configured")
	for i := range cands {
		f := cands[i]
		if f.Kind != kind || f.WebhookSecret == "" {
			continue
		}
		err := gitea.VerifySignature([]byte(f.WebhookSecret), body, hdr)
		if errors.Is(err, gitea.ErrNoSignature) {
			return core.Forge{}, err
		}
		if err == nil && found == nil {
			found = &cands[i]
		} else if err != nil {
			lastErr = err
		}
	}
	if found == nil {
		return core.Forge{}, fmt.Errorf("signature does not match any configured webhook secret: %w", lastErr)
	}
	return *found, nil
}
