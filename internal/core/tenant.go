package core

import "time"

// DefaultTenant is the name of the tenant every entity belongs to when no
// tenant lists it. Declaring a tenant with this name (and no entities) sets
// the default tenant's weight and quotas.
const DefaultTenant = "default"

// AllTenants in a pool's Tenants makes the pool serve every entity.
const AllTenants = "*"

// BudgetMode says what happens when a tenant's monthly budget is spent.
type BudgetMode string

const (
	BudgetHard BudgetMode = "hard" // jobs wait
	BudgetSoft BudgetMode = "soft" // a warning only
)

// Tenant groups entities, across forges, that share quotas and a weight in
// fair share (docs/sharing.md). A quota of 0 means no limit.
type Tenant struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Entities []string `json:"entities"` // entity ids
	// Weight is the tenant's share of contended capacity relative to others.
	Weight      int `json:"weight"`
	MaxMachines int `json:"max_machines,omitempty"` // concurrent machines; 0 = no limit
	MaxVCPU     int `json:"max_vcpu,omitempty"`     // concurrent vCPU; 0 = no limit
	// BudgetMinutes is a monthly machine-minutes budget (0 = none). It is
	// validated and stored; enforcement waits for cost accounting (issue 10
	// item 6), which records the minutes it is measured against.
	BudgetMinutes int        `json:"budget_minutes,omitempty"`
	BudgetMode    BudgetMode `json:"budget_mode,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
}
