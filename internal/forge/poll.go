package forge

import (
	"context"
	"slices"

	"github.com/paddock-ci/paddock/internal/core"
)

// QueuedQuery asks a ConditionalJobLister for one entity's queued jobs.
type QueuedQuery struct {
	// ETags are the validators the previous listing of this entity returned
	// (opaque to the caller; keyed however the adapter likes). Nil on the
	// first poll.
	ETags map[string]string
	// MaxCalls bounds the requests the lister may make that the forge could
	// charge to the rate limit; 0 means no bound. When the bound is reached
	// the listing stops and reports Complete = false, so a poller can never
	// overspend its budget however many runs an entity has.
	MaxCalls int
	// Labels are the runner labels a LabelledJobLister's search needs
	// (PoolLabels); other listers ignore them.
	Labels []string
	// RunClaim, if set, says which one of Paddock's runners said (its
	// job-started hook) that it took a job of runID and is still running it;
	// ok is false unless exactly one did. A lister may then skip re-listing
	// an in-progress run whose one queued job it listed before, reporting
	// the job in progress on that runner: GitHub charges the re-listing, and
	// a run whose only job runs cannot have another queued before it ends.
	RunClaim func(runID int64) (runner string, ok bool)
}

// QueuedListing is the answer to a QueuedQuery. Call counts are filled in
// even when an error is returned, so the caller can account for them.
type QueuedListing struct {
	Jobs []core.Job
	// InProgress, optional: running jobs the listing saw at no extra cost
	// (with RunnerName). A poller reports them as started and, once a later
	// complete listing no longer shows them, as finished, so machines are
	// recycled without webhooks. Adapters that cannot see them leave it nil.
	InProgress []core.Job
	// ETags to send next time.
	ETags map[string]string
	// NotModified: the forge answered 304 to every conditional request, so
	// nothing changed since the ETags were issued; Jobs is empty and the
	// previous listing still holds.
	NotModified bool
	// Complete: Jobs is every queued job of the entity. Only a complete
	// listing may be used to retire jobs the forge no longer has queued.
	Complete bool
	// Calls counts requests the forge charges to the rate limit.
	Calls int
	// NotModifiedCalls counts 304 answers, which GitHub does not charge.
	NotModifiedCalls int
}

// ConditionalJobLister is the listing a Client offers as
// Capabilities.Conditional when its forge supports conditional requests
// (ETag / If-None-Match) on its job listings, or it can report exactly how
// many requests a listing made. Pollers use it when present and fall back to
// Client.ListQueuedJobs otherwise.
type ConditionalJobLister interface {
	ListQueuedJobsIf(ctx context.Context, ent core.Entity, q QueuedQuery) (QueuedListing, error)
}

// LabelledJobLister is the job search a Client offers as
// Capabilities.Labelled when its forge's search needs the labels of the
// runners that would take the jobs (Forgejo). Callers pass the labels of the
// entity's enabled pools.
type LabelledJobLister interface {
	ListQueuedJobsFor(ctx context.Context, ent core.Entity, labels []string) ([]core.Job, error)
}

// PoolLabels is the union of the labels of ent's enabled pools, as written,
// in first-seen order: what a LabelledJobLister needs. Those are exactly the
// labels Paddock registers its runners with on Forgejo, which implies no
// other ("self-hosted" included) and matches case-sensitively, so a job the
// search finds with them is one a pool's runner will be offered. Size labels
// (4cpu-16gb) are open-ended and cannot be listed, so such jobs are found by
// webhooks only on these forges. Shared pools count for every entity they
// may serve (a tenant-shared one for all: tenants are not known here, and a
// label too many only finds a job the scheduler then notes as unmatched).
func PoolLabels(pools []core.Pool, entityID string) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range pools {
		serves := p.EntityID == entityID || slices.Contains(p.Entities, entityID) || len(p.Tenants) > 0
		if !serves || !p.Enabled {
			continue
		}
		for _, l := range p.Labels {
			if !seen[l] {
				seen[l] = true
				out = append(out, l)
			}
		}
	}
	return out
}
