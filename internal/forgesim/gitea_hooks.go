package forgesim

import (
	"net/http"
	"strings"
)

// giteaPayloadLocked adapts a workflow_job payload to Gitea's: Gitea's
// organization object has "username" and "name" where GitHub has "login".
func (s *Sim) giteaPayloadLocked(payload map[string]any, j *job) {
	payload["workflow_job"] = giteaJobJSON(s.base, j)
	if j.Org == "" {
		return
	}
	payload["organization"] = map[string]any{"id": stableID("user", j.Org), "name": j.Org, "username": j.Org,
		"full_name": "", "visibility": "public"}
}

// giteaHookHeaders replaces GitHub's delivery headers with the flavor's.
// Gitea 1.25 sends X-Gitea-*, X-Gogs-* and GitHub's X-GitHub-Event,
// X-GitHub-Delivery, X-Hub-Signature (sha1), X-Hub-Signature-256 and
// X-GitHub-Hook-Installation-Target-Type "repository" (seen on a real
// 1.25.4), but no hook or target id. The sim's Forgejo sends X-Forgejo-* and
// X-Gitea-* only, so the Forgejo path is exercised on its own.
func (s *Sim) giteaHookHeaders(h http.Header, id, event string, body []byte) {
	if event == "" {
		event = "workflow_job"
	}
	for _, k := range []string{"X-GitHub-Hook-ID", "X-GitHub-Hook-Installation-Target-ID"} {
		h.Del(k)
	}
	h.Set("X-GitHub-Hook-Installation-Target-Type", "repository")
	h.Set("User-Agent", "Go-http-client/1.1")
	sig := ""
	if s.opts.WebhookSecret != "" {
		sig = Sign(s.opts.WebhookSecret, body)
	}
	set := func(prefix string) {
		h.Set(prefix+"-Event", event)
		h.Set(prefix+"-Event-Type", event)
		h.Set(prefix+"-Delivery", id)
		if sig != "" {
			h.Set(prefix+"-Signature", sig)
		}
	}
	set("X-Gitea")
	if s.gt.flavor == FlavorForgejo {
		set("X-Forgejo")
		for _, k := range []string{"X-GitHub-Event", "X-GitHub-Delivery", "X-Hub-Signature-256", "X-Hub-Signature",
			"X-GitHub-Hook-Installation-Target-Type"} {
			h.Del(k)
		}
		return
	}
	set("X-Gogs")
}

// forgejoPushPayload is the push event Forgejo sends for the commit whose
// workflow queued job j (its shape's fields Paddock reads: repository).
func forgejoPushPayload(repo map[string]any, j *job, sender any) map[string]any {
	return map[string]any{"ref": "refs/heads/" + j.HeadBranch, "before": strings.Repeat("0", 40), "after": j.HeadSHA,
		"compare_url": "", "commits": []any{}, "total_commits": 1, "repository": repo, "pusher": sender, "sender": sender}
}
