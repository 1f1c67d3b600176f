package check

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/paddock-ci/paddock/internal/core"
)

// Pool checks extra_specs and flavors itself, so config, API and CLI get the
// same answer from the one validator.
func TestPoolChecksProviderSettings(t *testing.T) {
	for _, tc := range []struct {
		field, want string
		edit        func(*core.Pool)
	}{
		{"extra_specs", "must be a JSON object", func(p *core.Pool) { p.ExtraSpecs = json.RawMessage(`[1]`) }},
		{"extra_specs", "set by Paddock", func(p *core.Pool) { p.ExtraSpecs = json.RawMessage(`{"runner_install_template":"eA=="}`) }},
		{"extra_specs", "at most 16384", func(p *core.Pool) {
			p.ExtraSpecs = json.RawMessage(`{"k":"` + strings.Repeat("x", 17<<10) + `"}`)
		}},
		{"flavors", `"huge" is not a size label`, func(p *core.Pool) { p.Flavors = map[string]string{"huge": "x"} }},
		{"flavors", "must be a provider flavor name", func(p *core.Pool) { p.Flavors = map[string]string{"2cpu-4gb": ""} }},
		{"flavors", "listed twice", func(p *core.Pool) { p.Flavors = map[string]string{"2CPU-4GB": "a", "2cpu-4gb": "b"} }},
	} {
		p := validPool()
		tc.edit(&p)
		errs := Pool(p)
		if len(errs) != 1 || errs[0].Field != tc.field || !strings.Contains(errs[0].Message, tc.want) {
			t.Errorf("%s %q: got %v", tc.field, tc.want, errs)
		}
	}
	// Defaults write flavor keys as size labels (lower case), which is how
	// machines are matched to them; colliding keys are left for Pool to refuse.
	p := validPool()
	p.Flavors = map[string]string{"4CPU-16GB": "big"}
	PoolDefaults(&p, func(string) bool { return true })
	if p.Flavors["4cpu-16gb"] != "big" || len(Pool(p)) != 0 {
		t.Fatalf("flavors = %v, errs %v", p.Flavors, Pool(p))
	}
}
