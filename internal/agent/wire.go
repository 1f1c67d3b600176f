package agent

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
)

// The simulator's runner protocol as the runner sees it. The agent keeps its
// own copy rather than importing forgesim, as a real runner has its own
// client: that keeps it a small program that can run inside a microVM
// (cmd/paddock-simrunner), and the agent tests against the real simulator
// catch any drift.

// jitPayload is the decoded JIT config the simulator mints.
type jitPayload struct {
	SimURL     string `json:"sim_url"`
	RunnerID   int64  `json:"runner_id"`
	RunnerName string `json:"runner_name"`
	Secret     string `json:"secret"`
}

// assignedJob is a job the simulator hands a runner.
type assignedJob struct {
	ID         int64  `json:"id"`
	Name       string `json:"name"`
	DurationMS int64  `json:"duration_ms"`
	Command    string `json:"command,omitempty"`
	RunID      int64  `json:"run_id"`
	RunAttempt int64  `json:"run_attempt"`
	Repository string `json:"repository"`
	Workflow   string `json:"workflow"`
}

// completeRequest reports a finished job.
type completeRequest struct {
	JobID      int64  `json:"job_id"`
	Conclusion string `json:"conclusion"`
}

// simTask is the Gitea-flavoured task context.
type simTask struct {
	JobID      int64  `json:"job_id"`
	Name       string `json:"name"`
	DurationMS int64  `json:"duration_ms"`
	Command    string `json:"command,omitempty"`
}

const (
	conclusionSuccess = "success"
	conclusionFailure = "failure"
)

// decodeJIT parses an encoded_jit_config minted by the simulator.
func decodeJIT(encoded string) (jitPayload, error) {
	var p jitPayload
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

// runnerFile is the fields of act_runner's `.runner` file the stand-in reads.
type runnerFile struct {
	ID        int64  `json:"id"`
	UUID      string `json:"uuid"`
	Name      string `json:"name"`
	Token     string `json:"token"`
	Address   string `json:"address"`
	Ephemeral bool   `json:"ephemeral,omitempty"`
}
