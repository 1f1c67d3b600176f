package external

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
)

// VersionAuto asks the executable which interface version it speaks.
const VersionAuto = "auto"

// notImplementedV011 is what every executable built on garm-provider-common's
// v0.1.0 execution package (LXD, Incus, OpenStack, Azure, AWS, GCP …) prints
// for any command when called with GARM_INTERFACE_VERSION=v0.1.1.
const notImplementedV011 = "does not implement v0.1.1 ExternalProvider"

// iface returns the interface version to speak. With "auto" it is detected
// once: GetSupportedInterfaceVersions under v0.1.1 must answer a JSON list
// naming v0.1.1; anything else (the v0.1.0-only error above, "unknown
// GARM_COMMAND" from older executables, garbage) means v0.1.0, which is also
// what GARM assumes. A probe that did not run to an exit (timeout, cancelled)
// decides nothing and is repeated by the next call.
func (p *Provider) iface(ctx context.Context) (string, error) {
	if v := p.InterfaceVersion(); v != VersionAuto {
		return v, nil
	}
	// One probe, however many calls arrive at once.
	p.probe.Lock()
	defer p.probe.Unlock()
	if v := p.InterfaceVersion(); v != VersionAuto {
		return v, nil
	}
	out, err := p.run(ctx, CmdSupportedVersions, p.env(V011, CmdSupportedVersions, "", ""), nil)
	var vs []string
	var why string
	switch {
	case err != nil && exitCode(err) < 0:
		return "", err
	case err != nil:
		why = "GetSupportedInterfaceVersions under v0.1.1 failed: " + lastLine(err)
	case json.Unmarshal(out, &vs) != nil:
		why = "GetSupportedInterfaceVersions answered no JSON list: " + snippet(out)
	case !slices.Contains(vs, V011):
		why = "the executable supports " + strings.Join(vs, ", ")
	}
	chosen := V010
	if why == "" {
		chosen, why = V011, "the executable supports "+strings.Join(vs, ", ")
	}
	p.setVersion(chosen, why)
	return chosen, nil
}

func (p *Provider) setVersion(v, why string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.version == v {
		return
	}
	p.version = v
	p.opts.Logger.Info("external provider interface version", "executable", p.opts.Executable, "version", v, "why", why)
}

// fallsBack reports whether a v0.1.1 call failed only because the executable
// speaks v0.1.0; the version is then switched for good and the call repeated.
func (p *Provider) fallsBack(ver string, err error) bool {
	var ee *ExecError
	if ver != V011 || !errors.As(err, &ee) || ee.ExitCode != 1 || !strings.Contains(ee.Stderr, notImplementedV011) {
		return false
	}
	p.opts.Logger.Warn("external provider: executable does not speak v0.1.1; using v0.1.0 (set interface_version: v0.1.0 or auto)",
		"executable", p.opts.Executable)
	p.setVersion(V010, "the executable answered: provider "+notImplementedV011)
	return true
}

// call runs one command in the resolved interface version, falling back to
// v0.1.0 once if the executable refuses v0.1.1.
func (p *Provider) call(ctx context.Context, command, poolID, instanceID string, stdin []byte, extraEnv ...string) ([]byte, error) {
	ver, err := p.iface(ctx)
	if err != nil {
		return nil, err
	}
	for {
		if err := supports(ver, command); err != nil {
			return nil, err
		}
		env := p.env(ver, command, poolID, instanceID)
		for _, kv := range extraEnv {
			name, value, _ := strings.Cut(kv, "=")
			env = replaceEnv(env, name, value)
		}
		out, err := p.run(ctx, command, env, stdin)
		if err != nil && p.fallsBack(ver, err) {
			ver = V010
			continue
		}
		return out, err
	}
}

// InterfaceVersion returns the interface version in use ("auto" until detected).
func (p *Provider) InterfaceVersion() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.version
}

func lastLine(err error) string {
	var ee *ExecError
	if errors.As(err, &ee) {
		if s := strings.TrimSpace(ee.Stderr); s != "" {
			lines := strings.Split(s, "\n")
			return lines[len(lines)-1]
		}
	}
	return err.Error()
}
