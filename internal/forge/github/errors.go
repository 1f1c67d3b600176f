package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	gh "github.com/google/go-github/v89/github"

	"github.com/paddock-ci/paddock/internal/forge"
)

// defaultRateLimitWait applies when GitHub signals a limit without saying
// until when; its docs say to wait at least a minute in that case.
const defaultRateLimitWait = time.Minute

// call runs one API operation, retrying 5xx answers and transport failures a
// bounded number of times with exponential backoff. 4xx answers (rate limits
// included) are never retried here: a rate limit goes back to the caller with
// its wait time, so a scheduler decides rather than a goroutine sleeping.
func call[T any](ctx context.Context, c *Client, op func() (T, *gh.Response, error)) (T, *gh.Response, error) {
	delay := c.backoff
	for attempt := 0; ; attempt++ {
		v, resp, err := op()
		if err == nil || attempt >= c.retries || !retryable(ctx, resp, err) {
			return v, resp, mapError(err, c.now())
		}
		select {
		case <-ctx.Done():
			var zero T
			return zero, resp, ctx.Err()
		case <-time.After(delay):
		}
		delay *= 2
	}
}

func retryable(ctx context.Context, resp *gh.Response, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var rl *forge.RateLimitError
	if errors.As(err, &rl) {
		return false
	}
	if resp == nil || resp.Response == nil {
		// No answer for this call. If an app-token exchange inside the
		// transport failed with an HTTP answer, judge by that answer;
		// otherwise it was a transport failure (reset, timeout): retry.
		if st := statusOf(err); st != 0 {
			return st >= 500
		}
		return true
	}
	return resp.StatusCode >= 500
}

// statusOf returns the HTTP status of a go-github error, or 0 if there was no answer.
func statusOf(err error) int {
	if r := responseOf(err); r != nil {
		return r.StatusCode
	}
	return 0
}

func responseOf(err error) *http.Response {
	var er *gh.ErrorResponse
	var rl *gh.RateLimitError
	var ab *gh.AbuseRateLimitError
	switch {
	case errors.As(err, &er):
		return er.Response
	case errors.As(err, &rl):
		return rl.Response
	case errors.As(err, &ab):
		return ab.Response
	}
	return nil
}

func messageOf(err error) string {
	var er *gh.ErrorResponse
	var rl *gh.RateLimitError
	var ab *gh.AbuseRateLimitError
	switch {
	case errors.As(err, &er):
		return er.Message
	case errors.As(err, &rl):
		return rl.Message
	case errors.As(err, &ab):
		return ab.Message
	}
	return ""
}

// mapError turns go-github errors into the forge package's vocabulary:
// rate limits become *forge.RateLimitError and 404s wrap forge.ErrNotFound.
func mapError(err error, now time.Time) error {
	if err == nil {
		return nil
	}
	var fr *forge.RateLimitError
	if errors.As(err, &fr) {
		return err
	}
	resp := responseOf(err)
	if resp == nil {
		return err
	}
	if rl := rateLimitFromResponse(resp, messageOf(err), now); rl != nil {
		return rl
	}
	if resp.StatusCode == http.StatusNotFound {
		return fmt.Errorf("%w: %w", forge.ErrNotFound, err)
	}
	return err
}

// rateLimitFromResponse recognises GitHub's primary (remaining = 0) and
// secondary (403/429 with a rate-limit message or Retry-After) limits.
func rateLimitFromResponse(resp *http.Response, msg string, now time.Time) *forge.RateLimitError {
	h := resp.Header
	limited := resp.StatusCode == http.StatusTooManyRequests ||
		resp.StatusCode == http.StatusForbidden && (h.Get("X-RateLimit-Remaining") == "0" ||
			h.Get("Retry-After") != "" || strings.Contains(strings.ToLower(msg), "rate limit"))
	if !limited {
		return nil
	}
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	return &forge.RateLimitError{RetryAfter: retryAfter(h, now), Message: msg}
}

// retryAfter prefers Retry-After (secondary limits) over x-ratelimit-reset
// (primary limits, an epoch second).
func retryAfter(h http.Header, now time.Time) time.Duration {
	if s, err := strconv.Atoi(strings.TrimSpace(h.Get("Retry-After"))); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(h.Get("Retry-After")); err == nil {
		return max(t.Sub(now), 0)
	}
	if h.Get("X-RateLimit-Remaining") == "0" {
		if reset, err := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64); err == nil {
			return max(time.Unix(reset, 0).Sub(now), 0)
		}
	}
	return defaultRateLimitWait
}
