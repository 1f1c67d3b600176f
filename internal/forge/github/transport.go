package github

import (
	"strings"

	"github.com/paddock-ci/paddock/internal/forge/forgehttp"
)

// endpoints names the paths this adapter calls, in the spec's template
// syntax, for the forge_calls metric; prefix is the API root path ("/" or
// "/api/v3/"), which labels leave out.
func endpoints(prefix string) *forgehttp.Endpoints {
	var tpls []string
	for _, scope := range []string{"/repos/{owner}/{repo}", "/orgs/{org}", "/enterprises/{enterprise}"} {
		for _, rest := range []string{
			"/actions/runners",
			"/actions/runners/{runner_id}",
			"/actions/runners/downloads",
			"/actions/runners/generate-jitconfig",
			"/actions/runner-groups",
			"/actions/runs",
			"/actions/runs/{run_id}/jobs",
		} {
			tpls = append(tpls, scope+rest)
		}
	}
	tpls = append(tpls, "/app/installations/{installation_id}/access_tokens")
	return (&forgehttp.Endpoints{}).Mount(strings.TrimSuffix(prefix, "/"), "", tpls...)
}
