package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// APIError is a failed API call: what the server said, and what to do next.
type APIError struct {
	Status  int
	Message string
	Hint    string
}

func (e *APIError) Error() string { return e.Message }

// client is a thin JSON client for /api/v1.
type client struct {
	base  string
	token string
	http  *http.Client
}

func (g *globals) client() (*client, error) {
	u, err := url.Parse(g.server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, &APIError{Message: fmt.Sprintf("--server %q is not an http(s) URL", g.server),
			Hint: "set --server or PADDOCK_URL, e.g. " + defaultServer}
	}
	if g.token == "" {
		return nil, &APIError{Message: "no admin token given",
			Hint: "set PADDOCK_ADMIN_TOKEN (or --token) to the admin token from the server's config"}
	}
	return &client{base: strings.TrimSuffix(g.server, "/"), token: g.token,
		http: &http.Client{Timeout: 30 * time.Second}}, nil
}

// do sends body as JSON (if non-nil) and returns the raw response body of a 2xx answer.
func (c *client) do(ctx context.Context, method, path string, q url.Values, body any) ([]byte, error) {
	data, _, err := c.doHeader(ctx, method, path, q, body, nil)
	return data, err
}

// doHeader is do with extra request headers, also returning the answer's headers.
func (c *client) doHeader(ctx context.Context, method, path string, q url.Values, body any, hdr http.Header) ([]byte, http.Header, error) {
	target := c.base + path
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return nil, nil, err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, nil, c.transportError(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return nil, nil, fmt.Errorf("reading the answer from %s: %w", c.base, err)
	}
	if resp.StatusCode/100 == 2 {
		return data, resp.Header, nil
	}
	return nil, nil, apiError(resp.StatusCode, data, path)
}

func (c *client) transportError(err error) error {
	hint := "set --server or PADDOCK_URL if the server runs elsewhere"
	if errors.Is(err, syscall.ECONNREFUSED) {
		return &APIError{Message: fmt.Sprintf("cannot connect to %s (connection refused)", c.base),
			Hint: fmt.Sprintf("is `paddock serve` running at %s? %s", c.base, hint)}
	}
	var ue *url.Error
	if errors.As(err, &ue) && ue.Timeout() {
		return &APIError{Message: fmt.Sprintf("no answer from %s in time", c.base), Hint: hint}
	}
	return &APIError{Message: fmt.Sprintf("request to %s failed: %v", c.base, err), Hint: hint}
}

// apiError reads the server's {"error": …} body and adds a next step.
func apiError(status int, data []byte, path string) *APIError {
	var body struct {
		Error string `json:"error"`
	}
	msg := ""
	if json.Unmarshal(data, &body) == nil {
		msg = body.Error
	}
	if msg == "" {
		// Not our server (a proxy, a wrong port): show what came back.
		snippet := strings.TrimSpace(string(data))
		if len(snippet) > 200 {
			snippet = snippet[:200] + "…"
		}
		msg = fmt.Sprintf("server answered %d %s: %s", status, http.StatusText(status), snippet)
	}
	e := &APIError{Status: status, Message: msg}
	resource := resourceOf(path)
	switch status {
	case http.StatusUnauthorized:
		e.Hint = "check PADDOCK_ADMIN_TOKEN (or --token): it must match the server's admin token"
	case http.StatusNotFound:
		if resource != "" {
			e.Hint = fmt.Sprintf("see what exists with `paddock %s list`", resource)
		}
	case http.StatusBadRequest:
		if resource != "" {
			e.Hint = fmt.Sprintf("see `paddock %s --help` for the accepted values", resource)
		}
	case http.StatusPreconditionFailed:
		e.Hint = "someone changed it meanwhile; run the command again to apply your change to the current version"
	case http.StatusNotImplemented:
		e.Hint = "this server does not support that operation"
	}
	return e
}

// resourceOf maps /api/v1/pools/x to the CLI noun "pool".
func resourceOf(path string) string {
	rest, ok := strings.CutPrefix(path, "/api/v1/")
	if !ok {
		return ""
	}
	seg, _, _ := strings.Cut(rest, "/")
	switch seg {
	case "forges", "pools", "instances", "jobs":
		return strings.TrimSuffix(seg, "s")
	case "entities":
		return "entity"
	}
	return ""
}

// ref escapes an object reference for a path; entity names carry a slash.
func ref(s string) string { return url.PathEscape(s) }
