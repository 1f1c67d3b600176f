// Package events records what happens in Paddock (jobs queued, assigned,
// running and done; instances changing state and why; pools failing and
// recovering) to the store's event log, and serves that log as a
// Server-Sent Events stream at GET /api/v1/events.
package events

import "sync"

// Hub wakes stream readers when new events are in the store. A reader takes
// Changed() before it reads the log and waits on it after; an append in
// between closes that channel, so no wake-up is lost.
type Hub struct {
	mu sync.Mutex
	ch chan struct{}
}

// NewHub returns a Hub with no waiters.
func NewHub() *Hub { return &Hub{ch: make(chan struct{})} }

// Changed returns a channel closed at the next Broadcast.
func (h *Hub) Changed() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ch
}

// Broadcast wakes every reader waiting on Changed.
func (h *Hub) Broadcast() {
	h.mu.Lock()
	close(h.ch)
	h.ch = make(chan struct{})
	h.mu.Unlock()
}
