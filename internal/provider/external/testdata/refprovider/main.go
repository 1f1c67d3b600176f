// Command refprovider is a reference provider executable for tests. It speaks
// GARM's external provider protocol (v0.1.0 and v0.1.1) on its own, without
// Paddock's code, and its "machines" are local processes that run the boot
// script the manager handed over — extra_specs.runner_install_template,
// decoded and run with bash, the way cloud-init would on a VM.
//
// Its config file (GARM_PROVIDER_CONFIG_FILE, JSON) names a state directory
// and, for tests, faults to inject per command:
//
//	{"state_dir": "/tmp/x", "faults": {"CreateInstance": "crash"}, "stray": "intruder"}
//
// Faults: garbage, hang, crash (machine made, then exit 2 with no answer),
// exit:N, invalid (empty provider_id), bad-status, stderr-flood.
// stray: ListInstances also reports (and runs) a machine nobody asked for.
// The modes that published providers show (modes.go): "interface": "v0.1.0"
// (speaks only v0.1.0, answering v0.1.1 calls exactly as garm-provider-common
// does), "duplicate": "plain" (a second create of a name fails with exit 1
// and LXD's text, not exit 31), "create_delay", "profiles", "images" (LXD's
// create operation, missing profile and image: lxd.go), "boot_delay": "3s" (the machine starts its
// boot script late), "wait_for_callback": true (CreateInstance returns only
// after the machine's first call to the manager completed, and "create_linger"
// longer).
// A link named *v010* or *lxdlike* selects modes without a config (modes.go).
// Every call is appended to state_dir/calls.jsonl (command, env, stdin).
package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

type config struct {
	StateDir        string            `json:"state_dir"`
	Faults          map[string]string `json:"faults"`
	Stray           string            `json:"stray"`
	Interface       string            `json:"interface"`
	Duplicate       string            `json:"duplicate"`
	BootDelay       string            `json:"boot_delay"`
	WaitForCallback bool              `json:"wait_for_callback"`
	CreateLinger    string            `json:"create_linger"`
	CreateDelay     string            `json:"create_delay"` // lxd.go
	Profiles        []string          `json:"profiles"`
	Images          []string          `json:"images"`
}

// bootstrapInstance lists GARM's keys exactly; unknown keys are rejected so a
// misspelt key in the manager's output fails loudly.
type bootstrapInstance struct {
	Name              string            `json:"name"`
	Tools             []json.RawMessage `json:"tools"`
	RepoURL           string            `json:"repo_url"`
	CallbackURL       string            `json:"callback-url"`
	MetadataURL       string            `json:"metadata-url"`
	InstanceToken     string            `json:"instance-token"`
	SSHKeys           []string          `json:"ssh-keys"`
	ExtraSpecs        map[string]any    `json:"extra_specs"`
	GitHubRunnerGroup string            `json:"github-runner-group"`
	CACertBundle      []byte            `json:"ca-cert-bundle"`
	Arch              string            `json:"arch"`
	OSType            string            `json:"os_type"`
	Flavor            string            `json:"flavor"`
	Image             string            `json:"image"`
	Labels            []string          `json:"labels"`
	PoolID            string            `json:"pool_id"`
	UserDataOptions   json.RawMessage   `json:"user_data_options"`
	JITConfigEnabled  bool              `json:"jit_config_enabled"`
	ProxyConfig       json.RawMessage   `json:"proxy_config"`
}

type instance struct {
	ProviderID string `json:"provider_id"`
	Name       string `json:"name"`
	OSType     string `json:"os_type"`
	OSArch     string `json:"os_arch"`
	Status     string `json:"status"`
	Addresses  []struct {
		Address string `json:"address"`
		Type    string `json:"type"`
	} `json:"addresses"`
}

type machine struct {
	Name         string `json:"name"`
	ProviderID   string `json:"provider_id"`
	PoolID       string `json:"pool_id"`
	ControllerID string `json:"controller_id"`
	PID          int    `json:"pid"`
	Stopped      bool   `json:"stopped"`
	CreatePID    int    `json:"create_pid,omitempty"` // the create call still making it (lxd.go)
	OSType       string `json:"os_type"`
	Arch         string `json:"arch"`
}

type failure struct {
	code int
	msg  string
	raw  bool // printed as is (a published provider's exact text)
}

func (f failure) Error() string { return f.msg }

func main() {
	err := run()
	var f failure
	switch {
	case err == nil:
		return
	case errors.As(err, &f) && f.raw:
		fmt.Fprint(os.Stderr, f.msg)
		os.Exit(f.code)
	case errors.As(err, &f):
		fmt.Fprintln(os.Stderr, "refprovider:", f.msg)
		os.Exit(f.code)
	default:
		fmt.Fprintln(os.Stderr, "refprovider:", err)
		os.Exit(1)
	}
}

func run() error {
	if len(os.Args) > 1 {
		return fmt.Errorf("no arguments expected, got %q", os.Args[1:])
	}
	cmd := os.Getenv("GARM_COMMAND")
	b, err := os.ReadFile(os.Getenv("GARM_PROVIDER_CONFIG_FILE"))
	if err != nil {
		return err
	}
	var cfg config
	if err := json.Unmarshal(b, &cfg); err != nil || cfg.StateDir == "" {
		return fmt.Errorf("config file: need {\"state_dir\": …} (%v)", err)
	}
	modesByName(&cfg)
	var stdin []byte
	if cmd == "CreateInstance" {
		if stdin, err = io.ReadAll(os.Stdin); err != nil {
			return err
		}
	}
	record(cfg.StateDir, cmd, stdin)
	if err := fault(cfg, cmd); err != nil {
		return err
	}
	v := os.Getenv("GARM_INTERFACE_VERSION")
	if cfg.Interface == "v0.1.0" {
		if err := onlyV010(cmd, v); err != nil {
			return err
		}
		v = "v0.1.0"
	}
	if v != "v0.1.0" && v != "v0.1.1" {
		return fmt.Errorf("unsupported GARM_INTERFACE_VERSION %q", v)
	}
	p := &prov{cfg: cfg, dir: filepath.Join(cfg.StateDir, "machines"), controller: os.Getenv("GARM_CONTROLLER_ID"),
		pool: os.Getenv("GARM_POOL_ID"), id: os.Getenv("GARM_INSTANCE_ID")}
	if p.controller == "" {
		return errors.New("GARM_CONTROLLER_ID is not set")
	}
	if err := os.MkdirAll(p.dir, 0o700); err != nil {
		return err
	}
	switch cmd {
	case "CreateInstance":
		return p.create(stdin)
	case "DeleteInstance":
		return p.delete()
	case "GetInstance":
		m, err := p.find()
		if err != nil {
			return err
		}
		return emit(p.instance(m))
	case "ListInstances":
		return p.list()
	case "RemoveAllInstances":
		return p.removeAll()
	case "StartInstance", "StopInstance":
		return p.startStop(cmd == "StartInstance")
	case "GetVersion":
		fmt.Print("refprovider v0.0.1") // as garm-provider-common prints it: no newline
		return nil
	}
	if v == "v0.1.1" {
		switch cmd {
		case "GetSupportedInterfaceVersions":
			return emit([]string{"v0.1.0", "v0.1.1"})
		case "ValidatePoolInfo":
			if os.Getenv("GARM_POOL_IMAGE") == "" {
				return errors.New("pool image is required")
			}
			return nil
		case "GetConfigJSONSchema", "GetExtraSpecsJSONSchema":
			return emit(map[string]any{"type": "object"})
		}
	}
	return fmt.Errorf("unknown command %q", cmd)
}

// record appends the call to calls.jsonl under an exclusive lock (calls run
// concurrently).
func record(dir, cmd string, stdin []byte) {
	env := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	line, _ := json.Marshal(map[string]any{"command": cmd, "env": env, "stdin": string(stdin)})
	_ = os.MkdirAll(dir, 0o700)
	f, err := os.OpenFile(filepath.Join(dir, "calls.jsonl"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
	_, _ = f.Write(append(line, '\n'))
}

type prov struct {
	cfg                   config
	dir, controller, pool string
	id                    string
}

func emit(v any) error { return json.NewEncoder(os.Stdout).Encode(v) }

func (p *prov) create(stdin []byte) error {
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(stdin, &keys); err != nil {
		return fmt.Errorf("stdin is not a JSON object: %w", err)
	}
	for _, k := range []string{"name", "tools", "callback-url", "metadata-url", "instance-token", "extra_specs",
		"os_type", "arch", "flavor", "image", "labels", "pool_id", "jit_config_enabled"} {
		if _, ok := keys[k]; !ok {
			return fmt.Errorf("BootstrapInstance lacks key %q", k)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(stdin))
	dec.DisallowUnknownFields()
	var bi bootstrapInstance
	if err := dec.Decode(&bi); err != nil {
		return fmt.Errorf("BootstrapInstance: %w", err)
	}
	tmpl, _ := bi.ExtraSpecs["runner_install_template"].(string)
	script, err := base64.StdEncoding.DecodeString(tmpl)
	if err != nil || len(script) == 0 {
		return fmt.Errorf("extra_specs.runner_install_template is missing or not base64: %v", err)
	}
	if bi.Name == "" || strings.ContainsAny(bi.Name, "/\\") {
		return fmt.Errorf("bad instance name %q", bi.Name)
	}
	if err := p.checkLXDRefs(bi); err != nil {
		return err
	}
	mdir := filepath.Join(p.dir, bi.Name)
	if err := os.Mkdir(mdir, 0o700); errors.Is(err, os.ErrExist) {
		return p.duplicate(bi.Name)
	} else if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(mdir, "boot.sh"), script, 0o700); err != nil {
		return err
	}
	id := make([]byte, 6)
	_, _ = rand.Read(id)
	m := machine{Name: bi.Name, ProviderID: "ref-" + hex.EncodeToString(id), PoolID: bi.PoolID,
		ControllerID: p.controller, OSType: bi.OSType, Arch: bi.Arch}
	if err := p.lxdCreateOp(mdir, m); err != nil {
		return err
	}
	if m.PID, err = start(mdir, p.bootArgv(mdir)...); err != nil {
		os.RemoveAll(mdir)
		return err
	}
	if err := save(mdir, m); err != nil {
		return err
	}
	if err := p.waitForCallback(mdir); err != nil {
		return err
	}
	switch p.cfg.Faults["CreateInstance"] {
	case "crash":
		return failure{2, "panic: runtime error: invalid memory address (simulated crash after the machine started)", false}
	case "invalid":
		m.ProviderID = ""
	case "bad-status":
		return emit(map[string]any{"provider_id": m.ProviderID, "name": m.Name, "status": "exploded"})
	}
	inst := p.instance(m)
	inst.ProviderID = m.ProviderID
	return emit(inst)
}

// start runs a machine: a new session (it outlives this call, like a VM),
// output to a log file, and the environment a fresh boot would have.
func start(dir string, argv ...string) (int, error) {
	logf, err := os.OpenFile(filepath.Join(dir, "console.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return 0, err
	}
	defer logf.Close()
	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		return 0, err
	}
	c := exec.Command(argv[0], argv[1:]...)
	c.Dir = home
	c.Stdout, c.Stderr = logf, logf
	c.Env = []string{"PATH=" + machinePath(dir), "HOME=" + home, "LANG=C.UTF-8"}
	c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := c.Start(); err != nil {
		return 0, err
	}
	return c.Process.Pid, nil
}

func save(dir string, m machine) error {
	b, _ := json.Marshal(m)
	tmp := filepath.Join(dir, "machine.json.tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, "machine.json"))
}

func (p *prov) load(name string) (machine, bool) {
	var m machine
	b, err := os.ReadFile(filepath.Join(p.dir, name, "machine.json"))
	if err != nil || json.Unmarshal(b, &m) != nil || m.ControllerID != p.controller {
		return m, false
	}
	return m, true
}

func (p *prov) all() []machine {
	entries, _ := os.ReadDir(p.dir)
	var out []machine
	for _, e := range entries {
		if m, ok := p.load(e.Name()); ok && (p.pool == "" || m.PoolID == p.pool) {
			out = append(out, m)
		}
	}
	return out
}

// find resolves GARM_INSTANCE_ID: a provider_id, or a name.
func (p *prov) find() (machine, error) {
	if p.id == "" {
		return machine{}, errors.New("GARM_INSTANCE_ID is not set")
	}
	if m, ok := p.load(p.id); ok {
		return m, nil
	}
	entries, _ := os.ReadDir(p.dir)
	for _, e := range entries {
		if m, ok := p.load(e.Name()); ok && m.ProviderID == p.id {
			return m, nil
		}
	}
	return machine{}, failure{30, fmt.Sprintf("instance %s not found", p.id), false}
}

func alive(pid int) bool {
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i > 0 && len(b) > i+2 && b[i+2] != 'Z'
}

func (p *prov) instance(m machine) instance {
	inst := instance{ProviderID: m.ProviderID, Name: m.Name, OSType: m.OSType, OSArch: m.Arch, Status: "running"}
	if m.Stopped || !alive(m.PID) {
		inst.Status = "stopped"
	}
	inst.Addresses = append(inst.Addresses, struct {
		Address string `json:"address"`
		Type    string `json:"type"`
	}{"127.0.0.1", "private"})
	if p.cfg.Faults["GetInstance"] == "invalid" {
		inst.Name = ""
	}
	return inst
}

func kill(m machine) {
	if m.PID > 0 {
		_ = syscall.Kill(-m.PID, syscall.SIGKILL)
	}
}

func (p *prov) delete() error {
	m, err := p.find()
	if err != nil {
		return err
	}
	if err := busyCreating(m); err != nil {
		return err
	}
	kill(m)
	keepConsole(p.cfg.StateDir, filepath.Join(p.dir, m.Name), m.Name)
	return os.RemoveAll(filepath.Join(p.dir, m.Name))
}

// keepConsole saves a deleted machine's console log for post-mortems.
func keepConsole(stateDir, mdir, name string) {
	b, err := os.ReadFile(filepath.Join(mdir, "console.log"))
	if err != nil {
		return
	}
	dir := filepath.Join(stateDir, "consoles")
	if os.MkdirAll(dir, 0o700) == nil {
		_ = os.WriteFile(filepath.Join(dir, name+".log"), b, 0o600)
	}
}

func (p *prov) list() error {
	if p.cfg.Stray != "" {
		p.makeStray()
	}
	out := []instance{}
	for _, m := range p.all() {
		out = append(out, p.instance(m))
	}
	if p.cfg.Faults["ListInstances"] == "invalid" && len(out) > 0 {
		out[0].Status = "exploded"
	}
	return emit(out)
}

// makeStray starts, once, a machine in the listed pool that the manager never
// asked for (left over by a crashed manager, or made by hand).
func (p *prov) makeStray() {
	marker := filepath.Join(p.cfg.StateDir, "stray-made")
	if _, err := os.Stat(marker); err == nil {
		return
	}
	mdir := filepath.Join(p.dir, p.cfg.Stray)
	if os.Mkdir(mdir, 0o700) != nil {
		return
	}
	m := machine{Name: p.cfg.Stray, ProviderID: "ref-stray", PoolID: p.pool, ControllerID: p.controller, OSType: "linux", Arch: "amd64"}
	pid, err := start(mdir, "/bin/sleep", "3600")
	if err != nil {
		return
	}
	m.PID = pid
	_ = save(mdir, m)
	_ = os.WriteFile(marker, []byte(strconv.Itoa(pid)), 0o600)
}

func (p *prov) removeAll() error {
	for _, m := range p.all() {
		kill(m)
		if err := os.RemoveAll(filepath.Join(p.dir, m.Name)); err != nil {
			return err
		}
	}
	return nil
}

func (p *prov) startStop(startIt bool) error {
	m, err := p.find()
	if err != nil {
		return err
	}
	mdir := filepath.Join(p.dir, m.Name)
	if startIt {
		if !m.Stopped {
			return nil
		}
		if m.PID, err = start(mdir, "/bin/sleep", "3600"); err != nil {
			return err
		}
		m.Stopped = false
	} else {
		kill(m)
		m.Stopped = true
	}
	return save(mdir, m)
}
