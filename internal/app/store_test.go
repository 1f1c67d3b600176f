package app_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/paddock-ci/paddock/internal/app"
	"github.com/paddock-ci/paddock/internal/config"
	"github.com/paddock-ci/paddock/internal/forge/github"
	"github.com/paddock-ci/paddock/internal/forgesim"
	"github.com/paddock-ci/paddock/internal/provider"
	"github.com/paddock-ci/paddock/internal/store/codec"
	"github.com/paddock-ci/paddock/internal/testutil"
	"github.com/paddock-ci/paddock/internal/testutil/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var (
	keyA = strings.Repeat("cd", 32)
	keyB = strings.Repeat("ab", 32)
)

// sqliteStore and postgresStore are the store: sections of the two drivers.
func sqliteStore(dir, key string) string {
	return fmt.Sprintf("{path: %q, encryption_key: %q}", dir+"/p.db", key)
}

// postgresStore gives the DSN by reference, as a deployment would.
func postgresStore(tb testing.TB, dsn, key string) string {
	tb.Setenv("T_PADDOCK_DSN", dsn)
	return fmt.Sprintf("{driver: postgres, dsn: env:T_PADDOCK_DSN, encryption_key: %q}", key)
}

// newManager builds (but does not run) a manager with one webhook forge, one
// repository and one pool whose provider is prov.
func newManager(tb testing.TB, storeYAML string, prov provider.Provider) (*app.App, error) {
	tb.Helper()
	dir := tb.TempDir()
	sim := forgesim.New(forgesim.Options{})
	if err := sim.Start("127.0.0.1:0"); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { sim.Close() })
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	cfg, err := config.Parse([]byte(fmt.Sprintf(`
server: {listen: %q, admin_token: bench-admin-token-0123456789abcdef}
store: %s
state_dir: %q
providers: [{name: fast, type: process, max_parallel: 64}]
forges: [{name: sim, kind: github, api_url: %q, webhook_secret: bench-secret, credential: {kind: pat, token: x}}]
entities: [{forge: sim, kind: repository, name: bench/app}]
pools: [{name: p, entity: bench/app, provider: fast, labels: [linux], max_runners: 10000}]
`, l.Addr().String(), storeYAML, dir, sim.URL())), "t.yaml", dir)
	if err != nil {
		tb.Fatal(err)
	}
	a, err := app.New(context.Background(), cfg, app.Options{Listener: l,
		Logger:            slog.New(slog.NewTextHandler(io.Discard, nil)),
		ProviderOverrides: map[string]provider.Provider{"fast": prov}})
	if err != nil {
		l.Close()
		return nil, err
	}
	return a, nil
}

// run runs a until the test ends.
func run(tb testing.TB, a *app.App) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Run(ctx); close(done) }()
	tb.Cleanup(func() { cancel(); <-done })
}

// sendWebhooks posts signed workflow_job webhooks for ids from..to-1,
// conc at a time, and returns how many were not answered 2xx.
func sendWebhooks(tb testing.TB, url string, from, to int64, conc int) int64 {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc}}
	var failed atomic.Int64
	ids := make(chan int64)
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range ids {
				body := webhook(id)
				req, _ := http.NewRequest(http.MethodPost, url+"/webhooks/github", strings.NewReader(string(body)))
				req.Header.Set("X-GitHub-Event", "workflow_job")
				req.Header.Set("X-GitHub-Delivery", "d-"+strconv.FormatInt(id, 10))
				req.Header.Set("X-Hub-Signature-256", github.Sign([]byte("bench-secret"), body))
				resp, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode/100 != 2 {
					failed.Add(1)
				}
			}
		}()
	}
	for id := from; id < to; id++ {
		ids <- id
	}
	close(ids)
	wg.Wait()
	return failed.Load()
}

func waitCreates(tb testing.TB, prov *countingProvider, n int) {
	tb.Helper()
	timeout := time.After(60 * time.Second)
	for i := 0; i < n; i++ {
		select {
		case <-prov.ch:
		case <-timeout:
			tb.Fatalf("only %d of %d machines requested", i, n)
		}
	}
}

// store.driver: postgres runs a whole manager: seeds land in PostgreSQL and
// a signed webhook reaches a provider create.
func TestPostgresManager(t *testing.T) {
	prov := &countingProvider{ch: make(chan struct{}, 16)}
	dsn := pgtest.DB(t)
	a, err := newManager(t, postgresStore(t, dsn, keyA), prov)
	if err != nil {
		t.Fatal(err)
	}
	run(t, a)
	if f := sendWebhooks(t, a.URL(), 1, 4, 2); f != 0 {
		t.Fatalf("%d webhooks refused", f)
	}
	waitCreates(t, prov, 3)
	// The manager's state is in that database, not in a file beside it.
	c, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	var forges, jobs int
	if err := c.QueryRow(t.Context(), "SELECT (SELECT count(*) FROM forges WHERE name = 'sim'), (SELECT count(*) FROM jobs)").
		Scan(&forges, &jobs); err != nil || forges != 1 || jobs != 3 {
		t.Fatalf("in PostgreSQL: %d forges named sim, %d jobs (%v); want 1 and 3", forges, jobs, err)
	}
}

// An unreachable database at start: a clear error naming where it tried and
// what to check, and no manager.
func TestPostgresUnreachableAtStart(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dsn := "postgres://paddock:pw-not-shown@" + addr + "/paddock?sslmode=disable&connect_timeout=5"
	a, err := newManager(t, postgresStore(t, dsn, keyA), &countingProvider{})
	if err == nil {
		a.Store.Close()
		t.Fatal("manager started with nothing listening at the database address")
	}
	for _, want := range []string{"store.driver: postgres", "cannot connect to PostgreSQL at " + addr, "check that PostgreSQL is running"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "pw-not-shown") {
		t.Errorf("error repeats the DSN's password: %q", err)
	}
}

// Two managers with different encryption keys on one store: the second
// refuses to start, with the same error on both drivers, and the first
// keeps working.
func TestSecondManagerOtherKey(t *testing.T) {
	for _, driver := range []string{"sqlite", "postgres"} {
		t.Run(driver, func(t *testing.T) {
			var storeWith func(key string) string
			if driver == "sqlite" {
				dir := t.TempDir()
				storeWith = func(key string) string { return sqliteStore(dir, key) }
			} else {
				dsn := pgtest.DB(t)
				storeWith = func(key string) string { return postgresStore(t, dsn, key) }
			}
			prov := &countingProvider{ch: make(chan struct{}, 16)}
			a, err := newManager(t, storeWith(keyA), prov)
			if err != nil {
				t.Fatal(err)
			}
			run(t, a)
			b, err := newManager(t, storeWith(keyB), &countingProvider{})
			if !errors.Is(err, codec.ErrWrongKey) {
				if b != nil {
					b.Store.Close()
				}
				t.Fatalf("second manager: %v, want codec.ErrWrongKey", err)
			}
			if !strings.Contains(err.Error(), "store.encryption_key") {
				t.Errorf("error %q does not name store.encryption_key", err)
			}
			if f := sendWebhooks(t, a.URL(), 1, 2, 1); f != 0 {
				t.Fatal("first manager refused a webhook")
			}
			waitCreates(t, prov, 1)
			if fg, err := a.Store.GetForge(t.Context(), "sim"); err != nil || fg.WebhookSecret != "bench-secret" {
				t.Fatalf("forge after the refused start: %v", err)
			}
		})
	}
}

// The database goes away under a running manager: webhooks are refused (so
// the forge redelivers) instead of lost or half-stored, and once the
// database is back the manager serves them again without a restart.
func TestPostgresManagerDatabaseRestart(t *testing.T) {
	srv := pgtest.Start(t)
	prov := &countingProvider{ch: make(chan struct{}, 16)}
	a, err := newManager(t, postgresStore(t, srv.DB(t), keyA), prov)
	if err != nil {
		t.Fatal(err)
	}
	run(t, a)
	if f := sendWebhooks(t, a.URL(), 1, 2, 1); f != 0 {
		t.Fatal("webhook refused before the database went away")
	}
	waitCreates(t, prov, 1)
	srv.Stop()
	if f := sendWebhooks(t, a.URL(), 2, 3, 1); f != 1 {
		t.Fatal("webhook accepted while the database was down")
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the webhook accepted after the database came back", 30*time.Second, func() bool {
		return sendWebhooks(t, a.URL(), 2, 3, 1) == 0
	})
	waitCreates(t, prov, 1)
}
