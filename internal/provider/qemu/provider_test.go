package qemu_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/machineapi"
	"github.com/paddock-ci/paddock/internal/provider"
	"github.com/paddock-ci/paddock/internal/provider/qemu"
)

func runnerTarball(t *testing.T, runSh string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	if err := tw.WriteHeader(&tar.Header{Name: "run.sh", Mode: 0o755, Size: int64(len(runSh)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	tw.Write([]byte(runSh))
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

// fakeManager answers the machine endpoints like Paddock does.
type fakeManager struct {
	srv      *httptest.Server
	mu       sync.Mutex
	statuses []string
}

func newFakeManager(t *testing.T, token string, tarball []byte) *fakeManager {
	m := &fakeManager{}
	sum := sha256.Sum256(tarball)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /meta/runner", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		url, _ := qemu.GuestURL(m.srv.URL + "/runner.tar.gz")
		json.NewEncoder(w).Encode(machineapi.RunnerConfig{Name: "r1", JITConfig: "JIT-xyz",
			Tool: machineapi.RunnerTool{DownloadURL: url, SHA256: hex.EncodeToString(sum[:]), Filename: "runner.tar.gz"}})
	})
	mux.HandleFunc("GET /runner.tar.gz", func(w http.ResponseWriter, r *http.Request) { w.Write(tarball) })
	mux.HandleFunc("GET /ok", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "forwarded-ok") })
	mux.HandleFunc("POST /cb/status", func(w http.ResponseWriter, r *http.Request) {
		var rep map[string]string
		json.NewDecoder(r.Body).Decode(&rep)
		m.mu.Lock()
		m.statuses = append(m.statuses, rep["status"])
		m.mu.Unlock()
	})
	m.srv = httptest.NewServer(mux)
	t.Cleanup(m.srv.Close)
	return m
}

func (m *fakeManager) saw(status string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.statuses {
		if s == status {
			return true
		}
	}
	return false
}

func newProvider(t *testing.T, dir, controllerID string) *qemu.Provider {
	t.Helper()
	p, err := qemu.New(qemu.Options{StateDir: dir, ControllerID: controllerID, ImageDir: imageDir, Accel: "tcg",
		RelayCommand: []string{paddockBin, "qemu-relay"}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestVMLifecycleNetworkAndRestart boots one VM whose "runner" probes the
// network from inside the guest, then checks what a restarted manager sees
// and that Delete leaves nothing behind.
func TestVMLifecycleNetworkAndRestart(t *testing.T) {
	needVM(t)
	// A host service that is NOT forwarded: the guest must not reach it.
	var hostHits atomic.Int32
	private := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hostHits.Add(1) }))
	defer private.Close()
	_, privPort, _ := net.SplitHostPort(private.Listener.Addr().String())

	var mgr *fakeManager
	runSh := `#!/bin/sh
echo "PROBE args=$* jit=$ACTIONS_RUNNER_INPUT_JITCONFIG"
# (Debian 12's static busybox wget crashes; nc does the probing.)
get() { printf 'GET /ok HTTP/1.0\r\n\r\n' | nc -w 5 "$1" "$2"; }
if get ` + qemu.GuestHostAddr + ` MGRPORT | grep -q forwarded-ok; then echo "PROBE forwarded=ok"; else echo "PROBE forwarded=fail"; fi
if get 10.0.2.2 ` + privPort + `; then echo "PROBE host-alias=open"; else echo "PROBE host-alias=closed"; fi
if get ` + qemu.GuestHostAddr + ` ` + privPort + `; then echo "PROBE fwd-addr=open"; else echo "PROBE fwd-addr=closed"; fi
if get 10.0.2.2 MGRPORT; then echo "PROBE host-alias-mgr=open"; else echo "PROBE host-alias-mgr=closed"; fi
echo "PROBE done"
sleep 600
`
	// The manager's port is known only once it listens; the script is served lazily.
	var tarball []byte
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, mgrPort, _ := net.SplitHostPort(lis.Addr().String())
	lis.Close()
	tarball = runnerTarball(t, strings.ReplaceAll(runSh, "MGRPORT", mgrPort))
	mgr = newFakeManagerOn(t, "127.0.0.1:"+mgrPort, "tok-123", tarball)

	dir := t.TempDir()
	p := newProvider(t, dir, "ctl-1")
	ctx := context.Background()
	spec := provider.Spec{Name: "vm-1", PoolID: "pool-a", MetadataURL: mgr.srv.URL + "/meta",
		CallbackURL: mgr.srv.URL + "/cb", Token: "tok-123", CPU: 1, MemoryMB: 512}
	m, err := p.Create(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Delete(context.Background(), "vm-1") })
	if m.Status != provider.StatusRunning || m.PoolID != "pool-a" {
		t.Fatalf("created %+v", m)
	}
	again, err := p.Create(ctx, spec)
	if err != nil || again.ProviderID != m.ProviderID || len(qemuPIDs(dir)) != 1 {
		t.Fatalf("second Create: %+v %v, %d QEMU processes", again, err, len(qemuPIDs(dir)))
	}
	vmDir := filepath.Join(dir, "vm-1")
	if _, err := os.Stat(filepath.Join(vmDir, "boot.cfg")); !os.IsNotExist(err) {
		t.Error("the boot settings file (with the token) is still on disk after start")
	}
	for _, pid := range qemuPIDs(dir) {
		cmdline, _ := os.ReadFile("/proc/" + pid + "/cmdline")
		if bytes.Contains(cmdline, []byte("tok-123")) {
			t.Error("the instance token is on QEMU's command line (visible to every host user)")
		}
	}

	console := filepath.Join(vmDir, "console.log")
	waitFor(t, "the guest's runner to start and report idle", 90*time.Second, func() bool { return mgr.saw("idle") })
	waitFor(t, "the guest's network probes", 60*time.Second, func() bool {
		b, _ := os.ReadFile(console)
		return bytes.Contains(b, []byte("PROBE done"))
	})
	out, _ := os.ReadFile(console)
	for _, want := range []string{"PROBE args= jit=JIT-xyz", "PROBE forwarded=ok", "PROBE host-alias=closed", "PROBE fwd-addr=closed", "PROBE host-alias-mgr=closed"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("console lacks %q:\n%s", want, out)
		}
	}
	if n := hostHits.Load(); n != 0 {
		t.Errorf("the guest reached a host port that is not forwarded (%d requests)", n)
	}

	// A restarted manager finds the booted VM running. (Other controllers,
	// deletes of missing VMs: TestConformance.)
	if ms, _ := newProvider(t, dir, "ctl-1").List(ctx); len(ms) != 1 || ms[0].Name != "vm-1" || ms[0].Status != provider.StatusRunning {
		t.Fatalf("list after restart = %+v", ms)
	}

	if err := newProvider(t, dir, "ctl-1").Delete(ctx, "vm-1"); err != nil {
		t.Fatal(err)
	}
	if pids := qemuPIDs(dir); len(pids) != 0 {
		t.Fatalf("QEMU still running after Delete: %v", pids)
	}
	if _, err := os.Stat(vmDir); !os.IsNotExist(err) {
		t.Fatal("instance directory not removed")
	}
}

func newFakeManagerOn(t *testing.T, addr, token string, tarball []byte) *fakeManager {
	t.Helper()
	m := newFakeManager(t, token, tarball)
	m.srv.Close()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	m.srv = httptest.NewUnstartedServer(m.srv.Config.Handler)
	m.srv.Listener.Close()
	m.srv.Listener = l
	m.srv.Start()
	t.Cleanup(m.srv.Close)
	return m
}
