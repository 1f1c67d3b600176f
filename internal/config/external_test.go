package config

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
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
	if e.InterfaceVersion != "auto" || e.ExecTimeout != 2*time.Minute || len(e.EnvironmentVariables) != 2 {
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
			`paddock.yaml:12: providers[0].external.interface_version: unknown interface version "v0.2.0" (want auto, v0.1.0, v0.1.1)`},
		{"proxy not a URL", externalProviders + "      proxy: {http_proxy: proxy.example.com}\n",
			`providers[0].external.proxy.http_proxy: "proxy.example.com" must be a proxy URL`},
		{"proxy with shell", externalProviders + "      proxy: {https_proxy: 'http://p:1/$(id)'}\n",
			`providers[0].external.proxy.https_proxy: "http://p:1/$(id)": quotes, '$'`},
		{"no_proxy with quote", externalProviders + "      proxy: {no_proxy: 'a\"b'}\n",
			`providers[0].external.proxy.no_proxy: must be a comma-separated list`},
		{"ca bundle missing", externalProviders + "      ca_cert_bundle: /nonexistent/ca.pem\n",
			`providers[0].external.ca_cert_bundle: cannot read the CA bundle`},
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
		wantProblem(t, c.name, c.src, c.want)
	}
}

func TestExternalProviderCABundleAndProxy(t *testing.T) {
	setBaseEnv(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "junk.pem"), []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	probs := parseErr(t, externalProviders+"      ca_cert_bundle: "+filepath.Join(dir, "junk.pem")+"\n")
	if len(probs) == 0 || !strings.Contains(probs[0].String(), "holds no PEM certificate") {
		t.Errorf("junk CA bundle: %v", probs)
	}
	key, _ := rsa.GenerateKey(rand.Reader, 1024)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, IsCA: true,
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	src := externalProviders + "      ca_cert_bundle: ca.pem\n      proxy: {http_proxy: 'http://proxy.internal:3128', no_proxy: '10.0.0.0/8,.internal'}\n"
	c, err := Parse([]byte(src), "paddock.yaml", dir)
	if err != nil {
		t.Fatal(err)
	}
	e := c.Providers[0].External
	if e.CACertBundle != filepath.Join(dir, "ca.pem") || e.Proxy == nil || e.Proxy.HTTPProxy != "http://proxy.internal:3128" {
		t.Errorf("external = %+v", e)
	}
	if b, err := LoadCABundle(e.CACertBundle); err != nil || string(b) != string(pemBytes) {
		t.Errorf("LoadCABundle: %v", err)
	}
}
