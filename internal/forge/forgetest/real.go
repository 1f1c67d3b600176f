package forgetest

import (
	"os"
	"strings"
	"testing"

	"github.com/paddock-ci/paddock/internal/core"
)

// Real returns a Setup for a real server of kind, configured through
// PADDOCK_FORGETEST_<KIND>_URL (the API root), _TOKEN (a token allowed to
// manage the repository's runners) and _REPO (owner/name). The test is
// skipped, saying so, when they are unset. The suite registers runners
// named paddock-forgetest-* there and deletes them afterwards; the cases that
// need to queue jobs or inject faults are skipped. build makes the client
// and states what the server offers (RunnerAPI, JobListing).
func Real(kind core.ForgeKind, build func(t *testing.T, f core.Forge) Target) Setup {
	return func(t *testing.T) Target {
		t.Helper()
		prefix := "PADDOCK_FORGETEST_" + strings.ToUpper(string(kind)) + "_"
		url, token, repo := os.Getenv(prefix+"URL"), os.Getenv(prefix+"TOKEN"), os.Getenv(prefix+"REPO")
		if url == "" || token == "" || repo == "" {
			t.Skipf("no real %s configured: set %sURL, %sTOKEN and %sREPO to run the forge conformance suite against one",
				kind, prefix, prefix, prefix)
		}
		f := core.Forge{Name: "real", Kind: kind, APIURL: url,
			Credential: core.Credential{Kind: core.CredentialPAT, Token: token}}
		tg := build(t, f)
		tg.Kind = kind
		tg.Entity = core.Entity{Kind: core.EntityRepository, Name: repo}
		tg.Prefix = "paddock-forgetest"
		if len(tg.Labels) == 0 {
			tg.Labels = []string{"paddock-forgetest", "x64"}
		}
		return tg
	}
}
