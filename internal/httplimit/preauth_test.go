package httplimit

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// serve runs h behind p on a real listener and server with conns installed.
func serve(t *testing.T, p *Preauth, conns *Conns, h http.Handler) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: p.Wrap(h), ReadHeaderTimeout: 5 * time.Second}
	if conns != nil {
		l = conns.Listener(l)
		srv.ConnState, srv.ConnContext = conns.ConnState, conns.ConnContext
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String()
}

func post(t *testing.T, addr string, body []byte) (*http.Response, string) {
	t.Helper()
	resp, err := http.Post("http://"+addr+"/", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestPreauthHandsOverBody(t *testing.T) {
	p := &Preauth{Budget: NewBudget(1<<20, 4), MaxBody: 200 << 10, ReadTimeout: 5 * time.Second}
	addr := serve(t, p, nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := Body(r)
		rest, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%v %d %d", ok, len(b), len(rest))
	}))
	body := bytes.Repeat([]byte("x"), 150<<10)
	if resp, got := post(t, addr, body); resp.StatusCode != 200 || got != "true 153600 153600" {
		t.Fatalf("%d %q", resp.StatusCode, got)
	}
	if resp, got := post(t, addr, make([]byte, 201<<10)); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized body: %d %q", resp.StatusCode, got)
	}
	if b, n := p.Budget.InUse(); b != 0 || n != 0 {
		t.Fatalf("budget not returned: %d bytes, %d requests", b, n)
	}
}

// TestPreauthMemoryBound holds handlers open while bodies keep arriving: the
// bytes held never exceed the budget, and the excess is told to retry.
func TestPreauthMemoryBound(t *testing.T) {
	const budget = 1 << 20
	p := &Preauth{Budget: NewBudget(budget, 100), MaxBody: 400 << 10, ReadTimeout: 5 * time.Second, RetryAfter: 3 * time.Second}
	release := make(chan struct{})
	addr := serve(t, p, nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
	}))
	var mu sync.Mutex
	codes := map[int]int{}
	retry := ""
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			resp, _ := post(t, addr, make([]byte, 300<<10))
			mu.Lock()
			codes[resp.StatusCode]++
			if resp.StatusCode == 503 {
				retry = resp.Header.Get("Retry-After")
			}
			mu.Unlock()
		})
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := codes[503]
		mu.Unlock()
		if held, _ := p.Budget.InUse(); held > budget {
			t.Fatalf("holding %d bytes, budget %d", held, budget)
		}
		if n > 0 && n+heldReqs(p) == 10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out: codes %v", codes)
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(release)
	wg.Wait()
	if codes[200] == 0 || codes[503] == 0 || codes[200]+codes[503] != 10 || retry != "3" {
		t.Fatalf("codes %v, Retry-After %q", codes, retry)
	}
}

func heldReqs(p *Preauth) int { _, n := p.Budget.InUse(); return n }

func TestPreauthRequestsBound(t *testing.T) {
	p := &Preauth{Budget: NewBudget(1<<20, 2), MaxBody: 1 << 10}
	release := make(chan struct{})
	addr := serve(t, p, nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	done := make(chan int, 3)
	for range 3 {
		go func() { resp, _ := post(t, addr, []byte("{}")); done <- resp.StatusCode }()
	}
	if code := <-done; code != http.StatusServiceUnavailable {
		t.Fatalf("third request: %d, want 503", code)
	}
	close(release)
	if a, b := <-done, <-done; a != 200 || b != 200 {
		t.Fatalf("held requests: %d %d", a, b)
	}
}

// TestPreauthSlowBodyCut: a client that trickles its body is answered 408 and
// cut off after ReadTimeout, and its budget is returned.
func TestPreauthSlowBodyCut(t *testing.T) {
	p := &Preauth{Budget: NewBudget(1<<20, 4), MaxBody: 1 << 20, ReadTimeout: 300 * time.Millisecond}
	addr := serve(t, p, nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("handler reached with an incomplete body")
	}))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusRequestTimeout || time.Since(start) > 3*time.Second {
		t.Fatalf("status %d after %s", resp.StatusCode, time.Since(start))
	}
	if b, _ := p.Budget.InUse(); b != 0 {
		t.Fatalf("budget still holds %d bytes", b)
	}
}

func TestPreauthRequiresLength(t *testing.T) {
	p := &Preauth{Budget: NewBudget(1<<20, 4), MaxBody: 1 << 20}
	addr := serve(t, p, nil, http.NotFoundHandler())
	req, _ := http.NewRequest("POST", "http://"+addr+"/", io.NopCloser(strings.NewReader("{}"))) // no length: chunked
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusLengthRequired {
		t.Fatalf("status %d, want 411", resp.StatusCode)
	}
}

// TestPreauthSmallBodiesKeepTheirBudget: while large bodies hold the whole
// large-body budget, a small body is still read and served.
func TestPreauthSmallBodiesKeepTheirBudget(t *testing.T) {
	p := &Preauth{Budget: NewBudget(1<<20, 8), MaxBody: 1 << 20, Small: NewBudget(64<<10, 8), SmallBody: 4 << 10}
	release := make(chan struct{})
	addr := serve(t, p, nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.Header.Get("Hold")) > 0 {
			<-release
		}
	}))
	done := make(chan struct{})
	go func() {
		defer close(done)
		req, _ := http.NewRequest("POST", "http://"+addr+"/", bytes.NewReader(make([]byte, 500<<10)))
		req.Header.Set("Hold", "1")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	waitUntil(t, "large body held", func() bool { b, n := p.Budget.InUse(); return n == 1 && b >= 500<<10 })
	if resp, _ := post(t, addr, make([]byte, 600<<10)); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("second large body: %d, want 503", resp.StatusCode)
	}
	if resp, got := post(t, addr, []byte(`{"small":true}`)); resp.StatusCode != 200 {
		t.Fatalf("small body while large ones fill their budget: %d %q", resp.StatusCode, got)
	}
	close(release)
	<-done
}
