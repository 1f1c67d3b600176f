package demo

import (
	"fmt"
	"strings"

	"github.com/paddock-ci/paddock/internal/forgesim"
)

// forgeSetup is how the demo's config names the simulated forge.
type forgeSetup struct {
	Kind, APIURL, WebURL string
	// Extra is YAML appended to the forge entry (runner_downloads for Gitea/Forgejo).
	Extra string
}

// checkForge validates --forge and defaults it to github.
func checkForge(o *Options) error {
	switch o.Forge {
	case "":
		o.Forge = forgesim.FlavorGitHub
	case forgesim.FlavorGitHub, forgesim.FlavorGitea, forgesim.FlavorForgejo:
	default:
		return fmt.Errorf("--forge %q: want github, gitea or forgejo", o.Forge)
	}
	return nil
}

// simForge describes the running sim for the config. Gitea and Forgejo
// serve their REST API under /api/v1/ and publish no runner downloads, so
// the sim's runner packages are configured as runner_downloads.
func simForge(o Options, sim *forgesim.Sim) forgeSetup {
	if o.Forge == forgesim.FlavorGitHub {
		return forgeSetup{Kind: "github", APIURL: sim.URL(), WebURL: sim.URL()}
	}
	var b strings.Builder
	b.WriteString("\n    runner_downloads:")
	for _, t := range sim.RunnerTools() {
		fmt.Fprintf(&b, "\n      - {os: %s, architecture: %s, url: %q, sha256: %s, filename: %s}",
			t.OS, t.Architecture, t.DownloadURL, t.SHA256, t.Filename)
	}
	return forgeSetup{Kind: o.Forge, APIURL: sim.URL() + "api/v1/", WebURL: sim.URL(), Extra: b.String()}
}

// giteaJobMix is jobMix as workflows on Gitea and Forgejo must write it:
// those forges match runs-on exactly and case-sensitively against the
// labels a runner registered, and imply none (not even self-hosted), so the
// jobs name the demo pools' labels as written.
var giteaJobMix = [][]string{
	{"linux"},
	{"linux", "x64", "docker"},
	{"linux", "x64"},
	{"linux", "4cpu-16gb"},
}
