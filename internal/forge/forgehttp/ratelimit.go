package forgehttp

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/paddock-ci/paddock/internal/forge"
)

const (
	// DefaultWait is how long a rate limit lasts when the forge does not say:
	// GitHub's documentation asks clients to wait at least a minute then, and
	// Gitea and Forgejo give no better hint.
	DefaultWait = time.Minute
	// MinWait is the shortest wait a rate limit yields ("Retry-After: 0" or a
	// reset already past), so a limited forge is never hammered in a loop.
	MinWait = time.Second
)

// RetryAfter is Paddock's one reading of a rate-limited answer's headers:
// Retry-After (delta-seconds or an HTTP date) wins; otherwise
// X-RateLimit-Reset (epoch seconds) when X-RateLimit-Remaining is 0;
// otherwise DefaultWait. The result is never below MinWait.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	d := DefaultWait
	ra := strings.TrimSpace(h.Get("Retry-After"))
	if s, err := strconv.ParseInt(ra, 10, 64); err == nil && s >= 0 {
		d = time.Duration(s) * time.Second
	} else if t, err := http.ParseTime(ra); err == nil {
		d = t.Sub(now)
	} else if strings.TrimSpace(h.Get("X-RateLimit-Remaining")) == "0" {
		if reset, err := strconv.ParseInt(strings.TrimSpace(h.Get("X-RateLimit-Reset")), 10, 64); err == nil {
			d = time.Unix(reset, 0).Sub(now)
		}
	}
	return max(d, MinWait)
}

// RateLimited reports whether an answer is a rate limit: any 429, or a 403
// that says so (X-RateLimit-Remaining: 0, a Retry-After, or "rate limit" in
// its message: GitHub's primary and secondary limits). Other 403s are
// permission errors and stay with the adapter.
func RateLimited(status int, h http.Header, msg string) bool {
	return status == http.StatusTooManyRequests ||
		status == http.StatusForbidden && (h.Get("X-RateLimit-Remaining") == "0" || h.Get("Retry-After") != "" ||
			strings.Contains(strings.ToLower(msg), "rate limit"))
}

// Message is the human part of an error body: its JSON "message" (GitHub,
// Gitea, Forgejo and Connect RPC errors all have one), else the trimmed body,
// else the status text.
func Message(status int, body []byte) string {
	var e struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &e) == nil && e.Message != "" {
		return e.Message
	}
	if t := strings.TrimSpace(string(body)); t != "" {
		return t
	}
	return http.StatusText(status)
}

// maxErrorBody bounds how much of a 403/429 body is read to classify it.
const maxErrorBody = 64 << 10

// classify turns a rate-limited answer into *forge.RateLimitError. Other
// answers pass through with their body intact (re-wrapped after peeking).
type classify struct {
	base http.RoundTripper
	now  func() time.Time
}

func (t *classify) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusTooManyRequests {
		return resp, err
	}
	body, rerr := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	rest := resp.Body
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(body), rest), rest}
	if rerr != nil {
		return resp, nil // let the adapter report the broken body
	}
	msg := Message(resp.StatusCode, body)
	if !RateLimited(resp.StatusCode, resp.Header, msg) {
		return resp, nil
	}
	_ = resp.Body.Close()
	return nil, &forge.RateLimitError{RetryAfter: RetryAfter(resp.Header, t.now()), Message: msg}
}
