package gitea

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
	"github.com/paddock-ci/paddock/internal/forge/forgehttp"
)

// RegisterPath is the runner registration RPC (Connect protocol, unary, JSON
// codec) that act_runner and forgejo-runner call; Gitea serves the runner
// service under /api/actions.
const RegisterPath = "/api/actions/runner.v1.RunnerService/Register"

// RunnerFile is the `.runner` file act_runner and forgejo-runner read: the
// per-runner credentials a machine receives. It never holds the
// registration token.
type RunnerFile struct {
	Warning   string   `json:"WARNING"`
	ID        int64    `json:"id"`
	UUID      string   `json:"uuid"`
	Name      string   `json:"name"`
	Token     string   `json:"token"`
	Address   string   `json:"address"`
	Labels    []string `json:"labels"`
	Ephemeral bool     `json:"ephemeral,omitempty"`
}

// EncodeRunnerFile packs a RunnerFile into forge.JITConfig.Encoded.
func EncodeRunnerFile(rf RunnerFile) string {
	b, _ := json.Marshal(rf)
	return base64.StdEncoding.EncodeToString(b)
}

// DecodeRunnerFile unpacks what EncodeRunnerFile made.
func DecodeRunnerFile(encoded string) (RunnerFile, error) {
	var rf RunnerFile
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(encoded))
	if err != nil {
		return rf, fmt.Errorf(".runner credentials are not base64: %w", err)
	}
	if err := json.Unmarshal(raw, &rf); err != nil {
		return rf, fmt.Errorf(".runner credentials are not JSON: %w", err)
	}
	if rf.UUID == "" || rf.Token == "" || rf.Address == "" {
		return rf, errors.New(".runner credentials lack uuid, token or address")
	}
	return rf, nil
}

var validName = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// scopePath is the REST prefix of an entity: repos/{owner}/{repo},
// orgs/{org}, or admin for the instance (Paddock's "enterprise" kind).
func scopePath(ent core.Entity) (string, error) {
	parts := []string{ent.Name}
	var prefix string
	switch ent.Kind {
	case core.EntityRepository:
		parts = strings.Split(ent.Name, "/")
		if len(parts) != 2 {
			return "", fmt.Errorf("repository entity %q: name must be owner/repo", ent.Name)
		}
		prefix = "repos/"
	case core.EntityOrganization:
		prefix = "orgs/"
	case core.EntityEnterprise:
		return "admin", nil // the whole instance; the entity's name is only a label
	default:
		return "", fmt.Errorf("entity %q: unknown kind %q", ent.Name, ent.Kind)
	}
	for _, p := range parts {
		if !validName.MatchString(p) || p == "." || p == ".." {
			return "", fmt.Errorf("%s entity %q: invalid name", ent.Kind, ent.Name)
		}
	}
	return prefix + strings.Join(parts, "/"), nil
}

// registrationToken returns the scope's registration token, asking the forge
// only when none is cached. Gitea answers the same token until it is
// revoked, so one call serves every runner until then.
func (c *Client) registrationToken(ctx context.Context, scope string) (string, error) {
	c.mu.Lock()
	tok := c.regTokens[scope]
	c.mu.Unlock()
	if tok != "" {
		return tok, nil
	}
	method, path := http.MethodGet, scope+"/actions/runners/registration-token"
	if c.has(c.fl.PostTokenFrom) {
		method = http.MethodPost
	}
	if scope == "admin" {
		// The legacy instance path is GET-only; the POST one sits under actions/.
		if method == http.MethodGet {
			path = "admin/runners/registration-token"
		} else {
			path = "admin/actions/runners/registration-token"
		}
	}
	var out struct {
		Token string `json:"token"`
	}
	// The POST answers the scope's current token, creating one only if there
	// is none: safe to retry.
	if err := c.do(forgehttp.Idempotent(ctx), method, path, nil, &out); err != nil {
		return "", fmt.Errorf("registration token for %s: %w", scope, err)
	}
	if out.Token == "" {
		return "", fmt.Errorf("registration token for %s: empty answer", scope)
	}
	c.mu.Lock()
	c.regTokens[scope] = out.Token
	c.mu.Unlock()
	return out.Token, nil
}

func (c *Client) forgetToken(scope, tok string) {
	c.mu.Lock()
	if c.regTokens[scope] == tok {
		delete(c.regTokens, scope)
	}
	c.mu.Unlock()
}

// JITConfig registers a runner on the manager and returns its `.runner`
// credentials, base64-encoded, as the single-use config. A registration
// token the forge no longer accepts (revoked) is dropped and fetched once
// more; if that fails too, the error says so.
//
// Idempotency: the instance name is the runner name. Gitea and Forgejo
// accept any number of runners with one name, so a retry after a crash or a
// timeout (the forge registered, Paddock never recorded the id) would leave
// a second registration. Earlier registrations of the name are therefore
// removed first (see reclaimName), and only then is the runner registered;
// a request marked FirstAttempt has none and skips the look-up.
// Without a runner API (Forgejo before 15, or endpoints answering 404)
// nothing can be looked up or removed: the retry registers anew and the
// earlier registration stays behind, offline, as an entry whose credentials
// never reached a machine, so it never takes a job.
func (c *Client) JITConfig(ctx context.Context, ent core.Entity, req forge.JITRequest) (forge.JITConfig, error) {
	scope, err := scopePath(ent)
	if err != nil {
		return forge.JITConfig{}, err
	}
	if req.Name == "" || len(req.Labels) == 0 {
		return forge.JITConfig{}, fmt.Errorf("register runner: name and at least one label are required")
	}
	// A first attempt has no earlier registration to find: the listing (a
	// call, and pages of them on a busy scope) is only for retries.
	if !req.FirstAttempt {
		if err := c.reclaimName(ctx, ent, req.Name); err != nil {
			return forge.JITConfig{}, fmt.Errorf("register runner %q at %s: %w", req.Name, scope, err)
		}
	}
	tok, err := c.registrationToken(ctx, scope)
	if err != nil {
		return forge.JITConfig{}, err
	}
	reg, err := c.register(ctx, tok, req)
	if errors.Is(err, errTokenRejected) {
		c.forgetToken(scope, tok)
		fresh, ferr := c.registrationToken(ctx, scope)
		if ferr != nil {
			return forge.JITConfig{}, fmt.Errorf("register runner %q: the registration token of %s was revoked (%v) and getting a new one failed: %w", req.Name, scope, err, ferr)
		}
		reg, err = c.register(ctx, fresh, req)
	}
	if err != nil {
		return forge.JITConfig{}, fmt.Errorf("register runner %q at %s: %w", req.Name, scope, err)
	}
	rf := RunnerFile{
		Warning: "Written by Paddock for one job; this machine is destroyed afterwards.",
		ID:      reg.ID, UUID: reg.UUID, Name: reg.Name, Token: reg.Token, Address: c.web,
		Ephemeral: reg.Ephemeral,
	}
	// act_runner label syntax: name:schema. The machine is the job's sandbox,
	// so jobs run on the host.
	for _, l := range req.Labels {
		rf.Labels = append(rf.Labels, l+":host")
	}
	return forge.JITConfig{RunnerID: reg.ID, Encoded: EncodeRunnerFile(rf)}, nil
}

// errTokenRejected marks a Register failure caused by the registration token.
var errTokenRejected = errors.New("registration token rejected")

// registered is RegisterResponse.runner. protojson writes int64 as a string.
type registered struct {
	ID        flexInt `json:"id"`
	UUID      string  `json:"uuid"`
	Token     string  `json:"token"`
	Name      string  `json:"name"`
	Ephemeral bool    `json:"ephemeral"`
}

type flexInt int64

func (f *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	n, err := strconv.ParseInt(s, 10, 64)
	*f = flexInt(n)
	return err
}

type regResult struct {
	ID          int64
	UUID, Token string
	Name        string
	Ephemeral   bool
}

// register calls RunnerService/Register with the Connect protocol's unary
// JSON form (POST, application/json, Connect-Protocol-Version: 1).
func (c *Client) register(ctx context.Context, regToken string, req forge.JITRequest) (regResult, error) {
	msg := map[string]any{"name": req.Name, "token": regToken, "version": "paddock", "labels": req.Labels}
	if c.has(c.fl.EphemeralFrom) {
		msg["ephemeral"] = true
	}
	body, _ := json.Marshal(msg)
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.web+RegisterPath, bytes.NewReader(body))
	if err != nil {
		return regResult{}, err
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Connect-Protocol-Version", "1")
	resp, err := c.hc.Do(hreq)
	if err != nil {
		return regResult{}, unwrapRateLimit(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return regResult{}, rpcError(resp, data)
	}
	var out struct {
		Runner *registered `json:"runner"`
	}
	if err := json.Unmarshal(data, &out); err != nil || out.Runner == nil || out.Runner.UUID == "" || out.Runner.Token == "" {
		return regResult{}, fmt.Errorf("register RPC: answer lacks runner uuid or token: %s", bytes.TrimSpace(data))
	}
	r := out.Runner
	return regResult{ID: int64(r.ID), UUID: r.UUID, Token: r.Token, Name: r.Name, Ephemeral: r.Ephemeral}, nil
}

// rpcError reads a Connect error body ({"code": "...", "message": "..."}).
// A rejected registration token is known by its message, not its status:
// Gitea answers a plain error (Connect "unknown", HTTP 500) and Forgejo
// invalid_argument (HTTP 400), both saying "runner registration token not
// found" or "… has been invalidated, please use the latest one" (after
// "Reset registration token" in the web UI); Gitea before 1.20 said "runner
// token not found".
func rpcError(resp *http.Response, data []byte) error {
	var e struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	_ = json.Unmarshal(data, &e)
	if e.Message == "" {
		e.Message = strings.TrimSpace(string(data))
	}
	err := fmt.Errorf("register RPC: HTTP %d %s: %s", resp.StatusCode, e.Code, e.Message)
	if tokenRejected(e.Message) {
		return fmt.Errorf("%w: %w", errTokenRejected, err)
	}
	return err
}

func tokenRejected(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "registration token") || strings.Contains(m, "runner token not found") ||
		strings.Contains(m, "token has been invalidated")
}
