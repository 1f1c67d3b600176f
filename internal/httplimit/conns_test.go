package httplimit

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/testutil"
)

// TestConnsShedsSlowForNew: with the cap filled by connections that never
// send a request, a real request still gets in and is served, by closing the
// oldest silent connection.
func TestConnsShedsSlowForNew(t *testing.T) {
	conns := NewConns(8)
	p := &Preauth{Budget: NewBudget(1<<20, 4), MaxBody: 1 << 10}
	addr := serve(t, p, conns, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	var silent []net.Conn
	for range 20 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET / HTTP/1.1\r\n") // and never finishes the header
		silent = append(silent, c)
	}
	waitUntil(t, "silent connections counted", func() bool { _, shed, _ := conns.Stats(); return shed >= 12 })
	for range 5 {
		resp, err := (&http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}).Get("http://" + addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	if open, _, _ := conns.Stats(); open > 8 {
		t.Fatalf("%d connections open, cap 8", open)
	}
	// The oldest silent connections were the ones closed.
	silent[0].SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := silent[0].Read(make([]byte, 1)); err == nil {
		t.Fatal("oldest silent connection still open")
	}
}

// TestConnsKeepsBusy: connections with a request being handled are never
// closed to make room; a new one is refused instead.
func TestConnsKeepsBusy(t *testing.T) {
	conns := NewConns(2)
	release := make(chan struct{})
	p := &Preauth{Budget: NewBudget(1<<20, 4), MaxBody: 1 << 10}
	addr := serve(t, p, conns, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		io.WriteString(w, "done")
	}))
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	codes := make(chan int, 2)
	for range 2 {
		go func() {
			resp, err := client.Get("http://" + addr + "/")
			if err != nil {
				codes <- 0
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	waitUntil(t, "two requests in the handler", func() bool { _, n := p.Budget.InUse(); return n == 2 })
	if _, err := client.Get("http://" + addr + "/"); err == nil {
		t.Fatal("third connection was served beyond the cap")
	}
	close(release)
	if a, b := <-codes, <-codes; a != 200 || b != 200 {
		t.Fatalf("busy requests: %d %d", a, b)
	}
	if _, shed, refused := conns.Stats(); shed != 0 || refused == 0 {
		t.Fatalf("shed %d refused %d", shed, refused)
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testutil.Eventually(t, what, 10*time.Second, cond)
}
