// Package jobevent is the contract between the job intakes (webhooks,
// polling, scale-set listeners) and the controller that records their
// workflow-job events.
package jobevent

import (
	"context"
	"errors"
	"time"

	"github.com/paddock-ci/paddock/internal/forge"
)

// ErrNotManaged: the event is for a repository/organization Paddock does not manage.
var ErrNotManaged = errors.New("no managed entity for this event")

// Outcome says what handling an event did, for the webhook's answer. The
// values are part of the webhook response body.
type Outcome string

const (
	OutcomeStored    Outcome = "stored"
	OutcomeUnchanged Outcome = "unchanged" // stale or repeated state
	OutcomeIgnored   Outcome = "ignored"   // an action Paddock does not act on
)

// Handler records a forge's workflow-job event. receivedAt is when the
// event reached Paddock (the start of the hot path).
type Handler interface {
	HandleJobEvent(ctx context.Context, forgeID string, ev forge.JobEvent, receivedAt time.Time) (Outcome, error)
}
