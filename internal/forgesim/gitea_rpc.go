package forgesim

import (
	"encoding/json"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// The runner service below speaks the Connect protocol's unary JSON form,
// as Gitea's /api/actions/runner.v1.RunnerService does for act_runner.
// Register follows Gitea's rules (registration token reusable until revoked,
// ephemeral honoured from 1.24, Forgejo ignores it). FetchTask and
// UpdateTask are a stand-in: the task carries the sim job's name, duration
// and command instead of a workflow payload.

// connectCodes maps Connect error codes to the HTTP status the protocol uses.
var connectCodes = map[string]int{"invalid_argument": 400, "unauthenticated": 401, "permission_denied": 403,
	"not_found": 404, "unknown": 500, "internal": 500, "unavailable": 503, "resource_exhausted": 429}

func connectError(w http.ResponseWriter, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(connectCodes[code])
	_ = json.NewEncoder(w).Encode(map[string]string{"code": code, "message": msg})
}

// SimTask is the stand-in task FetchTask hands out (in the task's context).
type SimTask struct {
	JobID      int64  `json:"job_id"`
	Name       string `json:"name"`
	DurationMS int64  `json:"duration_ms"`
	Command    string `json:"command,omitempty"`
}

func (s *Sim) handleRunnerRPC(w http.ResponseWriter, r *http.Request) {
	rpc := path.Base(r.URL.Path)
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		connectError(w, "invalid_argument", "this sim speaks the Connect JSON codec only (Content-Type: application/json)")
		return
	}
	var body map[string]json.RawMessage
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&body); err != nil {
		connectError(w, "invalid_argument", "malformed JSON: "+err.Error())
		return
	}
	if rpc == "Register" {
		// Register is the manager's call: it is counted and faults apply, like REST.
		key := "POST /api/actions/runner.v1.RunnerService/Register"
		rw := s.countingWriter(w, key)
		defer rw.done()
		if s.applyFaults(rw, r, key) {
			return
		}
		s.rpcRegister(rw, body)
		return
	}
	rn, code, msg := s.rpcRunner(r)
	if rn == nil {
		connectError(w, code, msg)
		return
	}
	switch rpc {
	case "Declare":
		writeJSON(w, http.StatusOK, map[string]any{"runner": s.runnerMsg(rn)})
	case "FetchTask":
		s.rpcFetchTask(w, r, rn)
	case "UpdateTask":
		s.rpcUpdateTask(w, rn, body)
	}
}

func str(raw json.RawMessage) string {
	var v string
	_ = json.Unmarshal(raw, &v)
	return v
}

func (s *Sim) rpcRegister(w http.ResponseWriter, body map[string]json.RawMessage) {
	name, token := str(body["name"]), str(body["token"])
	var labels []string
	_ = json.Unmarshal(body["labels"], &labels)
	var ephemeral bool
	_ = json.Unmarshal(body["ephemeral"], &ephemeral)
	if name == "" || token == "" {
		connectError(w, "unknown", "missing runner token, name")
		return
	}
	s.mu.Lock()
	var t *regToken
	for _, c := range s.gt.tokens {
		if c.token == token {
			t = c
		}
	}
	revoked := t == nil && slices.Contains(s.gt.issued, token) || t != nil && t.revoked
	if t == nil || revoked {
		s.mu.Unlock()
		// Gitea answers a plain error, which Connect reports as "unknown"
		// (HTTP 500); Forgejo answers invalid_argument (HTTP 400).
		code := "unknown"
		if s.gt.flavor == FlavorForgejo {
			code = "invalid_argument"
		}
		msg := "runner registration token not found"
		if revoked {
			msg = "runner registration token has been invalidated, please use the latest one"
		}
		connectError(w, code, msg)
		return
	}
	rn := &runner{id: s.nextRunner, name: name, scope: t.scope, labels: slices.Clone(labels), groupID: 0,
		os: "linux", ephemeral: ephemeral && s.gt.honoursEphemeral(), secret: randomHex(20), gone: make(chan struct{})}
	s.nextRunner++
	s.runners[rn.id] = rn
	id := uuid.NewString()
	s.gt.byUUID[id] = rn.id
	s.stats.JITConfigsMinted++
	msg := s.runnerMsg(rn)
	msg["uuid"] = id
	s.notifyLocked()
	s.mu.Unlock()
	s.opts.Logf("forgesim: registered runner %d %q in %s (ephemeral %v)", rn.id, name, t.scope.key(), rn.ephemeral)
	writeJSON(w, http.StatusOK, map[string]any{"runner": msg})
}

// runnerMsg is runner.v1.Runner in protojson (int64 as a string).
func (s *Sim) runnerMsg(rn *runner) map[string]any {
	m := map[string]any{"id": strconv.FormatInt(rn.id, 10), "token": rn.secret, "name": rn.name,
		"version": "paddock", "labels": rn.labels, "ephemeral": rn.ephemeral}
	for u, id := range s.gt.byUUID {
		if id == rn.id {
			m["uuid"] = u
		}
	}
	return m
}

// rpcRunner authenticates a runner call by x-runner-uuid and x-runner-token.
func (s *Sim) rpcRunner(r *http.Request) (*runner, string, string) {
	id, tok := r.Header.Get("x-runner-uuid"), r.Header.Get("x-runner-token")
	s.mu.Lock()
	defer s.mu.Unlock()
	rn := s.runners[s.gt.byUUID[id]]
	if rn == nil || rn.secret != tok || tok == "" {
		return nil, "unauthenticated", "unregistered runner"
	}
	return rn, "", ""
}

// rpcFetchTask holds the call until a job is assigned or LongPoll passes;
// real Gitea answers at once and the runner polls, which is slower to test.
func (s *Sim) rpcFetchTask(w http.ResponseWriter, r *http.Request, rn *runner) {
	deadline := time.NewTimer(s.opts.LongPoll)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		if _, ok := s.runners[rn.id]; !ok {
			s.mu.Unlock()
			connectError(w, "unauthenticated", "unregistered runner")
			return
		}
		if !rn.connected {
			rn.connected, rn.online = true, true
			s.stats.RunnersConnected++
			s.notifyLocked()
		}
		j := s.assignLocked(rn)
		var task *SimTask
		if j != nil {
			task = &SimTask{JobID: j.ID, Name: j.Name, DurationMS: j.Duration.Milliseconds(), Command: j.Command}
		}
		changed, gone := s.changed, rn.gone
		s.mu.Unlock()
		if task != nil {
			writeJSON(w, http.StatusOK, map[string]any{"task": map[string]any{
				"id": strconv.FormatInt(task.JobID, 10), "context": task}, "tasksVersion": "1"})
			return
		}
		select {
		case <-changed:
		case <-gone:
			connectError(w, "unauthenticated", "unregistered runner")
			return
		case <-deadline.C:
			writeJSON(w, http.StatusOK, map[string]any{"tasksVersion": "1"})
			return
		case <-r.Context().Done():
			return
		}
	}
}

// rpcUpdateTask takes a final state. Ephemeral runners are removed after
// their job, as Gitea does; others stay registered (offline once their
// program exits) until the manager deletes them.
func (s *Sim) rpcUpdateTask(w http.ResponseWriter, rn *runner, body map[string]json.RawMessage) {
	var req struct {
		State struct {
			ID     string `json:"id"`
			Result string `json:"result"`
		} `json:"state"`
	}
	raw, _ := json.Marshal(body)
	_ = json.Unmarshal(raw, &req)
	jobID, err := strconv.ParseInt(req.State.ID, 10, 64)
	conclusion := map[string]string{"RESULT_SUCCESS": ConclusionSuccess, "RESULT_FAILURE": ConclusionFailure}[req.State.Result]
	if err != nil || conclusion == "" {
		connectError(w, "invalid_argument", `state needs id and result RESULT_SUCCESS or RESULT_FAILURE`)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if rn.jobID != jobID {
		connectError(w, "invalid_argument", "task is not this runner's")
		return
	}
	for _, j := range s.jobs {
		if j.ID == jobID && j.Status == StatusInProgress {
			j.Status, j.Conclusion, j.CompletedAt = StatusCompleted, conclusion, time.Now().UTC()
			s.enqueueHookLocked("completed", j)
			s.releaseWaitingLocked(j)
		}
	}
	rn.busy, rn.online = false, false
	if rn.ephemeral {
		s.removeRunnerLocked(rn)
	}
	s.notifyLocked()
	s.opts.Logf("forgesim: runner %d finished task %d: %s", rn.id, jobID, conclusion)
	writeJSON(w, http.StatusOK, map[string]any{"state": map[string]any{"id": req.State.ID, "result": req.State.Result}})
}
