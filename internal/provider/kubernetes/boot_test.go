package kubernetes

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// installServer serves an install script that records what it was run with,
// and only to the right bearer token.
func installServer(t *testing.T, token, out string) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/metadata/install-script/", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			http.Error(w, "bad token", http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(w, "#!/bin/bash\necho \"$METADATA_URL|$CALLBACK_URL|$BEARER_TOKEN|$RUNNER_DIR\" > %s\n", out)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func runBash(t *testing.T, script string, env ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestPodInstallScriptBootFetchesAndRuns(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "ran")
	srv := installServer(t, "tok-123", out)
	script := strings.ReplaceAll(podBootScript()[2], workspaceDir, dir)
	if strings.Contains(podBootScript()[2], "tok-123") {
		t.Fatal("the pod script must take the token from the environment")
	}
	// A trailing slash on the URL must not double up.
	env := []string{"PADDOCK_METADATA_URL=" + srv.URL + "/api/v1/metadata/", "PADDOCK_CALLBACK_URL=" + srv.URL + "/api/v1/callbacks",
		"PADDOCK_INSTANCE_TOKEN=tok-123"}
	if msg, err := runBash(t, script, env...); err != nil {
		t.Fatalf("boot script: %v\n%s", err, msg)
	}
	got, err := os.ReadFile(out)
	want := srv.URL + "/api/v1/metadata|" + srv.URL + "/api/v1/callbacks|tok-123|" + dir + "/actions-runner\n"
	if err != nil || string(got) != want {
		t.Errorf("install script ran with %q, %v; want %q", got, err, want)
	}
	// A wrong token gets no script, and the boot fails rather than running nothing.
	env[2] = "PADDOCK_INSTANCE_TOKEN=wrong"
	os.Remove(out)
	if _, err := runBash(t, script, env...); err == nil {
		t.Error("boot with a rejected token succeeded")
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("an install script ran without a valid token")
	}
}

func TestVMUserDataFetchesAndRuns(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "ran")
	srv := installServer(t, "it's-a-token", out)
	spec := testSpec("vm")
	spec.MetadataURL, spec.CallbackURL, spec.Token = srv.URL+"/api/v1/metadata", srv.URL+"/api/v1/callbacks", "it's-a-token"
	ud := vmUserData(spec)
	if !strings.HasPrefix(ud, "#!/bin/bash\n") {
		t.Fatalf("user-data must be a script cloud-init runs: %q", ud)
	}
	// cloud-init runs it with an almost empty environment.
	if msg, err := runBash(t, strings.ReplaceAll(ud, "/opt/paddock", dir)); err != nil {
		t.Fatalf("user-data: %v\n%s", err, msg)
	}
	got, _ := os.ReadFile(out)
	want := srv.URL + "/api/v1/metadata|" + srv.URL + "/api/v1/callbacks|it's-a-token|" + dir + "/actions-runner\n"
	if string(got) != want {
		t.Errorf("install script ran with %q, want %q", got, want)
	}
}
