package github

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	gh "github.com/google/go-github/v89/github"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge/forgehttp"
)

const (
	// GitHub rejects app JWTs living longer than 10 minutes; 9 leaves room for clock skew.
	jwtLifetime = 9 * time.Minute
	// iat is backdated because GitHub refuses tokens "issued in the future" when clocks drift.
	jwtBackdate = 60 * time.Second
	// Installation tokens last an hour; renewing 5 minutes early means a token
	// never expires in the middle of a burst of calls.
	tokenRefreshMargin = 5 * time.Minute
)

// appTokenSource mints and caches GitHub App installation tokens. Safe for
// concurrent use; concurrent callers share one exchange.
type appTokenSource struct {
	appID, installationID int64
	key                   *rsa.PrivateKey
	apps                  *gh.Client // authenticates as the app (JWT), only for token exchange
	now                   func() time.Time

	mu      sync.Mutex
	tok     string
	expires time.Time
}

func newAppTokenSource(c core.Credential, base *url.URL, rt http.RoundTripper, timeout time.Duration, now func() time.Time) (*appTokenSource, error) {
	if c.AppID <= 0 || c.InstallationID <= 0 {
		return nil, errors.New("github client: app credential needs app_id and installation_id")
	}
	key, err := jwt.ParseRSAPrivateKeyFromPEM([]byte(c.PrivateKeyPEM))
	if err != nil {
		return nil, fmt.Errorf("github client: app private key: %w", err)
	}
	s := &appTokenSource{appID: c.AppID, installationID: c.InstallationID, key: key, now: now}
	baseStr := base.String()
	jwtAuth := &bearerTransport{base: rt, token: func(*http.Request) (string, error) { return s.appJWT() }}
	s.apps, err = gh.NewClient(gh.WithTransport(jwtAuth), gh.WithTimeout(timeout), gh.WithURLs(&baseStr, nil),
		gh.WithDisableRateLimitCheck(), gh.WithUserAgent("paddock"))
	if err != nil {
		return nil, fmt.Errorf("github client: %w", err)
	}
	return s, nil
}

// appJWT signs the short-lived JWT that authenticates as the app itself.
func (s *appTokenSource) appJWT() (string, error) {
	now := s.now()
	claims := jwt.RegisteredClaims{
		Issuer:    strconv.FormatInt(s.appID, 10),
		IssuedAt:  jwt.NewNumericDate(now.Add(-jwtBackdate)),
		ExpiresAt: jwt.NewNumericDate(now.Add(jwtLifetime)),
	}
	return jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(s.key)
}

// token returns a valid installation token, exchanging a new one when the
// cached one is missing or within the refresh margin of expiry.
func (s *appTokenSource) token(req *http.Request) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok != "" && s.now().Before(s.expires.Add(-tokenRefreshMargin)) {
		return s.tok, nil
	}
	tok, exp, err := s.exchange(req)
	if err != nil {
		return "", err
	}
	s.tok, s.expires = tok, exp
	return tok, nil
}

func (s *appTokenSource) invalidate() {
	s.mu.Lock()
	s.tok = ""
	s.mu.Unlock()
}

func (s *appTokenSource) exchange(orig *http.Request) (string, time.Time, error) {
	// Minting an installation token twice is harmless: the exchange may be retried.
	ctx := forgehttp.Idempotent(orig.Context())
	tok, _, err := s.apps.Apps.CreateInstallationToken(ctx, s.installationID, &gh.InstallationTokenOptions{})
	if err != nil {
		return "", time.Time{}, fmt.Errorf("github app: installation %d token exchange: %w", s.installationID, mapError(err))
	}
	if tok.GetToken() == "" {
		return "", time.Time{}, fmt.Errorf("github app: installation %d token exchange answered no token", s.installationID)
	}
	return tok.GetToken(), tok.GetExpiresAt().Time, nil
}
