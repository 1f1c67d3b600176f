package forge

import "github.com/paddock-ci/paddock/internal/core"

// LabelRules is how a forge matches a job's runs-on labels against a
// runner's labels. The scheduler matches pools with the same rules, so a
// pool takes a job only if the runners it registers will be offered it.
type LabelRules struct {
	// Forge names the forge in notes ("GitHub", "Gitea", "Forgejo").
	Forge string
	// CaseSensitive: labels compare byte for byte (Gitea, Forgejo).
	// Otherwise they compare without regard to case (GitHub).
	CaseSensitive bool
	// Implied are labels the forge gives every self-hosted runner without
	// their being registered (GitHub's "self-hosted"). Gitea and Forgejo
	// imply none: a runner has exactly the labels it registered with.
	Implied []string
}

// LabelRulesFor returns the matching rules of a forge kind. Unknown kinds
// get GitHub's rules, the historical default.
func LabelRulesFor(kind core.ForgeKind) LabelRules {
	switch kind {
	case core.ForgeGitea:
		return LabelRules{Forge: "Gitea", CaseSensitive: true}
	case core.ForgeForgejo:
		return LabelRules{Forge: "Forgejo", CaseSensitive: true}
	}
	return LabelRules{Forge: "GitHub", Implied: []string{"self-hosted"}}
}
