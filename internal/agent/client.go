package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

const (
	maxAttempts = 8                // per request, for transient failures
	maxBackoff  = 5 * time.Second  // between attempts
	pollTimeout = 45 * time.Second // the sim holds a poll for at most 30 s
)

// statusError is a non-2xx answer.
type statusError struct {
	code int
	body string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("HTTP %d: %s", e.code, strings.TrimSpace(e.body))
}

// transient says whether retrying may help: network errors, 5xx and 429.
func transient(err error) bool {
	var se *statusError
	if errors.As(err, &se) {
		return se.code >= 500 || se.code == http.StatusTooManyRequests
	}
	return err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

type client struct {
	cfg  jitPayload
	jit  string // the encoded config, presented once on connect
	base string
	hc   *http.Client
}

func newClient(cfg jitPayload, jit string) *client {
	return &client{cfg: cfg, jit: strings.TrimSpace(jit), base: strings.TrimSuffix(cfg.SimURL, "/"), hc: &http.Client{Timeout: pollTimeout}}
}

// do sends one request and returns the status and body of a 2xx answer.
func (c *client) do(ctx context.Context, method, path string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.cfg.Secret)
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, nil, err
	}
	if resp.StatusCode >= 300 {
		return resp.StatusCode, nil, &statusError{resp.StatusCode, string(data)}
	}
	return resp.StatusCode, data, nil
}

// retry runs one request, retrying transient failures with exponential backoff.
func (c *client) retry(ctx context.Context, method, path string, body any) (int, []byte, error) {
	wait := 200 * time.Millisecond
	for attempt := 1; ; attempt++ {
		code, data, err := c.do(ctx, method, path, body)
		if err == nil || !transient(err) || attempt == maxAttempts {
			return code, data, err
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return 0, nil, ctx.Err()
		}
		wait = min(wait*2, maxBackoff)
	}
}

func (c *client) connect(ctx context.Context) error {
	_, _, err := c.retry(ctx, http.MethodPost, "/_sim/runner/connect", map[string]string{"jit": c.jit})
	var se *statusError
	if errors.As(err, &se) && se.code < 500 && se.code != http.StatusTooManyRequests {
		return fmt.Errorf("%w: %v", ErrRefused, err)
	}
	if err != nil {
		return fmt.Errorf("connecting: %w", err)
	}
	return nil
}

// waitJob long-polls until the sim hands out a job.
func (c *client) waitJob(ctx context.Context) (assignedJob, error) {
	for {
		code, data, err := c.retry(ctx, http.MethodGet, "/_sim/runner/job", nil)
		var se *statusError
		switch {
		case errors.As(err, &se) && (se.code == http.StatusGone || se.code == http.StatusNotFound):
			return assignedJob{}, ErrRemoved
		case err != nil:
			return assignedJob{}, fmt.Errorf("waiting for a job: %w", err)
		case code == http.StatusNoContent:
			continue
		}
		var job assignedJob
		if err := json.Unmarshal(data, &job); err != nil || job.ID == 0 {
			return job, fmt.Errorf("bad job from sim: %q", data)
		}
		return job, nil
	}
}

func (c *client) complete(ctx context.Context, jobID int64, conclusion string) error {
	_, _, err := c.retry(ctx, http.MethodPost, "/_sim/runner/complete",
		completeRequest{JobID: jobID, Conclusion: conclusion})
	return err
}
