package app_test

import (
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
	"github.com/paddock-ci/paddock/internal/config"
	"github.com/paddock-ci/paddock/internal/demo"
	"github.com/paddock-ci/paddock/internal/forge/github"
	"github.com/paddock-ci/paddock/internal/forgesim"
	"github.com/paddock-ci/paddock/internal/provider"
)

// countingProvider answers at once: the benchmark measures Paddock's path
// from webhook to provider call, not machine boot.
type countingProvider struct {
	mu sync.Mutex
	n  int
	ch chan struct{}
}

func (p *countingProvider) Create(_ context.Context, s provider.Spec) (provider.Machine, error) {
	p.mu.Lock()
	p.n++
	p.mu.Unlock()
	p.ch <- struct{}{}
	return provider.Machine{ProviderID: s.Name, Name: s.Name, Status: provider.StatusRunning}, nil
}
func (p *countingProvider) Delete(context.Context, string) error { return nil }
func (p *countingProvider) Get(context.Context, string) (provider.Machine, error) {
	return provider.Machine{}, provider.ErrNotFound
}
func (p *countingProvider) List(context.Context) ([]provider.Machine, error) { return nil, nil }

func webhook(id int64) []byte {
	b, _ := json.Marshal(map[string]any{
		"action": "queued",
		"workflow_job": map[string]any{"id": id, "run_id": id, "run_attempt": 1, "status": "queued",
			"labels": []string{"self-hosted", "linux"}, "created_at": time.Now().UTC().Format(time.RFC3339), "name": "b"},
		"repository": map[string]any{"id": 1, "name": "app", "full_name": "bench/app", "owner": map[string]any{"login": "bench"}},
	})
	return b
}

// BenchmarkWebhookBurstToCreate sends a burst of 200 signed workflow_job
// webhooks over HTTP (16 at a time) and reports the p50/p99 latency from
// each webhook's arrival to the provider Create call for its machine.
func BenchmarkWebhookBurstToCreate(b *testing.B) {
	const burst = 200
	var all []time.Duration
	for i := 0; i < b.N; i++ {
		all = append(all, runBurst(b, burst)...)
	}
	b.ReportMetric(float64(demo.Percentile(all, 50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(demo.Percentile(all, 99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(len(all))/float64(b.N), "creates/op")
}

func runBurst(b *testing.B, burst int) []time.Duration {
	b.Helper()
	dir := b.TempDir()
	sim := forgesim.New(forgesim.Options{})
	if err := sim.Start("127.0.0.1:0"); err != nil {
		b.Fatal(err)
	}
	defer sim.Close()
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	cfg, err := config.Parse([]byte(fmt.Sprintf(`
server: {listen: %q, admin_token: bench-admin-token-0123456789abcdef}
store: {path: %q, encryption_key: %q}
state_dir: %q
providers: [{name: fast, type: process, max_parallel: 64}]
forges: [{name: sim, kind: github, api_url: %q, webhook_secret: bench-secret, credential: {kind: pat, token: x}}]
entities: [{forge: sim, kind: repository, name: bench/app}]
pools: [{name: p, entity: bench/app, provider: fast, labels: [linux], max_runners: 1000}]
`, l.Addr().String(), dir+"/p.db", strings.Repeat("cd", 32), dir, sim.URL())), "bench.yaml", dir)
	if err != nil {
		b.Fatal(err)
	}
	var mu sync.Mutex
	var lat []time.Duration
	prov := &countingProvider{ch: make(chan struct{}, burst*2)}
	a, err := app.New(context.Background(), cfg, app.Options{Listener: l,
		Logger:            slog.New(slog.NewTextHandler(io.Discard, nil)),
		ProviderOverrides: map[string]provider.Provider{"fast": prov},
		OnDispatch:        func(d time.Duration) { mu.Lock(); lat = append(lat, d); mu.Unlock() }})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	url := a.URL() + "/webhooks/github"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	b.ResetTimer()
	var wg sync.WaitGroup
	ids := make(chan int64)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range ids {
				body := webhook(id)
				req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(string(body)))
				req.Header.Set("X-GitHub-Event", "workflow_job")
				req.Header.Set("X-GitHub-Delivery", fmt.Sprint("d-", id))
				req.Header.Set("X-Hub-Signature-256", github.Sign([]byte("bench-secret"), body))
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	for i := 0; i < burst; i++ {
		ids <- int64(i + 1)
	}
	close(ids)
	wg.Wait()
	timeout := time.After(30 * time.Second)
	for i := 0; i < burst; i++ {
		select {
		case <-prov.ch:
		case <-timeout:
			b.Fatalf("only %d of %d machines requested", i, burst)
		}
	}
	b.StopTimer()
	mu.Lock()
	defer mu.Unlock()
	return append([]time.Duration(nil), lat...)
}
