package external

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/paddock-ci/paddock/internal/provider"
)

// Server is the other side of the protocol: it turns any provider.Provider
// into a provider executable, so other managers (GARM included) can run
// Paddock's providers. `paddock provider-exec <type>` is built on it.
type Server struct {
	Provider provider.Provider
	// Version is printed for GetVersion.
	Version string
	// ConfigSchema is printed for GetConfigJSONSchema (a JSON schema).
	ConfigSchema json.RawMessage
}

// Serve handles one invocation and returns the process exit code.
func (s *Server) Serve(ctx context.Context, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd := getenv("GARM_COMMAND")
	code, err := s.serve(ctx, cmd, getenv, stdin, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", cmd, err)
	}
	return code
}

func (s *Server) serve(ctx context.Context, cmd string, getenv func(string) string, stdin io.Reader, stdout io.Writer) (int, error) {
	if v := getenv("GARM_INTERFACE_VERSION"); v != "" {
		if _, ok := versions[v]; !ok {
			return 1, fmt.Errorf("interface version %q is not supported (want v0.1.0 or v0.1.1)", v)
		}
	}
	pool := getenv("GARM_POOL_ID")
	id := getenv("GARM_INSTANCE_ID")
	writeJSON := func(v any) (int, error) {
		if err := json.NewEncoder(stdout).Encode(v); err != nil {
			return 1, err
		}
		return 0, nil
	}
	switch cmd {
	case CmdCreate:
		var bi BootstrapInstance
		if err := json.NewDecoder(io.LimitReader(stdin, 4<<20)).Decode(&bi); err != nil {
			return 1, fmt.Errorf("stdin must be a BootstrapInstance JSON object: %w", err)
		}
		if bi.Name == "" || bi.MetadataURL == "" || bi.CallbackURL == "" || bi.InstanceToken == "" {
			return 1, errors.New("BootstrapInstance needs name, metadata-url, callback-url and instance-token")
		}
		if bi.PoolID == "" {
			bi.PoolID = pool
		}
		m, err := s.Provider.Create(ctx, provider.Spec{
			Name: bi.Name, ControllerID: getenv("GARM_CONTROLLER_ID"), PoolID: bi.PoolID, Image: bi.Image,
			Flavor: bi.Flavor, OSType: bi.OSType, Arch: bi.Arch, Labels: bi.Labels,
			MetadataURL: bi.MetadataURL, CallbackURL: bi.CallbackURL, Token: bi.InstanceToken, ExtraSpecs: bi.ExtraSpecs,
		})
		if err != nil {
			return 1, err
		}
		return writeJSON(toInstance(m, bi.OSType, bi.Arch))
	case CmdGet:
		m, err := s.find(ctx, id)
		if errors.Is(err, provider.ErrNotFound) {
			return ExitNotFound, fmt.Errorf("instance %q not found", id)
		}
		if err != nil {
			return 1, err
		}
		return writeJSON(toInstance(m, "", ""))
	case CmdDelete:
		m, err := s.find(ctx, id)
		if errors.Is(err, provider.ErrNotFound) {
			return ExitNotFound, fmt.Errorf("instance %q not found", id)
		}
		if err != nil {
			return 1, err
		}
		return 0, s.Provider.Delete(ctx, m.Name)
	case CmdList:
		ms, err := s.list(ctx, pool)
		if err != nil {
			return 1, err
		}
		out := make([]ProviderInstance, 0, len(ms))
		for _, m := range ms {
			out = append(out, toInstance(m, "", ""))
		}
		return writeJSON(out)
	case CmdRemoveAll:
		ms, err := s.list(ctx, pool)
		if err != nil {
			return 1, err
		}
		for _, m := range ms {
			if err := s.Provider.Delete(ctx, m.Name); err != nil {
				return 1, err
			}
		}
		return 0, nil
	case CmdStart, CmdStop:
		return 1, errors.New("this provider's machines cannot be stopped and started again: delete and create instead")
	case CmdGetVersion:
		_, err := fmt.Fprintln(stdout, s.Version)
		return 0, err
	case CmdSupportedVersions:
		return writeJSON(Versions())
	case CmdValidatePool:
		return 0, nil
	case CmdConfigSchema:
		if len(s.ConfigSchema) == 0 {
			return writeJSON(map[string]any{"type": "object"})
		}
		return writeJSON(s.ConfigSchema)
	case CmdExtraSpecsSchema:
		return writeJSON(map[string]any{"type": "object", "description": "extra specs are ignored by this provider"})
	case "":
		return 1, errors.New("GARM_COMMAND is not set: this program is run by a runner manager (GARM, Paddock), not by people")
	}
	return 1, fmt.Errorf("unknown command %q", cmd)
}

// find resolves GARM_INSTANCE_ID, which is a provider_id or, for a machine
// whose create never answered, its name.
func (s *Server) find(ctx context.Context, id string) (provider.Machine, error) {
	if id == "" {
		return provider.Machine{}, errors.New("GARM_INSTANCE_ID is not set")
	}
	m, err := s.Provider.Get(ctx, id)
	if err == nil || !errors.Is(err, provider.ErrNotFound) {
		return m, err
	}
	ms, lerr := s.Provider.List(ctx)
	if lerr != nil {
		return provider.Machine{}, lerr
	}
	for _, m := range ms {
		if m.ProviderID == id {
			return m, nil
		}
	}
	return provider.Machine{}, provider.ErrNotFound
}

func (s *Server) list(ctx context.Context, pool string) ([]provider.Machine, error) {
	ms, err := s.Provider.List(ctx)
	if err != nil || pool == "" {
		return ms, err
	}
	out := ms[:0]
	for _, m := range ms {
		if m.PoolID == pool {
			out = append(out, m)
		}
	}
	return out, nil
}

func toInstance(m provider.Machine, osType, arch string) ProviderInstance {
	inst := ProviderInstance{ProviderID: m.ProviderID, Name: m.Name, Status: string(m.Status), OSType: osType}
	if arch != "" {
		inst.OSArch = garmArch(arch)
	}
	if inst.Status == "" {
		inst.Status = string(provider.StatusUnknown)
	}
	if m.Fault != "" {
		inst.ProviderFault = []byte(m.Fault)
	}
	return inst
}
