package api

import (
	"crypto/subtle"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/paddock-ci/paddock/internal/httplimit"
)

// auth admits requests bearing one of tokens. Failed attempts are limited
// per client address and in total: a client over its limit is answered 429
// before its token is looked at, so the limit bounds guessing.
func (s *server) auth(next http.Handler, tokens ...string) http.Handler {
	var want [][]byte
	for _, t := range tokens {
		if t != "" {
			want = append(want, []byte(t))
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(want) == 0 {
			writeError(w, http.StatusUnauthorized, "the server has no admin token configured; admin API disabled")
			return
		}
		addr := httplimit.ClientAddr(r)
		if wait, blocked := s.failures.Blocked(addr); blocked {
			w.Header().Set("Retry-After", strconv.Itoa(max(1, int(wait.Round(time.Second)/time.Second))))
			s.failLog.note(s.log, addr, r, "rate limited")
			writeError(w, http.StatusTooManyRequests, "too many failed authentications; retry after the time in Retry-After")
			return
		}
		scheme, got, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			s.failures.Fail(addr)
			s.failLog.note(s.log, addr, r, "missing bearer token")
			w.Header().Set("WWW-Authenticate", `Bearer realm="paddock"`)
			writeError(w, http.StatusUnauthorized, "missing bearer token (Authorization: Bearer <admin token>)")
			return
		}
		got = strings.TrimSpace(got)
		match := 0
		for _, t := range want {
			match |= subtle.ConstantTimeCompare([]byte(got), t)
		}
		if match != 1 {
			s.failures.Fail(addr)
			s.failLog.note(s.log, addr, r, "invalid token")
			w.Header().Set("WWW-Authenticate", `Bearer realm="paddock", error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, "invalid admin token")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// failureLog logs failed authentications at most once a second, with the
// number left unlogged since, so a guessing run cannot flood the log. The
// token presented is never logged.
type failureLog struct {
	every      rate.Sometimes
	suppressed atomic.Int64
}

func (f *failureLog) note(log *slog.Logger, addr string, r *http.Request, why string) {
	n := f.suppressed.Add(1)
	f.every.Do(func() {
		n = f.suppressed.Swap(0)
		log.Warn("authentication failed", "client", addr, "method", r.Method, "path", truncate(r.URL.Path, 200),
			"reason", why, "failures_since_last_log", n)
	})
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
