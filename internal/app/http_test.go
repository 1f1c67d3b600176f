package app_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/app"
	"github.com/paddock-ci/paddock/internal/config"
)

const metricsToken = "metrics-token-0123456789abcdef0123"

// startManager runs a manager with the given server.limits on a loopback listener.
func startManager(t *testing.T, limits string) string {
	t.Helper()
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse([]byte(fmt.Sprintf(`
server: {listen: %q, admin_token: admin-token-0123456789abcdef0123456, metrics_token: %s, limits: {%s}}
store: {path: %q, encryption_key: %q}
state_dir: %q
providers: [{name: local, type: process}]
`, l.Addr().String(), metricsToken, limits, dir+"/p.db", strings.Repeat("cd", 32), dir)), "t.yaml", dir)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(context.Background(), cfg, app.Options{Listener: l, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return l.Addr().String()
}

func status(t *testing.T, method, url, auth string, body io.Reader, length int64) int {
	t.Helper()
	req, _ := http.NewRequest(method, url, body)
	req.ContentLength = length
	if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// rawStatus sends req as written and returns the answer's status.
func rawStatus(t *testing.T, addr, req string) int {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, req)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%q: %v", req[:20], err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestManagerLimits: the assembled manager applies its limits where it
// listens: small bodies for machine endpoints, GitHub's cap for webhooks,
// /metrics behind a token, slow headers cut.
func TestManagerLimits(t *testing.T) {
	addr := startManager(t, "read_header_timeout: 1s")
	base := "http://" + addr
	big := strings.Repeat("x", 100<<10)
	if code := status(t, "POST", base+"/api/v1/callbacks/status", "tok", strings.NewReader(big), int64(len(big))); code != http.StatusRequestEntityTooLarge {
		t.Errorf("100 KB machine callback: %d, want 413", code)
	}
	if code := rawStatus(t, addr, fmt.Sprintf("POST /webhooks/github HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n{", 26<<20)); code != http.StatusRequestEntityTooLarge {
		t.Errorf("webhook announcing 26 MB: %d, want 413", code)
	}
	if code := status(t, "GET", base+"/metrics", "", nil, 0); code != http.StatusUnauthorized {
		t.Errorf("/metrics without a token: %d, want 401", code)
	}
	if code := status(t, "GET", base+"/metrics", metricsToken, nil, 0); code != http.StatusOK {
		t.Errorf("/metrics with the metrics token: %d", code)
	}
	// A client that never finishes its header is disconnected.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n")
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	start := time.Now()
	_, err = bufio.NewReader(c).ReadString('\n')
	if time.Since(start) > 5*time.Second {
		t.Errorf("slow header kept for %s (err %v)", time.Since(start), err)
	}
}
