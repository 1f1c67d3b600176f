package gitea_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
	"github.com/paddock-ci/paddock/internal/forge/forgetest"
	"github.com/paddock-ci/paddock/internal/forge/gitea"
	"github.com/paddock-ci/paddock/internal/forgesim"
)

func newConformanceClient(t *testing.T, f core.Forge) *gitea.Client {
	t.Helper()
	c, err := gitea.New(context.Background(), f, gitea.Options{MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func parseHook(_ http.Header, body []byte) (forge.JobEvent, error) {
	return gitea.ParseWorkflowJob(body)
}

// Each shape the simulator reproduces: Gitea 1.24 (runner API, no job
// listing), Gitea 1.25 (both), Forgejo 14 (job search, no runner API) and
// Forgejo 15 (both). Forgejo sends no workflow_job webhooks.
func TestConformance(t *testing.T) {
	for _, s := range []struct {
		name, flavor, version string
		kind                  core.ForgeKind
		runnerAPI, jobs       bool
	}{
		{"Gitea1.24", forgesim.FlavorGitea, "1.24.6", core.ForgeGitea, true, false},
		{"Gitea1.25", forgesim.FlavorGitea, "1.25.4", core.ForgeGitea, true, true},
		{"Forgejo14", forgesim.FlavorForgejo, "14.0.2+gitea-1.22.0", core.ForgeForgejo, false, true},
		{"Forgejo15", forgesim.FlavorForgejo, "15.0.1+gitea-1.22.0", core.ForgeForgejo, true, true},
	} {
		sf := forgetest.SimForge{Flavor: s.flavor, Version: s.version, Kind: s.kind, APIPath: "api/v1/",
			RunnerAPI: s.runnerAPI, JobListing: s.jobs,
			New: func(t *testing.T, f core.Forge) forge.Client { return newConformanceClient(t, f) }}
		if s.kind == core.ForgeGitea {
			sf.Parse = parseHook
		}
		t.Run(s.name, func(t *testing.T) { forgetest.Run(t, sf.Setup) })
	}
	// A Gitea whose version has the runner API but whose runner endpoints
	// answer 404 (a proxy, a fork): the 404 must not read as "runner gone"
	// nor "no runners".
	t.Run("Gitea1.25RunnerAPI404", func(t *testing.T) {
		forgetest.Run(t, forgetest.SimForge{Flavor: forgesim.FlavorGitea, Version: "1.25.4", Kind: core.ForgeGitea,
			APIPath: "api/v1/", JobListing: true, RunnerAPIMissing: true, Parse: parseHook,
			New: func(t *testing.T, f core.Forge) forge.Client { return newConformanceClient(t, f) },
			Prepare: func(sim *forgesim.Sim) {
				for _, route := range []string{"GET /api/v1/repos/{owner}/{repo}/actions/runners",
					"GET /api/v1/repos/{owner}/{repo}/actions/runners/{runner_id}",
					"DELETE /api/v1/repos/{owner}/{repo}/actions/runners/{runner_id}"} {
					sim.FailNext(route, http.StatusNotFound, 1<<20)
				}
			}}.Setup)
	})
}

// TestConformanceReal runs the suite against a real Gitea or Forgejo when
// PADDOCK_FORGETEST_GITEA_* or PADDOCK_FORGETEST_FORGEJO_* are set; what the
// server offers is read from its version, as the client does.
func TestConformanceReal(t *testing.T) {
	for _, kind := range []core.ForgeKind{core.ForgeGitea, core.ForgeForgejo} {
		t.Run(string(kind), func(t *testing.T) {
			forgetest.Run(t, forgetest.Real(kind, func(t *testing.T, f core.Forge) forgetest.Target {
				c := newConformanceClient(t, f)
				fl, err := gitea.FlavorOf(kind)
				if err != nil {
					t.Fatal(err)
				}
				v, _ := c.Version()
				return forgetest.Target{Client: c, RunnerAPI: v.AtLeast(fl.RunnerAPI), JobListing: v.AtLeast(fl.JobsAPI)}
			}))
		})
	}
}
