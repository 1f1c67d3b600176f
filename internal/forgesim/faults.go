package forgesim

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Faults are injected into REST calls and webhook deliveries. Rates are
// probabilities in [0,1] drawn from the seeded generator, so a run with the
// same seed and the same call order fails the same way.
type Faults struct {
	ErrorRate     float64 // answer 500
	RateLimitRate float64 // answer 429, or 403 with the secondary-rate-limit message
	// RetryAfter is sent in Retry-After on injected rate limits; 0 means 1 s.
	RetryAfter           time.Duration
	Latency              time.Duration // added to every REST call
	WebhookDropRate      float64       // delivery silently not sent
	WebhookDuplicateRate float64       // delivery sent twice with the same X-GitHub-Delivery
}

// faultsJSON is the /_sim/faults wire form: durations as Go duration strings.
type faultsJSON struct {
	ErrorRate            float64 `json:"error_rate"`
	RateLimitRate        float64 `json:"rate_limit_rate"`
	RetryAfter           string  `json:"retry_after"`
	Latency              string  `json:"latency"`
	WebhookDropRate      float64 `json:"webhook_drop_rate"`
	WebhookDuplicateRate float64 `json:"webhook_duplicate_rate"`
}

func (f Faults) MarshalJSON() ([]byte, error) {
	return json.Marshal(faultsJSON{f.ErrorRate, f.RateLimitRate, f.RetryAfter.String(), f.Latency.String(),
		f.WebhookDropRate, f.WebhookDuplicateRate})
}

func (f *Faults) UnmarshalJSON(b []byte) error {
	var j faultsJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	out := Faults{ErrorRate: j.ErrorRate, RateLimitRate: j.RateLimitRate,
		WebhookDropRate: j.WebhookDropRate, WebhookDuplicateRate: j.WebhookDuplicateRate}
	for _, d := range []struct {
		s   string
		dst *time.Duration
		n   string
	}{{j.RetryAfter, &out.RetryAfter, "retry_after"}, {j.Latency, &out.Latency, "latency"}} {
		if d.s == "" {
			continue
		}
		v, err := time.ParseDuration(d.s)
		if err != nil || v < 0 {
			return fmt.Errorf("%s: want a non-negative duration like \"250ms\", got %q", d.n, d.s)
		}
		*d.dst = v
	}
	*f = out
	return out.validate()
}

func (f Faults) validate() error {
	for name, p := range map[string]float64{"error_rate": f.ErrorRate, "rate_limit_rate": f.RateLimitRate,
		"webhook_drop_rate": f.WebhookDropRate, "webhook_duplicate_rate": f.WebhookDuplicateRate} {
		if p < 0 || p > 1 {
			return fmt.Errorf("%s must be within [0,1], got %v", name, p)
		}
	}
	return nil
}

// SetFaults replaces the fault settings.
func (s *Sim) SetFaults(f Faults) error {
	if err := f.validate(); err != nil {
		return err
	}
	s.mu.Lock()
	s.faults = f
	s.mu.Unlock()
	return nil
}

// GetFaults returns the current fault settings.
func (s *Sim) GetFaults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults
}

type failRule struct {
	Pattern string `json:"pattern"`
	Status  int    `json:"status"`
	N       int    `json:"n"`
}

// matches accepts the route template ("POST /orgs/{org}/actions/runners/generate-jitconfig"),
// the concrete request ("DELETE /repos/o/r/actions/runners/7"), either without
// the method, or any of those ending in "*" as a prefix.
func (f *failRule) matches(template string, r *http.Request) bool {
	concrete := r.Method + " " + r.URL.Path
	_, tplPath, _ := strings.Cut(template, " ")
	for _, c := range []string{template, concrete, tplPath, r.URL.Path} {
		if p, ok := strings.CutSuffix(f.Pattern, "*"); ok {
			if strings.HasPrefix(c, p) {
				return true
			}
		} else if c == f.Pattern {
			return true
		}
	}
	return false
}

// FailNext makes the next n REST calls matching endpointPattern answer status.
// See failRule.matches for the pattern forms.
func (s *Sim) FailNext(endpointPattern string, status int, n int) {
	if n <= 0 || endpointPattern == "" {
		return
	}
	s.mu.Lock()
	s.failNext = append(s.failNext, &failRule{Pattern: endpointPattern, Status: status, N: n})
	s.mu.Unlock()
}

// applyFaults injects latency and failures; it reports whether it answered.
func (s *Sim) applyFaults(w http.ResponseWriter, r *http.Request, template string) bool {
	s.mu.Lock()
	f := s.faults
	status := 0
	for i, rule := range s.failNext {
		if rule.matches(template, r) {
			status = rule.Status
			if rule.N--; rule.N <= 0 {
				s.failNext = append(s.failNext[:i], s.failNext[i+1:]...)
			}
			break
		}
	}
	errRoll, rlRoll, kindRoll := s.rng.Float64(), s.rng.Float64(), s.rng.Float64()
	s.mu.Unlock()

	if f.Latency > 0 {
		select {
		case <-time.After(f.Latency):
		case <-r.Context().Done():
		}
	}
	retry := f.RetryAfter
	if retry <= 0 {
		retry = time.Second
	}
	switch {
	case status == http.StatusTooManyRequests || status == http.StatusForbidden:
		writeSecondaryLimit(w, status, retry)
	case status != 0:
		writeError(w, status, http.StatusText(status)+" (injected by forgesim)")
	case errRoll < f.ErrorRate:
		writeError(w, http.StatusInternalServerError, "Server Error")
	case rlRoll < f.RateLimitRate:
		code := http.StatusTooManyRequests
		if kindRoll < 0.5 {
			code = http.StatusForbidden
		}
		writeSecondaryLimit(w, code, retry)
	default:
		return false
	}
	return true
}

// writeSecondaryLimit answers like GitHub's secondary rate limiter; clients
// recognise it by the documentation_url suffix and honour Retry-After.
func writeSecondaryLimit(w http.ResponseWriter, code int, retry time.Duration) {
	secs := int((retry + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeJSON(w, code, map[string]any{
		"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. " +
			"If you reach out to GitHub Support for help, please include the request ID forgesim.",
		"documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
	})
}

// budget is one caller's primary rate limit window.
type budget struct {
	used  int
	reset time.Time
}

const (
	hourlyLimit = 5000 // per token, like a PAT
	anonLimit   = 60   // per client IP, for unauthenticated calls
)

// spendBudget charges one call to the caller's hourly budget (the token's, or
// the client IP's when token is ""), sets the x-ratelimit-* headers, and
// answers 403 once the budget is spent (as GitHub does).
func (s *Sim) spendBudget(w http.ResponseWriter, r *http.Request, token string) bool {
	now := time.Now()
	key, limit := "token:"+token, hourlyLimit
	if token == "" {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			host = r.RemoteAddr
		}
		key, limit = "ip:"+host, anonLimit
	}
	s.mu.Lock()
	b := s.limits[key]
	if b == nil || now.After(b.reset) {
		b = &budget{reset: now.Add(time.Hour)}
		s.limits[key] = b
	}
	over := b.used >= limit
	if !over {
		b.used++
	}
	used, reset := b.used, b.reset
	s.mu.Unlock()

	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(limit-used))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	h.Set("X-RateLimit-Used", strconv.Itoa(used))
	h.Set("X-RateLimit-Resource", "core")
	if over {
		writeJSON(w, http.StatusForbidden, map[string]any{
			"message":           "API rate limit exceeded for user. (But here's the good news: Authenticated requests get a higher rate limit.)",
			"documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-primary-rate-limits",
		})
		return false
	}
	return true
}

// SetRateBudget sets how much of token's hourly budget is already used, so
// tests can reach exhaustion without 5000 calls.
func (s *Sim) SetRateBudget(token string, used int) {
	s.mu.Lock()
	s.limits["token:"+token] = &budget{used: max(0, min(used, hourlyLimit)), reset: time.Now().Add(time.Hour)}
	s.mu.Unlock()
}
