package check

import (
	"crypto/x509"
	"encoding/pem"
	"net/url"
	"strings"

	"github.com/paddock-ci/paddock/internal/core"
)

// GitHub's public endpoints, the defaults for a github forge.
const (
	DefaultGitHubAPIURL = "https://api.github.com/"
	DefaultGitHubWebURL = "https://github.com/"
)

const maxURLLen = 2048

// ForgeKinds are the forge kinds Paddock speaks.
var ForgeKinds = []core.ForgeKind{core.ForgeGitHub, core.ForgeGitea, core.ForgeForgejo}

// ForgeDefaults fills a forge's URLs: github.com for a github forge without
// an API URL, and a web URL derived from the API URL (api.github.com →
// github.com, a GHES host's /api/v3/ → its root). Both get a trailing slash:
// forge clients join paths onto them.
func ForgeDefaults(f *core.Forge) {
	if f.Kind == core.ForgeGitHub && f.APIURL == "" {
		f.APIURL = DefaultGitHubAPIURL
	}
	if f.Kind == core.ForgeGitHub && f.WebURL == "" {
		f.WebURL = githubWebURL(f.APIURL)
	}
	f.APIURL = withSlash(strings.TrimSpace(f.APIURL))
	f.WebURL = withSlash(strings.TrimSpace(f.WebURL))
}

func githubWebURL(apiURL string) string {
	u, err := url.Parse(strings.TrimSpace(apiURL))
	if err != nil || u.Host == "" {
		return ""
	}
	if strings.EqualFold(u.Host, "api.github.com") {
		u.Host = "github.com"
	}
	u.Path = strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), "/api/v3") + "/"
	u.RawPath = ""
	return u.String()
}

func withSlash(u string) string {
	if u == "" || strings.HasSuffix(u, "/") {
		return u
	}
	return u + "/"
}

// Forge checks a forge (after ForgeDefaults) and its credential.
func Forge(f core.Forge) Errors {
	var e Errors
	e.name("name", f.Name)
	switch {
	case f.Kind == "":
		e.add("kind", "required (github, gitea or forgejo)")
	case !containsKind(f.Kind):
		e.add("kind", "unknown forge kind %q (want github, gitea or forgejo)", f.Kind)
	}
	for _, u := range []struct{ field, val string }{{"api_url", f.APIURL}, {"web_url", f.WebURL}} {
		if u.val == "" {
			if f.Kind != "" {
				e.add(u.field, "required for a %s forge", f.Kind)
			}
			continue
		}
		if msg := URLProblem(u.val); msg != "" {
			e.add(u.field, "%s", msg)
		}
	}
	e.credential(f.Credential, f.Kind)
	return e
}

func containsKind(k core.ForgeKind) bool {
	for _, x := range ForgeKinds {
		if x == k {
			return true
		}
	}
	return false
}

// URLProblem says what is wrong with a forge base URL, or "" if nothing is.
func URLProblem(raw string) string {
	if len(raw) > maxURLLen {
		return "is longer than 2048 bytes"
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return "must be an http:// or https:// URL with a host, got \"" + raw + "\""
	case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return "must not carry a query, fragment or user info, got \"" + raw + "\""
	}
	return ""
}

// credential checks a forge credential. Fields are under "credential.";
// the private key is "credential.private_key_pem".
func (e *Errors) credential(c core.Credential, forge core.ForgeKind) {
	switch c.Kind {
	case "":
		e.add("credential.kind", "required (pat or app)")
	case core.CredentialPAT:
		if c.Token == "" {
			e.add("credential.token", "required for kind pat")
		}
		if c.AppID != 0 {
			e.add("credential.app_id", "only valid for kind app")
		}
		if c.InstallationID != 0 {
			e.add("credential.installation_id", "only valid for kind app")
		}
		if c.PrivateKeyPEM != "" {
			e.add("credential.private_key_pem", "only valid for kind app")
		}
	case core.CredentialApp:
		if forge != "" && forge != core.ForgeGitHub {
			e.add("credential.kind", "apps exist only on GitHub (this forge is %s); use pat", forge)
		}
		if c.Token != "" {
			e.add("credential.token", "only valid for kind pat")
		}
		if c.AppID < 1 {
			e.add("credential.app_id", "required for kind app (a positive number)")
		}
		if c.InstallationID < 1 {
			e.add("credential.installation_id", "required for kind app (a positive number)")
		}
		if c.PrivateKeyPEM == "" {
			e.add("credential.private_key_pem", "required for kind app")
		} else if msg := privateKeyProblem(c.PrivateKeyPEM); msg != "" {
			e.add("credential.private_key_pem", "%s", msg)
		}
	default:
		e.add("credential.kind", "unknown credential kind %q (want pat or app)", c.Kind)
	}
}

func privateKeyProblem(pemText string) string {
	block, _ := pem.Decode([]byte(pemText))
	if block == nil {
		return "must be a PEM-encoded private key (-----BEGIN RSA PRIVATE KEY-----)"
	}
	if _, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return ""
	}
	if _, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		return ""
	}
	return "cannot parse the " + block.Type + " PEM block as a private key"
}
