package forgesim

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// runner is one registration. JIT runners are ephemeral: one connect, one job.
type runner struct {
	id        int64
	name      string
	scope     scope
	labels    []string
	groupID   int64
	os        string // "unknown" until the agent connects, as on GitHub
	online    bool
	busy      bool
	ephemeral bool
	secret    string
	connected bool          // the JIT config has been used
	jobID     int64         // the job assigned to it, 0 if none
	gone      chan struct{} // closed when the registration is removed
}

// Runner is a snapshot of a registered runner.
type Runner struct {
	ID        int64    `json:"id"`
	Name      string   `json:"name"`
	Scope     string   `json:"scope"` // repo:owner/name, org:login or enterprise:slug
	Labels    []string `json:"labels"`
	Status    string   `json:"status"`
	Busy      bool     `json:"busy"`
	Ephemeral bool     `json:"ephemeral"`
	JobID     int64    `json:"job_id,omitempty"`
}

func (rn *runner) snapshot() Runner {
	return Runner{ID: rn.id, Name: rn.name, Scope: rn.scope.key(), Labels: slices.Clone(rn.labels),
		Status: rn.status(), Busy: rn.busy, Ephemeral: rn.ephemeral, JobID: rn.jobID}
}

func (rn *runner) status() string {
	if rn.online {
		return "online"
	}
	return "offline"
}

// readOnlyLabels are the labels GitHub attaches itself (type "read-only").
var readOnlyLabels = map[string]bool{"self-hosted": true, "linux": true, "windows": true, "macos": true,
	"x64": true, "arm64": true, "arm": true}

// ghJSON is the GitHub "runner" schema.
func (rn *runner) ghJSON() map[string]any {
	labels := make([]map[string]any, 0, len(rn.labels))
	for i, l := range rn.labels {
		typ := "custom"
		if readOnlyLabels[strings.ToLower(l)] {
			typ = "read-only"
		}
		labels = append(labels, map[string]any{"id": i + 1, "name": l, "type": typ})
	}
	return map[string]any{"id": rn.id, "name": rn.name, "os": rn.os, "status": rn.status(), "busy": rn.busy,
		"labels": labels, "runner_group_id": rn.groupID, "ephemeral": rn.ephemeral, "version": runnerVersion}
}

// JITPayload is what encoded_jit_config decodes to (base64 of this JSON).
type JITPayload struct {
	SimURL     string `json:"sim_url"`
	RunnerID   int64  `json:"runner_id"`
	RunnerName string `json:"runner_name"`
	Secret     string `json:"secret"`
}

type jitRequest struct {
	Name          *string  `json:"name"`
	RunnerGroupID *int64   `json:"runner_group_id"`
	Labels        []string `json:"labels"`
	WorkFolder    *string  `json:"work_folder"`
}

func (q *jitRequest) validate() error {
	switch {
	case q.Name == nil || strings.TrimSpace(*q.Name) == "":
		return fmt.Errorf("name is required")
	case len(*q.Name) > 64:
		return fmt.Errorf("name is longer than 64 characters")
	case q.RunnerGroupID == nil:
		return fmt.Errorf("runner_group_id is required")
	case *q.RunnerGroupID < 1:
		return fmt.Errorf("runner_group_id must be a positive integer")
	case len(q.Labels) < 1 || len(q.Labels) > 100:
		return fmt.Errorf("labels must have between 1 and 100 items")
	}
	for _, l := range q.Labels {
		if strings.TrimSpace(l) == "" || strings.ContainsAny(l, ",") {
			return fmt.Errorf("label %q is invalid", l)
		}
	}
	return nil
}

func (s *Sim) handleJIT(w http.ResponseWriter, r *http.Request) {
	var q jitRequest
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(&q); err != nil {
		writeError(w, http.StatusUnprocessableEntity, "Invalid request.\n\n"+err.Error())
		return
	}
	if err := q.validate(); err != nil {
		writeError(w, http.StatusUnprocessableEntity, "Invalid request.\n\n"+err.Error())
		return
	}
	sc := scopeOf(r)
	secret := randomHex(16)
	s.mu.Lock()
	for _, rn := range s.runners {
		if rn.scope.key() == sc.key() && strings.EqualFold(rn.name, *q.Name) {
			s.mu.Unlock()
			writeError(w, http.StatusConflict, "Already exists - A runner with the name "+*q.Name+" already exists.")
			return
		}
	}
	rn := &runner{id: s.nextRunner, name: *q.Name, scope: sc, labels: slices.Clone(q.Labels),
		groupID: *q.RunnerGroupID, os: "unknown", ephemeral: true, secret: secret, gone: make(chan struct{})}
	s.nextRunner++
	s.runners[rn.id] = rn
	s.stats.JITConfigsMinted++
	body := rn.ghJSON()
	payload := JITPayload{SimURL: s.machineBaseLocked(), RunnerID: rn.id, RunnerName: rn.name, Secret: secret}
	s.notifyLocked()
	s.mu.Unlock()

	raw, _ := json.Marshal(payload)
	s.opts.Logf("forgesim: minted JIT config for runner %d %q in %s", rn.id, rn.name, sc.key())
	writeJSON(w, http.StatusCreated, map[string]any{
		"runner": body, "encoded_jit_config": base64.StdEncoding.EncodeToString(raw)})
}

// DecodeJIT parses an encoded_jit_config minted by the sim.
func DecodeJIT(encoded string) (JITPayload, error) {
	var p JITPayload
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(encoded))
	if err != nil {
		return p, fmt.Errorf("jit config is not base64: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return p, fmt.Errorf("jit config is not the expected JSON: %w", err)
	}
	if p.SimURL == "" || p.RunnerID == 0 || p.Secret == "" {
		return p, fmt.Errorf("jit config lacks sim_url, runner_id or secret")
	}
	return p, nil
}

func (s *Sim) handleRegToken(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.stats.RegistrationTokens++
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]any{
		"token":      strings.ToUpper(randomHex(15)),
		"expires_at": ghTime(time.Now().Add(time.Hour)),
	})
}

// runnersIn lists the runners registered at sc, by id. Caller holds s.mu.
func (s *Sim) runnersInLocked(sc scope) []*runner {
	var out []*runner
	for _, rn := range s.runners {
		if rn.scope.key() == sc.key() {
			out = append(out, rn)
		}
	}
	slices.SortFunc(out, func(a, b *runner) int { return int(a.id - b.id) })
	return out
}

func (s *Sim) handleListRunners(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	s.mu.Lock()
	var list []map[string]any
	for _, rn := range s.runnersInLocked(scopeOf(r)) {
		if name == "" || rn.name == name {
			list = append(list, rn.ghJSON())
		}
	}
	base := s.base
	s.mu.Unlock()
	lo, hi, ok := paginate(w, r, base, len(list))
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"total_count": len(list), "runners": append([]map[string]any{}, list[lo:hi]...)})
}

// lookupLocked finds runner_id within the request's scope. Caller holds s.mu.
func (s *Sim) lookupLocked(r *http.Request) (*runner, bool) {
	id, err := strconv.ParseInt(r.PathValue("runner_id"), 10, 64)
	if err != nil {
		return nil, false
	}
	rn := s.runners[id]
	if rn == nil || rn.scope.key() != scopeOf(r).key() {
		return nil, false
	}
	return rn, true
}

func (s *Sim) handleGetRunner(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	rn, ok := s.lookupLocked(r)
	var body map[string]any
	if ok {
		body = rn.ghJSON()
	}
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	writeJSON(w, http.StatusOK, body)
}

func (s *Sim) handleDeleteRunner(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	rn, ok := s.lookupLocked(r)
	switch {
	case !ok:
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, "Not Found")
	case rn.busy:
		s.mu.Unlock()
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
			"message":           fmt.Sprintf("Bad request - Runner %q is still running a job", rn.name),
			"documentation_url": docsURL + "/actions/self-hosted-runners#delete-a-self-hosted-runner-from-a-repository",
		})
	default:
		s.removeRunnerLocked(rn)
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}
}

// removeRunnerLocked drops a registration and wakes its agent's long-poll.
func (s *Sim) removeRunnerLocked(rn *runner) {
	if _, ok := s.runners[rn.id]; !ok {
		return
	}
	delete(s.runners, rn.id)
	s.retired[rn.secret] = struct{}{}
	close(rn.gone)
	s.notifyLocked()
}

// Runners returns every registered runner, by id.
func (s *Sim) Runners() []Runner {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Runner, 0, len(s.runners))
	for _, rn := range s.runners {
		out = append(out, rn.snapshot())
	}
	slices.SortFunc(out, func(a, b Runner) int { return int(a.ID - b.ID) })
	return out
}

func (s *Sim) handleRunnerGroups(w http.ResponseWriter, r *http.Request) {
	base := strings.TrimSuffix(s.URL(), "/")
	prefix := base + "/orgs/" + r.PathValue("org")
	if e := r.PathValue("enterprise"); e != "" {
		prefix = base + "/enterprises/" + e
	}
	groups := []map[string]any{{
		"id": 1, "name": "Default", "visibility": "all", "default": true,
		"runners_url": prefix + "/actions/runner-groups/1/runners", "inherited": false,
		"allows_public_repositories": true, "restricted_to_workflows": false,
		"selected_workflows": []string{}, "workflow_restrictions_read_only": false,
	}}
	writeJSON(w, http.StatusOK, map[string]any{"total_count": len(groups), "runner_groups": groups})
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
