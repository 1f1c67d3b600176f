package ui_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/store"
	"github.com/paddock-ci/paddock/internal/testutil/teststore"
	"github.com/paddock-ci/paddock/internal/ui"
)

// dash serves the dashboard alone on a store with one pool.
func dash(t *testing.T) (*httptest.Server, *poolState) {
	t.Helper()
	st := teststore.Open(t)
	ctx := context.Background()
	f := core.Forge{Name: "gh", Kind: core.ForgeGitHub, APIURL: "https://api.github.com/", WebURL: "https://github.com/",
		Credential: core.Credential{Kind: core.CredentialPAT, Token: "ghp_SECRET"}}
	must(t, st.CreateForge(ctx, &f))
	e := core.Entity{ForgeID: f.ID, Kind: core.EntityRepository, Name: "o/r", Intake: core.IntakeWebhook}
	must(t, st.CreateEntity(ctx, &e))
	p := core.Pool{Name: "p1", EntityID: e.ID, Provider: "mem", Image: "i", Flavor: "f", OSType: "linux", Arch: "amd64",
		Labels: []string{"self-hosted"}, MaxRunners: 2, Enabled: true}
	must(t, st.CreatePool(ctx, &p))
	h, err := ui.New(ui.Options{Store: st, AdminToken: adminToken, ViewerToken: viewerToken})
	must(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, &poolState{st}
}

// poolState reads pool p1 back from the store.
type poolState struct{ st store.Store }

func (s *poolState) enabled(t *testing.T) bool {
	p, err := s.st.GetPool(context.Background(), "p1")
	must(t, err)
	return p.Enabled
}

// client signs in with token and returns a cookie-keeping client and the CSRF token of its pages.
func client(t *testing.T, srv *httptest.Server, token string) (*http.Client, string, *http.Response) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.PostForm(srv.URL+"/ui/login", url.Values{"token": {token}})
	must(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`).FindSubmatch(body)
	if m == nil {
		return c, "", resp
	}
	return c, string(m[1]), resp
}

func TestLoginSetsAStrictHttpOnlyCookie(t *testing.T) {
	srv, _ := dash(t)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.PostForm(srv.URL+"/ui/login", url.Values{"token": {adminToken}})
	must(t, err)
	resp.Body.Close()
	sc := resp.Header.Get("Set-Cookie")
	for _, want := range []string{"paddock_session=", "HttpOnly", "SameSite=Strict", "Path=/ui/"} {
		if !strings.Contains(sc, want) {
			t.Fatalf("Set-Cookie %q lacks %s", sc, want)
		}
	}
	if strings.Contains(sc, adminToken) {
		t.Fatal("the cookie carries the token itself")
	}
	resp, err = noRedirect.PostForm(srv.URL+"/ui/login", url.Values{"token": {"wrong"}})
	must(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Set-Cookie") != "" || !strings.Contains(string(body), "not valid") {
		t.Fatalf("wrong token: %d %q", resp.StatusCode, resp.Header.Get("Set-Cookie"))
	}
}

func TestActionsNeedAdminAndCSRF(t *testing.T) {
	srv, st := dash(t)
	drain := func(c *http.Client, csrf string, hdr map[string]string) int {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/ui/actions/pool-drain",
			strings.NewReader(url.Values{"csrf": {csrf}, "pool": {"p1"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		resp, err := c.Do(req)
		must(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	viewer, vcsrf, _ := client(t, srv, viewerToken)
	if code := drain(viewer, vcsrf, nil); code != http.StatusForbidden || !st.enabled(t) {
		t.Fatalf("viewer drain: %d, enabled %v", code, st.enabled(t))
	}
	admin, csrf, _ := client(t, srv, adminToken)
	if csrf == "" {
		t.Fatal("no CSRF token on the admin's page")
	}
	if code := drain(admin, "", nil); code != http.StatusForbidden || !st.enabled(t) {
		t.Fatalf("drain without CSRF token: %d", code)
	}
	if code := drain(admin, vcsrf, nil); code != http.StatusForbidden || !st.enabled(t) {
		t.Fatalf("drain with another session's CSRF token: %d", code)
	}
	if code := drain(admin, csrf, map[string]string{"Origin": "http://evil.example"}); code != http.StatusForbidden || !st.enabled(t) {
		t.Fatalf("cross-origin drain: %d", code)
	}
	if code := drain(admin, csrf, map[string]string{"Sec-Fetch-Site": "cross-site"}); code != http.StatusForbidden || !st.enabled(t) {
		t.Fatalf("cross-site drain: %d", code)
	}
	if code := drain(admin, csrf, nil); code != http.StatusSeeOther || st.enabled(t) {
		t.Fatalf("admin drain: %d, enabled %v", code, st.enabled(t))
	}
}

// Pages never show a secret: the forge credential stored above, the tokens.
func TestPagesShowNoSecrets(t *testing.T) {
	srv, _ := dash(t)
	c, _, _ := client(t, srv, adminToken)
	for _, p := range []string{"/ui/", "/ui/pools", "/ui/jobs", "/ui/instances", "/ui/usage", "/ui/confirm/pool-drain?pool=p1"} {
		resp, err := c.Get(srv.URL + p)
		must(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d", p, resp.StatusCode)
		}
		for _, s := range []string{"ghp_SECRET", adminToken, viewerToken} {
			if strings.Contains(string(body), s) {
				t.Fatalf("%s shows %q", p, s)
			}
		}
	}
}
