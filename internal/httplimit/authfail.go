package httplimit

import (
	"math"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// AuthFailures limits failed authentications per client address and in
// total. Only failures are charged, but a client over its limit is refused
// before its credential is even checked, so guessing goes no faster than the
// limit whatever the guesser does. A correct token from another address is
// still accepted while one address is blocked, unless the total limit (a
// distributed guess) is exhausted as well.
type AuthFailures struct {
	perClient rate.Limit
	burst     int
	total     *rate.Limiter
	now       func() time.Time

	mu      sync.Mutex
	clients map[string]*rate.Limiter
}

// maxClients bounds the per-address table; when full, addresses back at
// their full allowance are forgotten.
const maxClients = 10000

// NewAuthFailures allows perClient failures per minute from one address and
// total per minute from all addresses, each also as an immediate burst.
func NewAuthFailures(perClient, total int) *AuthFailures {
	return &AuthFailures{
		perClient: rate.Limit(float64(perClient) / 60), burst: perClient,
		total:   rate.NewLimiter(rate.Limit(float64(total)/60), total),
		now:     time.Now,
		clients: map[string]*rate.Limiter{},
	}
}

// ClientAddr is the address failures are charged to: the peer's IP. Headers
// such as X-Forwarded-For are not trusted, since anyone can send them.
func ClientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (a *AuthFailures) client(addr string) *rate.Limiter {
	lim := a.clients[addr]
	if lim == nil {
		if len(a.clients) >= maxClients {
			now := a.now()
			for k, l := range a.clients {
				if l.TokensAt(now) >= float64(a.burst) {
					delete(a.clients, k)
				}
			}
			if len(a.clients) >= maxClients {
				clear(a.clients) // all recently failing: forgetting errs towards the client
			}
		}
		lim = rate.NewLimiter(a.perClient, a.burst)
		a.clients[addr] = lim
	}
	return lim
}

// Blocked says whether addr must wait before its next attempt, and how long.
func (a *AuthFailures) Blocked(addr string) (time.Duration, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	wait := max(waitFor(a.client(addr), now), waitFor(a.total, now))
	return wait, wait > 0
}

// Fail charges one failed attempt to addr.
func (a *AuthFailures) Fail(addr string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	a.client(addr).AllowN(now, 1)
	a.total.AllowN(now, 1)
}

func waitFor(l *rate.Limiter, now time.Time) time.Duration {
	t := l.TokensAt(now)
	if t >= 1 {
		return 0
	}
	secs := (1 - t) / float64(l.Limit())
	return time.Duration(math.Ceil(secs * float64(time.Second)))
}
