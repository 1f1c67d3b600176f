package core

import "time"

// Retention: how long finished history stays in the store before the
// controller's housekeeping removes it. Config validation refuses horizons
// below the minimums, and the controller never uses less.
const (
	// Completed jobs. The stored job is what makes a late or redelivered
	// "queued" delivery for a finished job harmless (the state never moves
	// back), and GitHub lets a delivery be redelivered for 3 days, so jobs
	// stay at least that long.
	DefaultJobRetention = 7 * 24 * time.Hour
	MinJobRetention     = 72 * time.Hour

	// Deleted instances. Rule: a deleted instance's name stays in the store
	// at least as long as its runner registration could outlive its machine,
	// because that name is how reconcile proves a forge runner is Paddock's
	// before removing it. GitHub removes a self-hosted runner that has not
	// connected for 14 days (an ephemeral one after 1 day); a registration
	// older than that is gone, so 14 days is the floor.
	DefaultInstanceRetention = 14 * 24 * time.Hour
	MinInstanceRetention     = 14 * 24 * time.Hour

	// Webhook delivery ids, kept to answer a repeated delivery as a
	// duplicate. GitHub's redelivery window is 3 days.
	DefaultDeliveryRetention = 72 * time.Hour
	MinDeliveryRetention     = time.Hour
)
