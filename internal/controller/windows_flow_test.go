package controller_test

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/machineapi"
	"github.com/paddock-ci/paddock/internal/metadata"
	"github.com/paddock-ci/paddock/internal/testutil"
	"github.com/paddock-ci/paddock/internal/winboot"
)

// TestWindowsMachineFlow plays a Windows machine of an os_type windows
// pool, step by step as bootstrap.ps1 and install.ps1 do it, against the
// real metadata endpoint, controller and forge simulator: its user data
// holds neither the token nor a forge credential; it fetches the install
// script and its config once, downloads the win-ARCH zip, checks its
// sha256, reports installing/idle/done, and a second config fetch is
// refused. No Windows machine is booted: PowerShell itself does not run
// here.
func TestWindowsMachineFlow(t *testing.T) {
	for _, arch := range []string{"x64", "arm64"} {
		t.Run(arch, func(t *testing.T) {
			p := pool("win", "windows")
			p.OSType, p.Arch = "windows", arch
			h := newHarness(t, []core.Pool{p})
			mux := http.NewServeMux()
			(&metadata.Handler{Machines: h.ctl, Logger: slog.New(slog.NewTextHandler(testLog(t), nil))}).Routes(mux)
			srv := httptest.NewServer(mux)
			t.Cleanup(srv.Close)
			meta, cb := srv.URL+"/api/v1/metadata", srv.URL+"/api/v1/callbacks"

			h.event("queued", 7, []string{"windows"}, "")
			inst := h.oneRunning()
			spec, _ := h.prov.spec(inst.Name)
			tok := spec.Token

			for _, ud := range []string{winboot.UserData(meta, cb), winboot.EC2UserData(meta, cb)} {
				if strings.Contains(ud, tok) || strings.Contains(ud, harnessPAT) {
					t.Fatal("user data holds the instance token or the forge credential")
				}
			}
			call := func(method, url string, body any) (int, []byte) {
				t.Helper()
				var raw []byte
				if body != nil {
					raw, _ = json.Marshal(body)
				}
				code, _, out := testutil.Request(t, method, url, testutil.Bearer(tok), raw)
				if bytes.Contains(out, []byte(harnessPAT)) {
					t.Fatalf("%s %s answered the forge credential", method, url)
				}
				return code, out
			}
			status := func(st, msg string) {
				t.Helper()
				if code, out := call("POST", cb+"/status", map[string]string{"status": st, "message": msg}); code != 200 {
					t.Fatalf("status %s: %d %s", st, code, out)
				}
			}

			// bootstrap.ps1 fetches the install script; a GARM-style
			// template asks for install-script/ and gets PowerShell too.
			for _, path := range []string{"/install-script.ps1", "/install-script/"} {
				code, script := call("GET", meta+path, nil)
				if code != 200 || !strings.HasPrefix(string(script), "# Paddock runner install script for Windows") ||
					!strings.Contains(string(script), "'"+tok+"'") {
					t.Fatalf("GET %s: %d %.80q", path, code, script)
				}
			}
			// install.ps1
			status("installing", "fetching runner configuration")
			code, raw := call("GET", meta+"/runner", nil)
			var cfg machineapi.RunnerConfig
			if code != 200 || json.Unmarshal(raw, &cfg) != nil {
				t.Fatalf("runner config: %d %s", code, raw)
			}
			if cfg.JITConfig == "" || cfg.Kind != "" || cfg.Tool.OS != "win" || cfg.Tool.Architecture != arch ||
				cfg.Tool.Filename != "actions-runner-win-"+arch+"-2.328.0.zip" {
				t.Fatalf("runner config = %+v", cfg)
			}
			status("installing", "downloading runner for "+cfg.Name)
			resp, err := http.Get(cfg.Tool.DownloadURL)
			if err != nil {
				t.Fatal(err)
			}
			pkg, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if got := sha256.Sum256(pkg); !strings.EqualFold(hex.EncodeToString(got[:]), cfg.Tool.SHA256) {
				t.Fatalf("downloaded %s does not match its published sha256", cfg.Tool.Filename)
			}
			zr, err := zip.NewReader(bytes.NewReader(pkg), int64(len(pkg)))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := zr.Open("run.cmd"); err != nil {
				t.Fatalf("the Windows package has no run.cmd: %v", err)
			}
			if code, out := call("POST", cb+"/system-info", map[string]any{"os_name": "Microsoft Windows Server 2022 Datacenter",
				"os_version": "10.0.20348", "agent_id": nil}); code != 200 {
				t.Fatalf("system-info: %d %s", code, out)
			}
			status("idle", "runner "+cfg.Name+" started")
			got, err := h.st.GetInstance(h.ctx, inst.Name)
			if err != nil || got.Runner != core.RunnerIdle || got.RunnerID == 0 {
				t.Fatalf("instance after idle = %+v, %v", got, err)
			}
			// The config was handed out once; the token is spent.
			if code, out := call("GET", meta+"/runner", nil); code != 401 {
				t.Fatalf("second config fetch: %d %s, want 401", code, out)
			}
			status("done", "exit status 0")
			h.eventually("instance retired after its runner exited", func() bool {
				i, err := h.st.GetInstance(h.ctx, inst.Name)
				return err != nil || i.State == core.InstancePendingDelete || i.State == core.InstanceDeleting ||
					i.State == core.InstanceDeleted
			})
		})
	}
}
