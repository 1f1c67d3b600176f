package api

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestPoolExtraSpecsAndFlavors(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.Providers = []string{"local"} })
	h.seed()
	var p PoolView
	h.must(200, "PATCH", "/api/v1/pools/linux", map[string]any{
		"extra_specs": map[string]any{"disable_updates": true},
		"flavors":     map[string]string{"4CPU-16GB": "big"},
	}, &p)
	if compact(p.ExtraSpecs) != `{"disable_updates":true}` || p.Flavors["4cpu-16gb"] != "big" {
		t.Fatalf("after PATCH: extra %s flavors %v", p.ExtraSpecs, p.Flavors)
	}
	if s := h.pool("linux"); string(s.ExtraSpecs) != `{"disable_updates":true}` || s.FlavorFor("4cpu-16gb") != "big" {
		t.Fatalf("stored: extra %s flavors %v", s.ExtraSpecs, s.Flavors)
	}
	// Other PATCHes leave them alone; null and {} clear them.
	h.must(200, "PATCH", "/api/v1/pools/linux", map[string]any{"priority": 2}, &p)
	if len(p.ExtraSpecs) == 0 || len(p.Flavors) != 1 {
		t.Fatalf("unrelated PATCH lost them: %+v", p)
	}
	var cleared PoolView
	raw := h.must(200, "PATCH", "/api/v1/pools/linux", map[string]any{"extra_specs": nil, "flavors": map[string]string{}}, &cleared)
	if len(cleared.ExtraSpecs) != 0 || len(cleared.Flavors) != 0 || strings.Contains(raw, "extra_specs") {
		t.Fatalf("not cleared: %s", raw)
	}
	for _, c := range []struct {
		body map[string]any
		want string
	}{
		{map[string]any{"extra_specs": []int{1}}, "extra_specs must be a JSON object"},
		{map[string]any{"extra_specs": map[string]any{"runner_install_template": "eA=="}}, "set by Paddock"},
		{map[string]any{"flavors": map[string]string{"huge": "x"}}, `"huge" is not a size label`},
		{map[string]any{"extra_specs": map[string]string{"k": strings.Repeat("x", 17<<10)}}, "at most 16384"},
	} {
		h.wantError(400, "PATCH", "/api/v1/pools/linux", c.body, c.want)
	}
	if s := h.pool("linux"); len(s.ExtraSpecs) != 0 {
		t.Errorf("a refused PATCH changed the pool: %s", s.ExtraSpecs)
	}
}

func compact(b []byte) string {
	var buf bytes.Buffer
	_ = json.Compact(&buf, b)
	return buf.String()
}
