package scheduler

import (
	"strings"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
)

// Gitea and Forgejo offer a job only to runners whose labels contain every
// runs-on label exactly; a pool that matched more loosely booted machines the
// forge never gave the job to.
func TestMatchPoolsWithGiteaRules(t *testing.T) {
	gitea := forge.LabelRulesFor(core.ForgeGitea)
	pools := []core.Pool{
		mkPool("upper", labels("Linux")),
		mkPool("exact", labels("linux", "self-hosted")),
		mkPool("sized", labels("arm64"), sizes(8, 32, 0)),
	}
	cases := []struct {
		labels []string
		want   string
	}{
		{[]string{"linux"}, "exact"},
		{[]string{"Linux"}, "upper"},
		{[]string{"LINUX"}, ""},
		{[]string{"self-hosted", "linux"}, "exact"},
		{[]string{"self-hosted"}, "exact"},
		{[]string{"arm64", "4cpu-16gb"}, "sized"},
		{[]string{"arm64", "4CPU-16GB"}, ""},
	}
	for _, c := range cases {
		var got []string
		for _, r := range MatchPoolsWith(gitea, pools, "ent", c.labels) {
			got = append(got, r.Pool.Name)
		}
		if strings.Join(got, ",") != c.want {
			t.Errorf("labels %v: got pools %v, want %q", c.labels, got, c.want)
		}
	}
	// The same pools under GitHub's rules still match loosely.
	if got := MatchPools(pools, "ent", []string{"LINUX", "self-hosted"}); len(got) != 2 {
		t.Errorf("GitHub rules: got %d pools, want 2 (upper, exact)", len(got))
	}
}

func TestDecideGiteaRulesNoteSaysWhy(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rules := map[string]forge.LabelRules{"ent": forge.LabelRulesFor(core.ForgeGitea)}
	cases := []struct {
		pool []string
		job  []string
		note string
	}{
		{[]string{"Linux"}, []string{"linux"}, `pool "p" has label "Linux"; Gitea matches case-sensitively`},
		{[]string{"linux"}, []string{"self-hosted", "linux"}, `pool "p" lacks label "self-hosted", which Gitea does not imply`},
		{[]string{"windows"}, []string{"linux"}, ""},
	}
	for _, c := range cases {
		s := Snapshot{Now: now, Pools: []core.Pool{mkPool("p", labels(c.pool...), maxRunners(3))},
			Jobs: []core.Job{mkJob(1, c.job...)}, LabelRules: rules}
		d := Decide(s)
		if len(d.Creates) != 0 {
			t.Errorf("pool %v job %v: %d creates for a job the forge would never offer its runners", c.pool, c.job, len(d.Creates))
		}
		n := d.Jobs[0].Note
		if !strings.HasPrefix(n, "no enabled pool of this entity matches labels") || !strings.Contains(n, c.note) {
			t.Errorf("pool %v job %v: note %q, want it to say %q", c.pool, c.job, n, c.note)
		}
		if c.note == "" && strings.Contains(n, ";") {
			t.Errorf("pool %v job %v: note %q explains a plain mismatch", c.pool, c.job, n)
		}
	}
	// Registered labels are the pool's, as written: that is what Gitea matches.
	s := Snapshot{Now: now, Pools: []core.Pool{mkPool("p", labels("Linux", "GPU"), maxRunners(3))},
		Jobs: []core.Job{mkJob(1, "Linux")}, LabelRules: rules}
	d := Decide(s)
	if len(d.Creates) != 1 || strings.Join(d.Creates[0].Labels, ",") != "Linux,GPU" {
		t.Fatalf("creates %+v, want one machine registering Linux,GPU", d.Creates)
	}
}
