package ui

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/paddock-ci/paddock/internal/httplimit"
)

// Role is what a signed-in person may do.
type Role string

const (
	RoleAdmin  Role = "admin"
	RoleViewer Role = "viewer"
)

const (
	cookieName = "paddock_session"
	// SessionTTL is how long a login lasts.
	SessionTTL  = 12 * time.Hour
	maxTokenLen = 1024
)

// Sessions are stateless: the cookie holds the role and expiry, signed with
// a key derived from the configured tokens. They survive a manager restart
// (the browser's event stream reconnects without a new login), and changing
// a token ends every session made with the old ones.
type sessions struct {
	key           []byte
	admin, viewer []byte
	failures      *httplimit.AuthFailures
	now           func() time.Time
}

func newSessions(admin, viewer string, failures *httplimit.AuthFailures, now func() time.Time) *sessions {
	m := hmac.New(sha256.New, []byte("paddock dashboard sessions"))
	m.Write([]byte(admin))
	m.Write([]byte{0})
	m.Write([]byte(viewer))
	s := &sessions{key: m.Sum(nil), failures: failures, now: now}
	if admin != "" {
		s.admin = []byte(admin)
	}
	if viewer != "" {
		s.viewer = []byte(viewer)
	}
	return s
}

func (s *sessions) mac(parts ...string) string {
	m := hmac.New(sha256.New, s.key)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// roleFor checks a presented token in constant time.
func (s *sessions) roleFor(token string) (Role, bool) {
	t := []byte(token)
	if len(t) == 0 || len(t) > maxTokenLen {
		return "", false
	}
	admin := len(s.admin) > 0 && subtle.ConstantTimeCompare(t, s.admin) == 1
	viewer := len(s.viewer) > 0 && subtle.ConstantTimeCompare(t, s.viewer) == 1
	switch {
	case admin:
		return RoleAdmin, true
	case viewer:
		return RoleViewer, true
	}
	return "", false
}

func (s *sessions) issue(w http.ResponseWriter, r *http.Request, role Role) {
	exp := strconv.FormatInt(s.now().Add(SessionTTL).Unix(), 10)
	v := string(role) + "." + exp + "." + s.mac("session", string(role), exp)
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: v, Path: "/ui/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, MaxAge: int(SessionTTL / time.Second)})
}

func clearCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/ui/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, MaxAge: -1})
}

// session is a verified login.
type session struct {
	Role Role
	// CSRF is the token every form that changes something must carry; it is
	// bound to this session's cookie.
	CSRF string
}

// current returns the request's session, if its cookie is valid and unexpired.
func (s *sessions) current(r *http.Request) (session, bool) {
	c, err := r.Cookie(cookieName)
	if err != nil || len(c.Value) > 256 {
		return session{}, false
	}
	parts := strings.Split(c.Value, ".")
	if len(parts) != 3 {
		return session{}, false
	}
	role, exp, sig := Role(parts[0]), parts[1], parts[2]
	if subtle.ConstantTimeCompare([]byte(sig), []byte(s.mac("session", string(role), exp))) != 1 {
		return session{}, false
	}
	t, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || s.now().Unix() >= t {
		return session{}, false
	}
	switch role {
	case RoleAdmin:
		if s.admin == nil {
			return session{}, false
		}
	case RoleViewer:
		if s.viewer == nil {
			return session{}, false
		}
	default:
		return session{}, false
	}
	sum := sha256.Sum256([]byte(s.mac("csrf", c.Value)))
	return session{Role: role, CSRF: hex.EncodeToString(sum[:16])}, true
}

// checkCSRF accepts a state-changing request only with the session's CSRF
// token and, when the browser says where the request came from, only from
// this same site.
func checkCSRF(r *http.Request, sess session) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return false
		}
	}
	got := r.PostFormValue("csrf")
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(sess.CSRF)) == 1
}

// loginAttempt checks a token from the login form, limited like API tokens:
// a client over its failure budget is refused before the token is looked at.
func (s *sessions) loginAttempt(r *http.Request, token string) (Role, string) {
	addr := httplimit.ClientAddr(r)
	if s.failures != nil {
		if wait, blocked := s.failures.Blocked(addr); blocked {
			return "", "Too many failed attempts. Try again in " + wait.Round(time.Second).String() + "."
		}
	}
	role, ok := s.roleFor(strings.TrimSpace(token))
	if !ok {
		if s.failures != nil {
			s.failures.Fail(addr)
		}
		return "", "That token is not valid here. Use the admin token or the viewer token from the server's config."
	}
	return role, ""
}
