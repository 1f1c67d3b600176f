package api

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/paddock-ci/paddock/internal/testutil/teststore"
)

// The viewer token opens the event stream and nothing else; the admin token
// opens both; no or a wrong token opens neither.
func TestEventsRouteAuth(t *testing.T) {
	const admin, viewer = "admin-token-0123456789abcdef0123456789", "viewer-token-0123456789abcdef012345678"
	h := New(Options{Store: teststore.Open(t), AdminToken: admin, ViewerToken: viewer,
		Events: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })})
	for _, tc := range []struct {
		token, path string
		want        int
	}{
		{viewer, "/api/v1/events", http.StatusTeapot},
		{admin, "/api/v1/events", http.StatusTeapot},
		{"", "/api/v1/events", http.StatusUnauthorized},
		{"wrong-token-0123456789abcdef0123456789", "/api/v1/events", http.StatusUnauthorized},
		{viewer, "/api/v1/pools", http.StatusUnauthorized},
		{admin, "/api/v1/pools", http.StatusOK},
	} {
		req := httptest.NewRequest(http.MethodGet, tc.path, nil)
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("%s with token %.6s…: %d, want %d", tc.path, tc.token, rec.Code, tc.want)
		}
	}
}
