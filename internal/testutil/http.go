package testutil

import (
	"bytes"
	"io"
	"net/http"
	"testing"
)

// Request makes an HTTP request to a test server and returns the status,
// the response headers and the whole body. Headers with an empty value are
// not sent, so optional ones can be passed unconditionally. A transport
// error fails t: a test server that does not answer is a broken test.
func Request(t testing.TB, method, url string, header map[string]string, body []byte) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the answer: %v", method, url, err)
	}
	return resp.StatusCode, resp.Header, b
}

// Bearer is the Authorization header for token, or none for "".
func Bearer(token string) map[string]string {
	if token == "" {
		return nil
	}
	return map[string]string{"Authorization": "Bearer " + token}
}
