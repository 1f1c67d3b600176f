package forgesim

import (
	"encoding/base64"
	"fmt"
	"hash/fnv"
	"strings"
	"time"
)

// The JSON builders below follow GitHub's published schemas ("simple-user",
// "minimal-repository"/"repository-webhooks", "workflow-run", "job") and
// include every field those schemas require.

const (
	webBase       = "https://github.com/"
	runnerVersion = "2.328.0"
)

// stableID derives a repeatable numeric id for a name, so the same repository
// or owner keeps its id across runs of the sim.
func stableID(kind, name string) int64 {
	h := fnv.New64a()
	h.Write([]byte(kind + ":" + strings.ToLower(name)))
	return int64(h.Sum64()>>34) + 1 // 30 bits: small, positive, JSON-safe
}

func nodeID(prefix string, id int64) string {
	return base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "%s%d", prefix, id))
}

func userJSON(api, login, typ string) map[string]any {
	id := stableID("user", login)
	u := api + "users/" + login
	return map[string]any{
		"login": login, "id": id, "node_id": nodeID("04:User", id), "type": typ, "site_admin": false,
		"avatar_url": fmt.Sprintf("https://avatars.githubusercontent.com/u/%d?v=4", id), "gravatar_id": "",
		"url": u, "html_url": webBase + login, "followers_url": u + "/followers",
		"following_url": u + "/following{/other_user}", "gists_url": u + "/gists{/gist_id}",
		"starred_url": u + "/starred{/owner}{/repo}", "subscriptions_url": u + "/subscriptions",
		"organizations_url": u + "/orgs", "repos_url": u + "/repos", "events_url": u + "/events{/privacy}",
		"received_events_url": u + "/received_events", "user_view_type": "public",
	}
}

func orgJSON(api, login string) map[string]any {
	id := stableID("user", login)
	u := api + "orgs/" + login
	return map[string]any{
		"login": login, "id": id, "node_id": nodeID("012:Organization", id), "url": u,
		"repos_url": u + "/repos", "events_url": u + "/events", "hooks_url": u + "/hooks",
		"issues_url": u + "/issues", "members_url": u + "/members{/member}",
		"public_members_url": u + "/public_members{/member}",
		"avatar_url":         fmt.Sprintf("https://avatars.githubusercontent.com/u/%d?v=4", id),
		"description":        "",
	}
}

// repoJSON satisfies both "minimal-repository" (REST) and "repository-webhooks".
func repoJSON(api, fullName, org string) map[string]any {
	owner, name, _ := strings.Cut(fullName, "/")
	ownerType := "User"
	if org != "" && strings.EqualFold(org, owner) {
		ownerType = "Organization"
	}
	id := stableID("repo", fullName)
	u := api + "repos/" + fullName
	html := webBase + fullName
	created := ghTime(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC))
	m := map[string]any{
		"id": id, "node_id": nodeID("010:Repository", id), "name": name, "full_name": fullName,
		"private": true, "owner": userJSON(api, owner, ownerType), "html_url": html, "description": nil,
		"fork": false, "url": u, "homepage": nil, "language": nil, "mirror_url": nil, "license": nil,
		"size": 0, "default_branch": "main", "visibility": "private", "topics": []string{},
		"archived": false, "disabled": false, "is_template": false, "web_commit_signoff_required": false,
		"has_issues": true, "has_projects": true, "has_wiki": false, "has_pages": false, "has_downloads": true,
		"has_discussions": false, "forks": 0, "forks_count": 0, "open_issues": 0, "open_issues_count": 0,
		"stargazers_count": 0, "watchers": 0, "watchers_count": 0, "allow_forking": false,
		"created_at": created, "updated_at": created, "pushed_at": created, "custom_properties": map[string]any{},
		"git_url": "git://github.com/" + fullName + ".git", "ssh_url": "git@github.com:" + fullName + ".git",
		"clone_url": html + ".git", "svn_url": html,
	}
	// The long tail of hypermedia links, all required by the schemas.
	for field, suffix := range map[string]string{
		"archive_url": "/{archive_format}{/ref}", "assignees_url": "/assignees{/user}",
		"blobs_url": "/git/blobs{/sha}", "branches_url": "/branches{/branch}",
		"collaborators_url": "/collaborators{/collaborator}", "comments_url": "/comments{/number}",
		"commits_url": "/commits{/sha}", "compare_url": "/compare/{base}...{head}",
		"contents_url": "/contents/{+path}", "contributors_url": "/contributors",
		"deployments_url": "/deployments", "downloads_url": "/downloads", "events_url": "/events",
		"forks_url": "/forks", "git_commits_url": "/git/commits{/sha}", "git_refs_url": "/git/refs{/sha}",
		"git_tags_url": "/git/tags{/sha}", "hooks_url": "/hooks", "issue_comment_url": "/issues/comments{/number}",
		"issue_events_url": "/issues/events{/number}", "issues_url": "/issues{/number}",
		"keys_url": "/keys{/key_id}", "labels_url": "/labels{/name}", "languages_url": "/languages",
		"merges_url": "/merges", "milestones_url": "/milestones{/number}",
		"notifications_url": "/notifications{?since,all,participating}", "pulls_url": "/pulls{/number}",
		"releases_url": "/releases{/id}", "stargazers_url": "/stargazers", "statuses_url": "/statuses/{sha}",
		"subscribers_url": "/subscribers", "subscription_url": "/subscription", "tags_url": "/tags",
		"teams_url": "/teams", "trees_url": "/git/trees{/sha}",
	} {
		m[field] = u + suffix
	}
	return m
}

// jobJSON is the "job" schema, which the workflow_job webhook payload shares.
func jobJSON(api string, j *job) map[string]any {
	repoAPI := api + "repos/" + j.Repo
	var steps []map[string]any
	if !j.StartedAt.IsZero() {
		stepConclusion := any(nil)
		status := "in_progress"
		if j.Status == StatusCompleted {
			status, stepConclusion = StatusCompleted, j.Conclusion
		}
		steps = append(steps, map[string]any{"name": "Run " + j.Name, "status": status,
			"conclusion": stepConclusion, "number": 1, "started_at": ghTime(j.StartedAt),
			"completed_at": ghTimePtr(j.CompletedAt)})
	}
	if steps == nil {
		steps = []map[string]any{}
	}
	started := j.StartedAt
	if started.IsZero() {
		// GitHub reports started_at = created_at while a job waits in the queue.
		started = j.CreatedAt
	}
	return map[string]any{
		"id": j.ID, "run_id": j.RunID, "run_url": fmt.Sprintf("%s/actions/runs/%d", repoAPI, j.RunID),
		"run_attempt": 1, "node_id": nodeID("08:CheckRun", j.ID), "head_sha": j.HeadSHA,
		"url":      fmt.Sprintf("%s/actions/jobs/%d", repoAPI, j.ID),
		"html_url": fmt.Sprintf("%s%s/actions/runs/%d/job/%d", webBase, j.Repo, j.RunID, j.ID),
		"status":   j.Status, "conclusion": nullIfEmpty(j.Conclusion),
		"created_at": ghTime(j.CreatedAt), "started_at": ghTime(started), "completed_at": ghTimePtr(j.CompletedAt),
		"name": j.Name, "steps": steps, "check_run_url": fmt.Sprintf("%s/check-runs/%d", repoAPI, j.ID),
		"labels": j.Labels, "runner_id": nullIfZero(j.RunnerID), "runner_name": nullIfEmpty(j.RunnerName),
		"runner_group_id": nullIfZero(j.RunnerGroupID), "runner_group_name": nullIfEmpty(j.RunnerGroupName),
		"workflow_name": j.WorkflowName, "head_branch": j.HeadBranch,
	}
}

// runJSON is the "workflow-run" schema for the single-job run behind j.
func runJSON(api string, j *job) map[string]any {
	repoAPI := api + "repos/" + j.Repo
	runURL := fmt.Sprintf("%s/actions/runs/%d", repoAPI, j.RunID)
	owner, _, _ := strings.Cut(j.Repo, "/")
	actor := userJSON(api, owner, "User")
	repo := repoJSON(api, j.Repo, j.Org)
	author := map[string]any{"name": "Sim Author", "email": "sim@example.com"}
	updated := j.CreatedAt
	for _, t := range []time.Time{j.StartedAt, j.CompletedAt} {
		if t.After(updated) {
			updated = t
		}
	}
	return map[string]any{
		"id": j.RunID, "name": j.WorkflowName, "node_id": nodeID("011:WorkflowRun", j.RunID),
		"check_suite_id": j.RunID + 1, "check_suite_node_id": nodeID("010:CheckSuite", j.RunID+1),
		"head_branch": j.HeadBranch, "head_sha": j.HeadSHA, "path": ".github/workflows/ci.yml",
		"run_number": j.RunID, "run_attempt": 1, "event": "push", "display_title": j.WorkflowName,
		"status": j.Status, "conclusion": nullIfEmpty(j.Conclusion), "workflow_id": stableID("workflow", j.Repo),
		"url": runURL, "html_url": fmt.Sprintf("%s%s/actions/runs/%d", webBase, j.Repo, j.RunID),
		"pull_requests": []any{}, "created_at": ghTime(j.CreatedAt), "updated_at": ghTime(updated),
		"run_started_at": ghTime(j.CreatedAt), "actor": actor, "triggering_actor": actor,
		"jobs_url": runURL + "/jobs", "logs_url": runURL + "/logs", "artifacts_url": runURL + "/artifacts",
		"check_suite_url": fmt.Sprintf("%s/check-suites/%d", repoAPI, j.RunID+1),
		"cancel_url":      runURL + "/cancel", "rerun_url": runURL + "/rerun", "previous_attempt_url": nil,
		"workflow_url": fmt.Sprintf("%s/actions/workflows/%d", repoAPI, stableID("workflow", j.Repo)),
		"head_commit": map[string]any{"id": j.HeadSHA, "tree_id": j.HeadSHA, "message": "simulated commit",
			"timestamp": ghTime(j.CreatedAt), "author": author, "committer": author},
		"repository": repo, "head_repository": repo, "head_repository_id": repo["id"],
		"referenced_workflows": []any{},
	}
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullIfZero(n int64) any {
	if n == 0 {
		return nil
	}
	return n
}
