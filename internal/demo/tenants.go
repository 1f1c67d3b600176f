package demo

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/paddock-ci/paddock/internal/app"
	"github.com/paddock-ci/paddock/internal/config"
	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forgesim"
	"github.com/paddock-ci/paddock/internal/store"
	"github.com/paddock-ci/paddock/internal/usage"
)

// The tenants demo (--tenants N): one shared pool of tenantPoolSize machines
// for N tenants, one repository each. Tenant A queues the burst (--jobs)
// first; once A holds the whole pool, every other tenant queues
// tenantFewJobs. Fair share must start B's and C's first jobs within one
// machine turnover, not after A's burst.
const (
	tenantPoolSize = 4
	tenantFewJobs  = 2
)

func tenantName(i int) string { return string(rune('a' + i)) }

func tenantRepo(i int) string {
	if i == 0 {
		return repo
	}
	return "tenant-" + tenantName(i) + "/app"
}

func checkTenants(o *Options) error {
	switch {
	case o.Tenants == 0:
		return nil
	case o.Tenants < 2 || o.Tenants > 26:
		return fmt.Errorf("--tenants %d: want 2 to 26", o.Tenants)
	case o.Intake == intakeScaleSet:
		return errors.New("--tenants does not go with --intake scaleset (a scale set belongs to one entity)")
	case o.Warm > tenantPoolSize:
		return fmt.Errorf("--warm %d with --tenants: at most the shared pool's %d machines", o.Warm, tenantPoolSize)
	}
	return nil
}

// applyTenants turns the demo config into N tenants sharing one pool.
func applyTenants(o Options, cfg *config.Config) {
	base := cfg.Entities[0]
	cfg.Tenants = nil
	for i := range o.Tenants {
		if i > 0 {
			e := base
			e.Name = tenantRepo(i)
			cfg.Entities = append(cfg.Entities, e)
		}
		cfg.Tenants = append(cfg.Tenants, config.TenantConfig{Name: "tenant-" + tenantName(i), Entities: []string{tenantRepo(i)}})
	}
	p := cfg.Pools[0]
	// --warm: warm machines wait unbound for any tenant's job (late binding).
	p.Name, p.Tenants, p.MaxRunners, p.MinIdle = "shared", []string{core.AllTenants}, tenantPoolSize, o.Warm
	cfg.Pools = []config.PoolConfig{p}
	if cfg.Prices == nil {
		// A made-up price, so the summary can show cost per tenant against
		// the GitHub-hosted reference; a real installation sets its own.
		cfg.Prices = &core.PriceTable{Currency: "USD", Reference: core.GitHubHostedPrices(),
			Prices: []core.Price{{Provider: p.Provider, Flavor: p.Flavor, PerMinute: demoPricePerMinute}}}
	}
}

// demoPricePerMinute is the demo's machine price (USD per machine-minute).
const demoPricePerMinute = 0.004

// queueTenants queues A's burst, waits until A's jobs run on the whole pool,
// then queues the other tenants' few jobs. It returns how many jobs it queued.
func queueTenants(ctx context.Context, o Options, sim *forgesim.Sim) (int, error) {
	labels := []string{"self-hosted", "linux"}
	queue := func(i, k int) error {
		_, err := sim.QueueJob(forgesim.JobSpec{Repo: tenantRepo(i), Labels: labels,
			Name: fmt.Sprintf("%s-%02d", tenantName(i), k+1), Duration: o.JobDuration})
		return err
	}
	for k := range o.Jobs {
		if err := queue(0, k); err != nil {
			return 0, err
		}
	}
	for { // until A's first wave runs: the pool is A's
		running := 0
		for _, j := range sim.Jobs() {
			if !j.StartedAt.IsZero() {
				running++
			}
		}
		if running >= min(tenantPoolSize, o.Jobs) {
			break
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	fmt.Fprintf(o.Out, "tenant a's jobs run on the whole pool (%d machines, %d jobs queued); the other tenants queue %d jobs each\n",
		tenantPoolSize, o.Jobs, tenantFewJobs)
	for i := 1; i < o.Tenants; i++ {
		for k := range tenantFewJobs {
			if err := queue(i, k); err != nil {
				return 0, err
			}
		}
	}
	return o.Jobs + (o.Tenants-1)*tenantFewJobs, nil
}

// TenantRow is one tenant's figures in the tenants demo.
type TenantRow struct {
	Tenant             string
	Jobs, Machines     int
	WaitP50, WaitP99   time.Duration
	FirstWait          time.Duration // its first job: queued → running
	QueuedAfterBurstAt time.Duration // when its first job was queued, after A's first
}

// tenantReport prints per-tenant queued→running and machines, and checks
// that every other tenant's first job started within one machine turnover of
// being queued: the time a slot of the pool takes from running one job to
// running the next (job, machine removal, new machine's boot), the slowest
// over the pool's slots in its first cycle. The other tenants queue once the
// whole first wave runs, so each slot frees within one turnover of that.
func tenantReport(ctx context.Context, w io.Writer, o Options, sim *forgesim.Sim, a *app.App) error {
	ents, err := a.Store.ListEntities(ctx)
	if err != nil {
		return err
	}
	byID := map[string]string{}
	for _, e := range ents {
		byID[e.ID] = e.Name
	}
	insts, err := a.Store.ListInstances(ctx, store.InstanceFilter{})
	if err != nil {
		return err
	}
	if o.Warm > 0 {
		lateBoundReport(w, sim, insts)
	}
	machines := map[string]int{}
	for _, in := range insts {
		name := byID[in.EntityID]
		if in.EntityID == "" {
			name = repo // the shared pool's own entity
		}
		machines[name]++
	}
	jobs := sim.Jobs()
	slices.SortFunc(jobs, func(x, y forgesim.Job) int { return x.CreatedAt.Compare(y.CreatedAt) })
	var firstA time.Time
	var started []time.Time
	for _, j := range jobs {
		if !j.StartedAt.IsZero() {
			started = append(started, j.StartedAt)
		}
	}
	slices.SortFunc(started, time.Time.Compare)
	// Slot k of the pool runs the k-th job of the first wave, then the k-th
	// of the second: the slowest such cycle is one machine turnover.
	var turnover time.Duration
	for k := 0; k+tenantPoolSize < len(started) && k < tenantPoolSize; k++ {
		turnover = max(turnover, started[k+tenantPoolSize].Sub(started[k]))
	}
	rows := make([]TenantRow, o.Tenants)
	waits := make([][]time.Duration, o.Tenants)
	for i := range rows {
		rows[i].Tenant = "tenant-" + tenantName(i)
		rows[i].Machines = machines[tenantRepo(i)]
		first := true
		for _, j := range jobs {
			if j.Repo != tenantRepo(i) || j.StartedAt.IsZero() {
				continue
			}
			wait := j.StartedAt.Sub(j.CreatedAt)
			waits[i] = append(waits[i], wait)
			if first {
				rows[i].FirstWait, first = wait, false
				if i == 0 {
					firstA = j.CreatedAt
				}
				rows[i].QueuedAfterBurstAt = j.CreatedAt.Sub(firstA)
			}
		}
		rows[i].Jobs = len(waits[i])
		rows[i].WaitP50, rows[i].WaitP99 = Percentile(waits[i], 50), Percentile(waits[i], 99)
	}
	sec := func(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }
	fmt.Fprintf(w, "\nTenants (one shared pool of %d machines; one machine turnover here: %s)\n", tenantPoolSize, sec(turnover))
	fmt.Fprintf(w, "  %-10s %5s %9s %10s %10s %12s\n", "TENANT", "JOBS", "MACHINES", "WAIT P50", "WAIT P99", "FIRST WAIT")
	var slow []string
	for i, r := range rows {
		fmt.Fprintf(w, "  %-10s %5d %9d %10s %10s %12s\n", r.Tenant, r.Jobs, r.Machines, sec(r.WaitP50), sec(r.WaitP99), sec(r.FirstWait))
		if i > 0 && (r.Jobs == 0 || r.FirstWait > turnover) {
			slow = append(slow, r.Tenant)
		}
	}
	if len(slow) > 0 {
		return fmt.Errorf("demo failed: the first job of %v waited longer than one machine turnover (%s)", slow, sec(turnover))
	}
	fmt.Fprintf(w, "  every other tenant's first job started within one machine turnover of being queued\n")
	return tenantCost(ctx, w, a)
}

// tenantCost prints what each tenant's machines cost (recorded when each
// machine was removed), against the GitHub-hosted reference price.
func tenantCost(ctx context.Context, w io.Writer, a *app.App) error {
	us, err := a.Store.ListUsage(ctx, store.UsageFilter{})
	if err != nil {
		return err
	}
	tenants, err := a.Store.ListTenants(ctx)
	if err != nil {
		return err
	}
	names := map[string]string{}
	for _, t := range tenants {
		names[t.ID] = t.Name
	}
	rows := usage.Summarize(us, func(u core.Usage) string {
		if u.Overhead() {
			return "(warm idle)"
		}
		return cmp.Or(names[u.TenantID], u.TenantID)
	})
	slices.SortFunc(rows, func(x, y usage.Row) int { return strings.Compare(x.Key, y.Key) })
	fmt.Fprintf(w, "\nCost per tenant (machine price %.3f USD/min in this demo; reference: GitHub-hosted list price)\n", demoPricePerMinute)
	fmt.Fprintf(w, "  %-12s %8s %10s %10s %10s %10s  %s\n", "TENANT", "MACHINES", "MACH-MIN", "COST", "REFERENCE", "SAVING", "NOTE")
	unpriced := false
	for _, r := range rows {
		mins := r.BootMinutes + r.WaitMinutes + r.RunMinutes + r.OverheadMinute
		fmt.Fprintf(w, "  %-12s %8d %10.2f %10.4f %10.4f %10.4f  %s\n", r.Key, r.Machines, mins, r.Cost, r.ReferenceCost, r.Saving, r.Note)
		unpriced = unpriced || r.Note != ""
	}
	if len(rows) == 0 {
		return errors.New("demo failed: no machine usage was recorded")
	}
	if unpriced {
		return errors.New("demo failed: some machines had no price (see the note)")
	}
	return nil
}
