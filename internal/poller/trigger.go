package poller

import "github.com/paddock-ci/paddock/internal/core"

// polled says whether the poller lists an entity's queued jobs: every
// entity with `intake: poll`, and every repository on Forgejo whatever its
// intake, because Forgejo (11 to 15) sends no workflow_job webhook at all.
// Its webhook-intake repositories are polled at once when any other webhook
// (push, pull_request, …) says work may have been queued (PollNow), and
// steadily within the budget in case that webhook is lost or not set up.
func polled(e core.Entity, kind core.ForgeKind) bool {
	if e.Intake == core.IntakePoll {
		return true
	}
	return kind == core.ForgeForgejo && e.Kind == core.EntityRepository
}

// PollNow asks for a poll of one entity as soon as the forge's budget
// allows, ahead of the others. It reports whether the entity is polled at
// all (known to the poller's last refresh).
func (p *Poller) PollNow(forgeID, entityID string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	known := false
	for _, e := range p.entities[forgeID] {
		known = known || e.ID == entityID
	}
	if !known {
		return false
	}
	p.urgent[forgeID] = append(p.urgent[forgeID], entityID)
	select {
	case p.wake[forgeID] <- struct{}{}:
	default:
	}
	return true
}

func (p *Poller) takeUrgent(forgeID string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	ids := p.urgent[forgeID]
	delete(p.urgent, forgeID)
	return ids
}
