package forgesim

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/paddock-ci/paddock/internal/forge/gitea"
)

// Flavors of forge the sim can play.
const (
	FlavorGitHub  = "github"
	FlavorGitea   = "gitea"
	FlavorForgejo = "forgejo"
)

// Default versions the sim reports: new enough for every feature Paddock uses.
const (
	DefaultGiteaVersion   = "1.26.1"
	DefaultForgejoVersion = "15.0.1+gitea-1.22.0"
)

// giteaState is the Gitea/Forgejo side of the sim. Runners, jobs, faults,
// counters and webhooks are the GitHub sim's own bookkeeping; what is kept
// here is what Gitea adds: reusable registration tokens and runner uuids.
type giteaState struct {
	flavor  string
	raw     string
	version gitea.Version
	tokens  map[string]*regToken // scope key -> the scope's current token
	issued  []string             // every token ever issued, revoked ones included
	byUUID  map[string]int64     // runner uuid -> runner id
}

type regToken struct {
	scope   scope
	token   string
	revoked bool
}

func (g *giteaState) atLeast(major, minor int) bool {
	return g.version.AtLeast(gitea.Version{Major: major, Minor: minor})
}

// feature gates, per the version table in docs/forges.md.
func (g *giteaState) hasRunnerAPI() bool {
	if g.flavor == FlavorForgejo {
		return g.atLeast(15, 0)
	}
	return g.atLeast(1, 24)
}

// hasJobsAPI: Gitea's GET …/actions/jobs?status= (1.25+).
func (g *giteaState) hasJobsAPI() bool { return g.flavor == FlavorGitea && g.atLeast(1, 25) }

func (g *giteaState) hasPostToken() bool { return g.flavor == FlavorGitea && g.atLeast(1, 25) }

func (g *giteaState) honoursEphemeral() bool {
	if g.flavor == FlavorForgejo {
		return g.atLeast(15, 0)
	}
	return g.atLeast(1, 24)
}

// giteaRoutes registers Gitea's REST API under /api/v1 and the runner RPCs
// under /api/actions, for the endpoints the forge's version has.
func (s *Sim) giteaRoutes(m *http.ServeMux) {
	fl := strings.ToLower(s.opts.Flavor)
	if fl != FlavorGitea && fl != FlavorForgejo {
		return
	}
	raw := s.opts.ForgeVersion
	if raw == "" {
		raw = DefaultGiteaVersion
		if fl == FlavorForgejo {
			raw = DefaultForgejoVersion
		}
	}
	v, _, err := gitea.ParseVersion(raw)
	if err != nil {
		s.opts.Logf("forgesim: bad ForgeVersion %q: %v", raw, err)
	}
	g := &giteaState{flavor: fl, raw: raw, version: v, tokens: map[string]*regToken{}, byUUID: map[string]int64{}}
	s.gt = g

	m.HandleFunc("GET /api/v1/version", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"version": raw})
	})
	// The sim keeps no registry of repositories or organizations: every one
	// exists. The adapter looks at one when its runner listing answers 404.
	m.HandleFunc("GET /api/v1/repos/{owner}/{repo}", func(w http.ResponseWriter, r *http.Request) {
		owner, repo := r.PathValue("owner"), r.PathValue("repo")
		writeJSON(w, http.StatusOK, map[string]any{"id": stableID("repo", owner+"/"+repo), "name": repo,
			"full_name": owner + "/" + repo, "owner": map[string]any{"login": owner}})
	})
	m.HandleFunc("GET /api/v1/orgs/{org}", func(w http.ResponseWriter, r *http.Request) {
		org := r.PathValue("org")
		writeJSON(w, http.StatusOK, map[string]any{"id": stableID("user", org), "name": org, "username": org})
	})
	for _, prefix := range []string{"/api/v1/repos/{owner}/{repo}", "/api/v1/orgs/{org}", "/api/v1/admin"} {
		p := prefix + "/actions/runners"
		m.HandleFunc("GET "+p+"/registration-token", s.handleGiteaRegToken)
		if g.hasPostToken() {
			m.HandleFunc("POST "+p+"/registration-token", s.handleGiteaRegToken)
		}
		if g.hasRunnerAPI() {
			m.HandleFunc("GET "+p, s.handleGiteaListRunners)
			m.HandleFunc("GET "+p+"/{runner_id}", s.handleGiteaGetRunner)
			m.HandleFunc("DELETE "+p+"/{runner_id}", s.handleGiteaDeleteRunner)
		}
		if g.hasJobsAPI() {
			m.HandleFunc("GET "+prefix+"/actions/jobs", s.handleGiteaJobs)
		}
	}
	m.HandleFunc("GET /api/v1/admin/runners/registration-token", s.handleGiteaRegToken)
	if fl == FlavorForgejo {
		m.HandleFunc("GET /api/v1/repos/{owner}/{repo}/actions/runners/jobs", s.handleForgejoJobSearch)
	}
	for _, rpc := range []string{"Register", "Declare", "FetchTask", "UpdateTask"} {
		m.HandleFunc("POST /api/actions/runner.v1.RunnerService/"+rpc, s.handleRunnerRPC)
	}
	m.HandleFunc("GET /_sim/gitea/downloads/{filename}", s.handleGiteaTarball)
	m.HandleFunc("POST /_sim/gitea/revoke", s.handleRevoke)
	m.HandleFunc("POST /_sim/gitea/jobs/{job_id}/cancel", s.handleCancelJob)
}

// giteaScope is scopeOf with the instance level named as such.
func giteaScope(r *http.Request) scope {
	sc := scopeOf(r)
	if sc.Kind == "enterprise" {
		return scope{"instance", ""}
	}
	return sc
}

// handleGiteaRegToken answers the scope's registration token: the same one
// on every call until it is revoked, then a new one (as Gitea does).
func (s *Sim) handleGiteaRegToken(w http.ResponseWriter, r *http.Request) {
	sc := giteaScope(r)
	s.mu.Lock()
	t := s.gt.tokens[sc.key()]
	if t == nil || t.revoked {
		t = &regToken{scope: sc, token: randomHex(20)}
		s.gt.tokens[sc.key()] = t
		s.gt.issued = append(s.gt.issued, t.token)
		s.stats.RegistrationTokens++
	}
	tok := t.token
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{"token": tok})
}

// RevokeRegistrationToken invalidates the current registration token of a
// scope ("repo:owner/name", "org:login" or "instance:"), as resetting it in
// Gitea's web UI does. It reports whether there was one.
func (s *Sim) RevokeRegistrationToken(scopeKey string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gt == nil {
		return false
	}
	t := s.gt.tokens[strings.ToLower(scopeKey)]
	if t == nil || t.revoked {
		return false
	}
	t.revoked = true
	return true
}

// RegistrationTokens returns every registration token the sim ever issued,
// revoked ones included, so tests can check none reached a machine.
func (s *Sim) RegistrationTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gt == nil {
		return nil
	}
	return append([]string(nil), s.gt.issued...)
}

func (s *Sim) handleRevoke(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Scope string `json:"scope"`
	}
	if raw, err := readAll(r); err != nil || json.Unmarshal(raw, &body) != nil || body.Scope == "" {
		writeError(w, http.StatusBadRequest, `body must be {"scope": "repo:owner/name"}`)
		return
	}
	if !s.RevokeRegistrationToken(body.Scope) {
		writeError(w, http.StatusNotFound, "no active registration token for "+body.Scope)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
