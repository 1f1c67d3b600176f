package config

import "time"

// HAConfig tunes running several replicas on one PostgreSQL database
// (docs/ha.md). Every replica serves the API, webhooks and machines; the one
// holding the lease runs the controller loop.
type HAConfig struct {
	// Lease: how long a leader's lease runs without renewal. A leader that
	// cannot renew stops acting before it ends; a follower takes over right
	// after it. Shorter means faster failover and more database traffic
	// (one renewal per third of the lease).
	Lease time.Duration `yaml:"lease"`
	// ReplicaName is how `paddock status` names this replica (default: the
	// host name).
	ReplicaName string `yaml:"replica_name"`
}

// Bounds and default of ha.lease.
const (
	DefaultHALease = 10 * time.Second
	MinHALease     = time.Second
	MaxHALease     = 5 * time.Minute
)

func (v *validator) ha() {
	h := v.c.HA
	if v.p.set["ha"] && v.c.Store.Driver != "postgres" {
		v.p.at("ha", "only with store.driver: postgres; a SQLite store serves exactly one manager")
	}
	if v.p.set["ha.lease"] && (h.Lease < MinHALease || h.Lease > MaxHALease) {
		v.p.at("ha.lease", "must be between %s and %s (got %s)", MinHALease, MaxHALease, h.Lease)
	}
	if h.ReplicaName != "" && !nameRE.MatchString(h.ReplicaName) {
		v.p.at("ha.replica_name", "must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit")
	}
}
