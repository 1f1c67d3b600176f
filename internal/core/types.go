package core

import (
	"encoding/json"
	"strings"
	"time"
)

// ForgeKind names the kind of code forge an endpoint speaks.
type ForgeKind string

const (
	ForgeGitHub  ForgeKind = "github"
	ForgeGitea   ForgeKind = "gitea"
	ForgeForgejo ForgeKind = "forgejo"
)

// CredentialKind says how Paddock authenticates to a forge.
type CredentialKind string

const (
	CredentialPAT CredentialKind = "pat"
	CredentialApp CredentialKind = "app"
)

// Credential is a forge credential. It never leaves the manager: the store
// encrypts it at rest and the API never returns its secret fields.
type Credential struct {
	Kind           CredentialKind `json:"kind"`
	Token          string         `json:"token,omitempty"`           // PAT
	AppID          int64          `json:"app_id,omitempty"`          // GitHub App
	InstallationID int64          `json:"installation_id,omitempty"` // GitHub App
	PrivateKeyPEM  string         `json:"private_key_pem,omitempty"` // GitHub App
}

// Redacted returns a copy with every secret field blanked, for API answers and logs.
func (c Credential) Redacted() Credential {
	r := c
	if r.Token != "" {
		r.Token = "***"
	}
	if r.PrivateKeyPEM != "" {
		r.PrivateKeyPEM = "***"
	}
	return r
}

// Forge is one forge endpoint (github.com, a GHES host, a Gitea instance) and
// the credential Paddock uses there.
type Forge struct {
	ID            string     `json:"id"`
	Name          string     `json:"name"`
	Kind          ForgeKind  `json:"kind"`
	APIURL        string     `json:"api_url"` // e.g. https://api.github.com/ or https://ghes/api/v3/
	WebURL        string     `json:"web_url"` // e.g. https://github.com/
	WebhookSecret string     `json:"webhook_secret,omitempty"`
	Credential    Credential `json:"credential"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
}

// EntityKind is the level at which runners are registered.
type EntityKind string

const (
	EntityRepository   EntityKind = "repository"
	EntityOrganization EntityKind = "organization"
	EntityEnterprise   EntityKind = "enterprise"
)

// Intake says how jobs for an entity reach Paddock.
type Intake string

const (
	IntakeWebhook Intake = "webhook" // webhooks, plus a slow reconcile poll for missed deliveries
	IntakePoll    Intake = "poll"    // polling only (no inbound connectivity)
)

// Entity is a repository ("owner/repo"), organization ("org") or enterprise
// ("slug") on a forge.
type Entity struct {
	ID        string     `json:"id"`
	ForgeID   string     `json:"forge_id"`
	Kind      EntityKind `json:"kind"`
	Name      string     `json:"name"`
	Intake    Intake     `json:"intake"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
}

// Owner and Repo split a repository entity's name.
func (e Entity) Owner() string {
	o, _, _ := strings.Cut(e.Name, "/")
	return o
}

func (e Entity) Repo() string {
	_, r, _ := strings.Cut(e.Name, "/")
	return r
}

// SizeLimits bounds the size labels (such as 4cpu-16gb) a pool accepts.
// A pool with nil SizeLimits accepts no size labels.
type SizeLimits struct {
	MaxCPU      int `json:"max_cpu"`
	MaxMemoryGB int `json:"max_memory_gb"`
	MaxDiskGB   int `json:"max_disk_gb"`
}

// Pool is a set of identically configured runners on one provider, for one
// entity or, when shared, for several (Entities, Tenants).
type Pool struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// EntityID is the pool's home entity: its warm (idle) machines register
	// there. A shared pool also serves the jobs of Entities (ids) and of the
	// entities of Tenants (names, DefaultTenant, or AllTenants), each on a
	// machine created for that job and registered with the job's entity.
	EntityID          string        `json:"entity_id"`
	Entities          []string      `json:"entities,omitempty"`
	Tenants           []string      `json:"tenants,omitempty"`
	Provider          string        `json:"provider"`
	Image             string        `json:"image"`
	Flavor            string        `json:"flavor"`
	OSType            string        `json:"os_type"`
	Arch              string        `json:"arch"`
	Labels            []string      `json:"labels"`
	MinIdle           int           `json:"min_idle"`
	MaxRunners        int           `json:"max_runners"`
	FreeTargetPercent int           `json:"free_target_percent"`
	Priority          int           `json:"priority"`
	BootstrapTimeout  time.Duration `json:"bootstrap_timeout"`
	MaxJobRuntime     time.Duration `json:"max_job_runtime"`
	RunnerGroup       string        `json:"runner_group"`
	RunnerPrefix      string        `json:"runner_prefix"`
	Sizes             *SizeLimits   `json:"sizes,omitempty"`
	// ExtraSpecs is the provider's own pool settings (a JSON object, such as
	// garm-provider-lxd's disable_updates), passed to external providers.
	ExtraSpecs json.RawMessage `json:"extra_specs,omitempty"`
	// Flavors maps size labels (4cpu-16gb) to the provider flavor a machine
	// of that size gets; sizes not listed get Flavor.
	Flavors map[string]string `json:"flavors,omitempty"`
	// ScaleSet makes the pool a GitHub runner scale set named after its first
	// label: jobs arrive through the scale set's message session (no inbound
	// connectivity) and runners are minted through the scale set.
	ScaleSet  bool      `json:"scale_set,omitempty"`
	Enabled   bool      `json:"enabled"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Instance is one machine (and the one runner on it).
type Instance struct {
	ID         string        `json:"id"`
	Name       string        `json:"name"` // unique; the idempotency key for every provider and forge call
	PoolID     string        `json:"pool_id"`
	State      InstanceState `json:"state"`
	Runner     RunnerState   `json:"runner_state"`
	ProviderID string        `json:"provider_id,omitempty"`
	Labels     []string      `json:"labels"`
	Size       string        `json:"size,omitempty"` // size label the machine was made for, if any
	CPU        int           `json:"cpu,omitempty"`
	MemoryMB   int           `json:"memory_mb,omitempty"`
	DiskGB     int           `json:"disk_gb,omitempty"`
	RunnerID   int64         `json:"runner_id,omitempty"` // forge runner id once the JIT config is minted
	JobID      int64         `json:"job_id,omitempty"`    // the one job this runner took
	// EntityID is the entity the runner registers with when it is not the
	// pool's (a shared pool's machine created for another entity's job).
	EntityID string `json:"entity_id,omitempty"`
	// Unbound marks a shared pool's warm machine made without an entity: it
	// waits for a job (late binding). BoundJobID is the job it was then bound
	// to, recorded (with EntityID) before its runner config is minted.
	Unbound    bool      `json:"unbound,omitempty"`
	BoundJobID int64     `json:"bound_job_id,omitempty"`
	BoundAt    time.Time `json:"bound_at,omitempty"` // its bootstrap clock restarts here
	// TokenHash is the SHA-256 of the single-use instance token; the token itself is never stored.
	TokenHash     string    `json:"-"`
	TokenUsed     bool      `json:"-"`
	Attempts      int       `json:"attempts"`
	NextAttemptAt time.Time `json:"next_attempt_at,omitempty"`
	Fault         string    `json:"fault,omitempty"`
	// DeleteReason says why the instance is being removed.
	DeleteReason DeleteReason `json:"delete_reason,omitempty"`
	CreatedAt    time.Time    `json:"created_at"`
	UpdatedAt    time.Time    `json:"updated_at"`
	// StateSince is when State or Runner last changed: timeouts are measured from it.
	StateSince time.Time `json:"state_since"`
	// RunnerSince is when the runner state last changed.
	RunnerSince time.Time `json:"runner_since"`
	// MintAttempts counts runner-config mints started for the instance, each
	// recorded before its forge call: a first one can have left no
	// registration behind.
	MintAttempts int `json:"mint_attempts,omitempty"`
	// OnlineAt is when the runner first came online (idle or active); the
	// store stamps it. Usage splits boot from wait time there.
	OnlineAt time.Time `json:"online_at,omitempty"`
	// Ran is the workflow run the machine said its runner's job is in (the
	// runner's job-started hook), while no forge answer has named the job;
	// RanAt is when it said so. Only a hint for planning a polled entity.
	Ran   *RunRef   `json:"ran,omitempty"`
	RanAt time.Time `json:"ran_at,omitzero"`
}

// RunRef names a workflow run (and attempt) of a repository.
type RunRef struct {
	RunID      int64  `json:"run_id"`
	RunAttempt int64  `json:"run_attempt,omitempty"`
	Repository string `json:"repository,omitempty"`
}

// Job is one forge workflow job, keyed by (EntityID, ID).
type Job struct {
	ID          int64     `json:"id"`
	EntityID    string    `json:"entity_id"`
	RunID       int64     `json:"run_id"`
	RunAttempt  int64     `json:"run_attempt"`
	Repository  string    `json:"repository"`
	Name        string    `json:"name"`
	Workflow    string    `json:"workflow"`
	Labels      []string  `json:"labels"`
	State       JobState  `json:"state"`
	Conclusion  string    `json:"conclusion,omitempty"`
	RunnerName  string    `json:"runner_name,omitempty"`
	PoolID      string    `json:"pool_id,omitempty"` // pool chosen by the scheduler, if any
	Note        string    `json:"note,omitempty"`    // why the job waits (e.g. no pool matches its labels)
	QueuedAt    time.Time `json:"queued_at"`         // forge's created_at
	ReceivedAt  time.Time `json:"received_at"`       // when Paddock first learnt of it
	StartedAt   time.Time `json:"started_at,omitempty"`
	CompletedAt time.Time `json:"completed_at,omitempty"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// ScaleSetName is the name (and runs-on label) of a scale-set pool: its first
// label other than the implied "self-hosted".
func (p Pool) ScaleSetName() string {
	for _, l := range p.Labels {
		if !strings.EqualFold(l, "self-hosted") {
			return l
		}
	}
	return ""
}

// Shared reports whether the pool serves entities besides its own.
func (p Pool) Shared() bool { return len(p.Entities) > 0 || len(p.Tenants) > 0 }
