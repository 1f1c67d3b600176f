package lxd

// A small client for the LXD REST API over its unix socket, with only the
// calls this provider makes. Why not the official Go client
// (github.com/canonical/lxd/client): it is not served by the module proxy
// Paddock builds from, and its fork github.com/lxc/incus/client is marked
// not-to-use here (unfixed security reports). The API is documented and
// stable (https://documentation.ubuntu.com/lxd/en/latest/rest-api/); the
// calls below are the ones LXD 5.0 serves.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// apiError is an error answer of the daemon.
type apiError struct {
	Code    int
	Message string
}

func (e *apiError) Error() string { return fmt.Sprintf("lxd: %s (HTTP %d)", e.Message, e.Code) }

func isNotFound(err error) bool {
	var ae *apiError
	return errors.As(err, &ae) && ae.Code == http.StatusNotFound
}

// response is LXD's envelope for every answer.
type response struct {
	Type       string          `json:"type"` // sync, async or error
	Status     string          `json:"status"`
	StatusCode int             `json:"status_code"`
	Operation  string          `json:"operation"`
	ErrorCode  int             `json:"error_code"`
	Error      string          `json:"error"`
	Metadata   json.RawMessage `json:"metadata"`
}

// client talks to one daemon, in one project.
type client struct {
	http    *http.Client
	socket  string
	project string
}

func newClient(socket, project string) *client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		MaxIdleConns:    4,
		IdleConnTimeout: 30 * time.Second,
	}
	return &client{http: &http.Client{Transport: tr}, socket: socket, project: project}
}

// maxAnswer bounds what is read of one answer (a recursive instance list of
// a busy daemon is the largest).
const maxAnswer = 32 << 20

func (c *client) url(path string, q url.Values) string {
	if q == nil {
		q = url.Values{}
	}
	if c.project != "" {
		q.Set("project", c.project)
	}
	u := "http://lxd" + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// do sends one request and decodes the envelope; an async answer is
// returned as is (see wait).
func (c *client) do(ctx context.Context, method, path string, q url.Values, body io.Reader, hdr http.Header) (*response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.url(path, q), body)
	if err != nil {
		return nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("lxd at %s: %w (is the daemon running? `lxd waitready`)", c.socket, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, maxAnswer))
	if err != nil {
		return nil, fmt.Errorf("lxd %s %s: %w", method, path, err)
	}
	var r response
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("lxd %s %s: HTTP %d, not an LXD answer: %.200q", method, path, res.StatusCode, raw)
	}
	if r.Type == "error" || res.StatusCode >= 400 {
		code := r.ErrorCode
		if code == 0 {
			code = res.StatusCode
		}
		return nil, &apiError{Code: code, Message: r.Error}
	}
	return &r, nil
}

func (c *client) json(ctx context.Context, method, path string, q url.Values, in, out any) (*response, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	r, err := c.do(ctx, method, path, q, body, nil)
	if err != nil {
		return nil, err
	}
	if out != nil && len(r.Metadata) > 0 {
		if err := json.Unmarshal(r.Metadata, out); err != nil {
			return nil, fmt.Errorf("lxd %s %s: %w", method, path, err)
		}
	}
	return r, nil
}

// operation is the part of an LXD operation this client reads.
type operation struct {
	ID     string `json:"id"`
	Status string `json:"status"` // Running, Success, Failure, Cancelled
	Err    string `json:"err"`
}

// wait follows an async answer until its operation ends or ctx does. The
// daemon's wait endpoint is asked in slices, so a cancelled ctx returns
// promptly even on daemons whose wait cannot be interrupted.
func (c *client) wait(ctx context.Context, r *response) error {
	if r.Type != "async" {
		return nil
	}
	path := r.Operation
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	for {
		var op operation
		_, err := c.json(ctx, http.MethodGet, path+"/wait", url.Values{"timeout": {"5"}}, nil, &op)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		switch op.Status {
		case "Success":
			return nil
		case "Failure", "Cancelled":
			return &apiError{Code: http.StatusInternalServerError, Message: op.Err}
		}
	}
}

// instance is the part of an LXD instance this provider reads and writes.
type instance struct {
	Name      string                       `json:"name"`
	Type      string                       `json:"type,omitempty"`
	Status    string                       `json:"status,omitempty"`
	Config    map[string]string            `json:"config"`
	Devices   map[string]map[string]string `json:"devices"`
	Profiles  []string                     `json:"profiles"`
	CreatedAt time.Time                    `json:"created_at"`
}

type instanceSource struct {
	Type  string `json:"type"`
	Alias string `json:"alias"`
}

type instancesPost struct {
	instance
	Source instanceSource `json:"source"`
	Start  bool           `json:"start"`
}

func (c *client) getInstance(ctx context.Context, name string) (instance, error) {
	var in instance
	_, err := c.json(ctx, http.MethodGet, "/1.0/instances/"+url.PathEscape(name), nil, nil, &in)
	return in, err
}

func (c *client) listInstances(ctx context.Context) ([]instance, error) {
	var out []instance
	_, err := c.json(ctx, http.MethodGet, "/1.0/instances", url.Values{"recursion": {"1"}}, nil, &out)
	return out, err
}

func (c *client) createInstance(ctx context.Context, p instancesPost) error {
	r, err := c.json(ctx, http.MethodPost, "/1.0/instances", nil, p, nil)
	if err != nil {
		return err
	}
	return c.wait(ctx, r)
}

// setState starts or (forcibly) stops an instance.
func (c *client) setState(ctx context.Context, name, action string) error {
	body := map[string]any{"action": action, "timeout": 30, "force": action == "stop"}
	r, err := c.json(ctx, http.MethodPut, "/1.0/instances/"+url.PathEscape(name)+"/state", nil, body, nil)
	if err != nil {
		return err
	}
	return c.wait(ctx, r)
}

func (c *client) deleteInstance(ctx context.Context, name string) error {
	r, err := c.json(ctx, http.MethodDelete, "/1.0/instances/"+url.PathEscape(name), nil, nil, nil)
	if err != nil {
		return err
	}
	return c.wait(ctx, r)
}

// pushFile writes a file (or, with content nil, a directory) into an
// instance, owned by the instance's uid/gid 0, with the given mode. LXD does
// this on a stopped instance too, straight into its root file system.
func (c *client) pushFile(ctx context.Context, name, path string, content []byte, mode int) error {
	h := http.Header{}
	h.Set("X-LXD-uid", "0")
	h.Set("X-LXD-gid", "0")
	h.Set("X-LXD-mode", fmt.Sprintf("%04o", mode))
	h.Set("Content-Type", "application/octet-stream")
	if content == nil {
		h.Set("X-LXD-type", "directory")
	} else {
		h.Set("X-LXD-type", "file")
		h.Set("X-LXD-write", "overwrite")
	}
	_, err := c.do(ctx, http.MethodPost, "/1.0/instances/"+url.PathEscape(name)+"/files",
		url.Values{"path": {path}}, bytes.NewReader(content), h)
	return err
}

// imageAlias resolves an alias to its image's fingerprint.
func (c *client) imageAlias(ctx context.Context, alias string) (string, error) {
	var a struct {
		Target string `json:"target"`
	}
	_, err := c.json(ctx, http.MethodGet, "/1.0/images/aliases/"+url.PathEscape(alias), nil, nil, &a)
	return a.Target, err
}

// createProject makes a project sharing the default project's images,
// profiles and volumes (tests use one to keep their names apart).
func (c *client) createProject(ctx context.Context, name string) error {
	body := map[string]any{"name": name, "config": map[string]string{
		"features.images": "false", "features.profiles": "false", "features.storage.volumes": "false"}}
	_, err := c.json(ctx, http.MethodPost, "/1.0/projects", nil, body, nil)
	return err
}

func (c *client) deleteProject(ctx context.Context, name string) error {
	_, err := c.json(ctx, http.MethodDelete, "/1.0/projects/"+url.PathEscape(name), nil, nil, nil)
	return err
}

func (c *client) serverVersion(ctx context.Context) (string, error) {
	var s struct {
		Environment struct {
			ServerVersion string `json:"server_version"`
		} `json:"environment"`
	}
	_, err := c.json(ctx, http.MethodGet, "/1.0", nil, nil, &s)
	return s.Environment.ServerVersion, err
}
