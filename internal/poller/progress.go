package poller

import (
	"context"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
	"github.com/paddock-ci/paddock/internal/jobevent"
)

// progress turns one complete listing's running jobs into job events: new
// ones as in_progress, and those the previous listing showed running but
// this one no longer does as completed. If the Sink also handles job events
// (the controller does), it receives them as the workflow_job webhooks would
// have reported them: a started job marks its runner's machine busy, a
// finished one sends the machine to deletion at once instead of at the next
// reconcile.
func (p *Poller) progress(ctx context.Context, forgeID string, ent core.Entity, running []core.Job) {
	sink, ok := p.o.Sink.(jobevent.Handler)
	if !ok {
		return
	}
	now := p.o.Now()
	cur := make(map[int64]core.Job, len(running))
	for _, j := range running {
		cur[j.ID] = j
	}
	p.mu.Lock()
	prev := p.running[ent.ID]
	p.running[ent.ID] = cur
	p.mu.Unlock()
	send := func(action core.JobAction, j core.Job) {
		ev := forge.JobEvent{Action: action, Job: j, Entity: forge.EntityRef{Repository: ent.Name}}
		if _, err := sink.HandleJobEvent(ctx, forgeID, ev, now); err != nil {
			p.log.Warn("poller: job event", "entity", ent.Name, "job", j.ID, "action", action, "err", err)
		}
	}
	for id, j := range cur {
		if _, seen := prev[id]; !seen {
			j.State = core.JobInProgress
			send(core.JobActionInProgress, j)
		}
	}
	for id, j := range prev {
		if _, still := cur[id]; !still {
			// Finished or cancelled: either way its machine is spent. The
			// conclusion is unknown without another call, so none is claimed.
			j.State, j.CompletedAt = core.JobCompleted, now
			send(core.JobActionCompleted, j)
		}
	}
}
