package config

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"
)

var interfaceVersions = []string{"auto", "v0.1.0", "v0.1.1"}

func init() { providerBlocks["external"] = (*validator).external }

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
		v.p.at(path+".interface_version", "unknown interface version %q (want %s)", e.InterfaceVersion, strings.Join(interfaceVersions, ", "))
	}
	if px := e.Proxy; px != nil {
		for _, f := range []struct{ key, val string }{{"http_proxy", px.HTTPProxy}, {"https_proxy", px.HTTPSProxy}} {
			if err := checkProxyURL(f.val); err != nil {
				v.p.at(path+".proxy."+f.key, "%v", err)
			}
		}
		if err := checkNoProxy(px.NoProxy); err != nil {
			v.p.at(path+".proxy.no_proxy", "%v", err)
		}
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

// LoadCABundle reads a PEM file of CA certificates; every block must be a
// certificate that parses, and there must be at least one.
func LoadCABundle(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read the CA bundle: %w", err)
	}
	rest, n := b, 0
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("%s holds a %q PEM block; only CERTIFICATE blocks belong in a CA bundle", path, blk.Type)
		}
		if _, err := x509.ParseCertificate(blk.Bytes); err != nil {
			return nil, fmt.Errorf("%s: certificate %d does not parse: %w", path, n+1, err)
		}
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("%s holds no PEM certificate (want a file of -----BEGIN CERTIFICATE----- blocks)", path)
	}
	return b, nil
}

// checkExternalFiles reads the files external blocks name, once their paths
// are resolved against the config file's directory.
func checkExternalFiles(c *Config, p *problems) {
	for i, pr := range c.Providers {
		if e := pr.External; e != nil && e.CACertBundle != "" {
			if _, err := LoadCABundle(e.CACertBundle); err != nil {
				p.at(fmt.Sprintf("providers[%d].external.ca_cert_bundle", i), "%v", err)
			}
		}
	}
}

// unsafeProxyChars: providers write proxy settings into boot scripts inside
// double quotes (garm-provider-common's cloud-config), so nothing that could
// end the quotes or expand is accepted.
const unsafeProxyChars = "\"$`\\'\n\r\t "

func checkProxyURL(s string) error {
	if s == "" {
		return nil
	}
	if strings.ContainsAny(s, unsafeProxyChars) {
		return fmt.Errorf("%q: quotes, '$', backquotes, backslashes and whitespace are not allowed", s)
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return fmt.Errorf("%q must be a proxy URL such as http://proxy.example.com:3128", s)
	}
	return nil
}

func checkNoProxy(s string) error {
	if strings.ContainsAny(s, unsafeProxyChars) {
		return errors.New("must be a comma-separated list of hosts, domains or CIDRs (no spaces, quotes, '$', backquotes or backslashes)")
	}
	return nil
}
