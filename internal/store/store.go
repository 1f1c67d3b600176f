// Package store defines Paddock's persistence interface. Backends (sqlite now,
// postgres later) live in sub-packages and must pass the conformance suite in
// store/storetest.
package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
)

var (
	// ErrNotFound: no object with that id or name.
	ErrNotFound = errors.New("not found")
	// ErrConflict: an object with that name (or key) already exists, or it is still referenced.
	ErrConflict = errors.New("conflict")
	// ErrBadCursor: a page cursor this store did not hand out (or for another list).
	ErrBadCursor = errors.New("invalid page cursor")
)

// SharedSecretError: another forge of the same kind already has this webhook
// secret. On /webhooks/<kind> the signature is how a delivery is matched to
// its forge, so CreateForge and UpdateForge refuse it in the same transaction
// as the write. It is an ErrConflict.
type SharedSecretError struct {
	Forge string // the forge that has the secret
	Kind  core.ForgeKind
}

func (e *SharedSecretError) Error() string {
	return fmt.Sprintf("forge %q already uses this webhook secret; give each %s forge its own secret, "+
		"so a delivery's signature says which forge sent it", e.Forge, e.Kind)
}

// Is makes a SharedSecretError an ErrConflict.
func (e *SharedSecretError) Is(target error) bool { return target == ErrConflict }

// Page asks for one page of a list in the list's stable order. Walking a list
// page by page visits every object that stays in the list exactly once; objects
// added meanwhile may or may not appear.
type Page struct {
	Limit  int    // page size, at least 1
	Cursor string // opaque: "" for the first page, else the next of the previous page
}

// InstanceOrder is ListInstances' order: oldest first, then by name.
func InstanceOrder(a, b core.Instance) int {
	return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.Name, b.Name))
}

// JobOrder is ListJobs' order without a limit: oldest received first.
func JobOrder(a, b core.Job) int {
	return cmp.Or(a.ReceivedAt.Compare(b.ReceivedAt), cmp.Compare(a.EntityID, b.EntityID), cmp.Compare(a.ID, b.ID))
}

// InstanceFilter selects instances. Zero fields match everything.
type InstanceFilter struct {
	PoolID string
	States []core.InstanceState
	// Live excludes deleted instances.
	Live bool
}

// JobFilter selects jobs. Zero fields match everything.
type JobFilter struct {
	EntityID string
	States   []core.JobState
	Limit    int   // 0 = no limit; newest first when set (ListJobs only)
	ID       int64 // only jobs with this id (ids are unique per forge, not across forges)
}

// UsageFilter selects usage records. Zero fields match everything; From
// and To bound EndedAt (From inclusive, To exclusive).
type UsageFilter struct {
	TenantID string
	EntityID string
	PoolID   string
	From, To time.Time
}

// JobKey names one job.
type JobKey struct {
	EntityID string
	ID       int64
}

// Changes is what ChangesSince reports: the instances and jobs written
// (created or updated) after a cursor was handed out, as they are now, and
// how many live instances and queued jobs exist, all read at one moment.
// A row removed outright (PurgeInstances, DeleteEntity) is not reported; a
// reader keeping a copy sees it by its counts no longer matching.
type Changes struct {
	// Cursor is where the next ChangesSince continues. Opaque: only the
	// store that handed it out can read it.
	Cursor    string
	Instances []core.Instance // any state, deleted included
	Jobs      []core.Job      // any state
	// LiveInstances counts instances not deleted, QueuedJobs jobs queued.
	LiveInstances, QueuedJobs int
}

// Store is everything Paddock persists. Every method is safe for concurrent use.
// Lookups "by ref" accept an id or a name.
type Store interface {
	CreateForge(ctx context.Context, f *core.Forge) error // fills ID, timestamps
	GetForge(ctx context.Context, ref string) (core.Forge, error)
	ListForges(ctx context.Context) ([]core.Forge, error)
	UpdateForge(ctx context.Context, f *core.Forge) error
	DeleteForge(ctx context.Context, ref string) error // ErrConflict while entities use it

	CreateEntity(ctx context.Context, e *core.Entity) error
	GetEntity(ctx context.Context, ref string) (core.Entity, error)
	ListEntities(ctx context.Context) ([]core.Entity, error)
	UpdateEntity(ctx context.Context, e *core.Entity) error
	DeleteEntity(ctx context.Context, ref string) error // ErrConflict while pools use it

	CreatePool(ctx context.Context, p *core.Pool) error
	GetPool(ctx context.Context, ref string) (core.Pool, error)
	ListPools(ctx context.Context) ([]core.Pool, error)
	UpdatePool(ctx context.Context, p *core.Pool) error
	// ModifyPool reads the pool with that id or name, applies fn and writes
	// the result back in one transaction, so two concurrent changes of
	// different fields both land. If fn returns an error nothing is written
	// and that error is returned. The pool's id cannot change.
	ModifyPool(ctx context.Context, ref string, fn func(*core.Pool) error) (core.Pool, error)
	DeletePool(ctx context.Context, ref string) error // ErrConflict while live instances use it

	// Tenants (docs/sharing.md). An entity belongs to at most one tenant
	// (ErrConflict otherwise); a tenant a pool names cannot be deleted or
	// renamed (ErrConflict).
	CreateTenant(ctx context.Context, t *core.Tenant) error // fills ID, timestamps
	GetTenant(ctx context.Context, ref string) (core.Tenant, error)
	ListTenants(ctx context.Context) ([]core.Tenant, error)
	UpdateTenant(ctx context.Context, t *core.Tenant) error
	DeleteTenant(ctx context.Context, ref string) error

	// CreateInstance records intent; Name must be unique (ErrConflict otherwise).
	CreateInstance(ctx context.Context, i *core.Instance) error
	// CreateInstances records several in one transaction: all or none.
	CreateInstances(ctx context.Context, is []*core.Instance) error
	GetInstance(ctx context.Context, ref string) (core.Instance, error)
	// GetInstanceByTokenHash finds the instance whose single-use token hashes to h.
	GetInstanceByTokenHash(ctx context.Context, h string) (core.Instance, error)
	ListInstances(ctx context.Context, f InstanceFilter) ([]core.Instance, error)
	// UpdateInstance reads, applies fn and writes back in one transaction.
	// It refuses (with *core.ErrTransition) a state or runner-state move the
	// state machines forbid, and stamps UpdatedAt/StateSince/RunnerSince.
	// If fn returns an error nothing is written and that error is returned.
	UpdateInstance(ctx context.Context, ref string, fn func(*core.Instance) error) (core.Instance, error)
	// ListInstancesPage returns one page of the instances matching f, oldest
	// first, and the cursor of the next page ("" after the last page).
	ListInstancesPage(ctx context.Context, f InstanceFilter, p Page) ([]core.Instance, string, error)
	// PurgeInstances removes deleted instances last updated before t (history
	// retention), in bounded batches so other writers are never held up long.
	PurgeInstances(ctx context.Context, before time.Time) (int, error)

	// UpsertJob inserts the job or applies a forward state change; a backward
	// move (e.g. a late "queued" after "completed") is ignored and reported as
	// changed=false. Fields known only later (runner name, timestamps) are merged.
	UpsertJob(ctx context.Context, j *core.Job) (changed bool, err error)
	GetJob(ctx context.Context, entityID string, id int64) (core.Job, error)
	ListJobs(ctx context.Context, f JobFilter) ([]core.Job, error)
	// ListJobsPage returns one page of the jobs matching f (f.Limit is
	// ignored), newest received first, and the cursor of the next page ("" after
	// the last page).
	ListJobsPage(ctx context.Context, f JobFilter, p Page) ([]core.Job, string, error)
	// PurgeJobs removes completed jobs last updated before t (retention), in
	// bounded batches like PurgeInstances.
	PurgeJobs(ctx context.Context, before time.Time) (int, error)
	// UpdateJob reads, applies fn and writes back in one transaction (scheduler notes, pool binding).
	UpdateJob(ctx context.Context, entityID string, id int64, fn func(*core.Job) error) (core.Job, error)
	// UpdateJobs applies fn to several jobs in one transaction: all or nothing.
	UpdateJobs(ctx context.Context, keys []JobKey, fn func(*core.Job) error) error

	// ChangesSince returns the instances and jobs written after cursor by
	// any process, so the controller keeps its view up to date without
	// listing every row on each decision. A change that commits after a
	// read is never skipped by the next one, whatever order writers
	// started in. Cursor "" returns no rows, only the current cursor and
	// counts: where a reader that has just listed everything starts.
	// ErrBadCursor for a cursor this store did not hand out.
	ChangesSince(ctx context.Context, cursor string) (Changes, error)

	// RecordDelivery remembers a webhook delivery id; fresh=false means it was seen before.
	RecordDelivery(ctx context.Context, source, deliveryID string, at time.Time) (fresh bool, err error)
	// PurgeDeliveries forgets delivery ids recorded before t, in bounded batches.
	PurgeDeliveries(ctx context.Context, before time.Time) (int, error)

	// AppendEvents adds events to the event log in one transaction, filling
	// each one's ID (and At, if zero). IDs increase in commit order: once a
	// reader has seen an event, no later append gets a smaller ID, so
	// ListEventsAfter(lastSeen) never misses one. An ID is never reused, even
	// after the events before it were pruned.
	AppendEvents(ctx context.Context, evs []*core.Event) error
	// ListEventsAfter returns up to limit events with ID > after, oldest first.
	ListEventsAfter(ctx context.Context, after int64, limit int) ([]core.Event, error)
	// LastEventID is the ID of the newest event (0 if the log is empty), where
	// a stream that wants only new events starts.
	LastEventID(ctx context.Context) (int64, error)
	// PruneEvents removes events that happened before t, in bounded batches.
	PruneEvents(ctx context.Context, before time.Time) (int, error)

	// RecordUsage stores what a removed machine cost (core.Usage), once per
	// instance name: recording it again changes nothing and reports
	// fresh=false, so the controller may retry after a crash.
	RecordUsage(ctx context.Context, u *core.Usage) (fresh bool, err error)
	// ListUsage returns the usage records matching f, oldest EndedAt first.
	ListUsage(ctx context.Context, f UsageFilter) ([]core.Usage, error)

	// Meta is a small key/value table for the controller id and similar.
	GetMeta(ctx context.Context, key string) (string, error) // ErrNotFound if unset
	SetMeta(ctx context.Context, key, value string) error

	Close() error
}
