package controller_test

import (
	"encoding/json"
	"testing"

	"github.com/paddock-ci/paddock/internal/core"
)

// A size label reaches the provider as the pool's flavor for that size, and
// the pool's extra specs reach it unchanged.
func TestSizeLabelPicksThePoolsFlavorAndExtraSpecsPass(t *testing.T) {
	p := pool("sized", "linux")
	p.Flavor = "default-profile"
	p.Sizes = &core.SizeLimits{MaxCPU: 8, MaxMemoryGB: 32}
	p.Flavors = map[string]string{"4cpu-16gb": "big-profile"}
	p.ExtraSpecs = json.RawMessage(`{"disable_updates":true}`)
	h := newHarness(t, []core.Pool{p})
	h.event("queued", 1, []string{"self-hosted", "linux", "4cpu-16gb"}, "")
	h.event("queued", 2, []string{"self-hosted", "linux"}, "")
	h.eventually("two machines created", func() bool { c, _ := h.prov.counts(); return c >= 2 })
	flavors := map[string]string{}
	for _, inst := range h.live() {
		s, ok := h.prov.spec(inst.Name)
		if !ok {
			continue
		}
		flavors[inst.Size] = s.Flavor
		if string(s.ExtraSpecs) != `{"disable_updates":true}` {
			t.Errorf("%s: extra specs %s", inst.Name, s.ExtraSpecs)
		}
	}
	if flavors["4cpu-16gb"] != "big-profile" || flavors[""] != "default-profile" {
		t.Errorf("flavor by size = %v", flavors)
	}
}
