package forgehttp

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/paddock-ci/paddock/internal/metrics"
)

// Endpoints names requests for the paddock_forge_calls_total endpoint label
// ("GET /repos/{owner}/{repo}/actions/runners"). Only paths matching a
// declared template are named after it; anything else is "other", so ids and
// names never become label values and the label set stays bounded.
type Endpoints struct {
	mounts []mount
}

type mount struct {
	prefix string // URL path the templates are relative to, without trailing slash
	label  string // what the prefix is replaced with in the label ("" for the API root)
	tpls   [][]string
}

// Mount declares templates (in the OpenAPI {param} syntax, each starting with
// "/") for paths under prefix. In the label the prefix is replaced by label,
// so "/api/v3" + "/repos/{owner}/{repo}" is named "/repos/{owner}/{repo}"
// with label "". The longest matching prefix is used.
func (e *Endpoints) Mount(prefix, label string, templates ...string) *Endpoints {
	m := mount{prefix: strings.TrimSuffix(prefix, "/"), label: label}
	for _, t := range templates {
		m.tpls = append(m.tpls, strings.Split(t, "/"))
	}
	e.mounts = append(e.mounts, m)
	return e
}

// Name is the endpoint label of a request: method, space, template.
func (e *Endpoints) Name(method, path string) string {
	var best *mount
	for i := range e.mounts {
		m := &e.mounts[i]
		if strings.HasPrefix(path, m.prefix+"/") && (best == nil || len(m.prefix) > len(best.prefix)) {
			best = m
		}
	}
	if best == nil {
		return method + " other"
	}
	tpl := Template(strings.TrimPrefix(path, best.prefix), best.tpls)
	if tpl == "other" {
		return method + " other"
	}
	return method + " " + best.label + tpl
}

// Template maps a path to the template it matches ("other" if none). A
// {param} segment matches any segment; when several templates match, the one
// with more literal segments wins (".../runners/downloads" is not runner id
// "downloads").
func Template(path string, templates [][]string) string {
	segs := strings.Split(path, "/")
	best, bestLiterals := "other", -1
	for _, tpl := range templates {
		if len(tpl) != len(segs) {
			continue
		}
		literals, ok := 0, true
		for i, s := range tpl {
			if strings.HasPrefix(s, "{") {
				if segs[i] == "" {
					ok = false
					break
				}
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

// measure counts every HTTP exchange (each retry included: each is spent
// against the forge's limit) in ForgeCalls and records the rate-limit budget
// a forge reports in X-RateLimit-Remaining.
type measure struct {
	base  http.RoundTripper
	forge string
	eps   *Endpoints
	m     *metrics.Metrics
}

func (t *measure) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if t.m == nil {
		return resp, err
	}
	endpoint := t.eps.Name(req.Method, req.URL.Path)
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
