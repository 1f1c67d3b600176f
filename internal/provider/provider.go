// Package provider defines how Paddock creates and destroys machines.
// Adapters (process, qemu, external, kubernetes) live in sub-packages.
//
// Every call is idempotent by machine name: Create of a name that exists
// returns the existing machine; Delete of a missing name succeeds. The
// controller relies on this to retry any call after a crash.
package provider

import (
	"context"
	"encoding/json"
	"errors"
)

// ErrNotFound is returned by Get for a machine the provider does not have.
var ErrNotFound = errors.New("machine not found")

// Status is a machine's state as the provider sees it (GARM's vocabulary).
type Status string

const (
	StatusRunning Status = "running"
	StatusStopped Status = "stopped"
	StatusError   Status = "error"
	StatusUnknown Status = "unknown"
)

// Spec is everything a provider needs to create one machine. It carries no
// forge credential: the machine fetches its single-use runner config from
// MetadataURL with Token.
type Spec struct {
	Name         string   `json:"name"`
	ControllerID string   `json:"controller_id"`
	PoolID       string   `json:"pool_id"`
	Image        string   `json:"image"`
	Flavor       string   `json:"flavor"`
	OSType       string   `json:"os_type"`
	Arch         string   `json:"arch"`
	Labels       []string `json:"labels"`
	CPU          int      `json:"cpu"`
	MemoryMB     int      `json:"memory_mb"`
	DiskGB       int      `json:"disk_gb"`
	MetadataURL  string   `json:"metadata_url"`
	CallbackURL  string   `json:"callback_url"`
	Token        string   `json:"-"` // single-use instance token; never logged
	// ExtraSpecs is the pool's provider-specific settings (a JSON object),
	// passed through untouched to providers that understand them (external).
	ExtraSpecs json.RawMessage `json:"extra_specs,omitempty"`
}

// Machine is a provider's view of one machine.
type Machine struct {
	ProviderID string `json:"provider_id"`
	Name       string `json:"name"`
	PoolID     string `json:"pool_id,omitempty"`
	Status     Status `json:"status"`
	Fault      string `json:"fault,omitempty"`
}

// Provider creates, lists and destroys machines on one kind of infrastructure.
type Provider interface {
	// Create makes (or finds) the machine named spec.Name.
	Create(ctx context.Context, spec Spec) (Machine, error)
	// Delete destroys the machine; a machine that does not exist is not an error.
	Delete(ctx context.Context, name string) error
	// Get returns ErrNotFound for a machine that does not exist.
	Get(ctx context.Context, name string) (Machine, error)
	// List returns every machine this controller owns on this provider.
	List(ctx context.Context) ([]Machine, error)
}
