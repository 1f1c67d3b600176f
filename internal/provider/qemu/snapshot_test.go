package qemu_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/machineapi"
	"github.com/paddock-ci/paddock/internal/provider"
	"github.com/paddock-ci/paddock/internal/provider/qemu"
	"github.com/paddock-ci/paddock/internal/testutil"
)

// tokenManager answers the machine endpoints for any token it issued and
// records which token each status report came with.
type tokenManager struct {
	srv    *httptest.Server
	mu     sync.Mutex
	seen   map[string][]string // token → statuses
	tokens map[string]bool
}

func newTokenManager(t *testing.T, tarball []byte, tokens ...string) *tokenManager {
	m := &tokenManager{seen: map[string][]string{}, tokens: map[string]bool{}}
	for _, tok := range tokens {
		m.tokens[tok] = true
	}
	sum := sha256.Sum256(tarball)
	auth := func(r *http.Request) (string, bool) {
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		return tok, m.tokens[tok]
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /meta/runner", func(w http.ResponseWriter, r *http.Request) {
		tok, ok := auth(r)
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		url, _ := qemu.GuestURL(m.srv.URL + "/runner.tar.gz")
		json.NewEncoder(w).Encode(machineapi.RunnerConfig{Name: "runner-" + tok, JITConfig: "JIT-" + tok,
			Tool: machineapi.RunnerTool{DownloadURL: url, SHA256: hex.EncodeToString(sum[:]), Filename: "runner.tar.gz"}})
	})
	mux.HandleFunc("GET /runner.tar.gz", func(w http.ResponseWriter, r *http.Request) { w.Write(tarball) })
	mux.HandleFunc("POST /cb/status", func(w http.ResponseWriter, r *http.Request) {
		tok, ok := auth(r)
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var rep map[string]string
		json.NewDecoder(r.Body).Decode(&rep)
		m.mu.Lock()
		m.seen[tok] = append(m.seen[tok], rep["status"])
		m.mu.Unlock()
	})
	m.srv = httptest.NewServer(mux)
	t.Cleanup(m.srv.Close)
	return m
}

func (m *tokenManager) saw(token, status string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.seen[token] {
		if s == status {
			return true
		}
	}
	return false
}

var fingerprintRE = regexp.MustCompile(`rng fingerprint ([0-9a-f]{16})`)

// TestSnapshotRestore: with start: snapshot the first VM cold-boots while a
// template is built; then two VMs restored from that one template each run
// their job with their own identity, their own random generator and the
// host's clock; the template holds no token; a corrupt template is noticed,
// the VM cold-boots instead and the template is rebuilt.
func TestSnapshotRestore(t *testing.T) {
	needVM(t)
	runSh := `#!/bin/sh
echo "JOB jit=$ACTIONS_RUNNER_INPUT_JITCONFIG date=$(date +%s)"
echo "VMGENID $(ls /sys/bus/acpi/drivers/vmgenid/ 2>&1 | tr '\n' ' ')"
echo "Listening for Jobs"
sleep 600
`
	tokens := []string{"tok-snap-0", "tok-snap-1", "tok-snap-2", "tok-snap-3"}
	mgr := newTokenManager(t, runnerTarball(t, runSh), tokens...)
	dir := t.TempDir()
	var logs testutil.SyncBuffer
	p, err := qemu.New(qemu.Options{StateDir: dir, ControllerID: "c", ImageDir: imageDir, Accel: "tcg", Start: qemu.StartSnapshot,
		RelayCommand: []string{paddockBin, "qemu-relay"}, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("provider log:\n%s", logs.String())
		}
	})
	ctx := context.Background()
	spec := func(i int) provider.Spec {
		return provider.Spec{Name: "snap-" + strconv.Itoa(i), PoolID: "p", MetadataURL: mgr.srv.URL + "/meta",
			CallbackURL: mgr.srv.URL + "/cb", Token: tokens[i], CPU: 1, MemoryMB: 512}
	}
	cmdline := func(name string) string {
		pids := qemuPIDs(filepath.Join(dir, name))
		if len(pids) != 1 {
			t.Fatalf("%s: %d QEMU processes", name, len(pids))
		}
		b, _ := os.ReadFile("/proc/" + pids[0] + "/cmdline")
		return string(b)
	}
	t.Cleanup(func() {
		for i := range tokens {
			p.Delete(context.Background(), spec(i).Name)
		}
		wctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		p.WaitSnapshots(wctx)
	})

	// No template yet: cold boot, and a template build starts.
	if _, err := p.Create(ctx, spec(0)); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(cmdline("snap-0"), "-incoming") || !strings.Contains(logs.String(), "no snapshot template") {
		t.Fatalf("first VM was not a cold boot while the template is built; log:\n%s", logs.String())
	}
	if err := p.Delete(ctx, "snap-0"); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	if err := p.WaitSnapshots(wctx); err != nil {
		t.Fatal(err)
	}
	states, _ := filepath.Glob(filepath.Join(dir, ".templates", "*", "state.bin"))
	if len(states) != 1 {
		t.Fatalf("templates after the build: %v", states)
	}

	// Two clones of the one template.
	for _, i := range []int{1, 2} {
		if _, err := p.Create(ctx, spec(i)); err != nil {
			t.Fatal(err)
		}
		if c := cmdline(spec(i).Name); !strings.Contains(c, "-incoming") || strings.Contains(c, tokens[i]) {
			t.Fatalf("%s: want a restore without the token on the command line: %q", spec(i).Name, c)
		}
	}
	prints := map[string]string{}
	for _, i := range []int{1, 2} {
		waitFor(t, spec(i).Name+"'s runner to report idle with its own token", 90*time.Second, func() bool { return mgr.saw(tokens[i], "idle") })
		console := filepath.Join(dir, spec(i).Name, "console.log")
		var out []byte
		// Until the script's last line: its lines reach the console one by one.
		waitFor(t, spec(i).Name+"'s job output", 30*time.Second, func() bool {
			out, _ = os.ReadFile(console)
			return bytes.Contains(out, []byte("JOB jit=")) && bytes.Contains(out, []byte("Listening for Jobs"))
		})
		if !bytes.Contains(out, []byte("JOB jit=JIT-"+tokens[i]+" ")) {
			t.Errorf("%s ran with another identity:\n%s", spec(i).Name, out)
		}
		m := regexp.MustCompile(`JOB jit=\S+ date=(\d+)`).FindSubmatch(out)
		if m == nil {
			t.Fatalf("%s: no date in the job output:\n%s", spec(i).Name, out)
		}
		if guest, _ := strconv.ParseInt(string(m[1]), 10, 64); time.Since(time.Unix(guest, 0)).Abs() > 2*time.Minute {
			t.Errorf("%s: guest clock not set on restore:\n%s", spec(i).Name, out)
		}
		// The guest's vmgenid driver is bound to QEMU's device (ACPI QEMUVGID),
		// so a new generation ID reseeds its random generator.
		if !regexp.MustCompile(`VMGENID .*QEMUVGID`).Match(out) {
			t.Errorf("%s: the guest's vmgenid driver has no device:\n%s", spec(i).Name, out)
		}
		fp := fingerprintRE.FindSubmatch(out)
		if fp == nil {
			t.Fatalf("%s: no rng fingerprint on the console:\n%s", spec(i).Name, out)
		}
		prints[string(fp[1])] = spec(i).Name
	}
	if len(prints) != 2 {
		t.Errorf("two clones drew the same random bytes: %v", prints)
	}
	state, err := os.ReadFile(states[0])
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("template state: %.1f MB", float64(len(state))/1e6)
	if loc := regexp.MustCompile(`tok-snap-\d`).FindIndex(state); loc != nil {
		t.Fatalf("a token is in the snapshot at byte %d", loc[0])
	}

	// Corrupt the template: the next VM cold-boots, and the template is rebuilt.
	f, err := os.OpenFile(states[0], os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("corrupt"), int64(len(state)/2))
	f.Close()
	if _, err := p.Create(ctx, spec(3)); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(cmdline("snap-3"), "-incoming") || !strings.Contains(logs.String(), "sha256 does not match") {
		t.Fatalf("a corrupt template was restored, or no reason was logged:\n%s", logs.String())
	}
	p.Delete(ctx, "snap-3")
	if err := p.WaitSnapshots(wctx); err != nil {
		t.Fatal(err)
	}
	var meta struct {
		SHA256 string `json:"sha256"`
	}
	b, err := os.ReadFile(filepath.Join(filepath.Dir(states[0]), "meta.json"))
	if err == nil {
		err = json.Unmarshal(b, &meta)
	}
	rebuilt, _ := os.ReadFile(states[0])
	if sum := sha256.Sum256(rebuilt); err != nil || hex.EncodeToString(sum[:]) != meta.SHA256 {
		t.Fatalf("template not rebuilt after corruption: %v", err)
	}
}
