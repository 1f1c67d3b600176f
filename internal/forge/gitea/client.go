package gitea

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
	"github.com/paddock-ci/paddock/internal/forge/forgehttp"
	"github.com/paddock-ci/paddock/internal/metrics"
)

// Options tune a Client. The zero value is usable except for Downloads,
// which RunnerDownloads needs (Gitea and Forgejo publish no download API).
type Options struct {
	HTTPClient *http.Client
	Metrics    *metrics.Metrics
	// Downloads are the runner binaries machines fetch (URL + sha256).
	Downloads []forge.RunnerTool
	// MaxRetries bounds retries of 5xx answers and transport errors (0 means 3; negative disables).
	MaxRetries   int
	RetryBackoff time.Duration
}

// Client is a forge.Client for one Gitea or Forgejo instance.
//
// The REST calls are written by hand rather than through
// code.gitea.io/sdk/gitea: Forgejo needs GET where the SDK POSTs
// (registration tokens) and a different job-search endpoint, the SDK gates
// endpoints on its own version table (an extra /version call per client),
// and the runner registration RPC is outside the SDK anyway. A dozen small
// JSON calls through one helper keep both flavors in one code path.
type Client struct {
	fl    Flavor
	name  string
	api   *url.URL // .../api/v1/
	web   string   // instance root, no trailing slash: the RPC base and the runner's address
	token string
	hc    *http.Client // on the forge HTTP layer
	tools []forge.RunnerTool

	version    Version
	rawVersion string

	mu        sync.Mutex
	regTokens map[string]string // scope path -> registration token (kept on the manager only)

	// noRunnerAPI: the runner endpoints answered 404 although the version
	// should have them (a proxy, a fork): treated from then on as a version
	// without the API, never as "every runner is gone".
	noRunnerAPI atomic.Bool
}

var _ forge.Client = (*Client)(nil)

// New builds a Client and detects the forge's version (GET /api/v1/version).
// A forge older than the flavor's minimum is refused with an error naming the
// version (wrapping ErrTooOld).
func New(ctx context.Context, f core.Forge, opts Options) (*Client, error) {
	fl, err := FlavorOf(f.Kind)
	if err != nil {
		return nil, err
	}
	if f.Credential.Kind != core.CredentialPAT || f.Credential.Token == "" {
		return nil, fmt.Errorf("%s forge %q: needs a pat credential with a token (write:repository, write:organization or admin scope)", fl.Name, f.Name)
	}
	api, err := url.Parse(f.APIURL)
	if err != nil || (api.Scheme != "http" && api.Scheme != "https") || api.Host == "" {
		return nil, fmt.Errorf("%s forge %q: api_url %q must be an absolute http(s) URL such as https://git.example.com/api/v1/", fl.Name, f.Name, f.APIURL)
	}
	if !strings.HasSuffix(api.Path, "/") {
		api.Path += "/"
	}
	web := strings.TrimRight(f.WebURL, "/")
	if web == "" {
		web = strings.TrimSuffix(strings.TrimRight(api.String(), "/"), "/api/v1")
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	c := &Client{fl: fl, name: f.Name, api: api, web: web, token: f.Credential.Token,
		tools: opts.Downloads, regTokens: map[string]string{}}
	if c.name == "" {
		c.name = f.ID
	}
	webURL, err := url.Parse(web)
	if err != nil {
		return nil, fmt.Errorf("%s forge %q: web_url %q: %w", fl.Name, f.Name, web, err)
	}
	// Every call, the registration RPC included, goes through the forge HTTP
	// layer: retries, rate-limit errors and ForgeCalls.
	c.hc = &http.Client{Timeout: hc.Timeout, Jar: hc.Jar, CheckRedirect: hc.CheckRedirect,
		Transport: forgehttp.Transport(hc.Transport, forgehttp.Options{Forge: c.name, Metrics: opts.Metrics,
			Endpoints: endpoints(api.Path, webURL.Path), MaxRetries: opts.MaxRetries, RetryBackoff: opts.RetryBackoff})}
	if err := c.detect(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Client) detect(ctx context.Context) error {
	var v struct {
		Version string `json:"version"`
	}
	if err := c.do(ctx, http.MethodGet, "version", nil, &v); err != nil {
		return fmt.Errorf("%s forge %q: detect version: %w", c.fl.Name, c.name, err)
	}
	ver, forgejo, err := ParseVersion(v.Version)
	if err != nil {
		return fmt.Errorf("%s forge %q: %w", c.fl.Name, c.name, err)
	}
	switch {
	case forgejo && c.fl.Kind == core.ForgeGitea:
		return fmt.Errorf("forge %q reports version %q, which is Forgejo: set kind: forgejo", c.name, v.Version)
	case !ver.AtLeast(c.fl.Min):
		return fmt.Errorf("%s forge %q runs %s %s; Paddock needs %s %s or later (workflow_job webhooks, ephemeral runners): %w",
			c.fl.Name, c.name, c.fl.Name, v.Version, c.fl.Name, c.fl.Min, ErrTooOld)
	}
	c.version, c.rawVersion = ver, v.Version
	return nil
}

// Version is the version the forge reported when the client was built.
func (c *Client) Version() (Version, string) { return c.version, c.rawVersion }

// Capabilities are the flavor's and the detected version's. Without
// ephemeral registration (Forgejo before 15) the forge keeps a runner after
// its job, so Paddock must delete it; where the forge has no runner API
// either, the registration stays behind, offline, whatever Paddock does.
func (c *Client) Capabilities() forge.Capabilities {
	caps := forge.Capabilities{Conditional: c, RunnerAPI: c.hasRunnerAPI(), EphemeralRunners: c.has(c.fl.EphemeralFrom),
		RunnerKind: c.fl.RunnerKind, Labels: forge.LabelRulesFor(c.fl.Kind)}
	if c.fl.JobSearchNeedsLabels {
		caps.Labelled = c
	}
	return caps
}

// has reports whether the forge's version has a feature that appeared in min.
func (c *Client) has(min Version) bool { return c.version.AtLeast(min) }

// hasRunnerAPI reports whether runner list/get/delete can be used.
func (c *Client) hasRunnerAPI() bool { return c.has(c.fl.RunnerAPI) && !c.noRunnerAPI.Load() }

// unsupported builds the error for a feature this forge version lacks.
func (c *Client) unsupported(what string, min Version) error {
	if min == never {
		return fmt.Errorf("%s has no %s: %w", c.fl.Name, what, errors.ErrUnsupported)
	}
	return fmt.Errorf("%s %s has no %s (needs %s): %w", c.fl.Name, c.rawVersion, what, min, errors.ErrUnsupported)
}

// apiError is a non-2xx REST answer.
type apiError struct {
	Status  int
	Message string
}

func (e *apiError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Status, e.Message) }

// do sends one REST call (path relative to api/v1/) and decodes a JSON answer
// into out. The HTTP layer retries 5xx and transport errors (for idempotent
// methods) and returns rate limits as forge.RateLimitError; 404 wraps
// forge.ErrNotFound.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, out any) error {
	u := c.api.JoinPath(path)
	if q != nil {
		u.RawQuery = q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "token "+c.token)
	req.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return unwrapRateLimit(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		ae := &apiError{Status: resp.StatusCode, Message: forgehttp.Message(resp.StatusCode, body)}
		if resp.StatusCode == http.StatusNotFound {
			return fmt.Errorf("%w: %w", forge.ErrNotFound, ae)
		}
		return ae
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("%s %s: bad JSON answer: %w", method, path, err)
	}
	return nil
}

// unwrapRateLimit returns a rate limit as the bare *forge.RateLimitError
// (http.Client wraps transport errors in *url.Error), anything else as is.
func unwrapRateLimit(err error) error {
	var rl *forge.RateLimitError
	if errors.As(err, &rl) {
		return rl
	}
	return err
}

// endpoints names the paths this adapter calls for the forge_calls metric:
// REST paths relative to api/v1/, and the registration RPC as
// "/rpc/runner.v1.RunnerService/Register".
func endpoints(apiPath, webPath string) *forgehttp.Endpoints {
	tpls := []string{"/version", "/admin/runners/registration-token"}
	for _, scope := range []string{"/repos/{owner}/{repo}", "/orgs/{org}", "/admin"} {
		for _, rest := range []string{"/actions/jobs", "/actions/runners", "/actions/runners/{id}",
			"/actions/runners/jobs", "/actions/runners/registration-token"} {
			tpls = append(tpls, scope+rest)
		}
	}
	return (&forgehttp.Endpoints{}).
		Mount(apiPath, "", tpls...).
		Mount(strings.TrimSuffix(webPath, "/")+"/api/actions", "/rpc", strings.TrimPrefix(RegisterPath, "/api/actions"))
}
