package config

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const externalProviders = `server:
  admin_token: env:T_ADMIN
store:
  encryption_key: env:T_KEY
providers:
  - name: lxd
    type: external
    external:
      provider_executable: bin/garm-provider-lxd
      config_file: /etc/garm/lxd.toml
      environment_variables: [LXD_, http_]
`

func TestExternalProviderDefaultsAndPaths(t *testing.T) {
	setBaseEnv(t)
	dir := t.TempDir()
	c, err := Parse([]byte(externalProviders), "paddock.yaml", dir)
	if err != nil {
		t.Fatal(err)
	}
	e := c.Providers[0].External
	if e.ProviderExecutable != filepath.Join(dir, "bin/garm-provider-lxd") || e.ConfigFile != "/etc/garm/lxd.toml" {
		t.Errorf("paths = %q, %q", e.ProviderExecutable, e.ConfigFile)
	}
	if e.InterfaceVersion != "v0.1.1" || e.ExecTimeout != 2*time.Minute || len(e.EnvironmentVariables) != 2 {
		t.Errorf("defaults = %+v", e)
	}
}

func TestExternalProviderErrors(t *testing.T) {
	setBaseEnv(t)
	cases := []struct{ name, src, want string }{
		{"block missing", minimal + "  - name: ext\n    type: external\n",
			"paddock.yaml:8: providers[1].external: required for type external"},
		{"block on the wrong type", minimal + "    external: {provider_executable: /x}\n",
			"paddock.yaml:8: providers[0].external: only valid for type external"},
		{"no executable", strings.Replace(externalProviders, "provider_executable: bin/garm-provider-lxd", "config_file: x", 1),
			"providers[0].external.provider_executable: required"},
		{"bad version", externalProviders + "      interface_version: v0.2.0\n",
			`paddock.yaml:12: providers[0].external.interface_version: unknown interface version "v0.2.0" (want v0.1.0 or v0.1.1)`},
		{"short timeout", externalProviders + "      exec_timeout: 10ms\n",
			"paddock.yaml:12: providers[0].external.exec_timeout: must be at least 1s"},
		{"empty prefix", strings.Replace(externalProviders, "[LXD_, http_]", `[LXD_, ""]`, 1),
			"providers[0].external.environment_variables[1]: must not be empty"},
		{"GARM prefix", strings.Replace(externalProviders, "[LXD_, http_]", `[GARM_POOL]`, 1),
			`providers[0].external.environment_variables[0]: "GARM_POOL": GARM_ variables are set by Paddock`},
		{"typo", externalProviders + "      exec_timout: 1m\n",
			`unknown key "exec_timout" (did you mean "exec_timeout"?)`},
	}
	for _, c := range cases {
		probs := parseErr(t, c.src)
		var all []string
		found := false
		for _, p := range probs {
			all = append(all, p.String())
			found = found || strings.Contains(p.String(), c.want)
		}
		if !found {
			t.Errorf("%s: problems %q, want one containing %q", c.name, all, c.want)
		}
	}
}
