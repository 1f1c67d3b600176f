package gitea_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
	"github.com/paddock-ci/paddock/internal/forge/gitea"
)

// A runner at work that already has the name is someone else's (an earlier
// attempt's credentials never reached a machine): JITConfig leaves it alone,
// registers nothing and says the name is busy, as GitHub refuses a taken name.
func TestJITConfigLeavesBusyNamesakeAlone(t *testing.T) {
	var registered, deleted atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/version", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `{"version":"1.25.4"}`)
	})
	mux.HandleFunc("GET /api/v1/repos/acme/app/actions/runners", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `{"total_count":1,"runners":[{"id":4,"name":"r1","status":"active","busy":true,"labels":[]}]}`)
	})
	mux.HandleFunc("DELETE /api/v1/repos/acme/app/actions/runners/4", func(w http.ResponseWriter, _ *http.Request) {
		deleted.Add(1)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /api/v1/repos/acme/app/actions/runners/registration-token", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `{"token":"reg"}`)
	})
	mux.HandleFunc("POST "+gitea.RegisterPath, func(w http.ResponseWriter, _ *http.Request) {
		registered.Add(1)
		_, _ = io.WriteString(w, `{"runner":{"id":"5","uuid":"u","token":"t","name":"r1"}}`)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c, err := gitea.New(context.Background(), core.Forge{Name: "g", Kind: core.ForgeGitea, APIURL: srv.URL + "/api/v1/",
		Credential: core.Credential{Kind: core.CredentialPAT, Token: pat}}, gitea.Options{MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.JITConfig(context.Background(), repo, forge.JITRequest{Name: "r1", Labels: []string{"linux"}})
	if !errors.Is(err, forge.ErrRunnerBusy) {
		t.Fatalf("JITConfig with a busy runner of that name: %v; want ErrRunnerBusy", err)
	}
	if registered.Load() != 0 || deleted.Load() != 0 {
		t.Fatalf("registered %d, deleted %d; want neither", registered.Load(), deleted.Load())
	}
}

// A first attempt cannot have an earlier registration of its name: it
// registers without listing the scope's runners; any other attempt lists.
func TestJITConfigFirstAttemptSkipsTheLookup(t *testing.T) {
	var listed, registered atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/version", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `{"version":"1.25.4"}`)
	})
	mux.HandleFunc("GET /api/v1/repos/acme/app/actions/runners", func(w http.ResponseWriter, _ *http.Request) {
		listed.Add(1)
		_, _ = io.WriteString(w, `{"total_count":0,"runners":[]}`)
	})
	mux.HandleFunc("POST /api/v1/repos/acme/app/actions/runners/registration-token", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `{"token":"reg"}`)
	})
	mux.HandleFunc("POST "+gitea.RegisterPath, func(w http.ResponseWriter, _ *http.Request) {
		registered.Add(1)
		_, _ = io.WriteString(w, `{"runner":{"id":"5","uuid":"u","token":"t","name":"r1"}}`)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c, err := gitea.New(context.Background(), core.Forge{Name: "g", Kind: core.ForgeGitea, APIURL: srv.URL + "/api/v1/",
		Credential: core.Credential{Kind: core.CredentialPAT, Token: pat}}, gitea.Options{MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.JITConfig(context.Background(), repo, forge.JITRequest{Name: "r1", Labels: []string{"linux"}, FirstAttempt: true}); err != nil {
		t.Fatal(err)
	}
	if listed.Load() != 0 || registered.Load() != 1 {
		t.Fatalf("first attempt: listed %d times, registered %d; want 0 and 1", listed.Load(), registered.Load())
	}
	if _, err := c.JITConfig(context.Background(), repo, forge.JITRequest{Name: "r1", Labels: []string{"linux"}}); err != nil {
		t.Fatal(err)
	}
	if listed.Load() != 1 {
		t.Fatalf("a retry listed %d times, want 1", listed.Load())
	}
}
