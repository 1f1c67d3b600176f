package forgesim

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"
)

// serveGET answers an authenticated REST GET the way GitHub treats
// conditional requests: every 200 carries an ETag derived from its body, and
// a request whose If-None-Match names the current ETag gets 304 Not Modified
// without being charged to the rate limit (GitHub documents that 304s made
// with the same credential are free). Injected faults apply either way, so a
// 429 storm also hits pollers that only ever get 304s.
func (s *Sim) serveGET(rw *statusWriter, r *http.Request, key, token string) {
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		if rec := s.render(r); rec.Code == http.StatusOK && etagMatches(inm, etagOf(rec.Body.Bytes())) {
			if s.applyFaults(rw, r, key) {
				return
			}
			s.rateHeaders(rw, token)
			rw.Header().Set("ETag", etagOf(rec.Body.Bytes()))
			rw.WriteHeader(http.StatusNotModified)
			return
		}
	}
	if !s.spendBudget(rw, r, token) {
		return
	}
	if s.applyFaults(rw, r, key) {
		return
	}
	// Rendered after the faults (latency included) so the answer reflects
	// the state at the moment it is sent, as the plain path does.
	rec := s.render(r)
	h := rw.Header()
	for k, v := range rec.Header() {
		h[k] = v
	}
	h.Set("X-GitHub-Api-Version-Selected", "2022-11-28")
	h.Set("X-GitHub-Media-Type", "github.v3; format=json")
	if rec.Code == http.StatusOK {
		h.Set("ETag", etagOf(rec.Body.Bytes()))
	}
	rw.WriteHeader(rec.Code)
	_, _ = rw.Write(rec.Body.Bytes())
}

// render runs the route for a read-only request into a recorder.
func (s *Sim) render(r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	s.mux.ServeHTTP(rec, r)
	return rec
}

// etagOf is a strong validator over the exact body bytes.
func etagOf(body []byte) string {
	sum := sha256.Sum256(body)
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}

// etagMatches implements If-None-Match's list form and weak comparison
// (RFC 9110 §13.1.2): W/ prefixes are ignored and "*" matches anything.
func etagMatches(header, etag string) bool {
	for _, c := range strings.Split(header, ",") {
		c = strings.TrimPrefix(strings.TrimSpace(c), "W/")
		if c == "*" || c == etag {
			return true
		}
	}
	return false
}

// rateHeaders reports token's budget without spending any of it.
func (s *Sim) rateHeaders(w http.ResponseWriter, token string) {
	now := time.Now()
	s.mu.Lock()
	used, reset := 0, now.Add(time.Hour)
	if b := s.limits["token:"+token]; b != nil && !now.After(b.reset) {
		used, reset = b.used, b.reset
	}
	s.mu.Unlock()
	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(hourlyLimit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(hourlyLimit-used))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	h.Set("X-RateLimit-Used", strconv.Itoa(used))
	h.Set("X-RateLimit-Resource", "core")
}
