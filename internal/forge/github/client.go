// Package github is Paddock's adapter for GitHub.com and GitHub Enterprise
// Server: a forge.Client on top of go-github, plus webhook verification and
// parsing for workflow_job deliveries.
package github

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	gh "github.com/google/go-github/v89/github"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
	"github.com/paddock-ci/paddock/internal/forge/forgehttp"
	"github.com/paddock-ci/paddock/internal/metrics"
)

// Options tune a Client. The zero value is usable.
type Options struct {
	// HTTPClient supplies the transport and timeout; nil means a client with a 30 s timeout.
	HTTPClient *http.Client
	// Metrics, if set, receives a ForgeCalls count per HTTP call and RateLimitRemaining.
	Metrics *metrics.Metrics
	// Now is the clock for token expiry and rate-limit resets; nil means time.Now.
	Now func() time.Time
	// MaxRetries bounds retries of 5xx answers and transport errors (0 means 3; negative disables).
	MaxRetries int
	// RetryBackoff is the first retry delay, doubled each time (0 means 250 ms).
	RetryBackoff time.Duration
}

// Client is a forge.Client for one GitHub endpoint and credential.
type Client struct {
	gh  *gh.Client
	now func() time.Time

	runs  forgehttp.ETagCache[int64, runJobs]   // per-run job listings for conditional polls (poll.go)
	lists forgehttp.ETagCache[string, runsPage] // first pages of the run listings by status (poll.go)
}

var _ forge.Client = (*Client)(nil)

// New builds a Client for f. f.APIURL is the REST root: https://api.github.com/,
// https://HOST/api/v3/ for GHES, or a simulator's http://127.0.0.1:PORT/.
func New(f core.Forge, opts Options) (*Client, error) {
	if f.Kind != "" && f.Kind != core.ForgeGitHub {
		return nil, fmt.Errorf("github client: forge %q is of kind %q", f.Name, f.Kind)
	}
	base, err := apiBase(f.APIURL)
	if err != nil {
		return nil, err
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	inner := hc.Transport
	if inner == nil {
		inner = http.DefaultTransport
	}
	label := f.Name
	if label == "" {
		label = f.ID
	}
	// Every HTTP call, including app-token exchanges, passes through the
	// forge HTTP layer: retries, rate-limit errors, and ForgeCalls reflecting
	// real rate-limit spend.
	measured := forgehttp.Transport(inner, forgehttp.Options{Forge: label, Metrics: opts.Metrics,
		Endpoints: endpoints(base.Path), MaxRetries: opts.MaxRetries, RetryBackoff: opts.RetryBackoff, Now: now})

	var auth http.RoundTripper
	switch f.Credential.Kind {
	case core.CredentialPAT:
		if f.Credential.Token == "" {
			return nil, errors.New("github client: PAT credential without a token")
		}
		auth = &bearerTransport{base: measured, token: func(*http.Request) (string, error) { return f.Credential.Token, nil }}
	case core.CredentialApp:
		src, err := newAppTokenSource(f.Credential, base, measured, hc.Timeout, now)
		if err != nil {
			return nil, err
		}
		auth = &bearerTransport{base: measured, token: src.token, onUnauthorized: src.invalidate}
	default:
		return nil, fmt.Errorf("github client: unsupported credential kind %q", f.Credential.Kind)
	}

	baseStr := base.String()
	c, err := gh.NewClient(
		gh.WithHTTPClient(&http.Client{Timeout: hc.Timeout, Jar: hc.Jar, CheckRedirect: hc.CheckRedirect}),
		gh.WithTransport(auth),
		gh.WithURLs(&baseStr, nil),
		// Paddock maps rate limits itself (to forge.RateLimitError) and wants every
		// call to reach the server, so go-github's client-side pre-check is off.
		gh.WithDisableRateLimitCheck(),
		gh.WithUserAgent("paddock"),
	)
	if err != nil {
		return nil, fmt.Errorf("github client: %w", err)
	}
	return &Client{gh: c, now: now}, nil
}

// apiBase parses and normalises the REST root so relative paths resolve under it.
func apiBase(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, errors.New("github client: forge has no api_url")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("github client: api_url %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("github client: api_url %q must be an absolute http(s) URL", raw)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	return u, nil
}

// bearerTransport sets the Authorization header from a token func.
type bearerTransport struct {
	base           http.RoundTripper
	token          func(*http.Request) (string, error)
	onUnauthorized func()
}

func (t *bearerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	tok, err := t.token(req)
	if err != nil {
		return nil, err
	}
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", "Bearer "+tok)
	resp, err := t.base.RoundTrip(r)
	// A revoked or expired installation token must not stay cached until its
	// nominal expiry; the next call mints a fresh one.
	if err == nil && resp.StatusCode == http.StatusUnauthorized && t.onUnauthorized != nil {
		t.onUnauthorized()
	}
	return resp, err
}

// validName matches GitHub owner, repository, organization and enterprise
// names; go-github puts them into paths unescaped, so anything else is refused.
var validName = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// checkEntity rejects entities whose names cannot be GitHub names, before any call.
func checkEntity(ent core.Entity) error {
	parts := []string{ent.Name}
	switch ent.Kind {
	case core.EntityRepository:
		parts = strings.Split(ent.Name, "/")
		if len(parts) != 2 {
			return fmt.Errorf("repository entity %q: name must be owner/repo", ent.Name)
		}
	case core.EntityOrganization, core.EntityEnterprise:
	default:
		return fmt.Errorf("entity %q: unknown kind %q", ent.Name, ent.Kind)
	}
	for _, p := range parts {
		if !validName.MatchString(p) || p == "." || p == ".." {
			return fmt.Errorf("%s entity %q: invalid name", ent.Kind, ent.Name)
		}
	}
	return nil
}
