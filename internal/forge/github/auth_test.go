package github

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/paddock-ci/paddock/internal/core"
)

func testKey(t *testing.T) (*rsa.PrivateKey, string) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
	return k, string(p)
}

// appServer mints installation tokens valid for ttl and checks every JWT.
type appServer struct {
	t         *testing.T
	key       *rsa.PublicKey
	now       func() time.Time
	ttl       time.Duration
	exchanges atomic.Int32
	apiCalls  atomic.Int32
	mu        sync.Mutex
	current   string
}

func (s *appServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	auth := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if r.Method == http.MethodPost && r.URL.Path == "/app/installations/99/access_tokens" {
		claims := &jwt.RegisteredClaims{}
		_, err := jwt.ParseWithClaims(auth, claims, func(*jwt.Token) (any, error) { return s.key, nil },
			jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(s.now))
		if err != nil {
			s.t.Errorf("bad app JWT: %v", err)
			writeJSON(w, 401, `{"message":"bad jwt"}`)
			return
		}
		life := claims.ExpiresAt.Sub(claims.IssuedAt.Time)
		if claims.Issuer != "12" || life > 11*time.Minute || !claims.IssuedAt.Time.Before(s.now()) {
			s.t.Errorf("claims iss=%s iat=%v exp=%v", claims.Issuer, claims.IssuedAt, claims.ExpiresAt)
		}
		n := s.exchanges.Add(1)
		s.mu.Lock()
		s.current = fmt.Sprintf("ghs_%d", n)
		s.mu.Unlock()
		writeJSON(w, 201, fmt.Sprintf(`{"token":"ghs_%d","expires_at":%q}`, n, s.now().Add(s.ttl).UTC().Format(time.RFC3339)))
		return
	}
	s.apiCalls.Add(1)
	s.mu.Lock()
	cur := s.current
	s.mu.Unlock()
	if auth != cur {
		writeJSON(w, 401, `{"message":"Bad credentials"}`)
		return
	}
	writeJSON(w, 200, `[]`)
}

func newAppClient(t *testing.T) (*Client, *appServer, func(time.Duration)) {
	t.Helper()
	k, pemKey := testKey(t)
	clock := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	as := &appServer{t: t, key: &k.PublicKey, now: now, ttl: time.Hour}
	srv := httptest.NewServer(as)
	t.Cleanup(srv.Close)
	c, err := New(core.Forge{APIURL: srv.URL + "/", Credential: core.Credential{
		Kind: core.CredentialApp, AppID: 12, InstallationID: 99, PrivateKeyPEM: pemKey}}, Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return c, as, func(d time.Duration) { mu.Lock(); clock = clock.Add(d); mu.Unlock() }
}

func TestAppTokenExchangedOnceAndCached(t *testing.T) {
	c, as, _ := newAppClient(t)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.RunnerDownloads(context.Background(), orgEnt); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if as.exchanges.Load() != 1 || as.apiCalls.Load() != 8 {
		t.Fatalf("exchanges=%d apiCalls=%d", as.exchanges.Load(), as.apiCalls.Load())
	}
}

func TestAppTokenRefreshedBeforeExpiry(t *testing.T) {
	c, as, advance := newAppClient(t)
	ctx := context.Background()
	if _, err := c.RunnerDownloads(ctx, orgEnt); err != nil {
		t.Fatal(err)
	}
	advance(54 * time.Minute) // 6 min left: still cached
	if _, err := c.RunnerDownloads(ctx, orgEnt); err != nil {
		t.Fatal(err)
	}
	if as.exchanges.Load() != 1 {
		t.Fatalf("exchanges = %d, want 1", as.exchanges.Load())
	}
	advance(2 * time.Minute) // 4 min left: inside the 5-minute margin
	if _, err := c.RunnerDownloads(ctx, orgEnt); err != nil {
		t.Fatal(err)
	}
	if as.exchanges.Load() != 2 {
		t.Fatalf("exchanges = %d, want 2", as.exchanges.Load())
	}
}

func TestAppTokenDroppedAfterUnauthorized(t *testing.T) {
	c, as, _ := newAppClient(t)
	ctx := context.Background()
	if _, err := c.RunnerDownloads(ctx, orgEnt); err != nil {
		t.Fatal(err)
	}
	as.mu.Lock()
	as.current = "revoked"
	as.mu.Unlock()
	if _, err := c.RunnerDownloads(ctx, orgEnt); err == nil {
		t.Fatal("want 401 error")
	}
	if _, err := c.RunnerDownloads(ctx, orgEnt); err != nil {
		t.Fatalf("after re-exchange: %v", err)
	}
	if as.exchanges.Load() != 2 {
		t.Fatalf("exchanges = %d, want 2", as.exchanges.Load())
	}
}

func TestAppTokenExchangeRefusalIsNotRetried(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		writeJSON(w, 401, `{"message":"A JSON web token could not be decoded"}`)
	}))
	defer srv.Close()
	_, pemKey := testKey(t)
	c, err := New(core.Forge{APIURL: srv.URL, Credential: core.Credential{
		Kind: core.CredentialApp, AppID: 12, InstallationID: 99, PrivateKeyPEM: pemKey}}, Options{RetryBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListRunners(context.Background(), orgEnt); err == nil || !strings.Contains(err.Error(), "token exchange") {
		t.Fatalf("err = %v", err)
	}
	if calls.Load() != 1 {
		t.Fatalf("exchange attempted %d times, want 1", calls.Load())
	}
}
