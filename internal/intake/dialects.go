package intake

import (
	"net/http"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
	"github.com/paddock-ci/paddock/internal/forge/gitea"
	"github.com/paddock-ci/paddock/internal/forge/github"
)

// dialect is what differs between forges' webhook deliveries; the flow
// (Handler.serve) is the same for all.
type dialect struct {
	kind        core.ForgeKind
	verifySig   func(secret, body []byte, h http.Header) error
	noSignature error // verifySig's error for a delivery that carries no signature
	delivery    func(h http.Header) string
	event       func(h http.Header) string
	headersHint string
	parse       func(body []byte) (forge.JobEvent, error)
	// triggersPoll: any other event of the forge (push, pull_request, …)
	// asks for an immediate poll of its repository, because the forge sends
	// no workflow_job webhooks (Forgejo).
	triggersPoll bool
}

var githubDialect = &dialect{
	kind: core.ForgeGitHub,
	verifySig: func(secret, body []byte, h http.Header) error {
		return github.VerifySignature(secret, body, h.Get("X-Hub-Signature-256"))
	},
	noSignature: github.ErrNoSignature,
	delivery:    func(h http.Header) string { return h.Get("X-GitHub-Delivery") },
	event:       func(h http.Header) string { return h.Get("X-GitHub-Event") },
	headersHint: "X-GitHub-Event and X-GitHub-Delivery",
	parse:       github.ParseWorkflowJob,
}

// giteaDialect serves Gitea and Forgejo: they send GitHub-shaped
// workflow_job payloads under their own header names.
func giteaDialect(kind core.ForgeKind) *dialect {
	return &dialect{
		kind: kind, verifySig: gitea.VerifySignature, noSignature: gitea.ErrNoSignature,
		delivery: gitea.DeliveryID, event: gitea.EventType,
		headersHint: "X-Gitea-Event/X-Forgejo-Event and X-Gitea-Delivery/X-Forgejo-Delivery",
		parse:       gitea.ParseWorkflowJob,
	}
}

func forgejoDialect() *dialect {
	d := giteaDialect(core.ForgeForgejo)
	d.triggersPoll = true
	return d
}

var dialects = []*dialect{githubDialect, giteaDialect(core.ForgeGitea), forgejoDialect()}
