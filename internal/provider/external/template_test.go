package external_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/paddock-ci/paddock/internal/provider/external"
)

// TestInstallWrapper runs the runner_install_template with bash against a
// fake manager: it must fetch install-script/ with the token, run it, and
// report a failure to the status callback.
func TestInstallWrapper(t *testing.T) {
	cases := []struct {
		name, script string
		code         int
		wantExit     bool
		wantReport   string
	}{
		{"success", "echo booted > booted.txt; echo \"$BEARER_TOKEN\" >> booted.txt", 200, false, ""},
		{"script fails", "exit 3", 200, true, "install script exited with code 3"},
		{"download refused", "", 401, true, "cannot download"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var mu sync.Mutex
			var reports []string
			mux := http.NewServeMux()
			mux.HandleFunc("GET /api/v1/metadata/install-script/", func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Authorization") != "Bearer t'ok" || c.code != 200 {
					http.Error(w, "no", max(c.code, 401))
					return
				}
				io.WriteString(w, c.script)
			})
			mux.HandleFunc("POST /api/v1/callbacks/status", func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				mu.Lock()
				reports = append(reports, r.Header.Get("Authorization")+" "+string(b))
				mu.Unlock()
			})
			srv := httptest.NewServer(mux)
			defer srv.Close()
			dir := t.TempDir()
			wrapper := external.InstallTemplate(srv.URL+"/api/v1/metadata/", srv.URL+"/api/v1/callbacks", "t'ok")
			cmd := exec.Command("bash", "-c", wrapper)
			cmd.Dir = dir
			cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
			out, err := cmd.CombinedOutput()
			if (err != nil) != c.wantExit {
				t.Fatalf("exit: %v\n%s", err, out)
			}
			mu.Lock()
			defer mu.Unlock()
			if c.wantReport == "" {
				if b, _ := os.ReadFile(dir + "/booted.txt"); string(b) != "booted\nt'ok\n" || len(reports) != 0 {
					t.Fatalf("booted.txt = %q, reports %q", b, reports)
				}
				return
			}
			if len(reports) != 1 || !strings.Contains(reports[0], `"status":"failed"`) || !strings.Contains(reports[0], c.wantReport) ||
				!strings.HasPrefix(reports[0], "Bearer t'ok ") {
				t.Fatalf("reports = %q, want one failure with %q", reports, c.wantReport)
			}
		})
	}
}
