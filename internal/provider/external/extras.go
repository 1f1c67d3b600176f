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

func supports(ver, command string) error {
	if !versions[ver].commands[command] {
		return fmt.Errorf("%s with interface %s: %w", command, ver, ErrUnsupported)
	}
	return nil
}

// Start boots a stopped machine.
func (p *Provider) Start(ctx context.Context, name string) error {
	id, pool := p.instanceID(name)
	_, err := p.call(ctx, CmdStart, pool, id, nil)
	return err
}

// Stop shuts a machine down without removing it.
func (p *Provider) Stop(ctx context.Context, name string) error {
	id, pool := p.instanceID(name)
	_, err := p.call(ctx, CmdStop, pool, id, nil)
	return err
}

// RemoveAll removes the machines of one pool that Paddock created (or found
// in that pool's list), one DeleteInstance each. The protocol's
// RemoveAllInstances is never sent: in v0.1.0 it carries no pool, and
// garm-provider-lxd answers it by removing every machine of the controller,
// whatever its pool.
func (p *Provider) RemoveAll(ctx context.Context, poolID string) error {
	insts, err := p.listPool(ctx, poolID)
	if err != nil {
		return err
	}
	var errs []error
	for _, inst := range insts {
		if ref, ok := p.state.instance(inst.Name); !ok || ref.PoolID != poolID {
			continue
		}
		if err := p.Delete(ctx, inst.Name); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Version returns the executable's own version. GetVersion is not in GARM's
// v0.1.0 table, yet every executable built on garm-provider-common answers
// it in both versions, so it is asked in both.
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
	if len(extra) == 0 {
		extra = json.RawMessage("{}")
	}
	_, err := p.call(ctx, CmdValidatePool, poolID, "", nil,
		"GARM_POOL_EXTRASPECS="+base64.StdEncoding.EncodeToString(extra), "GARM_POOL_IMAGE="+image, "GARM_POOL_FLAVOR="+flavor)
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
	return p.call(ctx, command, poolID, "", nil)
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
