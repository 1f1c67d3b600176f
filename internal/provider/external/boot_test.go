package external_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/provider"
	"github.com/paddock-ci/paddock/internal/provider/external"
)

// manager is a loopback stand-in for the manager's install-script endpoint:
// it counts the machine's authenticated fetches.
func manager(t *testing.T, token string) (*httptest.Server, *atomic.Int32) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v1/metadata/install-script/" && r.Header.Get("Authorization") == "Bearer "+token {
			hits.Add(1)
			_, _ = w.Write([]byte("#!/bin/bash\nexit 0\n"))
			return
		}
		w.WriteHeader(http.StatusUnauthorized)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func bootSpec(srv *httptest.Server, name string) (s provider.Spec) {
	s = spec(name)
	s.MetadataURL, s.CallbackURL = srv.URL+"/api/v1/metadata", srv.URL+"/api/v1/callbacks"
	return s
}

// (A machine that calls before Create returns: TestConformance/lxd-like.)

// A slow boot: create returns at once, the machine calls later.
func TestSlowBootCallsAfterCreateReturns(t *testing.T) {
	e := newEnv(t, external.V010, 30*time.Second)
	e.cfg["boot_delay"] = "2s"
	e.write()
	srv, hits := manager(t, "tok-m-1")
	if _, err := e.p.Create(context.Background(), bootSpec(srv, "m-1")); err != nil {
		t.Fatal(err)
	}
	if hits.Load() != 0 {
		t.Fatal("the machine called before its boot delay was over")
	}
	deadline := time.Now().Add(20 * time.Second)
	for hits.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if hits.Load() == 0 {
		t.Fatal("the slow machine never called")
	}
}
