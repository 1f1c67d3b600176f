package ghcontract

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
)

func filterOptions() *openapi3filter.Options {
	return &openapi3filter.Options{
		// Authentication is not part of the contract under test; the adapter's
		// own tests cover tokens.
		AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
		// An answer with a status GitHub never documents is a contract break.
		IncludeResponseStatus:             true,
		RejectWhenRequestBodyNotSpecified: true,
		MultiError:                        true,
	}
}

// Route finds the operation for a method and a path relative to the API root
// (e.g. "/repos/o/r/actions/runners"; strip GHES's "/api/v3" first).
func (c *Contract) Route(method, path string) (*routers.Route, map[string]string, error) {
	req, err := http.NewRequest(method, "http://contract.invalid"+path, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	return c.route(req)
}

func (c *Contract) route(req *http.Request) (*routers.Route, map[string]string, error) {
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w (%v)", req.Method, req.URL.Path, ErrNoRoute, err)
	}
	return route, params, nil
}

// ValidateRequest checks that req (path relative to the API root) names a
// documented operation with valid path and query parameters, no undocumented
// query parameters, and a body matching the operation's schema. body is the
// raw request body (req.Body is not read).
func (c *Contract) ValidateRequest(req *http.Request, body []byte) error {
	route, params, err := c.route(req)
	if err != nil {
		return err
	}
	if err := undeclaredQuery(route, req.URL.Query()); err != nil {
		return fmt.Errorf("%s %s: %w", req.Method, route.Path, err)
	}
	r := req.Clone(context.Background())
	r.Body = io.NopCloser(bytes.NewReader(body))
	if len(body) == 0 {
		r.Body = http.NoBody
	}
	in := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route, Options: filterOptions()}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
		return fmt.Errorf("%s %s: request breaks GitHub's contract: %w", req.Method, route.Path, err)
	}
	return nil
}

// undeclaredQuery reports query parameters the operation does not declare:
// kin-openapi ignores them, but GitHub silently ignores them too, so a typo
// would otherwise pass every test and do nothing in production.
func undeclaredQuery(route *routers.Route, q url.Values) error {
	declared := map[string]bool{}
	for _, ps := range []openapi3.Parameters{route.PathItem.Parameters, route.Operation.Parameters} {
		for _, p := range ps {
			if p.Value != nil && p.Value.In == openapi3.ParameterInQuery {
				declared[p.Value.Name] = true
			}
		}
	}
	var bad []string
	for k := range q {
		if !declared[k] {
			bad = append(bad, k)
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return fmt.Errorf("undeclared query parameters %v", bad)
	}
	return nil
}

// ValidateResponse checks an answer to method+path (relative to the API root):
// the status must be documented for the operation and the body must match its
// schema for the Content-Type in header.
func (c *Contract) ValidateResponse(method, path string, status int, header http.Header, body []byte) error {
	req, err := http.NewRequest(method, "http://contract.invalid"+path, nil)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	route, params, err := c.route(req)
	if err != nil {
		return err
	}
	if route.Operation.Responses.Status(status) == nil && genericStatus[status] {
		return c.validateGenericError(method, route.Path, status, body)
	}
	opts := filterOptions()
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts},
		Status:                 status,
		Header:                 header,
		Options:                opts,
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		return fmt.Errorf("%s %s → %d: response breaks GitHub's contract: %w", method, route.Path, status, err)
	}
	return nil
}

// ExampleResponse returns GitHub's documented example for the operation's
// answer with the given status (0 = the lowest documented 2xx). body is nil
// for answers without content (e.g. 204).
func (c *Contract) ExampleResponse(method, path string, status int) (int, []byte, error) {
	route, _, err := c.Route(method, path)
	if err != nil {
		return 0, nil, err
	}
	if status == 0 {
		for code := 200; code < 300 && status == 0; code++ {
			if route.Operation.Responses.Status(code) != nil {
				status = code
			}
		}
		if status == 0 {
			return 0, nil, fmt.Errorf("%s %s: no documented 2xx answer", method, route.Path)
		}
	}
	ref := route.Operation.Responses.Status(status)
	if ref == nil || ref.Value == nil {
		return 0, nil, fmt.Errorf("%s %s: status %d not documented", method, route.Path, status)
	}
	mt := ref.Value.Content.Get("application/json")
	if mt == nil {
		return status, nil, nil
	}
	var ex any
	switch {
	case mt.Example != nil:
		ex = mt.Example
	default:
		names := make([]string, 0, len(mt.Examples))
		for n := range mt.Examples {
			names = append(names, n)
		}
		sort.Strings(names) // deterministic: "default" when there is one
		for _, n := range names {
			if e := mt.Examples[n]; e != nil && e.Value != nil && e.Value.Value != nil {
				ex = e.Value.Value
				break
			}
		}
	}
	if ex == nil {
		return 0, nil, fmt.Errorf("%s %s → %s: GitHub publishes no example", method, route.Path, strconv.Itoa(status))
	}
	b, err := json.Marshal(ex)
	return status, b, err
}

// genericStatus lists answers GitHub gives on any endpoint (missing or
// forbidden objects, auth, rate limits, outages) without documenting them on
// every operation: DELETE .../runners/{runner_id} documents only 204 and 422
// yet answers 404 for an unknown runner. They are still held to GitHub's
// basic-error shape.
var genericStatus = map[int]bool{401: true, 403: true, 404: true, 429: true, 500: true, 502: true, 503: true}

func (c *Contract) validateGenericError(method, path string, status int, body []byte) error {
	ref := c.Doc.Components.Schemas["basic-error"]
	if ref == nil || ref.Value == nil {
		return fmt.Errorf("spec has no basic-error schema")
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("%s %s → %d: error body is not JSON: %w", method, path, status, err)
	}
	if m, ok := v.(map[string]any); !ok || m["message"] == nil {
		return fmt.Errorf("%s %s → %d: error body lacks a message", method, path, status)
	}
	if err := ref.Value.VisitJSON(v); err != nil {
		return fmt.Errorf("%s %s → %d: error body breaks basic-error: %w", method, path, status, err)
	}
	return nil
}
