package ghcontract_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/paddock-ci/paddock/internal/ghcontract"
)

// The validator must be able to say no; otherwise the contract tests above prove nothing.
func TestValidatorRejectsContractBreaks(t *testing.T) {
	c := ghcontract.Must(t)
	jsonHdr := http.Header{"Content-Type": []string{"application/json"}}
	req := func(method, url, body string) (*http.Request, []byte) {
		r, err := http.NewRequest(method, url, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if body != "" {
			r.Header.Set("Content-Type", "application/json")
		}
		return r, []byte(body)
	}

	good, gb := req("POST", "http://x/orgs/o/actions/runners/generate-jitconfig", `{"name":"r","runner_group_id":1,"labels":["a"]}`)
	if err := c.ValidateRequest(good, gb); err != nil {
		t.Fatalf("valid request rejected: %v", err)
	}
	for name, tc := range map[string]struct{ method, url, body string }{
		"unknown path":     {"GET", "http://x/orgs/o/actions/runnerz", ""},
		"wrong method":     {"PUT", "http://x/orgs/o/actions/runners", ""},
		"no labels":        {"POST", "http://x/orgs/o/actions/runners/generate-jitconfig", `{"name":"r","runner_group_id":1,"labels":[]}`},
		"missing name":     {"POST", "http://x/repos/o/r/actions/runners/generate-jitconfig", `{"runner_group_id":1,"labels":["a"]}`},
		"per_page not int": {"GET", "http://x/repos/o/r/actions/runners?per_page=many", ""},
		"bad status enum":  {"GET", "http://x/repos/o/r/actions/runs?status=sleeping", ""},
		"undeclared query": {"GET", "http://x/repos/o/r/actions/runners?labels=x", ""},
		"non-int id":       {"DELETE", "http://x/enterprises/e/actions/runners/abc", ""},
	} {
		r, b := req(tc.method, tc.url, tc.body)
		if err := c.ValidateRequest(r, b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, _, err := c.Route("GET", "/nope"); !errors.Is(err, ghcontract.ErrNoRoute) {
		t.Errorf("Route error = %v", err)
	}

	if err := c.ValidateResponse("DELETE", "/orgs/o/actions/runners/1", 204, http.Header{}, nil); err != nil {
		t.Fatalf("valid 204 rejected: %v", err)
	}
	if err := c.ValidateResponse("DELETE", "/orgs/o/actions/runners/1", 404, jsonHdr, []byte(`{"message":"Not Found"}`)); err != nil {
		t.Fatalf("generic 404 rejected: %v", err)
	}
	for name, tc := range map[string]struct {
		method, path string
		status       int
		body         string
	}{
		"undocumented status":    {"DELETE", "/orgs/o/actions/runners/1", 418, `{}`},
		"runners not array":      {"GET", "/orgs/o/actions/runners", 200, `{"total_count":1,"runners":{}}`},
		"runner lacks busy":      {"GET", "/orgs/o/actions/runners", 200, `{"total_count":1,"runners":[{"id":1,"name":"a","os":"linux","status":"online","labels":[]}]}`},
		"generic 404 no message": {"DELETE", "/orgs/o/actions/runners/1", 404, `{"documentation_url":"x"}`},
		"jit lacks config":       {"POST", "/repos/o/r/actions/runners/generate-jitconfig", 201, `{"runner":{"id":1}}`},
	} {
		if err := c.ValidateResponse(tc.method, tc.path, tc.status, jsonHdr, []byte(tc.body)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
