// Package gitea is Paddock's adapter for Gitea (1.24 and later) and Forgejo.
// The two forges share most of their API; where they differ (version
// numbering, webhook headers, registration-token method, job search, runner
// program) the difference lives in one Flavor table, not in branches spread
// through the code.
//
// Gitea's registration tokens are reusable until revoked, so they never
// leave the manager: Paddock itself registers each runner through the runner
// registration RPC that act_runner and forgejo-runner use, and a machine only
// receives the resulting per-runner credentials (the `.runner` file), through
// the single-use metadata flow.
package gitea

import (
	"fmt"

	"github.com/paddock-ci/paddock/internal/core"
)

// Runner program kinds, as machineapi.RunnerConfig.Kind carries them to the
// machine's bootstrap.
const (
	// RunnerKindActRunner: write .runner, run `act_runner daemon --once`.
	RunnerKindActRunner = "act_runner"
	// RunnerKindForgejoRunner: write .runner, run `forgejo-runner one-job --wait`.
	RunnerKindForgejoRunner = "forgejo-runner"
)

// Flavor is what differs between Gitea and Forgejo. Versions are compared in
// the forge's own numbering (Gitea 1.x, Forgejo 7+).
type Flavor struct {
	Kind core.ForgeKind
	Name string // for messages: "Gitea" or "Forgejo"
	// Min is the oldest version Paddock accepts at all.
	Min Version
	// RunnerAPI is the first version with runner list/get/delete over REST.
	RunnerAPI Version
	// JobsAPI is the first version with a queued-job listing Paddock can poll.
	JobsAPI Version
	// EphemeralFrom is the first version whose Register RPC honours
	// ephemeral=true, so the forge itself removes the runner after its one
	// job (and refuses it a second one).
	EphemeralFrom Version
	// PostTokenFrom is the first version whose registration-token endpoints
	// answer POST (older ones, and Forgejo, answer GET).
	PostTokenFrom Version
	// JobSearchNeedsLabels: Forgejo's job search matches runs-on against a
	// label list and returns nothing without one.
	JobSearchNeedsLabels bool
	// RunnerKind is the runner program machines run.
	RunnerKind string
	// Signature, Delivery and Event are the flavor's own webhook headers.
	Signature, Delivery, Event string
}

// Zero-valued versions in the table mean "never" for optional features.
var never = Version{Major: 1 << 30}

var flavors = map[core.ForgeKind]Flavor{
	core.ForgeGitea: {
		Kind: core.ForgeGitea, Name: "Gitea",
		Min: Version{1, 24, 0},
		// Runner list/get/delete under /repos, /orgs and /admin arrived in
		// 1.24 with ephemeral runners; GET …/actions/jobs?status= in 1.25.
		RunnerAPI:     Version{1, 24, 0},
		JobsAPI:       Version{1, 25, 0},
		EphemeralFrom: Version{1, 24, 0},
		PostTokenFrom: Version{1, 25, 0},
		RunnerKind:    RunnerKindActRunner,
		Signature:     "X-Gitea-Signature", Delivery: "X-Gitea-Delivery", Event: "X-Gitea-Event",
	},
	core.ForgeForgejo: {
		Kind: core.ForgeForgejo, Name: "Forgejo",
		Min: Version{11, 0, 0},
		// Forgejo 15 added the runner REST API (a bare JSON array, labels
		// as strings) and ephemeral registration; before it the only way to
		// remove a runner is the web UI or forgejo-cli.
		RunnerAPI:            Version{15, 0, 0},
		JobsAPI:              Version{11, 0, 0},
		EphemeralFrom:        Version{15, 0, 0},
		PostTokenFrom:        never,
		JobSearchNeedsLabels: true,
		RunnerKind:           RunnerKindForgejoRunner,
		Signature:            "X-Forgejo-Signature", Delivery: "X-Forgejo-Delivery", Event: "X-Forgejo-Event",
	},
}

// FlavorOf returns the flavor for a forge kind.
func FlavorOf(kind core.ForgeKind) (Flavor, error) {
	fl, ok := flavors[kind]
	if !ok {
		return Flavor{}, fmt.Errorf("gitea adapter: forge kind %q is neither gitea nor forgejo", kind)
	}
	return fl, nil
}
