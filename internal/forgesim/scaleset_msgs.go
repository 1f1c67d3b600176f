package forgesim

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// sessionFor authenticates a message-queue call by the session's access
// token. A replaced or expired session answers 401, which the library takes
// as "refresh the session". On success s.mu is held and must be released.
func (s *Sim) sessionFor(w http.ResponseWriter, r *http.Request) (*scaleSet, bool) {
	id, _ := strconv.Atoi(r.PathValue("id"))
	tok := bearer(r)
	s.mu.Lock()
	set := s.scale.sets[id]
	if set == nil || set.session == nil || tok == "" || set.session.token != tok ||
		set.session.id != r.URL.Query().Get("sessionId") || !s.sessionLiveLocked(set.session) {
		s.mu.Unlock()
		writeException(w, http.StatusUnauthorized, "TaskAgentSessionExpiredException", "message session is not valid")
		return nil, false
	}
	set.session.lastSeen = time.Now()
	return set, true
}

// handleGetMessage long-polls the set's queue: 200 with the first message
// after lastMessageId (earlier ones count as acknowledged), or 202 when none
// arrives within the poll time. The caller's max capacity is recorded.
func (s *Sim) handleGetMessage(w http.ResponseWriter, r *http.Request) {
	capacity, err := strconv.Atoi(r.Header.Get("X-ScaleSetMaxCapacity"))
	if err != nil || capacity < 0 {
		writeException(w, http.StatusBadRequest, "ArgumentException", "X-ScaleSetMaxCapacity must be a non-negative integer")
		return
	}
	last := 0
	if v := r.URL.Query().Get("lastMessageId"); v != "" {
		if last, err = strconv.Atoi(v); err != nil {
			writeException(w, http.StatusBadRequest, "ArgumentException", "lastMessageId must be an integer")
			return
		}
	}
	set, ok := s.sessionFor(w, r)
	if !ok {
		return
	}
	ss := set.session
	set.capacity = capacity
	set.polls++
	ss.polling++
	deadline := time.NewTimer(s.scale.longPoll)
	defer deadline.Stop()
	defer func() {
		s.mu.Lock()
		ss.polling--
		ss.lastSeen = time.Now()
		s.mu.Unlock()
	}()
	for {
		if set.session != ss {
			s.mu.Unlock()
			writeException(w, http.StatusUnauthorized, "TaskAgentSessionExpiredException", "message session was replaced")
			return
		}
		set.messages = slices.DeleteFunc(set.messages, func(m *ssMessage) bool { return m.id <= last })
		if len(set.messages) > 0 {
			m := set.messages[0]
			m.delivered = true
			body := s.messageJSONLocked(set, m)
			s.mu.Unlock()
			writeJSON(w, http.StatusOK, body)
			return
		}
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-deadline.C:
			w.WriteHeader(http.StatusAccepted)
			return
		case <-r.Context().Done():
			return
		}
		s.mu.Lock()
	}
}

func (s *Sim) handleDeleteMessage(w http.ResponseWriter, r *http.Request) {
	mid, err := strconv.Atoi(r.PathValue("mid"))
	if err != nil {
		writeException(w, http.StatusBadRequest, "ArgumentException", "message id must be an integer")
		return
	}
	set, ok := s.sessionFor(w, r)
	if !ok {
		return
	}
	defer s.mu.Unlock()
	// Deleting a message that is already gone succeeds: acknowledgements are retried.
	set.messages = slices.DeleteFunc(set.messages, func(m *ssMessage) bool { return m.id == mid })
	w.WriteHeader(http.StatusNoContent)
}

// handleSSJIT mints a single-use runner in the set: its labels are the set's,
// and its encoded config is the same one the REST JIT endpoint hands out, so
// the simulated runner (internal/agent) runs it unchanged.
func (s *Sim) handleSSJIT(w http.ResponseWriter, r *http.Request) {
	var b struct {
		Name       string `json:"name"`
		WorkFolder string `json:"workFolder"`
	}
	if err := json.NewDecoder(r.Body).Decode(&b); err != nil || strings.TrimSpace(b.Name) == "" || len(b.Name) > 64 {
		writeException(w, http.StatusBadRequest, "ArgumentException", "a runner needs a name of 1 to 64 characters")
		return
	}
	set, ok := s.setFor(w, r)
	if !ok {
		return
	}
	for _, rn := range s.runners {
		if rn.scope.key() == set.scope.key() && strings.EqualFold(rn.name, b.Name) {
			s.mu.Unlock()
			writeException(w, http.StatusConflict, "AgentExistsException", "a runner named "+b.Name+" already exists")
			return
		}
	}
	secret := randomHex(16)
	rn := &runner{id: s.nextRunner, name: b.Name, scope: set.scope, labels: slices.Clone(set.labels),
		groupID: int64(set.groupID), os: "unknown", ephemeral: true, secret: secret, gone: make(chan struct{})}
	s.nextRunner++
	s.runners[rn.id] = rn
	s.scale.runnerSet[rn.id] = set.id
	s.stats.JITConfigsMinted++
	payload := JITPayload{SimURL: s.machineBaseLocked(), RunnerID: rn.id, RunnerName: rn.name, Secret: secret}
	setID := set.id
	s.notifyLocked()
	s.mu.Unlock()
	raw, _ := json.Marshal(payload)
	writeJSON(w, http.StatusOK, map[string]any{
		"runner":           map[string]any{"id": rn.id, "name": rn.name, "runnerScaleSetId": setID},
		"encodedJITConfig": base64.StdEncoding.EncodeToString(raw),
	})
}

// agentLocked finds a runner by {rid} within the caller's scope.
func (s *Sim) agentLocked(r *http.Request, sc scope) *runner {
	id, err := strconv.ParseInt(r.PathValue("rid"), 10, 64)
	if err != nil {
		return nil
	}
	if rn := s.runners[id]; rn != nil && rn.scope.key() == sc.key() {
		return rn
	}
	return nil
}

func (s *Sim) agentJSONLocked(rn *runner) map[string]any {
	return map[string]any{"id": rn.id, "name": rn.name, "runnerScaleSetId": s.scale.runnerSet[rn.id]}
}

func (s *Sim) handleSSGetAgent(w http.ResponseWriter, r *http.Request) {
	sc, ok := s.adminScope(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	rn := s.agentLocked(r, sc)
	var body map[string]any
	if rn != nil {
		body = s.agentJSONLocked(rn)
	}
	s.mu.Unlock()
	if body == nil {
		writeException(w, http.StatusNotFound, "AgentNotFoundException", "runner "+r.PathValue("rid")+" not found")
		return
	}
	writeJSON(w, http.StatusOK, body)
}

func (s *Sim) handleSSFindAgent(w http.ResponseWriter, r *http.Request) {
	sc, ok := s.adminScope(w, r)
	if !ok {
		return
	}
	name := r.URL.Query().Get("agentName")
	s.mu.Lock()
	list := []map[string]any{}
	for _, rn := range s.runnersInLocked(sc) {
		if strings.EqualFold(rn.name, name) {
			list = append(list, s.agentJSONLocked(rn))
		}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"count": len(list), "value": list})
}

func (s *Sim) handleSSDeleteAgent(w http.ResponseWriter, r *http.Request) {
	sc, ok := s.adminScope(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rn := s.agentLocked(r, sc)
	switch {
	case rn == nil:
		writeException(w, http.StatusNotFound, "AgentNotFoundException", "runner "+r.PathValue("rid")+" not found")
	case rn.busy:
		writeException(w, http.StatusBadRequest, "JobStillRunningException", "runner "+rn.name+" is still running a job")
	default:
		s.removeRunnerLocked(rn)
		w.WriteHeader(http.StatusNoContent)
	}
}
