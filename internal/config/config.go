// Package config loads Paddock's YAML configuration file.
//
// Decoding is strict: an unknown key, a value of the wrong type or a broken
// reference is an error naming the key path and line, and every problem in the
// file is reported at once (see Error). Secrets are given by reference
// ("env:NAME", "file:PATH") so the file itself can be shared and versioned;
// inline literals still work, and are listed in Config.LiteralSecrets so the
// caller can warn about them.
package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/paddock-ci/paddock/internal/core"
)

// Config is a whole paddock.yaml after validation, with defaults applied.
type Config struct {
	Server     ServerConfig     `yaml:"server"`
	Store      StoreConfig      `yaml:"store"`
	StateDir   string           `yaml:"state_dir"`
	Controller ControllerConfig `yaml:"controller"`
	HA         HAConfig         `yaml:"ha"`
	Providers  []ProviderConfig `yaml:"providers"`
	Forges     []ForgeConfig    `yaml:"forges"`
	Entities   []EntityConfig   `yaml:"entities"`
	Pools      []PoolConfig     `yaml:"pools"`
	Tenants    []TenantConfig   `yaml:"tenants"`
	// Prices turns machine time into cost (docs/sharing.md, "Cost
	// accounting"); nil = no price table, and usage rows say so.
	Prices *core.PriceTable `yaml:"prices"`

	// LiteralSecrets lists the key paths (such as "server.admin_token") whose
	// secret was written inline rather than as env: or file:.
	LiteralSecrets []string `yaml:"-"`
}

// ServerConfig is the HTTP listener.
type ServerConfig struct {
	Listen     string `yaml:"listen"`
	PublicURL  string `yaml:"public_url"` // what machines and forges dial; no trailing slash
	AdminToken Secret `yaml:"admin_token"`
	// MetricsToken, if set, also opens /metrics (besides the admin token), so
	// a scraper need not hold the admin token.
	MetricsToken Secret `yaml:"metrics_token"`
	// ViewerToken, if set, opens the dashboard (/ui/) and the event stream
	// read-only: it can see everything the dashboard shows but change nothing.
	ViewerToken Secret `yaml:"viewer_token"`
	// MetricsPublic serves /metrics without any token.
	MetricsPublic bool         `yaml:"metrics_public"`
	Limits        ServerLimits `yaml:"limits"`
}

// ServerLimits bound what the HTTP server spends on clients, above all on
// clients that have not authenticated (see docs/security.md).
type ServerLimits struct {
	// MaxConnections caps open inbound connections; at the cap, the
	// connection that has waited longest without sending a request (or is
	// still sending an unauthenticated body) is closed for the new one.
	MaxConnections    int           `yaml:"max_connections"`
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	// ReadTimeout bounds reading a whole request on any endpoint.
	ReadTimeout  time.Duration `yaml:"read_timeout"`
	WriteTimeout time.Duration `yaml:"write_timeout"`
	IdleTimeout  time.Duration `yaml:"idle_timeout"`
	MaxHeaderKB  int           `yaml:"max_header_kb"`
	// UnauthenticatedBodyTimeout bounds reading the body of a webhook or
	// machine request, which is read before it can be authenticated.
	UnauthenticatedBodyTimeout time.Duration `yaml:"unauthenticated_body_timeout"`
	// UnauthenticatedMemoryMB bounds the memory of all unauthenticated
	// bodies held at once; beyond it requests are answered 503 + Retry-After.
	UnauthenticatedMemoryMB int `yaml:"unauthenticated_memory_mb"`
	// UnauthenticatedRequests bounds unauthenticated requests handled at once
	// (signature checks, token lookups), after their body has arrived.
	UnauthenticatedRequests int `yaml:"unauthenticated_requests"`
	WebhookMaxBodyMB        int `yaml:"webhook_max_body_mb"`
	MachineMaxBodyKB        int `yaml:"machine_max_body_kb"`
	// AuthFailuresPerMinute is how many failed admin or metrics
	// authentications one client address may make per minute (burst the
	// same); AuthFailuresPerMinuteTotal is the same for all clients together.
	AuthFailuresPerMinute      int `yaml:"auth_failures_per_minute"`
	AuthFailuresPerMinuteTotal int `yaml:"auth_failures_per_minute_total"`
}

// StoreConfig says where state lives.
type StoreConfig struct {
	Driver        string `yaml:"driver"`         // sqlite (default) or postgres
	Path          string `yaml:"path"`           // sqlite: the database file
	EncryptionKey Secret `yaml:"encryption_key"` // 32 bytes as hex or base64; see Key
	// DSN: postgres only, the connection string (a secret reference, as it
	// usually holds a password): postgres://user:pw@host:5432/db?sslmode=…
	DSN Secret `yaml:"dsn"`
}

// ControllerConfig tunes the control loop.
type ControllerConfig struct {
	ReconcileInterval time.Duration `yaml:"reconcile_interval"`
	IdleGrace         time.Duration `yaml:"idle_grace"`
	MaxCreateAttempts int           `yaml:"max_create_attempts"`
	PollInterval      time.Duration `yaml:"poll_interval"`
	// PollBudgetPerHour: forge API calls the poller (intake: poll) may be
	// charged per forge and hour; 304 Not Modified answers are not charged.
	PollBudgetPerHour int `yaml:"poll_budget_per_hour"`
	// Retention: how long finished history is kept (validate_retention.go).
	Retention RetentionConfig `yaml:"retention"`
}

// RetentionConfig sets how long the controller's housekeeping keeps finished
// history. Floors and defaults are core's Retention constants.
type RetentionConfig struct {
	Jobs             time.Duration `yaml:"jobs"`              // completed jobs
	DeletedInstances time.Duration `yaml:"deleted_instances"` // deleted instances
	Deliveries       time.Duration `yaml:"deliveries"`        // webhook delivery ids
}

// ProviderConfig names one provider instance and its type-specific settings.
type ProviderConfig struct {
	Name        string            `yaml:"name"`
	Type        string            `yaml:"type"`
	MaxParallel int               `yaml:"max_parallel"`
	Process     *ProcessConfig    `yaml:"process"`
	External    *ExternalConfig   `yaml:"external"`
	QEMU        *QEMUConfig       `yaml:"qemu"`
	Kubernetes  *KubernetesConfig `yaml:"kubernetes"`
	LXD         *LXDConfig        `yaml:"lxd"`
	// Capacity bounds what the provider (or its host) runs at once, across
	// all pools; sized machines count what they ask (docs/sharing.md).
	Capacity *CapacityConfig `yaml:"capacity"`
}

// ProcessConfig configures the process provider (local, no isolation).
type ProcessConfig struct {
	WorkDir       string   `yaml:"work_dir"` // relative paths are relative to the config file
	RunnerCommand []string `yaml:"runner_command"`
}

// QEMUConfig configures the qemu provider (one microVM per job).
type QEMUConfig struct {
	ImageDir    string `yaml:"image_dir"`     // default STATE_DIR/images/fast; relative to state_dir
	Accel       string `yaml:"accel"`         // auto (default), kvm or tcg
	Binary      string `yaml:"binary"`        // default qemu-system-x86_64
	BinaryArm64 string `yaml:"binary_arm64"`  // for pools with arch: arm64; default qemu-system-aarch64
	CPU         int    `yaml:"cpu"`           // default 1
	MemoryMB    int    `yaml:"memory_mb"`     // default 512
	MaxCPU      int    `yaml:"max_cpu"`       // cap for size labels; default 4
	MaxMemoryMB int    `yaml:"max_memory_mb"` // cap for size labels; default 4096
	// ScratchGB > 0 gives each VM an encrypted scratch disk (key made in the
	// guest, kept in RAM) of the pool's disk size or this many GB as its
	// workspace; 0 keeps the workspace in RAM.
	ScratchGB int `yaml:"scratch_gb"`
	// Workspace is where cloud-image guests (pool image "qcow2:/path") keep
	// the workspace: scratch (default: encrypted scratch disk, of the pool's
	// disk size, scratch_gb or 10 GB) or tmpfs (RAM only).
	Workspace string `yaml:"workspace"`
	// Forward lists extra host endpoints (host:port) that VMs may reach at
	// 10.0.2.100 on the same port; Paddock's own endpoint is always forwarded.
	Forward []string `yaml:"forward"`
	// RelayCommand carries a VM's connection to a forwarded endpoint (host:port
	// appended); default: this paddock binary's hidden qemu-relay command.
	RelayCommand []string `yaml:"relay_command"`
	// Start is how fast-image VMs start: boot (default, cold boot) or
	// snapshot (restore a saved booted template, then deliver the identity).
	Start string `yaml:"start"`

	// UEFI firmware for arm64 cloud images: code (read-only) and the
	// variable store template each VM gets a copy of; default Debian's
	// qemu-efi-aarch64 (/usr/share/AAVMF/AAVMF_CODE.fd, AAVMF_VARS.fd).
	FirmwareArm64     string `yaml:"firmware_arm64"`
	FirmwareVarsArm64 string `yaml:"firmware_vars_arm64"`
}

// ExternalConfig configures the external provider: an executable speaking
// GARM's provider protocol (the providers published for GARM work unchanged).
type ExternalConfig struct {
	ProviderExecutable string `yaml:"provider_executable"` // relative paths are relative to the config file
	ConfigFile         string `yaml:"config_file"`         // passed as GARM_PROVIDER_CONFIG_FILE
	InterfaceVersion   string `yaml:"interface_version"`   // auto (default: asked of the executable), v0.1.0 or v0.1.1
	// EnvironmentVariables are name prefixes: the manager's variables that
	// match are passed to the executable (its environment is otherwise empty).
	EnvironmentVariables []string      `yaml:"environment_variables"`
	ExecTimeout          time.Duration `yaml:"exec_timeout"` // per call; default 2m
	// CACertBundle is a PEM file handed to machines (BootstrapInstance
	// ca-cert-bundle) so they trust a manager with a private CA.
	CACertBundle string `yaml:"ca_cert_bundle"`
	// Proxy is handed to machines (BootstrapInstance proxy_config).
	Proxy *ProxyConfig `yaml:"proxy"`
}

// ProxyConfig is the proxy machines use to reach the manager and the forge.
type ProxyConfig struct {
	HTTPProxy  string `yaml:"http_proxy"`
	HTTPSProxy string `yaml:"https_proxy"`
	NoProxy    string `yaml:"no_proxy"`
}

// ForgeConfig seeds a core.Forge.
type ForgeConfig struct {
	Name          string           `yaml:"name"`
	Kind          core.ForgeKind   `yaml:"kind"`
	APIURL        string           `yaml:"api_url"`
	WebURL        string           `yaml:"web_url"`
	WebhookSecret Secret           `yaml:"webhook_secret"`
	Credential    CredentialConfig `yaml:"credential"`
	// RunnerDownloads are the runner binaries machines fetch from a Gitea or
	// Forgejo forge (neither publishes a download list, unlike GitHub).
	RunnerDownloads []RunnerDownloadConfig `yaml:"runner_downloads"`
}

// RunnerDownloadConfig is one runner binary or package: act_runner for Gitea,
// forgejo-runner for Forgejo. The sha256 is checked on the machine.
type RunnerDownloadConfig struct {
	OS           string `yaml:"os"`           // default linux
	Architecture string `yaml:"architecture"` // x64 or arm64; default x64
	URL          string `yaml:"url"`
	SHA256       string `yaml:"sha256"`
	Filename     string `yaml:"filename"`
}

// CredentialConfig seeds a core.Credential.
type CredentialConfig struct {
	Kind           core.CredentialKind `yaml:"kind"`
	Token          Secret              `yaml:"token"`
	AppID          int64               `yaml:"app_id"`
	InstallationID int64               `yaml:"installation_id"`
	PrivateKey     Secret              `yaml:"private_key"` // PEM
}

// EntityConfig seeds a core.Entity.
type EntityConfig struct {
	Forge  string          `yaml:"forge"` // forge name
	Kind   core.EntityKind `yaml:"kind"`
	Name   string          `yaml:"name"`
	Intake core.Intake     `yaml:"intake"`
}

// PoolConfig seeds a core.Pool.
type PoolConfig struct {
	Name string `yaml:"name"`
	// Entity is the entity's name; Forge is only needed when that name is
	// declared under more than one forge.
	Entity            string        `yaml:"entity"`
	Forge             string        `yaml:"forge"`
	Provider          string        `yaml:"provider"`
	Labels            []string      `yaml:"labels"`
	Image             string        `yaml:"image"`
	Flavor            string        `yaml:"flavor"`
	OSType            string        `yaml:"os_type"`
	Arch              string        `yaml:"arch"`
	MinIdle           int           `yaml:"min_idle"`
	MaxRunners        int           `yaml:"max_runners"`
	FreeTargetPercent int           `yaml:"free_target_percent"`
	Priority          int           `yaml:"priority"`
	BootstrapTimeout  time.Duration `yaml:"bootstrap_timeout"`
	MaxJobRuntime     time.Duration `yaml:"max_job_runtime"` // 0 = no limit
	RunnerGroup       string        `yaml:"runner_group"`
	RunnerPrefix      string        `yaml:"runner_prefix"`
	Sizes             *SizesConfig  `yaml:"sizes"`
	// ExtraSpecs are the provider's own pool settings (external providers:
	// GARM's pool extra specs, e.g. {disable_updates: true} for LXD).
	ExtraSpecs JSONObject `yaml:"extra_specs"`
	// Flavors maps size labels to provider flavors (4cpu-16gb: large-profile).
	Flavors map[string]string `yaml:"flavors"`
	// ScaleSet makes the pool a GitHub runner scale set named after its first label.
	ScaleSet bool `yaml:"scale_set"`
	Enabled  bool `yaml:"enabled"`
	// Entities (names, FORGE:NAME when ambiguous) and Tenants (names, or
	// "*" for all) share the pool: their jobs match it too (docs/sharing.md).
	Entities []string `yaml:"entities"`
	Tenants  []string `yaml:"tenants"`
}

// SizesConfig bounds the size labels a pool accepts (core.SizeLimits).
type SizesConfig struct {
	MaxCPU      int `yaml:"max_cpu"`
	MaxMemoryGB int `yaml:"max_memory_gb"`
	MaxDiskGB   int `yaml:"max_disk_gb"`
}

// Secret is a resolved secret value. It prints as *** so that logging a
// config struct cannot leak it; convert with string(s) to use it.
type Secret string

func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "***"
}

// GoString keeps %#v from printing the value either.
func (s Secret) GoString() string { return fmt.Sprintf("config.Secret(%q)", s.String()) }

// Load reads and parses the config file at path. Relative file: references
// and paths in it are resolved against the file's directory.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(data, path, filepath.Dir(path))
}

// Parse parses config data. name is used in error messages; dir is the
// directory relative paths are resolved against ("" leaves them as written).
// A non-nil error is always a *Error.
func Parse(data []byte, name, dir string) (*Config, error) {
	p := newProblems(name)
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		line, msg := syntaxError(err)
		p.add(line, "", "%s", msg)
		return nil, p.err()
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		p.add(0, "", "config is empty")
		return nil, p.err()
	}
	cfg := &Config{}
	d := &decoder{dir: dir, p: p}
	d.value(doc.Content[0], "", reflect.ValueOf(cfg).Elem())
	cfg.LiteralSecrets = d.literals
	validate(cfg, p)
	if err := p.err(); err != nil {
		return nil, err
	}
	applyDefaults(cfg, p.set, dir)
	checkExternalFiles(cfg, p) // paths are resolved against dir only now
	if err := p.err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxError moves yaml.v3's "yaml: line N: msg" into the same file:line:
// form as every other problem.
func syntaxError(err error) (line int, msg string) {
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
		return line, m[2]
	}
	return 0, err.Error()
}
