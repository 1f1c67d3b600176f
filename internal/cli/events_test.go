package cli

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/api"
	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/events"
	"github.com/paddock-ci/paddock/internal/testutil/teststore"
)

const viewer = "viewer-token-0123456789abcdef0123456789"

type lines struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// serveEvents serves the API with the event stream on addr ("" picks a port).
func serveEvents(t *testing.T, st *events.Stream, addr string) (*http.Server, string) {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var l net.Listener
	var err error
	waitFor(t, "listening on "+addr, func() bool { l, err = net.Listen("tcp", addr); return err == nil })
	srv := &http.Server{Handler: api.New(api.Options{Store: st.Store, AdminToken: token, ViewerToken: viewer, Events: st})}
	srv.RegisterOnShutdown(st.Close)
	go srv.Serve(l)
	return srv, l.Addr().String()
}

// `paddock events` follows the stream with a viewer token, prints readable
// lines, and after the server restarts resumes where it left off: nothing
// lost, nothing repeated.
func TestEventsFollowsAcrossRestart(t *testing.T) {
	t.Setenv("PADDOCK_ADMIN_TOKEN", "")
	t.Setenv("PADDOCK_VIEWER_TOKEN", viewer)
	store := teststore.Open(t)
	emit := func(id int64, state string) {
		if err := store.AppendEvents(context.Background(), []*core.Event{{Kind: core.EventJobDone, JobID: id, State: state,
			Seconds: 12}}); err != nil {
			t.Fatal(err)
		}
	}
	emit(1, "success")
	srv, addr := serveEvents(t, &events.Stream{Store: store, Poll: 20 * time.Millisecond}, "")
	var out lines
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int)
	go func() {
		root := NewRoot()
		root.SetContext(ctx)
		done <- run(root, []string{"--server", "http://" + addr, "events", "--after", "0"}, &out, &out)
	}()
	waitFor(t, "first event", func() bool { return strings.Contains(out.String(), "job=1") })
	if s := out.String(); !strings.Contains(s, "job.done") || !strings.Contains(s, "state=success") || !strings.Contains(s, "ran=12s") {
		t.Fatalf("line: %q", s)
	}
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	if err := srv.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	emit(2, "failure") // while the manager is down
	srv2, _ := serveEvents(t, &events.Stream{Store: store, Poll: 20 * time.Millisecond}, addr)
	defer srv2.Close()
	waitFor(t, "event written while down", func() bool { return strings.Contains(out.String(), "job=2") })
	emit(3, "success")
	waitFor(t, "event after restart", func() bool { return strings.Contains(out.String(), "job=3") })
	if n := strings.Count(out.String(), "job=1 "); n != 1 {
		t.Fatalf("event 1 printed %d times after resume:\n%s", n, out.String())
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, out.String())
	}
}

func TestEventsWrongTokenFailsFast(t *testing.T) {
	t.Setenv("PADDOCK_ADMIN_TOKEN", "")
	t.Setenv("PADDOCK_VIEWER_TOKEN", "")
	srv, addr := serveEvents(t, &events.Stream{Store: teststore.Open(t)}, "")
	defer srv.Close()
	var out lines
	code := run(NewRoot(), []string{"--server", "http://" + addr, "--token", strings.Repeat("w", 40), "events"}, &out, &out)
	if code == 0 || !strings.Contains(out.String(), "invalid admin token") {
		t.Fatalf("exit %d: %s", code, out.String())
	}
}

// Started without --after, the follower resumes from where its first
// connection started even if no event came before the restart: an event
// written while the manager was down is printed, older ones are not.
func TestEventsFromNowResumesBeforeFirstEvent(t *testing.T) {
	t.Setenv("PADDOCK_ADMIN_TOKEN", "")
	t.Setenv("PADDOCK_VIEWER_TOKEN", viewer)
	store := teststore.Open(t)
	emit := func(id int64) {
		if err := store.AppendEvents(context.Background(), []*core.Event{{Kind: core.EventJobQueued, JobID: id}}); err != nil {
			t.Fatal(err)
		}
	}
	emit(1)
	st := &events.Stream{Store: store, Poll: 20 * time.Millisecond}
	srv, addr := serveEvents(t, st, "")
	var out lines
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int)
	go func() {
		root := NewRoot()
		root.SetContext(ctx)
		done <- run(root, []string{"--server", "http://" + addr, "events"}, &out, &out)
	}()
	waitFor(t, "the stream to open", func() bool { return st.Active() == 1 })
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	if err := srv.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	emit(2)
	srv2, _ := serveEvents(t, &events.Stream{Store: store, Poll: 20 * time.Millisecond}, addr)
	defer srv2.Close()
	waitFor(t, "event written while down", func() bool { return strings.Contains(out.String(), "job=2") })
	if strings.Contains(out.String(), "job=1 ") {
		t.Fatalf("an event from before the start was replayed:\n%s", out.String())
	}
	cancel()
	<-done
}
