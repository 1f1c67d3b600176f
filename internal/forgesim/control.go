package forgesim

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"time"
)

// Stats counts what the sim has seen; APICalls is keyed by
// "METHOD /path/template", then by HTTP status.
type Stats struct {
	APICalls           map[string]map[int]int `json:"api_calls"`
	WebhooksDelivered  int                    `json:"webhooks_delivered"`
	WebhooksFailed     int                    `json:"webhooks_failed"`
	WebhooksDropped    int                    `json:"webhooks_dropped"`
	WebhooksDuplicated int                    `json:"webhooks_duplicated"`
	JITConfigsMinted   int                    `json:"jit_configs_minted"`
	RegistrationTokens int                    `json:"registration_tokens"`
	RunnersConnected   int                    `json:"runners_connected"`
}

// Calls sums the calls made to one route template, whatever their status.
func (st Stats) Calls(template string) int {
	n := 0
	for _, c := range st.APICalls[template] {
		n += c
	}
	return n
}

// Stats returns a copy of the counters.
func (s *Sim) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.stats
	s.callsMu.Lock()
	defer s.callsMu.Unlock()
	out.APICalls = make(map[string]map[int]int, len(s.stats.APICalls))
	for k, v := range s.stats.APICalls {
		out.APICalls[k] = maps.Clone(v)
	}
	return out
}

// MarshalJSON writes "duration" as a Go duration string, matching UnmarshalJSON.
func (j JobSpec) MarshalJSON() ([]byte, error) {
	type plain JobSpec
	return json.Marshal(struct {
		plain
		Duration string `json:"duration,omitempty"`
	}{plain(j), durationString(j.Duration)})
}

func durationString(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}

// UnmarshalJSON accepts "duration" as a Go duration string ("90s").
func (j *JobSpec) UnmarshalJSON(b []byte) error {
	type plain JobSpec
	var w struct {
		plain
		Duration string `json:"duration"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*j = JobSpec(w.plain)
	j.Duration = 0
	if w.Duration != "" {
		d, err := time.ParseDuration(w.Duration)
		if err != nil {
			return fmt.Errorf("duration: want a Go duration like \"30s\", got %q", w.Duration)
		}
		j.Duration = d
	}
	return nil
}

func (s *Sim) handleQueueJob(w http.ResponseWriter, r *http.Request) {
	var spec JobSpec
	if err := json.NewDecoder(r.Body).Decode(&spec); err != nil {
		writeError(w, http.StatusBadRequest, "bad job spec: "+err.Error())
		return
	}
	j, err := s.QueueJob(spec)
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	writeJSON(w, http.StatusCreated, j)
}

func (s *Sim) handleJobs(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.Jobs())
}

func (s *Sim) handleSimRunners(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.Runners())
}

func (s *Sim) handleStats(w http.ResponseWriter, r *http.Request) {
	st := s.Stats()
	writeJSON(w, http.StatusOK, map[string]any{"stats": st, "deliveries": s.Deliveries()})
}

// faultsDoc is the /_sim/faults body: the fault rates plus one-shot failures.
type faultsDoc struct {
	Faults
	FailNext []failRule `json:"fail_next,omitempty"`
}

func (d faultsDoc) MarshalJSON() ([]byte, error) {
	f, err := json.Marshal(d.Faults)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(f, &m); err != nil {
		return nil, err
	}
	m["fail_next"] = d.FailNext
	return json.Marshal(m)
}

func (s *Sim) handleGetFaults(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	doc := faultsDoc{Faults: s.faults, FailNext: []failRule{}}
	for _, f := range s.failNext {
		doc.FailNext = append(doc.FailNext, *f)
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, doc)
}

// handlePutFaults replaces the fault rates and adds any fail_next rules.
func (s *Sim) handlePutFaults(w http.ResponseWriter, r *http.Request) {
	raw, err := readAll(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	var f Faults
	if err := json.Unmarshal(raw, &f); err != nil {
		writeError(w, http.StatusUnprocessableEntity, "bad faults: "+err.Error())
		return
	}
	var extra struct {
		FailNext []failRule `json:"fail_next"`
	}
	if err := json.Unmarshal(raw, &extra); err != nil {
		writeError(w, http.StatusUnprocessableEntity, "bad fail_next: "+err.Error())
		return
	}
	for _, fr := range extra.FailNext {
		if fr.Pattern == "" || fr.Status < 400 || fr.Status > 599 || fr.N < 1 {
			writeError(w, http.StatusUnprocessableEntity, "fail_next entries need pattern, status 400-599 and n >= 1")
			return
		}
	}
	if err := s.SetFaults(f); err != nil {
		writeError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	for _, fr := range extra.FailNext {
		s.FailNext(fr.Pattern, fr.Status, fr.N)
	}
	s.handleGetFaults(w, r)
}

func readAll(r *http.Request) ([]byte, error) {
	var raw json.RawMessage
	if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20)).Decode(&raw); err != nil {
		return nil, fmt.Errorf("body must be a JSON object: %w", err)
	}
	return raw, nil
}
