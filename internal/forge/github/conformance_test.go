package github_test

import (
	"net/http"
	"testing"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
	"github.com/paddock-ci/paddock/internal/forge/forgetest"
	"github.com/paddock-ci/paddock/internal/forge/github"
	"github.com/paddock-ci/paddock/internal/forgesim"
)

func newConformanceClient(t *testing.T, f core.Forge) forge.Client {
	t.Helper()
	c, err := github.New(f, github.Options{MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestConformance(t *testing.T) {
	forgetest.Run(t, forgetest.SimForge{Flavor: forgesim.FlavorGitHub, Kind: core.ForgeGitHub,
		RunnerAPI: true, JobListing: true, New: newConformanceClient,
		Parse: func(_ http.Header, body []byte) (forge.JobEvent, error) { return github.ParseWorkflowJob(body) },
	}.Setup)
}

func TestConformanceReal(t *testing.T) {
	forgetest.Run(t, forgetest.Real(core.ForgeGitHub, func(t *testing.T, f core.Forge) forgetest.Target {
		return forgetest.Target{Client: newConformanceClient(t, f), RunnerAPI: true, JobListing: true}
	}))
}
