package metadata

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/machineapi"
	"github.com/paddock-ci/paddock/internal/winboot"
)

// GARM-compatible machine endpoints. Boot scripts rendered by GARM's provider
// executables call these paths (with and without a trailing slash, as GARM
// routes both) using the instance token as a bearer token. Every one of them
// checks the token through the controller, so they work only while the
// machine is installing, like Paddock's own endpoints.

// InstanceLookup is optionally implemented by Machines: it names the instance
// a token belongs to without spending the token. Without it, the endpoints
// that describe the runner answer with generic values.
type InstanceLookup interface {
	InstanceForToken(ctx context.Context, token string) (core.Instance, error)
}

func (h *Handler) garmRoutes(mux *http.ServeMux) {
	both := func(method, path string, f http.HandlerFunc) {
		mux.HandleFunc(method+" "+path, f)
		mux.HandleFunc(method+" "+path+"/{$}", f)
	}
	both("GET", "/api/v1/metadata/install-script", h.installScript)
	both("GET", "/api/v1/metadata/install-script.ps1", h.installScriptPS)
	both("GET", "/api/v1/metadata/runner-metadata", h.runnerMetadata)
	both("GET", "/api/v1/metadata/system/service-name", h.serviceName)
	both("GET", "/api/v1/metadata/systemd/unit-file", h.unitFile)
	both("GET", "/api/v1/metadata/system/cert-bundle", h.certBundle)
	both("GET", "/api/v1/metadata/runner-registration-token", h.registrationToken)
	mux.HandleFunc("GET /api/v1/metadata/credentials/{file}", h.credentials)
	both("GET", "/api/v1/metadata/runner-tools", h.runnerTools)
	mux.HandleFunc("POST /api/v1/callbacks/status/{$}", h.status)
	both("POST", "/api/v1/callbacks/system-info", h.systemInfo)
}

// check validates the token by reporting progress; it fails (401/410) once
// the runner is idle or the instance is being removed.
func (h *Handler) check(w http.ResponseWriter, r *http.Request, msg string) (string, bool) {
	tok := bearer(r)
	if tok == "" {
		h.fail(w, machineapi.ErrBadToken)
		return "", false
	}
	if err := h.Machines.Report(r.Context(), tok, core.RunnerInstalling, msg); err != nil {
		h.fail(w, err)
		return "", false
	}
	return tok, true
}

func (h *Handler) instance(r *http.Request, tok string) (core.Instance, bool) {
	l, ok := h.Machines.(InstanceLookup)
	if !ok {
		return core.Instance{}, false
	}
	inst, err := l.InstanceForToken(r.Context(), tok)
	return inst, err == nil
}

// baseURL is how this machine reached the manager; it reaches it again the
// same way.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + "/api/v1"
}

func text(w http.ResponseWriter, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(body))
}

func (h *Handler) installScript(w http.ResponseWriter, r *http.Request) {
	tok, ok := h.check(w, r, "install script fetched")
	if !ok {
		return
	}
	if h.osType(r, tok) == "windows" {
		writePowerShell(w, r, tok)
		return
	}
	base := baseURL(r)
	w.Header().Set("Content-Type", "text/x-shellscript; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(renderInstallScript(base+"/metadata", base+"/callbacks", tok)))
}

// installScriptPS is the Windows install script whatever the pool says:
// the Windows bootstrap asks for it by name.
func (h *Handler) installScriptPS(w http.ResponseWriter, r *http.Request) {
	tok, ok := h.check(w, r, "install script fetched")
	if !ok {
		return
	}
	writePowerShell(w, r, tok)
}

func writePowerShell(w http.ResponseWriter, r *http.Request, tok string) {
	base := baseURL(r)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(winboot.InstallScript(base+"/metadata", base+"/callbacks", tok)))
}

// MachineOS is optionally implemented by Machines: the os_type of the pool
// a token's instance belongs to, which decides the install script's
// language. Without it every machine gets the bash script.
type MachineOS interface {
	OSTypeForToken(ctx context.Context, token string) (string, error)
}

func (h *Handler) osType(r *http.Request, tok string) string {
	m, ok := h.Machines.(MachineOS)
	if !ok {
		return ""
	}
	os, err := m.OSTypeForToken(r.Context(), tok)
	if err != nil {
		return ""
	}
	return os
}

// RunnerMetadata is GARM's InstanceMetadata shape (garm params.InstanceMetadata),
// so boot scripts written for GARM read the same keys. It holds no
// credential: the single-use runner config comes from /runner. Paddock has
// no GARM agent (agent_mode false) and always uses JIT configs; the runner
// download is part of that config, so runner_tools is empty here.
// InstallScript and RunnerConfig are Paddock's additions.
type RunnerMetadata struct {
	MetadataAccess        MetadataAccess    `json:"metadata_access"`
	ForgeType             string            `json:"forge_type"`
	RunnerRegistrationURL string            `json:"runner_registration_url"`
	RunnerName            string            `json:"runner_name"`
	RunnerLabels          []string          `json:"runner_labels,omitempty"`
	CABundle              map[string][]byte `json:"ca_bundles,omitempty"`
	ExtraSpecs            map[string]any    `json:"extra_specs,omitempty"`
	AgentMode             bool              `json:"agent_mode"`
	JITEnabled            bool              `json:"jit_enabled"`
	RunnerTools           struct{}          `json:"runner_tools"`
	InstallScript         string            `json:"install_script"`
	RunnerConfig          string            `json:"runner_config"`
}

// MetadataAccess is GARM's metadata_access object.
type MetadataAccess struct {
	CallbackURL string `json:"callback_url"`
	MetadataURL string `json:"metadata_url"`
	AgentURL    string `json:"agent_url"`
}

func (h *Handler) runnerMetadata(w http.ResponseWriter, r *http.Request) {
	tok, ok := h.check(w, r, "runner metadata fetched")
	if !ok {
		return
	}
	base := baseURL(r)
	md := RunnerMetadata{JITEnabled: true,
		MetadataAccess: MetadataAccess{MetadataURL: base + "/metadata", CallbackURL: base + "/callbacks"},
		InstallScript:  base + "/metadata/install-script", RunnerConfig: base + "/metadata/runner"}
	if inst, ok := h.instance(r, tok); ok {
		md.RunnerName, md.RunnerLabels = inst.Name, inst.Labels
	}
	writeJSON(w, http.StatusOK, md)
}

var unitNameRE = regexp.MustCompile(`[^A-Za-z0-9_.-]`)

func (h *Handler) serviceName(w http.ResponseWriter, r *http.Request) {
	tok, ok := h.check(w, r, "service name fetched")
	if !ok {
		return
	}
	name := "actions.runner.paddock"
	if inst, ok := h.instance(r, tok); ok {
		name += "." + unitNameRE.ReplaceAllString(inst.Name, "-")
	}
	text(w, name)
}

// userRE keeps the runAsUser query (written into the unit) to a plain user name.
var userRE = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)

func (h *Handler) unitFile(w http.ResponseWriter, r *http.Request) {
	user := r.URL.Query().Get("runAsUser")
	if user == "" {
		user = "runner"
	}
	if !userRE.MatchString(user) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "runAsUser must be a plain user name"})
		return
	}
	if _, ok := h.check(w, r, "systemd unit fetched"); !ok {
		return
	}
	text(w, fmt.Sprintf(`[Unit]
Description=GitHub Actions runner (Paddock)
After=network-online.target
Wants=network-online.target

[Service]
ExecStart=/home/%[1]s/actions-runner/runsvc.sh
User=%[1]s
WorkingDirectory=/home/%[1]s/actions-runner
KillMode=process
KillSignal=SIGTERM
TimeoutStopSec=5min

[Install]
WantedBy=multi-user.target
`, user))
}

// CertBundle is GARM's answer shape: extra root CAs by name, base64 PEM.
// Paddock has none to add; machines use their image's trust store.
type CertBundle struct {
	RootCertificates map[string][]byte `json:"root_certificates"`
}

func (h *Handler) certBundle(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.check(w, r, "certificate bundle fetched"); !ok {
		return
	}
	writeJSON(w, http.StatusOK, CertBundle{RootCertificates: map[string][]byte{}})
}

// errNoRegistrationToken explains the one GARM endpoint Paddock refuses.
var errNoRegistrationToken = errors.New("paddock never hands a reusable runner registration token to a machine: " +
	"use the single-use runner configuration (GET /api/v1/metadata/runner, or run /api/v1/metadata/install-script); " +
	"configure the provider for JIT runners")

func (h *Handler) registrationToken(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusGone, map[string]string{"error": errNoRegistrationToken.Error()})
}

// runnerTools is the BootstrapInstance tools download_url. Only GARM's own
// boot template downloads it (without a token: GARM's tools come from the
// forge); templates that use runner_install_template never do. It answers
// what the registration-token path answers, at the first step that template
// takes, instead of a bare 401. It needs no token: it hands out nothing.
func (h *Handler) runnerTools(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusGone, map[string]string{"error": "paddock does not serve the runner download to GARM's default boot template: " +
		errNoRegistrationToken.Error()})
}

func (h *Handler) credentials(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusGone, map[string]string{"error": fmt.Sprintf(
		"credentials/%s is not served: paddock hands the whole just-in-time config once, from GET /api/v1/metadata/runner "+
			"(the install script at /api/v1/metadata/install-script uses it)", r.PathValue("file"))})
}

// SystemInfo is the body of GARM's system-info callback.
type SystemInfo struct {
	OSName    string          `json:"os_name"`
	OSVersion string          `json:"os_version"`
	AgentID   json.RawMessage `json:"agent_id,omitempty"`
}

func (h *Handler) systemInfo(w http.ResponseWriter, r *http.Request) {
	var si SystemInfo
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&si); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": `body must be JSON {"os_name": …, "os_version": …, "agent_id": …}`})
		return
	}
	msg := strings.TrimSpace("system: " + si.OSName + " " + si.OSVersion)
	if _, ok := h.check(w, r, msg); !ok {
		return
	}
	h.Logger.Debug("machine system info", "os_name", si.OSName, "os_version", si.OSVersion)
	writeJSON(w, http.StatusOK, map[string]string{"result": "ok"})
}
