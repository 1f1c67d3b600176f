package external_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/provider"
	"github.com/paddock-ci/paddock/internal/provider/external"
)

var refprovider string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "refprovider-")
	if err != nil {
		panic(err)
	}
	refprovider = filepath.Join(dir, "refprovider")
	if out, err := exec.Command("go", "build", "-o", refprovider, "./testdata/refprovider").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build refprovider: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// env is one reference provider with its config file and state.
type env struct {
	t       *testing.T
	dir     string
	cfgPath string
	cfg     map[string]any
	p       *external.Provider
}

// managerEnv is the manager's environment as the adapter sees it.
var managerEnv = []string{
	"PADDOCK_ADMIN_TOKEN=must-not-leak", "PATH=/usr/bin:/bin", "HOME=/root",
	"OS_CLOUD=mycloud", "OS_PASSWORD=cloud-secret", "AWS_REGION=eu-west-1",
	"https_proxy=http://proxy:3128", "no_proxy=localhost", "GARM_COMMAND=Injected",
}

func newEnv(t *testing.T, version string, timeout time.Duration) *env {
	t.Helper()
	dir := t.TempDir()
	e := &env{t: t, dir: dir, cfgPath: filepath.Join(dir, "provider.json"), cfg: map[string]any{"state_dir": filepath.Join(dir, "ref")}}
	e.write()
	p, err := external.New(external.Options{
		Executable: refprovider, ConfigFile: e.cfgPath, InterfaceVersion: version, ControllerID: "ctrl-1",
		EnvPrefixes: []string{"OS_"}, Timeout: timeout, StateFile: filepath.Join(dir, "adapter.json"),
		Environ: func() []string { return managerEnv },
	})
	if err != nil {
		t.Fatal(err)
	}
	e.p = p
	t.Cleanup(func() { e.killAll() })
	return e
}

func (e *env) write() {
	b, _ := json.Marshal(e.cfg)
	if err := os.WriteFile(e.cfgPath, b, 0o600); err != nil {
		e.t.Fatal(err)
	}
}

// fault sets (or with "" clears) a fault for one command.
func (e *env) fault(command, f string) {
	faults, _ := e.cfg["faults"].(map[string]string)
	if faults == nil {
		faults = map[string]string{}
	}
	if f == "" {
		delete(faults, command)
	} else {
		faults[command] = f
	}
	e.cfg["faults"] = faults
	e.write()
}

type call struct {
	Command string            `json:"command"`
	Env     map[string]string `json:"env"`
	Stdin   string            `json:"stdin"`
}

func (e *env) calls() []call {
	f, err := os.Open(filepath.Join(e.dir, "ref", "calls.jsonl"))
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []call
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var c call
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			e.t.Fatalf("calls.jsonl: %v", err)
		}
		out = append(out, c)
	}
	return out
}

func (e *env) lastCall(command string) call {
	cs := e.calls()
	for i := len(cs) - 1; i >= 0; i-- {
		if cs[i].Command == command {
			return cs[i]
		}
	}
	e.t.Fatalf("the executable never got %s", command)
	return call{}
}

// machinePID reads the pid of a reference machine.
func (e *env) machinePID(name string) int {
	b, err := os.ReadFile(filepath.Join(e.dir, "ref", "machines", name, "machine.json"))
	if err != nil {
		return 0
	}
	var m struct {
		PID int `json:"pid"`
	}
	_ = json.Unmarshal(b, &m)
	return m.PID
}

func (e *env) killAll() {
	entries, _ := os.ReadDir(filepath.Join(e.dir, "ref", "machines"))
	for _, en := range entries {
		if pid := e.machinePID(en.Name()); pid > 0 {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		}
	}
	if b, err := os.ReadFile(filepath.Join(e.dir, "ref", "hang-child.pid")); err == nil {
		if pid, _ := strconv.Atoi(strings.TrimSpace(string(b))); pid > 0 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

func alive(pid int) bool {
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && len(s) > i+2 && s[i+2] != 'Z'
}

// spec is a machine whose boot script cannot reach a manager (port 9 is
// discard): the protocol tests do not need it to boot.
func spec(name string) provider.Spec {
	return provider.Spec{Name: name, ControllerID: "ctrl-1", PoolID: "pool-a", Image: "ubuntu:24.04", Flavor: "small",
		OSType: "linux", Arch: "x64", Labels: []string{"self-hosted", "linux"},
		MetadataURL: "http://127.0.0.1:9/api/v1/metadata", CallbackURL: "http://127.0.0.1:9/api/v1/callbacks",
		Token: "tok-" + name, ExtraSpecs: json.RawMessage(`{"disk_gb":20}`)}
}

// gone waits briefly for pid to die: SIGKILL of a process group is
// delivered asynchronously.
func gone(pid int) bool {
	deadline := time.Now().Add(3 * time.Second)
	for alive(pid) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	return !alive(pid)
}

// reopen replaces the adapter with a fresh one over the same files (a
// restarted manager), with the given interface version and extra options.
func (e *env) reopen(version string, mut func(*external.Options)) {
	e.t.Helper()
	o := external.Options{
		Executable: refprovider, ConfigFile: e.cfgPath, InterfaceVersion: version, ControllerID: "ctrl-1",
		EnvPrefixes: []string{"OS_"}, Timeout: 30 * time.Second, StateFile: filepath.Join(e.dir, "adapter.json"),
		Environ: func() []string { return managerEnv },
	}
	if mut != nil {
		mut(&o)
	}
	p, err := external.New(o)
	if err != nil {
		e.t.Fatal(err)
	}
	e.p = p
}

// count is how many calls of command the executable got.
func (e *env) count(command string) int {
	n := 0
	for _, c := range e.calls() {
		if c.Command == command {
			n++
		}
	}
	return n
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
