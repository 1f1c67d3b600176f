package forgesim

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// giteaRunnerJSON is Gitea 1.25's ActionRunner shape: labels carry id 0 and
// type "custom", and there is no "disabled" field.
func (rn *runner) giteaJSON() map[string]any {
	labels := make([]map[string]any, 0, len(rn.labels))
	for _, l := range rn.labels {
		labels = append(labels, map[string]any{"id": 0, "name": l, "type": "custom"})
	}
	status := "offline"
	switch {
	case rn.online && rn.busy:
		status = "active"
	case rn.online:
		status = "idle"
	}
	return map[string]any{"id": rn.id, "name": rn.name, "status": status, "busy": rn.busy,
		"ephemeral": rn.ephemeral, "labels": labels}
}

// runnerNotFound is Gitea 1.25's whole answer for a runner that does not
// exist, on GET and DELETE alike.
var runnerNotFound = map[string]string{"message": "Runner not found"}

// giteaPage reads Gitea's page (from 1) and limit (default and cap 50).
func giteaPage(r *http.Request, total int) (lo, hi int, err error) {
	pageNo, limit := 1, 50
	q := r.URL.Query()
	if v := q.Get("page"); v != "" {
		if pageNo, err = strconv.Atoi(v); err != nil || pageNo < 1 {
			return 0, 0, fmt.Errorf("page must be a positive integer")
		}
	}
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 {
			return 0, 0, fmt.Errorf("limit must be a positive integer")
		}
		limit = min(limit, 50)
	}
	lo = min((pageNo-1)*limit, total)
	return lo, min(lo+limit, total), nil
}

// forgejoJSON is Forgejo 15's runner shape: labels as plain strings and no
// busy flag (a runner at work has status "active").
func (rn *runner) forgejoJSON() map[string]any {
	m := rn.giteaJSON()
	delete(m, "busy")
	m["labels"] = append([]string{}, rn.labels...)
	m["uuid"] = ""
	m["version"] = "paddock"
	return m
}

// runnerJSONLocked is the runner in the sim flavor's shape.
func (s *Sim) runnerJSONLocked(rn *runner) map[string]any {
	if s.gt.flavor == FlavorForgejo {
		return rn.forgejoJSON()
	}
	return rn.giteaJSON()
}

func (s *Sim) handleGiteaListRunners(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	var list []map[string]any
	for _, rn := range s.runnersInLocked(giteaScope(r)) {
		list = append(list, s.runnerJSONLocked(rn))
	}
	forgejo := s.gt.flavor == FlavorForgejo
	s.mu.Unlock()
	lo, hi, err := giteaPage(r, len(list))
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	w.Header().Set("X-Total-Count", strconv.Itoa(len(list)))
	page := append([]map[string]any{}, list[lo:hi]...)
	if forgejo {
		writeJSON(w, http.StatusOK, page) // Forgejo 15 answers a bare array
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"total_count": len(list), "runners": page})
}

// giteaRunnerLocked finds runner_id within the request's scope. Caller holds s.mu.
func (s *Sim) giteaRunnerLocked(r *http.Request) *runner {
	id, err := strconv.ParseInt(r.PathValue("runner_id"), 10, 64)
	if err != nil {
		return nil
	}
	rn := s.runners[id]
	if rn == nil || rn.scope.key() != giteaScope(r).key() {
		return nil
	}
	return rn
}

func (s *Sim) handleGiteaGetRunner(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	rn := s.giteaRunnerLocked(r)
	var body map[string]any
	if rn != nil {
		body = s.runnerJSONLocked(rn)
	}
	s.mu.Unlock()
	if body == nil {
		writeJSON(w, http.StatusNotFound, runnerNotFound)
		return
	}
	writeJSON(w, http.StatusOK, body)
}

// handleGiteaDeleteRunner deletes even a busy runner, as Gitea does.
func (s *Sim) handleGiteaDeleteRunner(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	rn := s.giteaRunnerLocked(r)
	if rn != nil {
		s.removeRunnerLocked(rn)
	}
	s.mu.Unlock()
	if rn == nil {
		writeJSON(w, http.StatusNotFound, runnerNotFound)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// inGiteaScope says whether job j belongs to the scope of a jobs listing.
func inGiteaScope(sc scope, j *job) bool {
	owner, _, _ := strings.Cut(j.Repo, "/")
	switch sc.Kind {
	case "repo":
		return strings.EqualFold(sc.Name, j.Repo)
	case "org":
		return strings.EqualFold(sc.Name, j.Org) || strings.EqualFold(sc.Name, owner)
	}
	return true
}

// handleGiteaJobs is GET …/actions/jobs?status=… (Gitea 1.26+).
func (s *Sim) handleGiteaJobs(w http.ResponseWriter, r *http.Request) {
	status := r.URL.Query().Get("status")
	sc := giteaScope(r)
	s.mu.Lock()
	api := s.base + "api/v1/"
	var list []map[string]any
	for _, j := range s.jobs {
		if inGiteaScope(sc, j) && (status == "" || j.Status == status || j.Conclusion == status) {
			list = append(list, giteaJobJSON(api, j))
		}
	}
	s.mu.Unlock()
	lo, hi, err := giteaPage(r, len(list))
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"total_count": len(list), "jobs": append([]map[string]any{}, list[lo:hi]...)})
}

// handleForgejoJobSearch is Forgejo's GET …/actions/runners/jobs?labels=a,b:
// waiting and running jobs whose runs-on labels are all among the given ones
// (exact, case-sensitive).
func (s *Sim) handleForgejoJobSearch(w http.ResponseWriter, r *http.Request) {
	var labels []string
	for l := range strings.SplitSeq(r.URL.Query().Get("labels"), ",") {
		if l = strings.TrimSpace(l); l != "" {
			labels = append(labels, l)
		}
	}
	sc := giteaScope(r)
	s.mu.Lock()
	out := []map[string]any{}
	for _, j := range s.jobs {
		if !inGiteaScope(sc, j) || j.Status == StatusCompleted || len(labels) == 0 {
			continue
		}
		if !allIn(j.Labels, labels) {
			continue
		}
		status := "waiting"
		if j.Status == StatusInProgress {
			status = "running"
		}
		out = append(out, map[string]any{"id": j.ID, "repo_id": stableID("repo", j.Repo),
			"owner_id": stableID("user", j.Org), "name": j.Name, "needs": []string{},
			"runs_on": j.Labels, "task_id": nullIfZero(j.RunnerID), "status": status})
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// allIn is Forgejo's ItRunsOn: every runs-on label among the given ones,
// compared exactly.
func allIn(want, have []string) bool {
	for _, l := range want {
		if !slices.Contains(have, l) {
			return false
		}
	}
	return true
}
