package ghcontract

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
)

// Exchange is one validated request/answer pair.
type Exchange struct {
	Method, Path string // Path relative to the API root
	Status       int
	RequestErr   error // contract violation by the request (nil = valid)
	ResponseErr  error // contract violation by the answer (nil = valid)
}

// Recorder validates every exchange passing through it. Use it to hold a
// client (the GitHub adapter) and a server (the forge simulator) to GitHub's
// published contract at once:
//
//	rec := ghcontract.NewRecorder(ghcontract.Must(t), nil, "")
//	hc := &http.Client{Transport: rec}
//	... drive the client against the simulator ...
//	rec.Check(t) // fails the test for every violation, either side
type Recorder struct {
	c      *Contract
	base   http.RoundTripper
	prefix string

	mu        sync.Mutex
	exchanges []Exchange
}

// NewRecorder wraps base (nil = http.DefaultTransport). prefix is the API
// root's path on the server ("" for api.github.com and the simulator,
// "/api/v3" for GHES) and is stripped before matching the spec.
func NewRecorder(c *Contract, base http.RoundTripper, prefix string) *Recorder {
	if base == nil {
		base = http.DefaultTransport
	}
	return &Recorder{c: c, base: base, prefix: strings.TrimSuffix(prefix, "/")}
}

// RoundTrip forwards req and validates both directions; the answer is
// returned to the caller unchanged (its body is buffered to be read twice).
func (r *Recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		reqBody = b
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	path := strings.TrimPrefix(req.URL.Path, r.prefix)
	vreq := req.Clone(req.Context())
	vreq.URL.Path = path
	ex := Exchange{Method: req.Method, Path: path, RequestErr: r.c.ValidateRequest(vreq, reqBody)}

	resp, err := r.base.RoundTrip(req)
	if err != nil {
		r.record(ex)
		return resp, err
	}
	body, rerr := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if rerr != nil {
		return nil, rerr
	}
	ex.Status = resp.StatusCode
	ex.ResponseErr = r.c.ValidateResponse(req.Method, path, resp.StatusCode, resp.Header, body)
	r.record(ex)
	return resp, nil
}

func (r *Recorder) record(ex Exchange) {
	r.mu.Lock()
	r.exchanges = append(r.exchanges, ex)
	r.mu.Unlock()
}

// Exchanges returns what passed through so far.
func (r *Recorder) Exchanges() []Exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Exchange(nil), r.exchanges...)
}

// Check fails t once per contract violation and if nothing was exchanged at all.
func (r *Recorder) Check(t TB) {
	t.Helper()
	exs := r.Exchanges()
	if len(exs) == 0 {
		t.Errorf("ghcontract: no exchanges recorded; nothing was validated")
	}
	for _, ex := range exs {
		if ex.RequestErr != nil {
			t.Errorf("request %s %s: %v", ex.Method, ex.Path, ex.RequestErr)
		}
		if ex.ResponseErr != nil {
			t.Errorf("response %s %s → %d: %v", ex.Method, ex.Path, ex.Status, ex.ResponseErr)
		}
	}
}

// Operations returns the distinct "METHOD /template" operations exchanged.
func (r *Recorder) Operations() map[string]int {
	out := map[string]int{}
	for _, ex := range r.Exchanges() {
		route, _, err := r.c.Route(ex.Method, ex.Path)
		key := fmt.Sprintf("%s %s", ex.Method, ex.Path)
		if err == nil {
			key = ex.Method + " " + route.Path
		}
		out[key]++
	}
	return out
}
