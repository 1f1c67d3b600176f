package events_test

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/events"
)

type sseEvent struct {
	id         int64
	kind, data string
}

// readSSE parses a stream into events and comments until ctx ends or the body closes.
func readSSE(t *testing.T, resp *http.Response) (<-chan sseEvent, <-chan string) {
	evc, comments := make(chan sseEvent, 100), make(chan string, 100)
	go func() {
		defer close(evc)
		sc := bufio.NewScanner(resp.Body)
		var cur sseEvent
		hasID := false
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if cur.kind != "" {
					evc <- cur
				} else if hasID {
					select {
					case comments <- "id " + strconv.FormatInt(cur.id, 10):
					default:
					}
				}
				cur, hasID = sseEvent{}, false
			case strings.HasPrefix(line, ":"):
				select {
				case comments <- line:
				default:
				}
			case strings.HasPrefix(line, "id: "):
				cur.id, _ = strconv.ParseInt(line[4:], 10, 64)
				hasID = true
			case strings.HasPrefix(line, "event: "):
				cur.kind = line[7:]
			case strings.HasPrefix(line, "data: "):
				cur.data = line[6:]
			}
		}
	}()
	return evc, comments
}

func open(t *testing.T, ctx context.Context, url string, hdr map[string]string) *http.Response {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func next(t *testing.T, evc <-chan sseEvent) sseEvent {
	t.Helper()
	select {
	case e, ok := <-evc:
		if !ok {
			t.Fatal("stream closed")
		}
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
	}
	return sseEvent{}
}

func TestStreamLiveAndResume(t *testing.T) {
	st := openStore(t, "")
	rec := events.NewRecorder(st, events.NewHub(), events.Options{})
	rctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { rec.Run(rctx); close(done) }()
	defer func() { cancel(); <-done }()
	must(t, st.AppendEvents(t.Context(), []*core.Event{{Kind: core.EventJobQueued, JobID: 1}}))

	// Poll is long: a live event must arrive through the hub, not a re-read.
	s := &events.Stream{Store: st, Hub: rec.Hub(), Poll: time.Hour}
	srv := httptest.NewServer(s)
	defer srv.Close()
	defer s.Close()
	ctx, stop := context.WithCancel(t.Context())
	defer stop()

	// No position: only new events; the stream first names where it starts
	// (the newest event), so a client resumes from there even before its
	// first event.
	resp := open(t, ctx, srv.URL, nil)
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "text/event-stream" {
		t.Fatalf("status %d content type %q", resp.StatusCode, ct)
	}
	evc, comments := readSSE(t, resp)
	if c := <-comments; c != "id 1" {
		t.Fatalf("stream opened with %q, want its position (id 1)", c)
	}
	rec.Emit(core.Event{Kind: core.EventJobRunning, JobID: 1})
	e := next(t, evc)
	if e.kind != "job.running" || !strings.Contains(e.data, `"job_id":1`) || e.id < 2 {
		t.Fatalf("live event: %+v", e)
	}
	rec.Emit(core.Event{Kind: core.EventJobDone, JobID: 1, State: "success"})
	e2 := next(t, evc)
	if e2.kind != "job.done" || e2.id <= e.id {
		t.Fatalf("second event: %+v", e2)
	}

	// Resume after the first live event: the second is replayed, nothing else.
	resp2 := open(t, ctx, srv.URL, map[string]string{"Last-Event-ID": strconv.FormatInt(e.id, 10)})
	evc2, _ := readSSE(t, resp2)
	if r := next(t, evc2); r.id != e2.id || r.kind != "job.done" {
		t.Fatalf("resumed with %+v, want event %d", r, e2.id)
	}
	// ?after=0 replays the whole log.
	resp3 := open(t, ctx, srv.URL+"?after=0", nil)
	evc3, _ := readSSE(t, resp3)
	if r := next(t, evc3); r.kind != "job.queued" {
		t.Fatalf("replay starts with %+v", r)
	}
}

// Events written by another process (no hub wake-up) arrive through the
// periodic re-read; heartbeats keep an idle stream open.
func TestStreamPicksUpOtherWritersAndBeats(t *testing.T) {
	st := openStore(t, "")
	s := &events.Stream{Store: st, Hub: events.NewHub(), Poll: 50 * time.Millisecond, Heartbeat: 20 * time.Millisecond}
	srv := httptest.NewServer(s)
	defer srv.Close()
	defer s.Close()
	ctx, stop := context.WithCancel(t.Context())
	defer stop()
	evc, comments := readSSE(t, open(t, ctx, srv.URL, nil))
	must(t, st.AppendEvents(t.Context(), []*core.Event{{Kind: core.EventPoolDegraded, Pool: "p"}}))
	if e := next(t, evc); e.kind != "pool.degraded" {
		t.Fatalf("got %+v", e)
	}
	deadline := time.After(10 * time.Second)
	for {
		select {
		case c := <-comments:
			if c == ": ping" {
				return
			}
		case <-deadline:
			t.Fatal("no heartbeat")
		}
	}
}

func TestStreamLimitsAndBadInput(t *testing.T) {
	st := openStore(t, "")
	s := &events.Stream{Store: st, MaxStreams: 1}
	srv := httptest.NewServer(s)
	defer srv.Close()
	ctx, stop := context.WithCancel(t.Context())
	defer stop()

	resp, err := http.Get(srv.URL + "?after=-3")
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("negative id: status %d", resp.StatusCode)
	}
	first := open(t, ctx, srv.URL, nil)
	if first.StatusCode != 200 {
		t.Fatalf("first stream: %d", first.StatusCode)
	}
	_, comments := readSSE(t, first)
	<-comments // the stream is registered once its first comment arrives
	resp, err = http.Get(srv.URL)
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("second stream over the cap of 1: status %d", resp.StatusCode)
	}
	// Close ends open streams, so server shutdown need not wait for them.
	s.Close()
	deadline := time.Now().Add(10 * time.Second)
	for s.Active() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d streams still open after Close", s.Active())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
