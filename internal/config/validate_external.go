package config

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

var interfaceVersions = []string{"v0.1.0", "v0.1.1"}

// external checks a provider's external block: present exactly when the type
// is external, with an executable, a known interface version and sane prefixes.
func (v *validator) external(path string, pr ProviderConfig) {
	e := pr.External
	path += ".external"
	if e == nil {
		if pr.Type == "external" {
			v.p.at(path, "required for type external (provider_executable, config_file, …)")
		}
		return
	}
	if pr.Type != "external" {
		v.p.at(path, "only valid for type external")
		return
	}
	if e.ProviderExecutable == "" {
		v.p.at(path+".provider_executable", "required (path of a program speaking GARM's provider protocol)")
	}
	if e.InterfaceVersion != "" && !slices.Contains(interfaceVersions, e.InterfaceVersion) {
		v.p.at(path+".interface_version", "unknown interface version %q (want %s)", e.InterfaceVersion, strings.Join(interfaceVersions, " or "))
	}
	v.minDuration(path+".exec_timeout", e.ExecTimeout, time.Second)
	for i, pre := range e.EnvironmentVariables {
		p := fmt.Sprintf("%s.environment_variables[%d]", path, i)
		switch {
		case pre == "":
			v.p.at(p, "must not be empty (an empty prefix would pass the whole environment, secrets included)")
		case strings.ContainsAny(pre, "= \t"):
			v.p.at(p, "%q must be a variable name prefix such as AWS_ (no '=' or spaces)", pre)
		case strings.HasPrefix(pre, "GARM_"):
			v.p.at(p, "%q: GARM_ variables are set by Paddock for each call and cannot be passed through", pre)
		}
	}
}
