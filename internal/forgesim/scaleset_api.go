package forgesim

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// scaleSetRoutes adds the endpoints github.com/actions/scaleset calls: the
// token exchange on GitHub's API (under /api/v3, where the library looks for
// a GitHub Enterprise Server, which is what any non-github.com host is to it)
// and the Actions service under /_actions/.
func (s *Sim) scaleSetRoutes(m *http.ServeMux) {
	for _, l := range levels {
		m.HandleFunc("POST /api/v3"+l.prefix+"/actions/runners/registration-token", s.handleSSRegToken)
	}
	m.HandleFunc("POST /api/v3/actions/runner-registration", s.handleRunnerRegistration)
	const sets = "/_actions/_apis/runtime/runnerscalesets"
	m.HandleFunc("GET "+sets, s.handleListScaleSets)
	m.HandleFunc("POST "+sets, s.handleCreateScaleSet)
	m.HandleFunc("GET "+sets+"/{id}", s.handleGetScaleSet)
	m.HandleFunc("PATCH "+sets+"/{id}", s.handleUpdateScaleSet)
	m.HandleFunc("DELETE "+sets+"/{id}", s.handleDeleteScaleSet)
	m.HandleFunc("POST "+sets+"/{id}/sessions", s.handleCreateSession)
	m.HandleFunc("PATCH "+sets+"/{id}/sessions/{sid}", s.handleRefreshSession)
	m.HandleFunc("DELETE "+sets+"/{id}/sessions/{sid}", s.handleDeleteSession)
	m.HandleFunc("GET "+sets+"/{id}/messages", s.handleGetMessage)
	m.HandleFunc("DELETE "+sets+"/{id}/messages/{mid}", s.handleDeleteMessage)
	m.HandleFunc("POST "+sets+"/{id}/generatejitconfig", s.handleSSJIT)
	m.HandleFunc("GET /_actions/_apis/runtime/runnergroups/", s.handleSSRunnerGroups)
	m.HandleFunc("GET /_actions/_apis/runtime/runnergroups", s.handleSSRunnerGroups)
	const agents = "/_actions/_apis/distributedtask/pools/0/agents"
	m.HandleFunc("GET "+agents, s.handleSSFindAgent)
	m.HandleFunc("GET "+agents+"/{rid}", s.handleSSGetAgent)
	m.HandleFunc("DELETE "+agents+"/{rid}", s.handleSSDeleteAgent)
}

// writeException answers in the Actions service's error shape; the library
// maps typeName to its sentinel errors (AgentExistsException and so on).
func writeException(w http.ResponseWriter, status int, typeName, msg string) {
	writeJSON(w, status, map[string]any{"typeName": typeName, "message": msg})
}

func (s *Sim) handleSSRegToken(w http.ResponseWriter, r *http.Request) {
	tok := strings.ToUpper(randomHex(15))
	s.mu.Lock()
	s.stats.RegistrationTokens++
	s.scale.regTokens[tok] = scopeOf(r)
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]any{"token": tok, "expires_at": ghTime(time.Now().Add(time.Hour))})
}

// scopeOfConfigURL reads the entity a scale-set client was configured for
// from its URL: https://host/org, https://host/owner/repo or https://host/enterprises/slug.
func scopeOfConfigURL(raw string) (scope, bool) {
	u, err := url.Parse(raw)
	if err != nil {
		return scope{}, false
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	switch {
	case len(parts) == 1 && parts[0] != "":
		return scope{"org", parts[0]}, true
	case len(parts) == 2 && strings.EqualFold(parts[0], "enterprises"):
		return scope{"enterprise", parts[1]}, true
	case len(parts) == 2 && parts[0] != "" && parts[1] != "":
		return scope{"repo", parts[0] + "/" + parts[1]}, true
	}
	return scope{}, false
}

// handleRunnerRegistration trades a registration token for the Actions
// service URL and an admin token (a JWT whose subject is the entity).
func (s *Sim) handleRunnerRegistration(w http.ResponseWriter, r *http.Request) {
	tok := strings.TrimSpace(strings.TrimPrefix(r.Header.Get("Authorization"), "RemoteAuth "))
	var body struct {
		URL         string `json:"url"`
		RunnerEvent string `json:"runner_event"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.URL == "" {
		writeError(w, http.StatusBadRequest, "body must be {\"url\": \"https://github.com/owner/repo\", \"runner_event\": \"register\"}")
		return
	}
	sc, ok := scopeOfConfigURL(body.URL)
	if !ok {
		writeError(w, http.StatusNotFound, "url does not name a repository, organization or enterprise")
		return
	}
	s.mu.Lock()
	issued, known := s.scale.regTokens[tok]
	base, key := s.actionsBaseLocked(), s.scale.adminKey
	s.mu.Unlock()
	if !known || issued.key() != sc.key() {
		writeError(w, http.StatusUnauthorized, "registration token not valid for "+body.URL)
		return
	}
	claims := jwt.RegisteredClaims{Subject: sc.Kind + ":" + sc.Name, ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(key)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"url": base, "token": signed})
}

// adminScope authenticates an Actions service call by its admin token.
func (s *Sim) adminScope(w http.ResponseWriter, r *http.Request) (scope, bool) {
	s.mu.Lock()
	key := s.scale.adminKey
	s.mu.Unlock()
	var claims jwt.RegisteredClaims
	_, err := jwt.ParseWithClaims(bearer(r), &claims, func(*jwt.Token) (any, error) { return key, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired())
	kind, name, ok := strings.Cut(claims.Subject, ":")
	if err != nil || !ok {
		writeException(w, http.StatusUnauthorized, "VssUnauthorizedException", "admin token not valid")
		return scope{}, false
	}
	return scope{kind, name}, true
}

// setFor authenticates the call and finds the {id} scale set in its scope.
// Caller must not hold s.mu; on success s.mu is held and must be released.
func (s *Sim) setFor(w http.ResponseWriter, r *http.Request) (*scaleSet, bool) {
	sc, ok := s.adminScope(w, r)
	if !ok {
		return nil, false
	}
	id, _ := strconv.Atoi(r.PathValue("id"))
	s.mu.Lock()
	set := s.scale.sets[id]
	if set == nil || set.scope.key() != sc.key() {
		s.mu.Unlock()
		writeException(w, http.StatusNotFound, "RunnerScaleSetNotFoundException", "runner scale set "+r.PathValue("id")+" not found")
		return nil, false
	}
	return set, true
}

func (s *Sim) handleListScaleSets(w http.ResponseWriter, r *http.Request) {
	sc, ok := s.adminScope(w, r)
	if !ok {
		return
	}
	name := r.URL.Query().Get("name")
	group, _ := strconv.Atoi(r.URL.Query().Get("runnerGroupId"))
	s.mu.Lock()
	list := []map[string]any{}
	for id := 1; id < s.scale.nextSet; id++ {
		set := s.scale.sets[id]
		if set != nil && set.scope.key() == sc.key() && (name == "" || strings.EqualFold(set.name, name)) &&
			(group == 0 || set.groupID == group) {
			list = append(list, s.setJSONLocked(set))
		}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"count": len(list), "value": list})
}

// scaleSetBody is what create and update send.
type scaleSetBody struct {
	Name          string `json:"name"`
	RunnerGroupID int    `json:"runnerGroupId"`
	Labels        []struct {
		Type string `json:"type"`
		Name string `json:"name"`
	} `json:"labels"`
}

func (b scaleSetBody) labelNames() []string {
	out := make([]string, 0, len(b.Labels))
	for _, l := range b.Labels {
		if strings.TrimSpace(l.Name) != "" {
			out = append(out, l.Name)
		}
	}
	return out
}

func (s *Sim) handleCreateScaleSet(w http.ResponseWriter, r *http.Request) {
	sc, ok := s.adminScope(w, r)
	if !ok {
		return
	}
	var b scaleSetBody
	if err := json.NewDecoder(r.Body).Decode(&b); err != nil || strings.TrimSpace(b.Name) == "" {
		writeException(w, http.StatusBadRequest, "ArgumentException", "a runner scale set needs a name")
		return
	}
	if b.RunnerGroupID == 0 {
		b.RunnerGroupID = 1
	}
	labels := b.labelNames()
	if len(labels) == 0 {
		labels = []string{b.Name}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, set := range s.scale.sets {
		if set.scope.key() == sc.key() && set.groupID == b.RunnerGroupID && strings.EqualFold(set.name, b.Name) {
			writeException(w, http.StatusConflict, "RunnerScaleSetExistsException", "a runner scale set named "+b.Name+" already exists")
			return
		}
	}
	set := &scaleSet{id: s.scale.nextSet, name: b.Name, scope: sc, groupID: b.RunnerGroupID, labels: labels,
		createdOn: time.Now().UTC()}
	s.scale.nextSet++
	s.scale.sets[set.id] = set
	// Jobs queued before the set existed are routed to it now.
	for _, j := range s.jobs {
		if j.Status == StatusQueued && s.scale.jobs[j.ID] == nil && s.setForJobLocked(j) == set {
			sj := &ssJob{setID: set.id, cancels: s.scale.reassign}
			s.scale.jobs[j.ID] = sj
			s.assignToSetLocked(j, sj)
		}
	}
	s.opts.Logf("forgesim: created runner scale set %d %q in %s", set.id, set.name, sc.key())
	writeJSON(w, http.StatusOK, s.setJSONLocked(set))
}

func (s *Sim) handleGetScaleSet(w http.ResponseWriter, r *http.Request) {
	set, ok := s.setFor(w, r)
	if !ok {
		return
	}
	body := s.setJSONLocked(set)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, body)
}

func (s *Sim) handleUpdateScaleSet(w http.ResponseWriter, r *http.Request) {
	var b scaleSetBody
	if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
		writeException(w, http.StatusBadRequest, "ArgumentException", "body must be a runner scale set")
		return
	}
	set, ok := s.setFor(w, r)
	if !ok {
		return
	}
	if b.Name != "" {
		set.name = b.Name
	}
	if b.RunnerGroupID != 0 {
		set.groupID = b.RunnerGroupID
	}
	if l := b.labelNames(); len(l) > 0 {
		set.labels = l
	}
	body := s.setJSONLocked(set)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, body)
}

func (s *Sim) handleDeleteScaleSet(w http.ResponseWriter, r *http.Request) {
	set, ok := s.setFor(w, r)
	if !ok {
		return
	}
	delete(s.scale.sets, set.id)
	for id, sj := range s.scale.jobs {
		if sj.setID == set.id {
			delete(s.scale.jobs, id)
		}
	}
	s.notifyLocked()
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (s *Sim) sessionJSONLocked(set *scaleSet) map[string]any {
	ss := set.session
	q := url.Values{"sessionId": {ss.id}}
	return map[string]any{"sessionId": ss.id, "ownerName": ss.owner, "runnerScaleSet": s.setJSONLocked(set),
		"messageQueueUrl": s.actionsBaseLocked() + "_apis/runtime/runnerscalesets/" + strconv.Itoa(set.id) +
			"/messages?" + q.Encode(),
		"messageQueueAccessToken": ss.token, "statistics": s.statsLocked(set)}
}

// handleCreateSession opens the set's one message session. While another
// session is alive the answer is 409, as GitHub gives when a second listener
// starts for the same scale set.
func (s *Sim) handleCreateSession(w http.ResponseWriter, r *http.Request) {
	var b struct {
		OwnerName string `json:"ownerName"`
	}
	if err := json.NewDecoder(r.Body).Decode(&b); err != nil || strings.TrimSpace(b.OwnerName) == "" {
		writeException(w, http.StatusBadRequest, "ArgumentException", "a session needs an ownerName")
		return
	}
	set, ok := s.setFor(w, r)
	if !ok {
		return
	}
	defer s.mu.Unlock()
	if cur := set.session; cur != nil && s.sessionLiveLocked(cur) {
		writeException(w, http.StatusConflict, "TaskAgentSessionConflictException",
			"the runner scale set "+set.name+" already has an active session for owner "+cur.owner)
		return
	}
	set.session = &ssSession{id: uuid.NewString(), owner: b.OwnerName, token: randomHex(20), lastSeen: time.Now()}
	s.opts.Logf("forgesim: scale set %q session opened by %s", set.name, b.OwnerName)
	writeJSON(w, http.StatusOK, s.sessionJSONLocked(set))
}

func (s *Sim) handleRefreshSession(w http.ResponseWriter, r *http.Request) {
	set, ok := s.setFor(w, r)
	if !ok {
		return
	}
	defer s.mu.Unlock()
	if set.session == nil || set.session.id != r.PathValue("sid") {
		writeException(w, http.StatusNotFound, "TaskAgentSessionExpiredException", "session "+r.PathValue("sid")+" is gone")
		return
	}
	set.session.token, set.session.lastSeen = randomHex(20), time.Now()
	writeJSON(w, http.StatusOK, s.sessionJSONLocked(set))
}

func (s *Sim) handleDeleteSession(w http.ResponseWriter, r *http.Request) {
	set, ok := s.setFor(w, r)
	if !ok {
		return
	}
	defer s.mu.Unlock()
	if set.session == nil || set.session.id != r.PathValue("sid") {
		writeException(w, http.StatusNotFound, "TaskAgentSessionExpiredException", "session "+r.PathValue("sid")+" is gone")
		return
	}
	set.session = nil
	s.notifyLocked()
	w.WriteHeader(http.StatusNoContent)
}

func (s *Sim) handleSSRunnerGroups(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.adminScope(w, r); !ok {
		return
	}
	name := r.URL.Query().Get("groupName")
	list := []map[string]any{}
	if name == "" || strings.EqualFold(name, defaultRunnerGroup) {
		list = append(list, map[string]any{"id": 1, "name": defaultRunnerGroup, "size": 0, "isDefaultGroup": true})
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": len(list), "value": list})
}
