// Package ghcontract checks HTTP exchanges against GitHub's published REST
// description (npm @octokit/openapi) and exposes GitHub's published webhook
// examples (npm @octokit/webhooks-examples). It is test support: the GitHub
// adapter's requests and the simulator's answers are validated with it, so
// both stay true to the real API rather than to each other.
//
// The artefacts are not vendored (hundreds of MB); scripts/contract-deps.sh
// installs pinned versions under testdata/npm.
package ghcontract

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sync"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// SetupHint is part of every "artefacts missing" error so a failing test says how to fix it.
const SetupHint = "run scripts/contract-deps.sh"

// EnvDir overrides where the npm artefacts live (the directory holding node_modules).
const EnvDir = "PADDOCK_GHCONTRACT_DIR"

// Contract is a loaded GitHub REST description with a router over it.
type Contract struct {
	Doc    *openapi3.T
	router routers.Router
	// Pruned lists paths removed at load because they are ambiguous (see prune).
	Pruned []string
}

var (
	loadOnce sync.Once
	loaded   *Contract
	loadErr  error
)

// Load parses the spec once per process (it is ~14 MB and takes seconds).
func Load() (*Contract, error) {
	loadOnce.Do(func() { loaded, loadErr = load() })
	return loaded, loadErr
}

// TB is the subset of testing.TB the helpers need (keeps "testing" out of
// non-test builds that import this package).
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Errorf(format string, args ...any)
}

// Must loads the contract or fails the test with SetupHint. Missing artefacts
// are a failure, never a skip: a silently skipped contract test proves nothing.
func Must(t TB) *Contract {
	t.Helper()
	c, err := Load()
	if err != nil {
		t.Fatalf("ghcontract: %v", err)
	}
	return c
}

// npmDir is testdata/npm next to this source file, unless EnvDir says otherwise.
func npmDir() string {
	if d := os.Getenv(EnvDir); d != "" {
		return d
	}
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "testdata", "npm")
}

// SpecPath is the description used: GitHub Enterprise Cloud's, because it is
// api.github.com's plus the /enterprises/{enterprise} runner endpoints Paddock
// also calls (api.github.com.json leaves those out).
func SpecPath() string {
	return filepath.Join(npmDir(), "node_modules", "@octokit", "openapi", "generated", "ghec.json")
}

// ExamplesPath is the webhook examples file for api.github.com.
func ExamplesPath() string {
	return filepath.Join(npmDir(), "node_modules", "@octokit", "webhooks-examples", "api.github.com", "index.json")
}

func load() (*Contract, error) {
	path := SpecPath()
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("GitHub OpenAPI description missing (%v): %s", err, SetupHint)
	}
	start := time.Now()
	doc, err := openapi3.NewLoader().LoadFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	c := &Contract{Doc: doc, Pruned: prune(doc)}
	// Servers are dropped so routing matches on the path alone: the same
	// contract then serves api.github.com, httptest servers and the simulator.
	doc.Servers = nil
	// GitHub's own examples are not all schema-valid (e.g. a number example on
	// a string field); they are documentation, not the contract, so only the
	// schemas are held to validation.
	c.router, err = legacy.NewRouter(doc, openapi3.DisableExamplesValidation())
	if err != nil {
		return nil, fmt.Errorf("route %s: %w", path, err)
	}
	if d := time.Since(start); d > 30*time.Second {
		fmt.Fprintf(os.Stderr, "ghcontract: loading the spec took %s\n", d)
	}
	return c, nil
}

var paramRE = regexp.MustCompile(`\{[^}]*\}`)

// prune removes paths that differ only in parameter names (GitHub publishes
// /orgs/{org}/attestations/{subject_digest} and .../{attestation_id}).
// kin-openapi refuses to route a document with such conflicts, and no request
// could tell them apart anyway. None of them are endpoints Paddock uses; the
// removed paths are recorded in Contract.Pruned.
func prune(doc *openapi3.T) []string {
	groups := map[string][]string{}
	for p := range doc.Paths.Map() {
		k := paramRE.ReplaceAllString(p, "{}")
		groups[k] = append(groups[k], p)
	}
	var removed []string
	for _, g := range groups {
		if len(g) < 2 {
			continue
		}
		for _, p := range g {
			doc.Paths.Delete(p)
			removed = append(removed, p)
		}
	}
	return removed
}

// ErrNoRoute wraps failures to find an operation for a method and path.
var ErrNoRoute = errors.New("no such operation in GitHub's REST description")
