package intake

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/paddock-ci/paddock/internal/core"
)

// PollTrigger is the poller's PollNow.
type PollTrigger interface {
	PollNow(forgeID, entityID string) bool
}

// triggerPoll answers a Forgejo delivery other than workflow_job. Forgejo
// (11 to 15) sends no workflow_job webhooks, so a push, pull_request,
// workflow_run or similar event from a managed repository is the earliest
// sign that jobs may be queued: the repository is polled at once instead of
// at its next turn. The delivery's signature was already verified.
func (h *Handler) triggerPoll(ctx context.Context, w http.ResponseWriter, d *dialect, f core.Forge, event string, body []byte) {
	var p struct {
		Repository *struct {
			FullName string `json:"full_name"`
		} `json:"repository"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		h.reply(w, d, http.StatusBadRequest, "malformed", answer{Result: "error", Reason: "body is not JSON: " + err.Error()})
		return
	}
	if p.Repository == nil || p.Repository.FullName == "" {
		h.reply(w, d, http.StatusAccepted, "ignored", answer{Result: "ignored", Reason: fmt.Sprintf("event %q names no repository", event)})
		return
	}
	repo := p.Repository.FullName
	ents, err := h.Store.ListEntities(ctx)
	if err != nil {
		h.Logger.Error("webhook: list entities", "err", err)
		h.reply(w, d, http.StatusInternalServerError, "error", answer{Result: "error", Reason: "internal error; the delivery can be redelivered"})
		return
	}
	for _, e := range ents {
		if e.ForgeID != f.ID || e.Kind != core.EntityRepository || !strings.EqualFold(e.Name, repo) {
			continue
		}
		if h.Polls != nil && h.Polls.PollNow(f.ID, e.ID) {
			h.reply(w, d, http.StatusAccepted, "poll", answer{Result: "poll", Reason: fmt.Sprintf("%s event: repository %s is polled now (Forgejo sends no workflow_job webhooks)", event, repo)})
			return
		}
	}
	h.reply(w, d, http.StatusAccepted, "ignored", answer{Result: "ignored", Reason: fmt.Sprintf("repository %s is not managed by this Paddock", repo)})
}
