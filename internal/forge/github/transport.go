package github

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/paddock-ci/paddock/internal/metrics"
)

// metricsTransport counts every HTTP exchange in ForgeCalls and records the
// rate-limit budget GitHub reports on each answer.
type metricsTransport struct {
	base   http.RoundTripper
	forge  string
	prefix string // API root path ("/" or "/api/v3/"), stripped before templating
	m      *metrics.Metrics
}

func (t *metricsTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if t.m == nil {
		return resp, err
	}
	endpoint := req.Method + " " + pathTemplate(strings.TrimPrefix(req.URL.Path, strings.TrimSuffix(t.prefix, "/")))
	if err != nil {
		t.m.ForgeCalls.WithLabelValues(t.forge, endpoint, "error").Inc()
		return resp, err
	}
	t.m.ForgeCalls.WithLabelValues(t.forge, endpoint, strconv.Itoa(resp.StatusCode)).Inc()
	if v, perr := strconv.ParseFloat(resp.Header.Get("X-RateLimit-Remaining"), 64); perr == nil {
		t.m.RateLimitRemaining.WithLabelValues(t.forge).Set(v)
	}
	return resp, err
}

// endpointTemplates are the paths this adapter calls, in the spec's template
// syntax. Templating keeps the endpoint label's cardinality bounded: ids and
// names never become label values.
var endpointTemplates = func() [][]string {
	var out [][]string
	for _, scope := range []string{"/repos/{owner}/{repo}", "/orgs/{org}", "/enterprises/{enterprise}"} {
		for _, rest := range []string{
			"/actions/runners",
			"/actions/runners/{runner_id}",
			"/actions/runners/downloads",
			"/actions/runners/generate-jitconfig",
			"/actions/runner-groups",
			"/actions/runs",
			"/actions/runs/{run_id}/jobs",
		} {
			out = append(out, strings.Split(scope+rest, "/"))
		}
	}
	return append(out, strings.Split("/app/installations/{installation_id}/access_tokens", "/"))
}()

// pathTemplate maps a request path to its template; literal segments win over
// parameters (".../runners/downloads" is not runner id "downloads"). Unknown
// paths become "other".
func pathTemplate(path string) string {
	segs := strings.Split(path, "/")
	best, bestLiterals := "other", -1
	for _, tpl := range endpointTemplates {
		if len(tpl) != len(segs) {
			continue
		}
		literals, ok := 0, true
		for i, s := range tpl {
			if strings.HasPrefix(s, "{") {
				continue
			}
			if s != segs[i] {
				ok = false
				break
			}
			literals++
		}
		if ok && literals > bestLiterals {
			best, bestLiterals = strings.Join(tpl, "/"), literals
		}
	}
	return best
}
