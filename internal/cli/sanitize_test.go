package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
)

// TestHumanOutputEscapesControlCharacters: a job name and a machine fault
// carrying terminal escape sequences (OSC 52 writes the clipboard) print
// escaped in tables and listings; JSON output keeps the exact value.
func TestHumanOutputEscapesControlCharacters(t *testing.T) {
	e := newEnv(t)
	e.seed()
	ctx := context.Background()
	pool, _ := e.st.GetPool(ctx, "linux")
	ent, _ := e.st.GetEntity(ctx, "acme/app")
	const osc52 = "\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\x07"
	inst := core.Instance{Name: "linux-esc", PoolID: pool.ID, Labels: []string{"linux"}, Fault: "boom" + osc52 + "\x1b[2J\r\u202eevil"}
	if err := e.st.CreateInstance(ctx, &inst); err != nil {
		t.Fatal(err)
	}
	job := core.Job{ID: 43, EntityID: ent.ID, Repository: "acme/app", Name: "build" + osc52 + "\tx\ny", Labels: []string{"linux"},
		State: core.JobQueued, QueuedAt: time.Now()}
	if _, err := e.st.UpsertJob(ctx, &job); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"instance", "list"}, {"instance", "show", "linux-esc"}, {"job", "list"}, {"job", "show", "43"}} {
		out := e.ok(args...)
		if i := strings.IndexFunc(out, func(r rune) bool { return r < 0x20 && r != '\n' || r == 0x7f || r == '\u202e' }); i >= 0 {
			t.Errorf("%v: raw control character %q in output:\n%q", args, out[i], out)
		}
		if !strings.Contains(out, `\x1b]52;c;`) {
			t.Errorf("%v: escape not shown escaped:\n%s", args, out)
		}
	}
	if out := e.ok("-o", "json", "job", "show", "43"); !strings.Contains(out, `\u001b]52;c;`) {
		t.Errorf("json output changed the value:\n%s", out)
	}
}
