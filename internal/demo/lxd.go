package demo

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/paddock-ci/paddock/internal/forgesim"
	"github.com/paddock-ci/paddock/internal/provider/lxd"
)

// The lxd demo uses what scripts/lxd-setup makes; the same variables as
// the script's choose others.
func lxdSetting(env, def string) string { return cmp.Or(os.Getenv(env), def) }

var (
	lxdImage   = lxdSetting("PADDOCK_LXD_IMAGE", "paddock-runner-debian12")
	lxdNetwork = lxdSetting("PADDOCK_LXD_NETWORK", "paddockbr0")
	lxdPool    = lxdSetting("PADDOCK_LXD_POOL", "paddock")
	lxdSocket  = os.Getenv("PADDOCK_LXD_SOCKET")
)

// lxdPaddock is where containers see this paddock binary (mounted read-only
// by the demo's profile), which the simulated runner package execs.
const lxdPaddock = "/opt/paddock/bin/paddock"

// lxdPort is the TCP port every demo job binds in its container: jobs that
// run at the same time must not collide, as they would on one host.
const lxdPort = 8080

// lxdLeftBehind is the file every demo job checks is absent, then leaves.
const lxdLeftBehind = "/var/tmp/paddock-demo-left-behind"

// lxdJobCommand fails if an earlier job's file is here, leaves one, then
// holds the port long enough for jobs to overlap. perl-base is in every
// Debian (it is Essential), so the image needs nothing more.
var lxdJobCommand = fmt.Sprintf(`set -e
if [ -e %[1]s ]; then echo "a file left by an earlier job is here: %[1]s" >&2; exit 1; fi
echo "$$" >%[1]s
exec perl -MIO::Socket::INET -e '$s = IO::Socket::INET->new(LocalAddr => "0.0.0.0", LocalPort => %[2]d, Listen => 1) or die "bind port %[2]d: $!\n"; print "holding port %[2]d\n"; sleep 12'`,
	lxdLeftBehind, lxdPort)

// prepareLXD checks the daemon and image and makes the demo's profile, which
// mounts this paddock binary into every container; the returned cleanup
// deletes the profile (LXD refuses while a container still uses it).
func prepareLXD(ctx context.Context, o *Options, sim *forgesim.Sim) (string, func() error, error) {
	a := lxd.NewAdmin(lxdSocket, "")
	if err := a.Check(ctx, lxdImage); err != nil {
		return "", nil, fmt.Errorf("--provider lxd: %w", err)
	}
	self, err := filepath.Abs(o.Self)
	if err != nil {
		return "", nil, err
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	profile := "pdk-demo-" + hex.EncodeToString(b)
	err = a.CreateProfile(ctx, profile, "paddock demo: this paddock binary, read-only",
		map[string]map[string]string{"paddock-bin": {"type": "disk", "source": self, "path": lxdPaddock, "readonly": "true"}})
	if err != nil {
		return "", nil, fmt.Errorf("--provider lxd: profile %s: %w", profile, err)
	}
	o.simHost = strings.TrimSuffix(strings.TrimPrefix(sim.URL(), "http://"), "/")
	return profile, func() error { return a.DeleteProfile(context.Background(), profile) }, nil
}

// lxdBlock configures the lxd provider: the simulator's port is carried
// into the containers, size labels are capped to what this host can carry.
func lxdBlock(o Options, profile string) string {
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	sock := ""
	if lxdSocket != "" {
		sock = ", socket: " + q(lxdSocket)
	}
	return fmt.Sprintf("    type: lxd\n    lxd: {image: %s, network: %s, storage_pool: %s, profiles: [%s], max_cpu: 2, max_memory_mb: 1024, forward: [%s]%s}",
		q(lxdImage), q(lxdNetwork), q(lxdPool), q(profile), q(o.simHost), sock)
}

// printContainerTimes reports how long a job waited from being queued until
// a runner in a fresh container picked it up, and how many jobs held the
// same port at once (each in its own container).
func printContainerTimes(out io.Writer, sim *forgesim.Sim) (overlap int) {
	var waits []time.Duration
	type edge struct {
		at time.Time
		d  int
	}
	var edges []edge
	for _, j := range sim.Jobs() {
		if j.StartedAt.IsZero() {
			continue
		}
		waits = append(waits, j.StartedAt.Sub(j.CreatedAt))
		if !j.CompletedAt.IsZero() && j.Conclusion == forgesim.ConclusionSuccess {
			edges = append(edges, edge{j.StartedAt, 1}, edge{j.CompletedAt, -1})
		}
	}
	slices.SortFunc(edges, func(a, b edge) int { return cmp.Or(a.at.Compare(b.at), a.d-b.d) })
	n := 0
	for _, e := range edges {
		n += e.d
		overlap = max(overlap, n)
	}
	if len(waits) == 0 {
		fmt.Fprintln(out, "container timings: no job started")
		return overlap
	}
	fmt.Fprintf(out, "job queued → runner online in a fresh container, %d jobs: p50 %s   p99 %s\n",
		len(waits), Percentile(waits, 50).Round(10*time.Millisecond), Percentile(waits, 99).Round(10*time.Millisecond))
	fmt.Fprintf(out, "jobs holding TCP port %d at the same time (one container each): %d\n", lxdPort, overlap)
	return overlap
}
