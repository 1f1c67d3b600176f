package github

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	gh "github.com/google/go-github/v89/github"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
)

// Webhook event types (the X-GitHub-Event header) Paddock distinguishes.
const (
	EventPing        = "ping"
	EventWorkflowJob = "workflow_job"
)

// Webhook headers.
const (
	HeaderEvent     = "X-GitHub-Event"
	HeaderDelivery  = "X-GitHub-Delivery"
	HeaderSignature = "X-Hub-Signature-256"
)

var (
	// ErrNoSignature: the delivery carries no X-Hub-Signature-256.
	ErrNoSignature = errors.New("webhook: missing X-Hub-Signature-256")
	// ErrBadSignature: the signature does not match the body and secret.
	ErrBadSignature = errors.New("webhook: signature mismatch")
)

// VerifySignature checks header ("sha256=<hex>") against the HMAC-SHA256 of
// the raw body. Only SHA-256 is accepted: the legacy SHA-1 header is weaker
// and GitHub always sends both. An empty secret is refused rather than
// silently accepting anyone who knows the body.
func VerifySignature(secret, body []byte, header string) error {
	if len(secret) == 0 {
		return errors.New("webhook: no secret configured")
	}
	if header == "" {
		return ErrNoSignature
	}
	hexSig, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return fmt.Errorf("webhook: signature header must start with sha256=: %w", ErrBadSignature)
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil || len(got) != sha256.Size {
		return fmt.Errorf("webhook: signature is not a hex SHA-256 digest: %w", ErrBadSignature)
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return ErrBadSignature
	}
	return nil
}

// Sign returns the X-Hub-Signature-256 value for body, as GitHub computes it
// (for simulators and tests that deliver webhooks).
func Sign(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// EventAction reports a delivery's action: "ping" for ping events, otherwise
// the payload's "action" field ("" for events without one). Callers use it to
// answer pings and ignore events they do not handle without a full parse.
func EventAction(eventType string, body []byte) (string, error) {
	if eventType == "" {
		return "", errors.New("webhook: missing X-GitHub-Event")
	}
	var probe struct {
		Action string `json:"action"`
	}
	if err := json.Unmarshal(body, &probe); err != nil {
		return "", fmt.Errorf("webhook %s: malformed JSON: %w", eventType, err)
	}
	if eventType == EventPing {
		return EventPing, nil
	}
	return probe.Action, nil
}

// ParseWorkflowJob parses a workflow_job delivery.
func ParseWorkflowJob(body []byte) (forge.JobEvent, error) {
	var ev gh.WorkflowJobEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		return forge.JobEvent{}, fmt.Errorf("workflow_job: malformed JSON: %w", err)
	}
	// go-github's event type has no enterprise field; it is read separately.
	var extra struct {
		Enterprise *struct {
			Slug string `json:"slug"`
		} `json:"enterprise"`
	}
	if err := json.Unmarshal(body, &extra); err != nil {
		return forge.JobEvent{}, fmt.Errorf("workflow_job: malformed enterprise: %w", err)
	}
	wj := ev.GetWorkflowJob()
	if wj == nil || wj.GetID() == 0 {
		return forge.JobEvent{}, errors.New("workflow_job: payload has no workflow_job.id")
	}
	action := ev.GetAction()
	if action == "" {
		return forge.JobEvent{}, fmt.Errorf("workflow_job %d: payload has no action", wj.GetID())
	}
	job := jobFromAPI(wj, ev.GetRepo().GetFullName())
	if wj.GetStatus() == "" {
		job.State = jobState(action)
	}
	ref := forge.EntityRef{Repository: ev.GetRepo().GetFullName(), Organization: ev.GetOrg().GetLogin()}
	if extra.Enterprise != nil {
		ref.Enterprise = extra.Enterprise.Slug
	}
	return forge.JobEvent{Action: core.JobAction(action), Job: job, Entity: ref, RunnerID: wj.GetRunnerID()}, nil
}
