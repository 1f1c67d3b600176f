package gitea_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forgesim"
	"github.com/paddock-ci/paddock/internal/testutil"
)

// Gitea 1.25.4's runner API as seen on a real one: labels with id 0 and
// type "custom", no "disabled" field, and a missing runner answers 404
// {"message":"Runner not found"} on GET and DELETE. The client reads the
// labels and takes the 404 as "already gone" without deciding the runner
// API is missing.
func TestGitea125RunnerShapesAndNotFound(t *testing.T) {
	sim := startSim(t, forgesim.FlavorGitea, "1.25.4")
	c := newClient(t, sim, core.ForgeGitea)
	ctx := context.Background()
	reg, _ := register(t, c, "shape-1")
	auth := map[string]string{"Authorization": "token " + pat}
	base := sim.URL() + "api/v1/repos/acme/app/actions/runners"

	code, _, b := testutil.Request(t, http.MethodGet, base, auth, nil)
	var page struct {
		Runners []map[string]json.RawMessage `json:"runners"`
	}
	if err := json.Unmarshal(b, &page); code != http.StatusOK || err != nil || len(page.Runners) != 1 {
		t.Fatalf("listing: %d %s", code, b)
	}
	if _, ok := page.Runners[0]["disabled"]; ok {
		t.Errorf("runner has a disabled field: %s", b)
	}
	var labels []map[string]any
	if err := json.Unmarshal(page.Runners[0]["labels"], &labels); err != nil || len(labels) == 0 {
		t.Fatalf("labels %s: %v", page.Runners[0]["labels"], err)
	}
	for _, l := range labels {
		if l["id"] != float64(0) || l["type"] != "custom" {
			t.Errorf("label %v; want id 0, type custom", l)
		}
	}

	missing := base + "/" + strconv.FormatInt(reg.RunnerID+100, 10)
	for _, m := range []string{http.MethodGet, http.MethodDelete} {
		code, _, b := testutil.Request(t, m, missing, auth, nil)
		if code != http.StatusNotFound || strings.TrimSpace(string(b)) != `{"message":"Runner not found"}` {
			t.Errorf("%s missing runner: %d %q; want 404 {\"message\":\"Runner not found\"}", m, code, b)
		}
	}

	rs, err := c.ListRunners(ctx, repo)
	if err != nil || len(rs) != 1 || len(rs[0].Labels) == 0 {
		t.Fatalf("ListRunners = %+v, %v", rs, err)
	}
	if err := c.DeleteRunner(ctx, repo, reg.RunnerID+100); err != nil {
		t.Fatalf("deleting a missing runner: %v; want nil (already gone)", err)
	}
	if err := c.DeleteRunner(ctx, repo, reg.RunnerID); err != nil {
		t.Fatal(err)
	}
	if rs, err := c.ListRunners(ctx, repo); err != nil || len(rs) != 0 {
		t.Fatalf("after deletes: %+v, %v; want the runner API still in use and the runner gone", rs, err)
	}
}
