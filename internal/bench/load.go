package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/paddock-ci/paddock/internal/forge/github"
)

// manager is a running bench manager process.
type manager struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	url   string
	done  chan error

	mu      sync.Mutex
	lat     []time.Duration
	created []string      // machine names, in the order made ("c" lines)
	more    chan struct{} // signalled on every dispatch or create line
}

const (
	hookSecret = "bench-webhook-secret"
	benchPool  = "bench"
	benchRepo  = "bench/app"
)

// startManager writes a config into dir and starts the manager process
// (command + "--config FILE" and the seed flags), waiting for it to serve.
func startManager(ctx context.Context, command []string, dir, simURL string, seedPools, seedInstances int, jobTime time.Duration) (*manager, error) {
	cfgPath := filepath.Join(dir, "bench.yaml")
	cfg := fmt.Sprintf(`
server: {listen: "127.0.0.1:0", admin_token: bench-admin-token-0123456789abcdef}
store: {path: %q, encryption_key: %q}
state_dir: %q
providers: [{name: %s, type: process, max_parallel: 64}]
forges: [{name: sim, kind: github, api_url: %q, webhook_secret: %s, credential: {kind: pat, token: bench}}]
entities: [{forge: sim, kind: repository, name: %s}]
pools: [{name: %s, entity: %s, provider: %s, labels: [linux], max_runners: 10000}]
`, filepath.Join(dir, "paddock.db"), strings.Repeat("cd", 32), dir, benchProvider, simURL, hookSecret, benchRepo,
		benchPool, benchRepo, benchProvider)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	args := append(append([]string(nil), command[1:]...), "--config", cfgPath,
		"--seed-pools", strconv.Itoa(seedPools), "--seed-instances", strconv.Itoa(seedInstances),
		"--job-time", jobTime.String())
	if p := os.Getenv("PADDOCK_BENCH_CPUPROFILE"); p != "" {
		// For finding where a row's time goes (not a user-facing knob).
		args = append(args, "--cpuprofile", filepath.Join(p, filepath.Base(dir)+".prof"))
	}
	cmd := exec.Command(command[0], args...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the bench manager (%s): %w", command[0], err)
	}
	m := &manager{cmd: cmd, stdin: stdin, done: make(chan error, 1), more: make(chan struct{}, 1)}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			kind, val, _ := strings.Cut(sc.Text(), " ")
			switch kind {
			case "ready":
				ready <- val
			case "c":
				m.mu.Lock()
				m.created = append(m.created, val)
				m.mu.Unlock()
				select {
				case m.more <- struct{}{}:
				default:
				}
			case "d":
				n, _ := strconv.ParseInt(val, 10, 64)
				m.mu.Lock()
				m.lat = append(m.lat, time.Duration(n))
				m.mu.Unlock()
				select {
				case m.more <- struct{}{}:
				default:
				}
			}
		}
		m.done <- cmd.Wait()
	}()
	select {
	case m.url = <-ready:
		return m, nil
	case err := <-m.done:
		return nil, fmt.Errorf("bench manager exited before serving: %v", err)
	case <-time.After(2 * time.Minute):
		m.stop()
		return nil, errors.New("bench manager did not start serving within 2 minutes")
	case <-ctx.Done():
		m.stop()
		return nil, ctx.Err()
	}
}

// stop closes the manager's stdin (its signal to end) and waits for it.
func (m *manager) stop() {
	_ = m.stdin.Close()
	select {
	case <-m.done:
	case <-time.After(30 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.done
	}
}

// waitDispatches waits until n creates were reported and returns their
// latencies (those from index from on).
func (m *manager) waitDispatches(ctx context.Context, from, n int, timeout time.Duration) ([]time.Duration, error) {
	deadline := time.After(timeout)
	for {
		m.mu.Lock()
		got := len(m.lat) - from
		if got >= n {
			out := append([]time.Duration(nil), m.lat[from:]...)
			m.mu.Unlock()
			return out, nil
		}
		m.mu.Unlock()
		select {
		case <-m.more:
		case <-deadline:
			return nil, fmt.Errorf("only %d of %d machines were requested within %s", got, n, timeout)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// settleDispatches waits until no create has been reported for quiet and
// returns every latency reported.
func (m *manager) settleDispatches(ctx context.Context, quiet time.Duration) []time.Duration {
	last, lastChange := -1, time.Now()
	for {
		if n := m.dispatched(); n != last {
			last, lastChange = n, time.Now()
		}
		if time.Since(lastChange) >= quiet || ctx.Err() != nil {
			m.mu.Lock()
			defer m.mu.Unlock()
			return append([]time.Duration(nil), m.lat...)
		}
		select {
		case <-m.more:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (m *manager) dispatched() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.lat)
}

// machines returns the names of the machines made so far.
func (m *manager) machines() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.created...)
}

// webhookBody is a workflow_job delivery for job id: action queued,
// in_progress or completed (GitHub sends all three for every job).
func webhookBody(id int64, action, runner string) []byte {
	job := map[string]any{"id": id, "run_id": id, "run_attempt": 1, "status": action,
		"labels": []string{"self-hosted", "linux"}, "created_at": time.Now().UTC().Format(time.RFC3339), "name": "bench"}
	if runner != "" {
		job["runner_name"] = runner
	}
	if action == "completed" {
		job["conclusion"] = "success"
	}
	b, _ := json.Marshal(map[string]any{
		"action": action, "workflow_job": job,
		"repository": map[string]any{"id": 1, "name": "app", "full_name": benchRepo, "owner": map[string]any{"login": "bench"}},
	})
	return b
}

// sender posts webhooks to one manager over a pool of keep-alive connections.
type sender struct {
	url    string
	client *http.Client

	mu       sync.Mutex
	answered []time.Time // when each webhook was answered 2xx
	queued   []int64     // job ids whose queued webhook was answered, in that order
	// slots bounds the webhooks in flight: a forge delivers a few at a
	// time, and the manager turns away more than its unauthenticated limit.
	slots chan struct{}
}

// answeredBetween is the rate of webhooks answered in [from, to).
func (s *sender) answeredBetween(from, to time.Time) float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, t := range s.answered {
		if !t.Before(from) && t.Before(to) {
			n++
		}
	}
	return float64(n) / to.Sub(from).Seconds()
}

func newSender(base string, conns int) *sender {
	return &sender{url: base + "/webhooks/github", slots: make(chan struct{}, conns),
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: conns}}}
}

func (s *sender) send(id int64) error { return s.sendAction(id, "queued", "") }

func (s *sender) sendAction(id int64, action, runner string) error {
	s.slots <- struct{}{}
	defer func() { <-s.slots }()
	body := webhookBody(id, action, runner)
	req, err := http.NewRequest(http.MethodPost, s.url, strings.NewReader(string(body)))
	if err != nil {
		return err
	}
	req.Header.Set("X-GitHub-Event", "workflow_job")
	req.Header.Set("X-GitHub-Delivery", fmt.Sprint("bench-", action, "-", id))
	req.Header.Set("X-Hub-Signature-256", github.Sign([]byte(hookSecret), body))
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook %d: manager answered %s", id, resp.Status)
	}
	s.mu.Lock()
	s.answered = append(s.answered, time.Now())
	if action == "queued" {
		s.queued = append(s.queued, id)
	}
	s.mu.Unlock()
	return nil
}

// queuedAt returns the id of the k-th job whose queued webhook was answered.
func (s *sender) queuedAt(k int) (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k >= len(s.queued) {
		return 0, false
	}
	return s.queued[k], true
}

// lifecycle sends each job's in_progress webhook, naming a runner, once a
// machine was made for it, and its completed webhook jobTime later, as
// GitHub would for a job that ran. Every job asks for the same labels and
// the manager serves them oldest first, so the k-th job to reach it is
// given the k-th machine made. (When that pairing is off, a job is taken by
// another job's machine, as a forge may do; that job then gets no create of
// its own and the row counts it apart.)
type lifecycle struct {
	s       *sender
	jobTime time.Duration
	mu      sync.Mutex
	done    int
	stopped bool
	errs    []error
	wg      sync.WaitGroup
}

func newLifecycle(ctx context.Context, m *manager, s *sender, jobTime time.Duration) *lifecycle {
	lc := &lifecycle{s: s, jobTime: jobTime}
	lc.wg.Add(1)
	go func() {
		defer lc.wg.Done()
		next := 1
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			made := m.machines()
			for ; next <= len(made); next++ {
				id, ok := s.queuedAt(next - 1)
				if !ok {
					break
				}
				lc.wg.Add(1)
				go lc.run(id, made[next-1])
			}
			select {
			case <-ctx.Done():
				return
			case <-m.more:
			case <-t.C:
			}
			lc.mu.Lock()
			stop := lc.stopped
			lc.mu.Unlock()
			if stop {
				return
			}
		}
	}()
	return lc
}

func (lc *lifecycle) run(id int64, runner string) {
	defer lc.wg.Done()
	err := lc.s.sendAction(id, "in_progress", runner)
	if err == nil {
		time.Sleep(lc.jobTime)
		err = lc.s.sendAction(id, "completed", runner)
	}
	lc.mu.Lock()
	if err != nil {
		lc.errs = append(lc.errs, err)
	}
	lc.done++
	lc.mu.Unlock()
}

// wait waits until n jobs have run their course, then stops following.
func (lc *lifecycle) wait(n int) error {
	deadline := time.Now().Add(2 * time.Minute)
	var err error
	for {
		lc.mu.Lock()
		done := lc.done
		lc.mu.Unlock()
		if done >= n {
			break
		}
		if time.Now().After(deadline) {
			err = fmt.Errorf("only %d of %d jobs ran their course within 2 minutes", done, n)
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	lc.mu.Lock()
	lc.stopped = true
	lc.mu.Unlock()
	lc.wg.Wait()
	lc.mu.Lock()
	defer lc.mu.Unlock()
	if err == nil && len(lc.errs) > 0 {
		err = fmt.Errorf("%d lifecycle webhooks failed, first: %w", len(lc.errs), lc.errs[0])
	}
	return err
}

// burst sends jobs first..first+n-1 with conc senders at once.
func (s *sender) burst(first int64, n, conc int) error {
	ids := make(chan int64)
	errs := make(chan error, conc)
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range ids {
				if err := s.send(id); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		}()
	}
	for i := range n {
		ids <- first + int64(i)
	}
	close(ids)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// paced sends rate webhooks a second for d (open loop: a slow answer does
// not slow the offered rate, up to conc requests in flight) and returns how
// many it sent and how long sending took.
func (s *sender) paced(first int64, rate int, d time.Duration, conc int) (int, time.Duration, error) {
	n := int(float64(rate) * d.Seconds())
	interval := time.Second / time.Duration(rate)
	slots := make(chan struct{}, conc)
	var wg sync.WaitGroup
	var errMu sync.Mutex
	var firstErr error
	start := time.Now()
	for i := range n {
		if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
			time.Sleep(wait)
		}
		slots <- struct{}{}
		wg.Add(1)
		go func(id int64) {
			defer wg.Done()
			defer func() { <-slots }()
			if err := s.send(id); err != nil {
				errMu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				errMu.Unlock()
			}
		}(first + int64(i))
	}
	wg.Wait()
	return n, time.Since(start), firstErr
}

// procStats is a process's CPU time so far and its memory.
type procStats struct {
	CPU      time.Duration
	RSS, HWM int64 // bytes: resident now, and its peak
}

// readProc reads /proc/PID (Linux). Clock ticks are 100 a second on every
// Linux this runs on (USER_HZ).
func readProc(pid int) (procStats, error) {
	var ps procStats
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ps, err
	}
	// Fields after the command name (which may hold spaces) in parentheses.
	rest := string(stat[strings.LastIndexByte(string(stat), ')')+2:])
	f := strings.Fields(rest)
	if len(f) < 13 {
		return ps, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	ps.CPU = time.Duration(ut+st) * 10 * time.Millisecond
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ps, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			ps.RSS = kb << 10
		case "VmHWM":
			ps.HWM = kb << 10
		}
	}
	return ps, nil
}
