package check

import (
	"regexp"
	"strings"

	"github.com/paddock-ci/paddock/internal/core"
)

// Owner and repository names as the forges allow them. A name outside these
// can never exist on the forge, so an entity carrying it could only fail.
//
//   - GitHub user and organization names: letters, digits and single hyphens
//     between them, at most 39. '_' is allowed as a separator too, for
//     Enterprise Managed Users ("handle_shortcode").
//   - Gitea and Forgejo user and organization names: letters, digits and
//     single '-', '.' or '_' between them, at most 40.
//   - Repository names on all of them: letters, digits, '-', '.' and '_', at
//     most 100, not "." or "..". Gitea also reserves names ending in .git and
//     .wiki.
var (
	githubOwnerRE = regexp.MustCompile(`^[A-Za-z0-9]+([-_][A-Za-z0-9]+)*$`)
	giteaOwnerRE  = regexp.MustCompile(`^[A-Za-z0-9]+([-._][A-Za-z0-9]+)*$`)
	repoRE        = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
)

const (
	maxGitHubOwner = 39
	maxGiteaOwner  = 40
	maxRepo        = 100
)

// EntityDefaults fills what an entity declaration left out: intake webhook,
// and the kind from the name (owner/repo is a repository, anything else most
// often an organization).
func EntityDefaults(e *core.Entity) {
	if e.Intake == "" {
		e.Intake = core.IntakeWebhook
	}
	if e.Kind == "" && e.Name != "" {
		e.Kind = core.EntityOrganization
		if strings.Contains(e.Name, "/") {
			e.Kind = core.EntityRepository
		}
	}
}

// Entity checks an entity (after EntityDefaults) for a forge of kind forge;
// an empty forge kind (not known to the caller) accepts a name valid on any
// forge Paddock supports.
func Entity(en core.Entity, forge core.ForgeKind) Errors {
	var e Errors
	switch en.Kind {
	case core.EntityRepository, core.EntityOrganization:
	case core.EntityEnterprise:
		if forge != "" && forge != core.ForgeGitHub {
			e.add("kind", "enterprises exist only on GitHub (this forge is %s)", forge)
		}
	case "":
		e.add("kind", "required (repository, organization or enterprise)")
	default:
		e.add("kind", "unknown entity kind %q (want repository, organization or enterprise)", en.Kind)
	}
	switch en.Intake {
	case core.IntakeWebhook, core.IntakePoll:
	default:
		e.add("intake", "unknown intake %q (want webhook or poll)", en.Intake)
	}
	if en.Name == "" {
		e.add("name", "required")
		return e
	}
	owner, repo, hasSlash := strings.Cut(en.Name, "/")
	switch {
	case en.Kind == core.EntityRepository && !hasSlash:
		e.add("name", "a repository must be written owner/repo, got %q", en.Name)
	case en.Kind != core.EntityRepository && hasSlash:
		e.add("name", "an %s name has no '/', got %q", en.Kind, en.Name)
	default:
		if msg := ownerProblem(owner, forge); msg != "" {
			e.add("name", "%q: %s", en.Name, msg)
		}
		if hasSlash {
			if msg := repoProblem(repo, forge); msg != "" {
				e.add("name", "%q: %s", en.Name, msg)
			}
		}
	}
	return e
}

func ownerProblem(owner string, forge core.ForgeKind) string {
	gh := githubOwnerRE.MatchString(owner) && len(owner) <= maxGitHubOwner
	gt := giteaOwnerRE.MatchString(owner) && len(owner) <= maxGiteaOwner
	switch forge {
	case core.ForgeGitHub:
		if !gh {
			return "a GitHub owner is letters, digits and single '-' between them, at most 39"
		}
	case core.ForgeGitea, core.ForgeForgejo:
		if !gt {
			return "a " + string(forge) + " owner is letters, digits and single '-', '.' or '_' between them, at most 40"
		}
	default:
		if !gh && !gt {
			return "an owner is letters, digits and single '-', '.' or '_' between them, at most 40"
		}
	}
	return ""
}

func repoProblem(repo string, forge core.ForgeKind) string {
	switch {
	case repo == "" || len(repo) > maxRepo || !repoRE.MatchString(repo) || repo == "." || repo == "..":
		return "a repository name is 1 to 100 letters, digits, '-', '.' or '_' (not \".\" or \"..\")"
	case forge != core.ForgeGitHub && (strings.HasSuffix(repo, ".git") || strings.HasSuffix(repo, ".wiki")):
		if forge != "" {
			return "a " + string(forge) + " repository name may not end in .git or .wiki"
		}
	}
	return ""
}
