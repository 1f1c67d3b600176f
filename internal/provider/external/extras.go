package external

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// The calls below are part of the protocol but not of provider.Provider:
// Paddock's controller does not need them today. They are here so every
// command is exercised by the tests, and for tools (`paddock` CLI checks,
// pool validation) that want them.

// ErrUnsupported: the configured interface version has no such command.
var ErrUnsupported = errors.New("command not part of this interface version")

func (p *Provider) supports(command string) error {
	if !p.ver.commands[command] {
		return fmt.Errorf("%s with interface %s: %w", command, p.opts.InterfaceVersion, ErrUnsupported)
	}
	return nil
}

// Start boots a stopped machine.
func (p *Provider) Start(ctx context.Context, name string) error {
	id, pool := p.instanceID(name)
	_, err := p.run(ctx, CmdStart, p.env(CmdStart, pool, id), nil)
	return err
}

// Stop shuts a machine down without removing it.
func (p *Provider) Stop(ctx context.Context, name string) error {
	id, pool := p.instanceID(name)
	_, err := p.run(ctx, CmdStop, p.env(CmdStop, pool, id), nil)
	return err
}

// RemoveAll asks the executable to remove every machine of this controller
// in the given pool (v0.1.0 passes no pool: everything of the controller).
func (p *Provider) RemoveAll(ctx context.Context, poolID string) error {
	_, err := p.run(ctx, CmdRemoveAll, p.env(CmdRemoveAll, poolID, ""), nil)
	return err
}

// Version returns the executable's own version (v0.1.1).
func (p *Provider) Version(ctx context.Context) (string, error) {
	out, err := p.simple(ctx, CmdGetVersion, "")
	return strings.TrimSpace(string(out)), err
}

// SupportedInterfaceVersions returns the versions the executable speaks (v0.1.1).
func (p *Provider) SupportedInterfaceVersions(ctx context.Context) ([]string, error) {
	out, err := p.simple(ctx, CmdSupportedVersions, "")
	if err != nil {
		return nil, err
	}
	var vs []string
	if err := json.Unmarshal(out, &vs); err != nil {
		return nil, fmt.Errorf("provider executable %s: want a JSON array of strings: %w (stdout: %s)",
			CmdSupportedVersions, err, snippet(out))
	}
	return vs, nil
}

// ValidatePoolInfo asks the executable whether image, flavor and extra specs
// make a pool it can serve (v0.1.1). A nil error means yes.
func (p *Provider) ValidatePoolInfo(ctx context.Context, poolID, image, flavor string, extra json.RawMessage) error {
	if err := p.supports(CmdValidatePool); err != nil {
		return err
	}
	if len(extra) == 0 {
		extra = json.RawMessage("{}")
	}
	env := p.env(CmdValidatePool, poolID, "")
	env = replaceEnv(env, "GARM_POOL_EXTRASPECS", base64.StdEncoding.EncodeToString(extra))
	env = append(env, "GARM_POOL_IMAGE="+image, "GARM_POOL_FLAVOR="+flavor)
	_, err := p.run(ctx, CmdValidatePool, env, nil)
	return err
}

// ConfigJSONSchema returns the JSON schema of the executable's config file (v0.1.1).
func (p *Provider) ConfigJSONSchema(ctx context.Context) (json.RawMessage, error) {
	return p.schema(ctx, CmdConfigSchema)
}

// ExtraSpecsJSONSchema returns the JSON schema of the pools' extra specs (v0.1.1).
func (p *Provider) ExtraSpecsJSONSchema(ctx context.Context) (json.RawMessage, error) {
	return p.schema(ctx, CmdExtraSpecsSchema)
}

func (p *Provider) schema(ctx context.Context, command string) (json.RawMessage, error) {
	out, err := p.simple(ctx, command, "")
	if err != nil {
		return nil, err
	}
	if !json.Valid(out) {
		return nil, fmt.Errorf("provider executable %s: answer is not JSON (stdout: %s)", command, snippet(out))
	}
	return json.RawMessage(out), nil
}

func (p *Provider) simple(ctx context.Context, command, poolID string) ([]byte, error) {
	if err := p.supports(command); err != nil {
		return nil, err
	}
	return p.run(ctx, command, p.env(command, poolID, ""), nil)
}

func replaceEnv(env []string, name, value string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return append(out, name+"="+value)
}
