package testutil

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestRequestSendsOnlySetHeaders(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_, has := r.Header["X-Empty"]
		w.Header().Set("X-Seen", fmt.Sprintf("%s|%s|%v|%s", r.Method, r.Header.Get("Authorization"), has, b))
		w.WriteHeader(http.StatusTeapot)
		_, _ = io.WriteString(w, "answer")
	}))
	defer srv.Close()
	h := Bearer("tok")
	h["X-Empty"] = ""
	code, hdr, body := Request(t, http.MethodPost, srv.URL, h, []byte("sent"))
	if code != http.StatusTeapot || string(body) != "answer" || hdr.Get("X-Seen") != "POST|Bearer tok|false|sent" {
		t.Fatalf("got %d %q %q", code, body, hdr.Get("X-Seen"))
	}
	if Bearer("") != nil {
		t.Fatal("Bearer of no token sets a header")
	}
}
