// Package scheduler is Paddock's pure decision logic: given a snapshot of
// pools, instances and queued jobs at a moment, it returns what to do. It does
// no I/O and reads no clock (Snapshot.Now is an input), so every rule is
// covered by table and property tests.
package scheduler

import (
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
)

// Snapshot is the world as the controller sees it at Now.
type Snapshot struct {
	Now       time.Time
	Pools     []core.Pool     // all pools, enabled or not
	Instances []core.Instance // every non-deleted instance
	Jobs      []core.Job      // queued jobs only
	// Health holds, by pool id, the record of pools whose creates fail (a pool
	// missing here is healthy): such a pool gets at most one create at a time,
	// and none before its NextCreateAt.
	Health map[string]PoolHealth
	// IdleGrace: an idle runner beyond the pool's targets is removed only after
	// it has been idle this long (avoids thrash on bursts). 0 = immediately.
	IdleGrace time.Duration
	// MaxCreateAttempts bounds create retries of an instance in error; past it the
	// instance is deleted (and a fresh one made if still needed).
	MaxCreateAttempts int
	// LabelRules are the label-matching rules of each entity's forge, by
	// entity id (forge.LabelRulesFor). Entities missing here get GitHub's.
	LabelRules map[string]forge.LabelRules
	// Tenants group entities for quotas and fair share (docs/sharing.md).
	// An entity no tenant lists belongs to the default tenant (weight 1, no
	// quota, unless a tenant named core.DefaultTenant is given).
	Tenants []core.Tenant
	// Capacity bounds what each provider (by name) may hold at once. A
	// provider missing here is bounded only by its pools' max_runners.
	Capacity map[string]Capacity
	// BudgetUsed holds, by tenant name, the machine-minutes its machines used
	// this month (usage records). A tenant with a hard budget_minutes at or
	// over its budget gets no new machines; a soft one gets a Warning.
	BudgetUsed map[string]float64
}

// Capacity is what a provider (or host) can run at once. 0 = no limit.
// A machine of unknown size counts as 1 vCPU and no memory.
type Capacity struct {
	MaxMachines int `json:"max_machines,omitempty"`
	VCPU        int `json:"vcpu,omitempty"`
	MemoryMB    int `json:"memory_mb,omitempty"`
}

// Create asks for one new machine in a pool.
type Create struct {
	PoolID   string
	Labels   []string // runner labels: the pool's labels plus Size if set
	Size     string   // size label this machine is for ("" = pool default)
	CPU      int      // from Size, or the pool flavor if it parses as a size, else 0
	MemoryMB int
	DiskGB   int
	Reason   core.CreateReason
	// EntityID is the entity the machine's runner registers with when it is
	// not the pool's: a shared pool's machine for another entity's job.
	EntityID string
}

// Delete asks to remove one instance.
type Delete struct {
	InstanceName string
	Reason       core.DeleteReason
}

// Retry asks to move an instance in error back to pending_create.
type Retry struct {
	InstanceName string
}

// JobNote records the scheduler's view of a queued job: the pool it counts
// against, or why none can serve it.
type JobNote struct {
	EntityID string
	JobID    int64
	PoolID   string // "" if no pool can serve the job
	Note     string // "" when served; else e.g. `no enabled pool has labels [gpu]`, `pool "x" at max_runners (5)` or `tenant "libfoo" at quota (max_machines 4)`
}

// Decision is everything the controller should do now. Applying it and
// deciding again on the resulting snapshot yields no further creates or
// deletes (the scheduler is idempotent).
type Decision struct {
	Creates []Create
	Deletes []Delete
	Retries []Retry
	Jobs    []JobNote
	// NextWake is the earliest future moment at which a decision could change
	// with no new event (a timeout or retry falling due). Zero = none.
	NextWake time.Time
	// Warnings are things an operator should hear of that stop nothing
	// (a tenant over a soft budget).
	Warnings []string
}

// Size is a machine size asked for by a job's size label (core.ParseSize).
type Size = core.Size
