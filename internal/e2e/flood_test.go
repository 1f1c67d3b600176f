package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/forgesim"
	"github.com/paddock-ci/paddock/internal/httplimit"
)

// managerFileLimit is the open-file limit the flooded manager runs under,
// well below the number of connections thrown at it.
const managerFileLimit = 3000

// TestFloodOfUnauthenticatedConnections runs a 200-job burst through the
// simulator while more than 5,000 unauthenticated connections flood the
// manager: slow headers, slow webhook bodies, idle keep-alives, oversized
// bodies and fast unsigned 24 MB bodies. The manager runs with fewer file
// descriptors than the flood has connections. Every job must be served,
// /healthz must answer throughout, the manager's peak RSS must stay bounded
// and it must never run out of file descriptors.
func TestFloodOfUnauthenticatedConnections(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	slowHeaders, slowBodies, idleConns, bigSenders := 2500, 2000, 600, 8
	baseline := os.Getenv("FLOOD_BASELINE") != "" // measure the same burst without the flood
	if baseline {
		slowHeaders, slowBodies, idleConns, bigSenders = 0, 0, 0, 0
	}
	// This process holds one end of every flood connection.
	need := uint64(slowHeaders + slowBodies + idleConns + bigSenders + 1000)
	if n, err := httplimit.RaiseFileLimit(); err != nil || n < need {
		t.Skipf("this test needs an open-file limit of %d (hard limit allows %d: %v)", need, n, err)
	}
	const (
		jobs       = 200
		rssBoundMB = 512
	)
	e := newEnv(t, 25)
	prl, err := exec.LookPath("prlimit")
	if err != nil {
		t.Skip("prlimit (util-linux) is needed to run the manager under a small open-file limit")
	}
	e.wrap = []string{prl, fmt.Sprintf("--nofile=%d:%d", managerFileLimit, managerFileLimit), "--"}
	cfg, _ := os.ReadFile(e.cfg)
	cfg = bytes.Replace(cfg, []byte("server:\n"), []byte("server:\n  limits: {unauthenticated_body_timeout: 10s, idle_timeout: 30s}\n"), 1)
	if err := os.WriteFile(e.cfg, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	m := e.start()
	pid := m.cmd.Process.Pid

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var dialed, cut atomic.Int64
	// flood keeps one connection of a kind open, redialing a second after
	// the manager closes it, until stop.
	flood := func(n int, kind func(c net.Conn) error) {
		for i := range n {
			wg.Go(func() {
				// Spread the first dials over two seconds, as a flood ramps up.
				if !sleepOrStop(stop, time.Duration(i)*2*time.Second/time.Duration(n)) {
					return
				}
				for {
					c, err := net.DialTimeout("tcp", e.addr, 5*time.Second)
					if err == nil {
						dialed.Add(1)
						go func() { <-stop; c.Close() }()
						if kind(c) != nil {
							cut.Add(1)
						}
						c.Close()
					}
					if !sleepOrStop(stop, 2*time.Second) {
						return
					}
				}
			})
		}
	}
	trickle := func(c net.Conn, s string) error {
		for {
			if _, err := io.WriteString(c, s); err != nil {
				return err
			}
			select {
			case <-stop:
				return nil
			case <-time.After(2 * time.Second):
			}
		}
	}
	flood(slowHeaders, func(c net.Conn) error {
		fmt.Fprintf(c, "POST /webhooks/github HTTP/1.1\r\nHost: x\r\n")
		return trickle(c, "X: y\r\n")
	})
	flood(slowBodies, func(c net.Conn) error {
		fmt.Fprintf(c, "POST /webhooks/github HTTP/1.1\r\nHost: x\r\nX-GitHub-Event: workflow_job\r\nX-GitHub-Delivery: d\r\n"+
			"X-Hub-Signature-256: sha256=00\r\nContent-Length: %d\r\n\r\n{", 20<<20)
		return trickle(c, " ")
	})
	flood(idleConns, func(c net.Conn) error {
		fmt.Fprintf(c, "GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n")
		if _, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil {
			return err
		}
		_, err := c.Read(make([]byte, 1)) // idle until the manager closes it
		return err
	})
	var bigAnswers sync.Map
	big := bytes.Repeat([]byte("u"), 24<<20)
	for i := range bigSenders {
		wg.Go(func() {
			client := &http.Client{Timeout: 30 * time.Second}
			for n := 0; ; n++ {
				body := big
				if i == 0 && n%2 == 1 {
					body = append(big, make([]byte, 2<<20)...) // over GitHub's 25 MB
				}
				req, _ := http.NewRequest("POST", "http://"+e.addr+"/webhooks/github", bytes.NewReader(body))
				req.Header.Set("X-GitHub-Event", "workflow_job")
				req.Header.Set("X-Hub-Signature-256", "sha256=00")
				code := "error"
				if resp, err := client.Do(req); err == nil {
					code = strconv.Itoa(resp.StatusCode)
					resp.Body.Close()
				}
				v, _ := bigAnswers.LoadOrStore(code, new(atomic.Int64))
				v.(*atomic.Int64).Add(1)
				if !sleepOrStop(stop, 200*time.Millisecond) {
					return
				}
			}
		})
	}

	// /healthz on a fresh connection every 200 ms, timed.
	var probes, probeFails atomic.Int64
	var maxLatency atomic.Int64
	probeDone := make(chan struct{})
	go func() {
		defer close(probeDone)
		client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		for sleepOrStop(stop, 200*time.Millisecond) {
			start := time.Now()
			resp, err := client.Get("http://" + e.addr + "/healthz")
			lat := time.Since(start)
			probes.Add(1)
			if err != nil || resp.StatusCode != 200 {
				probeFails.Add(1)
				t.Logf("healthz failed after %s: %v", lat, err)
			}
			if err == nil {
				resp.Body.Close()
			}
			for old := maxLatency.Load(); int64(lat) > old && !maxLatency.CompareAndSwap(old, int64(lat)); old = maxLatency.Load() {
			}
		}
	}()

	// Let the flood build up before the burst arrives.
	e.waitFor("flood under way", 30*time.Second, func() bool { return dialed.Load() >= int64(slowHeaders+slowBodies+idleConns) })
	start := time.Now()
	for i := range jobs {
		if _, err := e.sim.QueueJob(forgesim.JobSpec{Repo: repo, Labels: []string{"self-hosted", "linux"},
			Name: fmt.Sprintf("f%03d", i), Duration: 50 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
	}
	e.waitFor("every job completed under the flood", 150*time.Second, func() bool { return e.completed() == jobs })
	burst := time.Since(start)
	peak := vmHWM(t, pid)
	close(stop)
	wg.Wait()
	<-probeDone

	answers := map[string]int64{}
	bigAnswers.Range(func(k, v any) bool { answers[k.(string)] = v.(*atomic.Int64).Load(); return true })
	t.Logf("burst of %d jobs took %s; %d flood connections dialed, %d cut by the manager; big unsigned bodies: %v",
		jobs, burst.Round(time.Millisecond), dialed.Load(), cut.Load(), answers)
	t.Logf("healthz: %d probes, %d failed, max latency %s; manager peak RSS %d MB (bound %d MB, open-file limit %d)",
		probes.Load(), probeFails.Load(), time.Duration(maxLatency.Load()).Round(time.Millisecond), peak>>20, rssBoundMB, managerFileLimit)
	if probeFails.Load() != 0 {
		t.Errorf("%d of %d healthz probes failed", probeFails.Load(), probes.Load())
	}
	if peak > rssBoundMB<<20 {
		t.Errorf("manager peak RSS %d MB exceeds %d MB", peak>>20, rssBoundMB)
	}
	if !baseline && (answers["401"] == 0 || answers["413"] == 0) {
		t.Errorf("big unsigned bodies were not all answered as expected: %v", answers)
	}
	m.cmd.Process.Kill()
	<-m.exited // the log is complete
	if strings.Contains(m.log.String(), "too many open files") {
		t.Errorf("the manager ran out of file descriptors:\n%s", tail(m.log.String(), 3000))
	}
	e.checkOneJobPerRunner()
}

func sleepOrStop(stop chan struct{}, d time.Duration) bool {
	select {
	case <-stop:
		return false
	case <-time.After(d):
		return true
	}
}

// vmHWM is a process's peak resident set size in bytes.
func vmHWM(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc/PID/status")
	return 0
}
