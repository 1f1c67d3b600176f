package external

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/paddock-ci/paddock/internal/provider"
)

// Commands of the executable protocol (GARM_COMMAND).
const (
	CmdCreate            = "CreateInstance"
	CmdDelete            = "DeleteInstance"
	CmdGet               = "GetInstance"
	CmdList              = "ListInstances"
	CmdRemoveAll         = "RemoveAllInstances"
	CmdStart             = "StartInstance"
	CmdStop              = "StopInstance"
	CmdGetVersion        = "GetVersion"
	CmdSupportedVersions = "GetSupportedInterfaceVersions"
	CmdValidatePool      = "ValidatePoolInfo"
	CmdConfigSchema      = "GetConfigJSONSchema"
	CmdExtraSpecsSchema  = "GetExtraSpecsJSONSchema"
)

// Exit codes with a meaning beyond "failed".
const (
	ExitNotFound  = 30
	ExitDuplicate = 31
)

// Interface versions.
const (
	V010 = "v0.1.0"
	V011 = "v0.1.1"
)

// version is what differs between interface versions. Everything else is
// shared, so one adapter serves both.
type version struct {
	// poolIDFor lists the commands that get GARM_POOL_ID; nil = every command.
	poolIDFor map[string]bool
	// extraSpecsEnv: GARM_POOL_EXTRASPECS is set (base64 JSON).
	extraSpecsEnv bool
	// commands the executable is expected to understand.
	commands map[string]bool
}

// GetVersion is answered by v0.1.0 executables too (garm-provider-common's
// v0.1.0 execution package handles it).
var baseCommands = []string{CmdCreate, CmdDelete, CmdGet, CmdList, CmdRemoveAll, CmdStart, CmdStop, CmdGetVersion}

func set(names ...string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		m[n] = true
	}
	return m
}

// versions is the table of supported interface versions.
var versions = map[string]version{
	V010: {poolIDFor: set(CmdCreate, CmdList), commands: set(baseCommands...)},
	V011: {extraSpecsEnv: true, commands: set(append(baseCommands,
		CmdSupportedVersions, CmdValidatePool, CmdConfigSchema, CmdExtraSpecsSchema)...)},
}

// Versions lists the interface versions this adapter speaks.
func Versions() []string { return []string{V010, V011} }

// RunnerTool is one entry of BootstrapInstance.tools.
type RunnerTool struct {
	OS                string `json:"os"`
	Architecture      string `json:"architecture"`
	DownloadURL       string `json:"download_url"`
	Filename          string `json:"filename"`
	TempDownloadToken string `json:"temp_download_token,omitempty"`
	SHA256Checksum    string `json:"sha256_checksum,omitempty"`
}

// UserDataOptions is BootstrapInstance.user_data_options.
type UserDataOptions struct {
	DisableUpdatesOnBoot bool     `json:"disable_updates_on_boot"`
	ExtraPackages        []string `json:"extra_packages"`
	EnableBootDebug      bool     `json:"enable_boot_debug"`
}

// ProxyConfig is BootstrapInstance.proxy_config.
type ProxyConfig struct {
	HTTPProxy  string `json:"http_proxy"`
	HTTPSProxy string `json:"https_proxy"`
	NoProxy    string `json:"no_proxy"`
}

// BootstrapInstance is the JSON a provider reads on stdin for CreateInstance.
// The keys (dashes included) are GARM's, which existing providers decode.
type BootstrapInstance struct {
	Name              string          `json:"name"`
	Tools             []RunnerTool    `json:"tools"`
	RepoURL           string          `json:"repo_url"`
	CallbackURL       string          `json:"callback-url"`
	MetadataURL       string          `json:"metadata-url"`
	InstanceToken     string          `json:"instance-token"`
	SSHKeys           []string        `json:"ssh-keys"`
	ExtraSpecs        json.RawMessage `json:"extra_specs,omitempty"`
	GitHubRunnerGroup string          `json:"github-runner-group"`
	CACertBundle      []byte          `json:"ca-cert-bundle"`
	Arch              string          `json:"arch"`
	OSType            string          `json:"os_type"`
	Flavor            string          `json:"flavor"`
	Image             string          `json:"image"`
	Labels            []string        `json:"labels"`
	PoolID            string          `json:"pool_id"`
	UserDataOptions   UserDataOptions `json:"user_data_options"`
	JITConfigEnabled  bool            `json:"jit_config_enabled"`
	ProxyConfig       ProxyConfig     `json:"proxy_config"`
}

// Address is one of ProviderInstance.addresses.
type Address struct {
	Address string `json:"address"`
	Type    string `json:"type"` // public or private
}

// ProviderInstance is what a provider prints on stdout for Create and Get
// (one object) and List (an array).
type ProviderInstance struct {
	ProviderID    string    `json:"provider_id"`
	Name          string    `json:"name"`
	OSType        string    `json:"os_type,omitempty"`
	OSName        string    `json:"os_name,omitempty"`
	OSVersion     string    `json:"os_version,omitempty"`
	OSArch        string    `json:"os_arch,omitempty"`
	Addresses     []Address `json:"addresses,omitempty"`
	Status        string    `json:"status"`
	ProviderFault []byte    `json:"provider_fault,omitempty"`
}

// Validate applies the rules every answer must pass before Paddock trusts it.
func (p ProviderInstance) Validate() error {
	switch {
	case p.ProviderID == "":
		return fmt.Errorf("instance %q: missing provider_id", p.Name)
	case p.Name == "":
		return fmt.Errorf("instance with provider_id %q: missing name", p.ProviderID)
	}
	switch provider.Status(p.Status) {
	case provider.StatusRunning, provider.StatusStopped, provider.StatusError, provider.StatusUnknown:
		return nil
	}
	return fmt.Errorf("instance %q: unknown status %q (want running, stopped, error or unknown)", p.Name, p.Status)
}

// Machine converts a validated answer to Paddock's view.
func (p ProviderInstance) Machine(poolID string) provider.Machine {
	m := provider.Machine{ProviderID: p.ProviderID, Name: p.Name, PoolID: poolID, Status: provider.Status(p.Status)}
	if len(p.ProviderFault) > 0 {
		m.Fault = string(p.ProviderFault)
	}
	return m
}

// garmArch maps Paddock's (GitHub's) architecture names to GARM's, which
// providers use to pick images (amd64, arm64, arm, i386).
func garmArch(a string) string {
	switch strings.ToLower(a) {
	case "", "x64", "amd64", "x86_64":
		return "amd64"
	case "arm64", "aarch64":
		return "arm64"
	case "arm", "armv7", "armhf":
		return "arm"
	case "x86", "386", "i386":
		return "i386"
	}
	return strings.ToLower(a)
}

// githubArch is the architecture name runner downloads use.
func githubArch(a string) string {
	switch garmArch(a) {
	case "amd64":
		return "x64"
	case "i386":
		return "x86"
	}
	return garmArch(a)
}
