package forgehttp

import (
	"context"
	"net/http"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// newRetry builds the retrying layer on go-retryablehttp (already used by the
// scale-set client) with Paddock's policy instead of the library's defaults:
// only 5xx answers and transport failures are retried, never 4xx (the library
// retries 429 and sleeps out its Retry-After, however long the forge asks,
// holding the caller), and the backoff is plain doubling from RetryBackoff, as
// the adapters did before, so waits stay within the callers' call timeouts.
func newRetry(base http.RoundTripper, maxRetries int, backoff time.Duration) http.RoundTripper {
	switch {
	case maxRetries == 0:
		maxRetries = 3
	case maxRetries < 0:
		maxRetries = 0
	}
	if backoff <= 0 {
		backoff = 250 * time.Millisecond
	}
	rc := &retryablehttp.Client{
		// The library sends through an *http.Client; this one only carries the
		// transport, so redirects, cookies and timeouts stay with the caller's client.
		HTTPClient: &http.Client{Transport: base, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}},
		RetryMax:     maxRetries,
		RetryWaitMin: backoff,
		RetryWaitMax: backoff << maxRetries,
		CheckRetry:   checkRetry,
		Backoff: func(lo, hi time.Duration, attempt int, _ *http.Response) time.Duration {
			return min(lo<<attempt, hi)
		},
		// The last answer or error goes back as it is, not as "giving up after n attempts".
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
	}
	return &retry{once: base, retrying: &retryablehttp.RoundTripper{Client: rc}}
}

func checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if err != nil {
		// A certificate or URL error will not heal by itself; the library's
		// policy knows which those are.
		return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
	}
	return resp.StatusCode >= 500, nil
}

// retry sends idempotent requests through the retrying client and the rest once.
type retry struct {
	once     http.RoundTripper
	retrying http.RoundTripper
}

func (t *retry) RoundTrip(req *http.Request) (*http.Response, error) {
	if !retryable(req) {
		return t.once.RoundTrip(req)
	}
	return t.retrying.RoundTrip(req)
}
