// Package forgehttp is the HTTP layer under every forge adapter: one
// http.RoundTripper stack that retries transient failures, turns rate limits
// into *forge.RateLimitError (with Paddock's one Retry-After rule), counts
// calls in paddock_forge_calls_total by endpoint template and status, and
// keeps the validators of conditional requests. Adapters put their
// authentication above it; go-github takes it as its *http.Client transport.
package forgehttp

import (
	"context"
	"net/http"
	"time"

	"github.com/paddock-ci/paddock/internal/metrics"
)

// Options configure a Transport. The zero value retries 3 times from 250 ms
// and records no metrics.
type Options struct {
	// Forge is the forge label of the metrics (its name).
	Forge string
	// Metrics, if set, receives ForgeCalls and RateLimitRemaining.
	Metrics *metrics.Metrics
	// Endpoints names requests in ForgeCalls; nil names every one "other".
	Endpoints *Endpoints
	// MaxRetries bounds retries of 5xx answers and transport errors (0 means 3; negative disables).
	MaxRetries int
	// RetryBackoff is the first retry delay, doubled each time (0 means 250 ms).
	RetryBackoff time.Duration
	// Now is the clock for rate-limit resets; nil means time.Now.
	Now func() time.Time
}

// Transport wraps base (nil: http.DefaultTransport) in the layer, outermost
// first: rate-limit classification, retries, metrics. Metrics sit under the
// retries so every attempt is counted, and classification above them so a
// rate limit is never retried here: it goes back to the caller with its wait,
// and a scheduler (controller backoff, poller budget) decides when to return.
func Transport(base http.RoundTripper, o Options) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	if o.Endpoints == nil {
		o.Endpoints = &Endpoints{}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	var rt http.RoundTripper = &measure{base: base, forge: o.Forge, eps: o.Endpoints, m: o.Metrics}
	rt = newRetry(rt, o.MaxRetries, o.RetryBackoff)
	return &classify{base: rt, now: o.Now}
}

type ctxKey int

const (
	keyNoRetry ctxKey = iota
	keyIdempotent
)

// NoRetry marks requests made with ctx as sent once: for callers that count
// their own requests against a budget and own their backoff (the poller).
func NoRetry(ctx context.Context) context.Context {
	return context.WithValue(ctx, keyNoRetry, true)
}

// Idempotent marks requests made with ctx as safe to repeat although their
// method is not (a POST whose repeat cannot create a second object, such as
// GitHub's generate-jitconfig, which refuses a runner name twice).
func Idempotent(ctx context.Context) context.Context {
	return context.WithValue(ctx, keyIdempotent, true)
}

// retryable reports whether a request may be repeated after a transient failure.
func retryable(req *http.Request) bool {
	ctx := req.Context()
	if no, _ := ctx.Value(keyNoRetry).(bool); no {
		return false
	}
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete:
		return true
	}
	idem, _ := ctx.Value(keyIdempotent).(bool)
	return idem
}
