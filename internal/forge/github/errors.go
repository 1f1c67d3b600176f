package github

import (
	"errors"
	"fmt"
	"net/http"

	gh "github.com/google/go-github/v89/github"

	"github.com/paddock-ci/paddock/internal/forge"
)

// call runs one API operation and maps its error. Retries of 5xx answers and
// transport failures, and the recognition of rate limits, happen below in
// the forge HTTP layer (internal/forge/forgehttp).
func call[T any](op func() (T, *gh.Response, error)) (T, *gh.Response, error) {
	v, resp, err := op()
	return v, resp, mapError(err)
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

// mapError turns go-github errors into the forge package's vocabulary: a
// rate limit (recognised by the HTTP layer) is returned as the bare
// *forge.RateLimitError, and 404s wrap forge.ErrNotFound.
func mapError(err error) error {
	if err == nil {
		return nil
	}
	var fr *forge.RateLimitError
	if errors.As(err, &fr) {
		return fr
	}
	if statusOf(err) == http.StatusNotFound {
		return fmt.Errorf("%w: %w", forge.ErrNotFound, err)
	}
	return err
}

func messageOf(err error) string {
	var er *gh.ErrorResponse
	if errors.As(err, &er) {
		return er.Message
	}
	return ""
}
