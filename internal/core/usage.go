package core

import "time"

// Usage is what one machine cost (docs/sharing.md, "Cost accounting"). It is
// written once, when the machine is removed, keyed by the instance name, so
// recording it twice (a retry after a crash) changes nothing.
type Usage struct {
	Instance string `json:"instance"`
	PoolID   string `json:"pool_id"`
	TenantID string `json:"tenant_id,omitempty"`
	EntityID string `json:"entity_id,omitempty"`
	// JobID is the job the machine ran; 0 means a warm machine that never
	// ran one, whose time is the pool's shared overhead.
	JobID    int64  `json:"job_id,omitempty"`
	Provider string `json:"provider" yaml:"provider"`
	Flavor   string `json:"flavor,omitempty"` // flavor or size label priced
	// Boot: create → runner online; Wait: online → job start (for a warm
	// machine that never ran a job, all of its idle time); Run: job start →
	// job done or machine gone.
	BootSeconds float64 `json:"boot_seconds"`
	WaitSeconds float64 `json:"wait_seconds"`
	RunSeconds  float64 `json:"run_seconds"`
	Cost        float64 `json:"cost"`
	// ReferenceCost is what the run time would have cost on the reference
	// (GitHub-hosted) runner of the same size; 0 with no reference price.
	ReferenceCost float64 `json:"reference_cost"`
	Currency      string  `json:"currency,omitempty"`
	// Note says why Cost is not known (no price for the provider and flavor):
	// such a row is never a silent 0.
	Note    string    `json:"note,omitempty"`
	EndedAt time.Time `json:"ended_at"`
}

// Overhead reports whether the usage is a warm machine's idle time.
func (u Usage) Overhead() bool { return u.JobID == 0 }

// MachineSeconds is the machine's whole lifetime.
func (u Usage) MachineSeconds() float64 { return u.BootSeconds + u.WaitSeconds + u.RunSeconds }

// Price is what one machine of a provider's flavor (or size label) costs.
type Price struct {
	Provider  string  `json:"provider" yaml:"provider"`
	Flavor    string  `json:"flavor" yaml:"flavor"`
	PerMinute float64 `json:"per_minute" yaml:"per_minute"`
	StartFee  float64 `json:"start_fee,omitempty" yaml:"start_fee"`
}

// ReferencePrice is the per-minute price of a comparable hosted runner of a
// size (a size label such as 2cpu-8gb), per OS.
type ReferencePrice struct {
	OS        string  `json:"os" yaml:"os"`
	CPU       int     `json:"cpu" yaml:"cpu"`
	PerMinute float64 `json:"per_minute" yaml:"per_minute"`
}

// PriceTable holds the prices, all in one currency.
type PriceTable struct {
	Currency  string           `json:"currency" yaml:"currency"`
	Prices    []Price          `json:"machines" yaml:"machines"`
	Reference []ReferencePrice `json:"reference" yaml:"reference"`
}

// Lookup finds the price of a provider's flavor.
func (t PriceTable) Lookup(provider, flavor string) (Price, bool) {
	for _, p := range t.Prices {
		if p.Provider == provider && p.Flavor == flavor {
			return p, true
		}
	}
	return Price{}, false
}

// ReferenceFor finds the reference price for a machine of cpu vCPUs on os:
// the smallest listed size with at least that many.
func (t PriceTable) ReferenceFor(os string, cpu int) (ReferencePrice, bool) {
	var best ReferencePrice
	found := false
	for _, r := range t.Reference {
		if r.OS == os && r.CPU >= cpu && (!found || r.CPU < best.CPU) {
			best, found = r, true
		}
	}
	return best, found
}

// GitHubHostedPrices are GitHub's published per-minute list prices (USD) of
// its hosted runners, the default reference (docs/sharing.md cites the page).
func GitHubHostedPrices() []ReferencePrice {
	return []ReferencePrice{
		{"linux", 1, 0.002}, {"linux", 2, 0.008}, {"linux", 4, 0.016}, {"linux", 8, 0.032},
		{"linux", 16, 0.064}, {"linux", 32, 0.128}, {"linux", 64, 0.256}, {"linux", 96, 0.384},
		{"windows", 2, 0.016}, {"windows", 4, 0.032}, {"windows", 8, 0.064}, {"windows", 16, 0.128},
		{"windows", 32, 0.256}, {"windows", 64, 0.512},
	}
}
