package cli

import (
	"bytes"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/paddock-ci/paddock/internal/api"
	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/scheduler"
)

// pool list and pool show say that a pool's creates fail, and why.
func TestPoolStatusShowsWhyPoolFails(t *testing.T) {
	long := `lxd: create instance: Failed creating instance record: Failed loading profile "paddock": Profile not found`
	failing := api.PoolView{Pool: core.Pool{Name: "lxd"}, Status: api.PoolFailing,
		Health: &scheduler.PoolHealth{Failures: 5, LastError: long, Since: time.Now().Add(-time.Minute),
			NextCreateAt: time.Now().Add(time.Minute)}}
	ok := api.PoolView{Pool: core.Pool{Name: "linux"}, Status: api.PoolOK}
	render := func(f func(*tabwriter.Writer)) string {
		var b bytes.Buffer
		tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
		f(tw)
		tw.Flush()
		return b.String()
	}
	list := render(func(w *tabwriter.Writer) { renderPools(w, []api.PoolView{failing, ok}) })
	lines := strings.Split(strings.TrimSpace(list), "\n")
	if len(lines) != 3 || !strings.Contains(lines[1], `failing: lxd: create instance`) || !strings.HasSuffix(lines[2], "ok") {
		t.Fatalf("pool list:\n%s", list)
	}
	if len([]rune(lines[1])) > 200 {
		t.Fatalf("failing row not cut to fit: %d characters", len(lines[1]))
	}
	show := render(func(w *tabwriter.Writer) { renderPool(w, failing) })
	for _, want := range []string{"Status:", long, "Failed creates:", "5", "Failing since:", "Next create:"} {
		if !strings.Contains(show, want) {
			t.Fatalf("pool show lacks %q:\n%s", want, show)
		}
	}
}
