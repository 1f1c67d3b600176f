package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/app"
	"github.com/paddock-ci/paddock/internal/cli"
	"github.com/paddock-ci/paddock/internal/config"
	"github.com/paddock-ci/paddock/internal/demo"
	"github.com/paddock-ci/paddock/internal/forgesim"
	"github.com/paddock-ci/paddock/internal/provider"
	"github.com/paddock-ci/paddock/internal/testutil"
	"github.com/paddock-ci/paddock/internal/testutil/pgtest"
)

// A second manager on the same SQLite file is refused, saying what to do;
// once the first has stopped, a manager starts again.
func TestSecondManagerOnSQLiteRefused(t *testing.T) {
	dir := t.TempDir()
	a, err := newManager(t, sqliteStore(dir, keyA), &countingProvider{ch: make(chan struct{}, 16)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Run(ctx); close(done) }()
	_, err = newManager(t, sqliteStore(dir, keyA), &countingProvider{})
	if err == nil || !strings.Contains(err.Error(), "another paddock manager is using the SQLite store") ||
		!strings.Contains(err.Error(), "store.driver: postgres") {
		t.Fatalf("second manager on one SQLite file: %v", err)
	}
	cancel()
	<-done
	b, err := newManager(t, sqliteStore(dir, keyA), &countingProvider{ch: make(chan struct{}, 16)})
	if err != nil {
		t.Fatalf("manager after the first stopped: %v", err)
	}
	run(t, b)
}

// machines is one provider's machines, shared by the replicas as a cloud
// or cluster would be: a replica that takes over lists what another made.
type machines struct {
	mu    sync.Mutex
	set   map[string]provider.Machine
	calls map[string]int // creates per machine name
}

// replicaProvider is one replica's view of the shared machines; it counts
// that replica's creates.
type replicaProvider struct {
	*countingProvider
	m *machines
}

func (p replicaProvider) Create(ctx context.Context, s provider.Spec) (provider.Machine, error) {
	m, err := p.countingProvider.Create(ctx, s)
	p.m.mu.Lock()
	p.m.set[s.Name] = m
	p.m.calls[s.Name]++
	p.m.mu.Unlock()
	return m, err
}

func (p replicaProvider) Delete(_ context.Context, name string) error {
	p.m.mu.Lock()
	delete(p.m.set, name)
	p.m.mu.Unlock()
	return nil
}

func (p replicaProvider) Get(_ context.Context, name string) (provider.Machine, error) {
	p.m.mu.Lock()
	defer p.m.mu.Unlock()
	if m, ok := p.m.set[name]; ok {
		return m, nil
	}
	return provider.Machine{}, provider.ErrNotFound
}

func (p replicaProvider) List(context.Context) ([]provider.Machine, error) {
	p.m.mu.Lock()
	defer p.m.mu.Unlock()
	out := make([]provider.Machine, 0, len(p.m.set))
	for _, m := range p.m.set {
		out = append(out, m)
	}
	return out, nil
}

// replica is one manager of several on one PostgreSQL database, sharing a
// simulator and a provider's machines.
type replica struct {
	app  *app.App
	prov *countingProvider
	mu   sync.Mutex
	lat  []time.Duration
}

func newReplica(tb testing.TB, dsn string, sim *forgesim.Sim, lease string, shared *machines) *replica {
	tb.Helper()
	dir := tb.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Setenv("T_PADDOCK_DSN", dsn)
	cfg, err := config.Parse([]byte(fmt.Sprintf(`
server: {listen: %q, admin_token: bench-admin-token-0123456789abcdef}
store: {driver: postgres, dsn: env:T_PADDOCK_DSN, encryption_key: %q}
ha: {lease: %s}
controller: {reconcile_interval: 10m, poll_interval: 10m}
state_dir: %q
providers: [{name: fast, type: process, max_parallel: 64}]
forges: [{name: sim, kind: github, api_url: %q, webhook_secret: bench-secret, credential: {kind: pat, token: x}}]
entities: [{forge: sim, kind: repository, name: bench/app}]
pools: [{name: p, entity: bench/app, provider: fast, labels: [linux], max_runners: 10000}]
`, l.Addr().String(), keyA, lease, dir, sim.URL())), "t.yaml", dir)
	if err != nil {
		tb.Fatal(err)
	}
	r := &replica{prov: &countingProvider{ch: make(chan struct{}, 4096)}}
	r.app, err = app.New(context.Background(), cfg, app.Options{Listener: l,
		Logger:            slog.New(slog.NewTextHandler(io.Discard, nil)),
		ProviderOverrides: map[string]provider.Provider{"fast": replicaProvider{r.prov, shared}},
		OnDispatch:        func(d time.Duration) { r.mu.Lock(); r.lat = append(r.lat, d); r.mu.Unlock() }})
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

func (r *replica) start(tb testing.TB) context.CancelFunc {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.app.Run(ctx); close(done) }()
	stop := func() { cancel(); <-done }
	tb.Cleanup(stop)
	return stop
}

func (r *replica) health(tb testing.TB) (role string, epoch int64) {
	var h struct {
		Role  string `json:"role"`
		Epoch int64  `json:"epoch"`
	}
	resp, err := http.Get(r.app.URL() + "/healthz")
	if err != nil {
		return "", 0
	}
	defer resp.Body.Close()
	_ = json.NewDecoder(resp.Body).Decode(&h)
	return h.Role, h.Epoch
}

func (r *replica) creates() int {
	r.prov.mu.Lock()
	defer r.prov.mu.Unlock()
	return r.prov.n
}

func (r *replica) latencies() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Duration(nil), r.lat...)
}

// Two managers on one database: one leads; a webhook taken by the follower
// becomes a machine made by the leader (the follower never calls its
// provider); /healthz tells the roles, /api/v1/replicas lists both; when
// the leader stops, the follower takes over (a higher epoch) and serves the
// next webhook.
func TestReplicasShareOnePostgres(t *testing.T) {
	dsn := pgtest.DB(t)
	sim := forgesim.New(forgesim.Options{})
	if err := sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	shared := &machines{set: map[string]provider.Machine{}, calls: map[string]int{}}
	a := newReplica(t, dsn, sim, "1s", shared)
	stopA := a.start(t)
	testutil.Eventually(t, "a leads", 10*time.Second, func() bool { r, _ := a.health(t); return r == "leader" })
	b := newReplica(t, dsn, sim, "1s", shared)
	b.start(t)
	if r, _ := b.health(t); r != "follower" {
		t.Fatalf("b's role %q, want follower", r)
	}
	if a.app.ControllerID != b.app.ControllerID {
		t.Fatalf("replicas have different controller ids: %s, %s", a.app.ControllerID, b.app.ControllerID)
	}
	if f := sendWebhooks(t, b.app.URL(), 1, 11, 4); f != 0 {
		t.Fatalf("%d webhooks refused by the follower", f)
	}
	// Far sooner than any periodic safety net (10 min): only the wake-up
	// through NOTIFY can have made these.
	testutil.Eventually(t, "the leader creates the follower's jobs", 20*time.Second, func() bool { return a.creates() == 10 })
	if n := b.creates(); n != 0 {
		t.Fatalf("the follower called its provider %d times", n)
	}
	var list []map[string]any
	testutil.Eventually(t, "both replicas listed", 10*time.Second, func() bool {
		req, _ := http.NewRequest(http.MethodGet, b.app.URL()+"/api/v1/replicas", nil)
		req.Header.Set("Authorization", "Bearer bench-admin-token-0123456789abcdef")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		list = nil
		_ = json.NewDecoder(resp.Body).Decode(&list)
		return len(list) == 2 && list[0]["role"] == "leader" && list[1]["role"] == "follower"
	})
	// /metrics tells the roles apart.
	for _, r := range []struct {
		rep  *replica
		want string
	}{{a, "paddock_replica_leader 1"}, {b, "paddock_replica_leader 0"}} {
		req, _ := http.NewRequest(http.MethodGet, r.rep.app.URL()+"/metrics", nil)
		req.Header.Set("Authorization", "Bearer bench-admin-token-0123456789abcdef")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(body), r.want) || !strings.Contains(string(body), "paddock_replica_epoch") {
			t.Fatalf("metrics lack %q", r.want)
		}
	}
	// `paddock status` against the follower lists both with their roles.
	var out, errOut bytes.Buffer
	root := cli.NewRoot()
	root.SetArgs([]string{"status", "--server", b.app.URL(), "--token", "bench-admin-token-0123456789abcdef"})
	root.SetOut(&out)
	root.SetErr(&errOut)
	if err := root.Execute(); err != nil {
		t.Fatalf("paddock status: %v %s", err, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "NAME") || !strings.Contains(lines[1], "leader") ||
		!strings.Contains(lines[2], "follower") {
		t.Fatalf("paddock status:\n%s", out.String())
	}
	_, ea := a.health(t)
	stopA()
	testutil.Eventually(t, "b leads", 10*time.Second, func() bool { r, _ := b.health(t); return r == "leader" })
	if _, eb := b.health(t); eb <= ea {
		t.Fatalf("b's epoch %d not above a's %d", eb, ea)
	}
	if f := sendWebhooks(t, b.app.URL(), 11, 16, 2); f != 0 {
		t.Fatalf("%d webhooks refused by the new leader", f)
	}
	// b re-launches a's intents that a had not yet marked done when it
	// stopped: a repeated create of the same name is the idempotent
	// recovery, one machine; a machine more than jobs would be a duplicate.
	distinct := func() int { shared.mu.Lock(); defer shared.mu.Unlock(); return len(shared.calls) }
	testutil.Eventually(t, "15 machines", 20*time.Second, func() bool { return distinct() >= 15 })
	if n := distinct(); n != 15 {
		t.Fatalf("%d machines for 15 jobs: %v", n, shared.calls)
	}
}

// BenchmarkHAWebhookToCreate: two managers on one PostgreSQL database; a
// burst of 200 webhooks lands on the leader, then another on the follower
// (which stores the job and wakes the leader by NOTIFY). It reports the
// latency from each webhook's arrival to the leader's provider Create, by
// where the webhook landed. Both managers run in this process (one clock).
func BenchmarkHAWebhookToCreate(b *testing.B) {
	const burst = 200
	dsn := pgtest.DB(b)
	sim := forgesim.New(forgesim.Options{})
	if err := sim.Start("127.0.0.1:0"); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(sim.Close)
	shared := &machines{set: map[string]provider.Machine{}, calls: map[string]int{}}
	lead := newReplica(b, dsn, sim, "10s", shared)
	lead.start(b)
	testutil.Eventually(b, "leader elected", 20*time.Second, func() bool { r, _ := lead.health(b); return r == "leader" })
	fol := newReplica(b, dsn, sim, "10s", shared)
	fol.start(b)
	var onLeader, onFollower []time.Duration
	next := int64(1)
	for i := 0; i < b.N; i++ {
		for _, target := range []*replica{lead, fol} {
			before := len(lead.latencies())
			if f := sendWebhooks(b, target.app.URL(), next, next+burst, 16); f != 0 {
				b.Fatalf("%d webhooks refused", f)
			}
			next += burst
			waitCreates(b, lead.prov, burst)
			testutil.Eventually(b, "latencies recorded", 10*time.Second, func() bool { return len(lead.latencies()) >= before+burst })
			got := lead.latencies()[before:]
			if target == lead {
				onLeader = append(onLeader, got...)
			} else {
				onFollower = append(onFollower, got...)
			}
		}
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(demo.Percentile(onLeader, 50)), "leader-p50-ms")
	b.ReportMetric(ms(demo.Percentile(onLeader, 99)), "leader-p99-ms")
	b.ReportMetric(ms(demo.Percentile(onFollower, 50)), "follower-p50-ms")
	b.ReportMetric(ms(demo.Percentile(onFollower, 99)), "follower-p99-ms")
	if n := fol.creates(); n != 0 {
		b.Fatalf("the follower called its provider %d times", n)
	}
}

// BenchmarkHAWebhookToCreateOne sends one webhook at a time, alternately to
// the leader and to the follower, and reports the latency from arrival to
// the leader's provider Create by where it landed: the cost of the NOTIFY
// hop without a burst's queueing.
func BenchmarkHAWebhookToCreateOne(b *testing.B) {
	const each = 50
	dsn := pgtest.DB(b)
	sim := forgesim.New(forgesim.Options{})
	if err := sim.Start("127.0.0.1:0"); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(sim.Close)
	shared := &machines{set: map[string]provider.Machine{}, calls: map[string]int{}}
	lead := newReplica(b, dsn, sim, "10s", shared)
	lead.start(b)
	testutil.Eventually(b, "leader elected", 20*time.Second, func() bool { r, _ := lead.health(b); return r == "leader" })
	fol := newReplica(b, dsn, sim, "10s", shared)
	fol.start(b)
	var onLeader, onFollower []time.Duration
	next := int64(1)
	for i := 0; i < b.N; i++ {
		for k := 0; k < 2*each; k++ {
			target := lead
			if k%2 == 1 {
				target = fol
			}
			before := len(lead.latencies())
			if f := sendWebhooks(b, target.app.URL(), next, next+1, 1); f != 0 {
				b.Fatal("webhook refused")
			}
			next++
			waitCreates(b, lead.prov, 1)
			testutil.Eventually(b, "latency recorded", 10*time.Second, func() bool { return len(lead.latencies()) > before })
			d := lead.latencies()[before]
			if target == lead {
				onLeader = append(onLeader, d)
			} else {
				onFollower = append(onFollower, d)
			}
		}
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(demo.Percentile(onLeader, 50)), "leader-p50-ms")
	b.ReportMetric(ms(demo.Percentile(onLeader, 99)), "leader-p99-ms")
	b.ReportMetric(ms(demo.Percentile(onFollower, 50)), "follower-p50-ms")
	b.ReportMetric(ms(demo.Percentile(onFollower, 99)), "follower-p99-ms")
}
