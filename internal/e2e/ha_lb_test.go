package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// balancer is the load balancer in front of the replicas, as an
// installation would run one: round robin, and a backend that refuses or
// drops the connection is skipped for the next (a webhook or machine
// request is retried there; the manager is idempotent for both).
type balancer struct {
	backends []string
	client   *http.Client
	srv      *http.Server

	mu       sync.Mutex
	next     int
	webhooks map[int]int // backend → workflow_job deliveries it answered
}

func startBalancer(t *testing.T, addr string, backends []string) *balancer {
	t.Helper()
	b := &balancer{backends: backends, webhooks: map[int]int{},
		client: &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 64,
			DialContext: (&net.Dialer{Timeout: time.Second}).DialContext}}}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	b.srv = &http.Server{Handler: b}
	go b.srv.Serve(l)
	t.Cleanup(func() { b.srv.Close() })
	return b
}

func (b *balancer) pick() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	i := b.next % len(b.backends)
	b.next++
	return i
}

func (b *balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 32<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	for attempt := 0; attempt < 4*len(b.backends); attempt++ {
		i := b.pick()
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, "http://"+b.backends[i]+r.URL.RequestURI(), bytes.NewReader(body))
		req.Header = r.Header.Clone()
		resp, err := b.client.Do(req)
		if err != nil {
			if r.Context().Err() != nil {
				return
			}
			continue
		}
		if resp.StatusCode/100 == 5 && attempt+1 < 4*len(b.backends) {
			// A replica cut off from the database fails the request; another
			// may not be (as nginx's proxy_next_upstream http_500 …).
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			continue
		}
		for k, vs := range resp.Header {
			w.Header()[k] = vs
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
		resp.Body.Close()
		if r.Header.Get("X-GitHub-Event") == "workflow_job" && resp.StatusCode/100 == 2 {
			b.mu.Lock()
			b.webhooks[i]++
			b.mu.Unlock()
		}
		return
	}
	http.Error(w, "no replica answered", http.StatusBadGateway)
}

func (b *balancer) spread() map[int]int {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := map[int]int{}
	for k, v := range b.webhooks {
		out[k] = v
	}
	return out
}

// health is one replica's /healthz.
type health struct {
	Status string `json:"status"`
	Role   string `json:"role"`
	Epoch  int64  `json:"epoch"`
}

func replicaHealth(addr string) (health, error) {
	var h health
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get("http://" + addr + "/healthz")
	if err != nil {
		return h, err
	}
	defer resp.Body.Close()
	err = json.NewDecoder(resp.Body).Decode(&h)
	return h, err
}
