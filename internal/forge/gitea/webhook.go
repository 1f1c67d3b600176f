package gitea

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/paddock-ci/paddock/internal/forge"
	"github.com/paddock-ci/paddock/internal/forge/github"
)

// InstanceEntity is the entity name a workflow_job event names as its
// "enterprise" level: Gitea has none, so an instance-level (admin) entity in
// Paddock is matched under this name.
const InstanceEntity = "instance"

var (
	// ErrNoSignature: none of the signature headers is present.
	ErrNoSignature = errors.New("webhook: no X-Forgejo-Signature, X-Gitea-Signature or X-Hub-Signature-256 header")
	// ErrBadSignature: the signature does not match the body and secret.
	ErrBadSignature = errors.New("webhook: signature mismatch")
)

// signatureHeaders in the order they are tried: Forgejo sends its own and
// Gitea's; Gitea sends its own and GitHub's.
var signatureHeaders = []string{"X-Forgejo-Signature", "X-Gitea-Signature", "X-Hub-Signature-256"}

// VerifySignature checks the first signature header present against the
// HMAC-SHA256 of the raw body: hex in X-Forgejo-Signature / X-Gitea-Signature,
// "sha256=<hex>" in X-Hub-Signature-256. An empty secret is refused.
func VerifySignature(secret, body []byte, h http.Header) error {
	if len(secret) == 0 {
		return errors.New("webhook: no secret configured")
	}
	for _, name := range signatureHeaders {
		v := strings.TrimSpace(h.Get(name))
		if v == "" {
			continue
		}
		if name == "X-Hub-Signature-256" {
			return github.VerifySignature(secret, body, v)
		}
		got, err := hex.DecodeString(strings.TrimPrefix(v, "sha256="))
		if err != nil || len(got) != sha256.Size {
			return fmt.Errorf("webhook: %s is not a hex SHA-256 digest: %w", name, ErrBadSignature)
		}
		mac := hmac.New(sha256.New, secret)
		mac.Write(body)
		if !hmac.Equal(got, mac.Sum(nil)) {
			return ErrBadSignature
		}
		return nil
	}
	return ErrNoSignature
}

// Sign is the hex HMAC-SHA256 Gitea and Forgejo put in their signature header.
func Sign(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// first returns the first non-empty header among names.
func first(h http.Header, names ...string) string {
	for _, n := range names {
		if v := strings.TrimSpace(h.Get(n)); v != "" {
			return v
		}
	}
	return ""
}

// DeliveryID is the delivery's unique id (dedupe key).
func DeliveryID(h http.Header) string {
	return first(h, "X-Forgejo-Delivery", "X-Gitea-Delivery", "X-GitHub-Delivery")
}

// EventType is the delivery's event name (workflow_job, ping, push, …).
func EventType(h http.Header) string {
	return first(h, "X-Forgejo-Event", "X-Gitea-Event", "X-GitHub-Event")
}

// ParseWorkflowJob parses a workflow_job delivery. Gitea sends GitHub's
// shape, except that its organization object names itself in "username" and
// "name" rather than GitHub's "login".
func ParseWorkflowJob(body []byte) (forge.JobEvent, error) {
	ev, err := github.ParseWorkflowJob(body)
	if err != nil {
		return ev, err
	}
	if ev.Entity.Organization == "" {
		var extra struct {
			Organization *struct {
				Username string `json:"username"`
				Name     string `json:"name"`
			} `json:"organization"`
		}
		if err := json.Unmarshal(body, &extra); err != nil {
			return ev, fmt.Errorf("workflow_job: malformed organization: %w", err)
		}
		if o := extra.Organization; o != nil {
			ev.Entity.Organization = o.Username
			if ev.Entity.Organization == "" {
				ev.Entity.Organization = o.Name
			}
		}
	}
	ev.Entity.Enterprise = InstanceEntity
	j := &ev.Job
	j.QueuedAt, j.StartedAt, j.CompletedAt = knownTime(j.QueuedAt), knownTime(j.StartedAt), knownTime(j.CompletedAt)
	return ev, nil
}
