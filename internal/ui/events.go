package ui

import (
	"context"

	"github.com/paddock-ci/paddock/internal/core"
)

// eventWindow bounds how far back the recent-events lists and an instance's
// timeline look in the event log, so a page costs the same on a busy manager.
const eventWindow = 20000

type eventRow struct {
	core.Event
	PoolName string
}

// recentEvents returns up to n of the newest events (newest first), only
// those about instance if it is set, from the last window events.
func (h *Handler) recentEvents(ctx context.Context, n int, instance string, window int64) ([]eventRow, error) {
	last, err := h.o.Store.LastEventID(ctx)
	if err != nil {
		return nil, err
	}
	names, _, err := h.poolNames(ctx)
	if err != nil {
		return nil, err
	}
	var ring []core.Event
	after := max(last-window, 0)
	for after < last {
		evs, err := h.o.Store.ListEventsAfter(ctx, after, 1000)
		if err != nil {
			return nil, err
		}
		if len(evs) == 0 {
			break
		}
		for _, e := range evs {
			if instance == "" || e.Instance == instance {
				ring = append(ring, e)
			}
		}
		if len(ring) > 4*n {
			ring = append(ring[:0], ring[len(ring)-n:]...)
		}
		after = evs[len(evs)-1].ID
	}
	ring = ring[max(len(ring)-n, 0):]
	out := make([]eventRow, 0, len(ring))
	for i := len(ring) - 1; i >= 0; i-- {
		e := ring[i]
		pn := e.Pool
		if pn == "" {
			pn = names[e.PoolID]
		}
		out = append(out, eventRow{Event: e, PoolName: pn})
	}
	return out, nil
}
