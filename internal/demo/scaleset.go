package demo

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/paddock-ci/paddock/internal/config"
	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forgesim"
)

// intakeScaleSet runs the demo through a GitHub runner scale set: the
// manager long-polls the scale set's message session, the simulator sends no
// webhooks, and runners are minted through the scale set.
const intakeScaleSet = "scaleset"

// scaleSetLabel names the demo's scale set; jobs ask for it in runs-on.
const scaleSetLabel = "paddock-demo"

func checkScaleSet(o *Options) error {
	if o.Forge != forgesim.FlavorGitHub {
		return fmt.Errorf("--intake scaleset needs --forge github (runner scale sets exist only on GitHub)")
	}
	return nil
}

// applyScaleSet replaces the demo's pools with one scale-set pool on the
// same entity and provider.
func applyScaleSet(cfg *config.Config) {
	p := cfg.Pools[0]
	p.Name, p.Labels, p.ScaleSet = "scaleset", []string{scaleSetLabel}, true
	p.MinIdle, p.MaxRunners, p.Priority, p.Sizes = 0, 6, 0, nil
	cfg.Pools = []config.PoolConfig{p}
}

// demoJobMix is the label sets jobs cycle through.
func demoJobMix(o Options) [][]string {
	if o.Intake == intakeScaleSet {
		return [][]string{{scaleSetLabel}}
	}
	mixFor := jobMix
	if o.Forge == forgesim.FlavorGitea || o.Forge == forgesim.FlavorForgejo {
		mixFor = giteaJobMix
	}
	if o.Forge == forgesim.FlavorForgejo {
		// Forgejo's job search takes the labels of the runners that would run
		// the jobs; open-ended size labels cannot be listed, so polling cannot
		// find jobs that ask for one, and Forgejo sends no workflow_job
		// webhooks either: every Forgejo job is found by polling.
		var mix [][]string
		for _, labels := range mixFor {
			if !slices.ContainsFunc(labels, func(l string) bool { _, ok := core.ParseSize(l); return ok }) {
				mix = append(mix, labels)
			}
		}
		return mix
	}
	if o.Warm > 0 {
		// A warm start: only jobs the warm (standard) pool's idle runners
		// take, with no size label and not the docker pool's.
		var mix [][]string
		for _, labels := range mixFor {
			if !slices.Contains(labels, "docker") &&
				!slices.ContainsFunc(labels, func(l string) bool { _, ok := core.ParseSize(l); return ok }) {
				mix = append(mix, labels)
			}
		}
		return mix
	}
	return mixFor
}

// printScaleSetCalls breaks the simulator's call counts down per job, split
// into the scale-set API (Actions service and its token exchange) and REST.
func printScaleSetCalls(out io.Writer, sim *forgesim.Sim, jobs int) {
	var scale, rest, polls int
	for route, by := range sim.Stats().APICalls {
		n := 0
		for _, c := range by {
			n += c
		}
		switch {
		case isLongPoll(route):
			polls += n
			scale += n
		case strings.Contains(route, "/_actions/") || strings.Contains(route, "/api/v3/"):
			scale += n
		default:
			rest += n
		}
	}
	per := func(n int) float64 { return float64(n) / float64(max(jobs, 1)) }
	fmt.Fprintf(out, "forge API calls per job (scale set): %.1f scale-set API (%d message polls included) + %.1f REST = %.1f\n",
		per(scale), polls, per(rest), per(scale+rest))
}

// isLongPoll tells a scale-set message long poll (GET …/messages) by its
// route: it waits at the forge for work and is counted apart.
func isLongPoll(route string) bool {
	return strings.HasPrefix(route, "GET ") && strings.HasSuffix(route, "/messages")
}
