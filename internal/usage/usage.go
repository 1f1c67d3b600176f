// Package usage turns a machine's life into a cost record (docs/sharing.md,
// "Cost accounting"). It is pure: the controller gives it the times it saw.
package usage

import (
	"fmt"
	"math"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
)

// Life is what the controller knows of a removed machine. Zero times mean
// "did not happen": a machine that never came online has only boot time.
type Life struct {
	Instance string
	PoolID   string
	TenantID string
	EntityID string
	JobID    int64
	Provider string
	Flavor   string // the flavor or size label the machine was made with
	OS       string // for the reference price; "" = linux
	CPU      int    // vCPUs, for the reference price; 0 = 2 (GitHub's standard runner)

	Created  time.Time
	Online   time.Time // runner registered and idle
	JobStart time.Time
	JobDone  time.Time // zero: the job ran until the machine was gone
	Gone     time.Time
}

// Compute prices one machine's life. A missing price is never a silent 0:
// the record carries a note naming what to add to the price table.
func Compute(l Life, t core.PriceTable) core.Usage {
	u := core.Usage{Instance: l.Instance, PoolID: l.PoolID, TenantID: l.TenantID, EntityID: l.EntityID,
		JobID: l.JobID, Provider: l.Provider, Flavor: l.Flavor, Currency: t.Currency, EndedAt: l.Gone}
	end := l.Gone
	switch {
	case l.Online.IsZero():
		u.BootSeconds = secs(l.Created, end)
	case l.JobStart.IsZero():
		u.BootSeconds = secs(l.Created, l.Online)
		u.WaitSeconds = secs(l.Online, end)
	default:
		if !l.JobDone.IsZero() && l.JobDone.Before(end) {
			end = l.JobDone
		}
		u.BootSeconds = secs(l.Created, l.Online)
		u.WaitSeconds = secs(l.Online, l.JobStart)
		u.RunSeconds = secs(l.JobStart, end)
	}
	p, ok := t.Lookup(l.Provider, l.Flavor)
	if !ok {
		u.Note = fmt.Sprintf("no price for provider %q flavor %q: add it under prices.machines", l.Provider, l.Flavor)
	} else {
		u.Cost = p.StartFee + p.PerMinute*u.MachineSeconds()/60
	}
	if u.RunSeconds > 0 {
		os, cpu := l.OS, l.CPU
		if os == "" {
			os = "linux"
		}
		if cpu == 0 {
			cpu = 2
		}
		if r, ok := t.ReferenceFor(os, cpu); ok {
			// Hosted runners bill whole minutes of the job's run time.
			u.ReferenceCost = r.PerMinute * math.Ceil(u.RunSeconds/60)
		}
	}
	return u
}

func secs(from, to time.Time) float64 {
	if from.IsZero() || to.Before(from) {
		return 0
	}
	return to.Sub(from).Seconds()
}

// Row is one line of a usage report.
type Row struct {
	Key            string  `json:"key"` // tenant, entity, pool or day
	Machines       int     `json:"machines"`
	Jobs           int     `json:"jobs"`
	BootMinutes    float64 `json:"boot_minutes"`
	WaitMinutes    float64 `json:"wait_minutes"`
	RunMinutes     float64 `json:"run_minutes"`
	OverheadMinute float64 `json:"overhead_minutes"` // warm machines that never ran a job
	Cost           float64 `json:"cost"`
	ReferenceCost  float64 `json:"reference_cost"`
	Saving         float64 `json:"saving"`
	Currency       string  `json:"currency,omitempty"`
	Note           string  `json:"note,omitempty"` // e.g. machines without a price
}

// Summarize groups records by key(u), in first-seen order.
func Summarize(us []core.Usage, key func(core.Usage) string) []Row {
	var rows []Row
	at := map[string]int{}
	unpriced := map[string]int{}
	for _, u := range us {
		k := key(u)
		i, ok := at[k]
		if !ok {
			i = len(rows)
			at[k] = i
			rows = append(rows, Row{Key: k, Currency: u.Currency})
		}
		r := &rows[i]
		r.Machines++
		if u.Overhead() {
			r.OverheadMinute += u.MachineSeconds() / 60
		} else {
			r.Jobs++
			r.BootMinutes += u.BootSeconds / 60
			r.WaitMinutes += u.WaitSeconds / 60
			r.RunMinutes += u.RunSeconds / 60
		}
		r.Cost += u.Cost
		r.ReferenceCost += u.ReferenceCost
		if u.Note != "" {
			unpriced[k]++
		}
	}
	for i := range rows {
		rows[i].Saving = rows[i].ReferenceCost - rows[i].Cost
		if n := unpriced[rows[i].Key]; n > 0 {
			rows[i].Note = fmt.Sprintf("%d machine(s) without a price: cost incomplete", n)
		}
	}
	return rows
}

// ByDay groups by the UTC day the machine ended.
func ByDay(u core.Usage) string { return u.EndedAt.UTC().Format(time.DateOnly) }
