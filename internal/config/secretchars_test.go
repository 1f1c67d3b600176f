package config

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A token file holding anything besides the token (a warning line, two
// tokens) is refused at load, naming the key and the file, instead of failing
// at run time as an invalid Authorization header.
func TestTokenFileWithMoreThanTheTokenIsRefused(t *testing.T) {
	setBaseEnv(t)
	long := strings.Repeat("a", 32)
	forge := func(cred string) string {
		return minimal + "forges: [{name: gh, kind: github, credential: {" + cred + "}}]\n"
	}
	for _, tc := range []struct {
		name, content, src, key string
	}{
		{"pat with warning line", "WARNING: this token expires soon\nghp_abc123\n",
			forge("kind: pat, token: file:tok"), "forges[0].credential.token"},
		{"pat with a space", "ghp_abc 123\n", forge("kind: pat, token: file:tok"), "forges[0].credential.token"},
		{"admin token two lines", long + "\n" + long + "\n", strings.Replace(minimal, "env:T_ADMIN", "file:tok", 1), "server.admin_token"},
		{"metrics token tab", long + "\t" + long, strings.Replace(minimal, "server:\n", "server:\n  metrics_token: file:tok\n", 1),
			"server.metrics_token"},
		{"webhook secret two lines", "s1\ns2\n", minimal + "forges: [{name: gh, kind: github, webhook_secret: file:tok, " +
			"credential: {kind: pat, token: x}}]\n", "forges[0].webhook_secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, "tok")
			if err := os.WriteFile(file, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Parse([]byte(tc.src), "paddock.yaml", dir)
			if err == nil {
				t.Fatal("accepted")
			}
			msg := err.Error()
			for _, want := range []string{tc.key + ":", file, "the file must contain only the token"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error does not contain %q:\n%s", want, msg)
				}
			}
			if strings.Contains(msg, "ghp_abc") || strings.Contains(msg, "expires") {
				t.Errorf("error leaks the file's contents:\n%s", msg)
			}
		})
	}
}

// A webhook secret may contain spaces (it is an HMAC key the forge accepts as
// typed), a token file may end in a newline, and a GitHub App private key is
// PEM, many lines by design.
func TestSecretsThatMayHoldSpacesOrLines(t *testing.T) {
	setBaseEnv(t)
	dir := t.TempDir()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
	for name, content := range map[string]string{"hook": "correct horse battery staple\n", "tok": "ghp_abc123\n", "key.pem": string(pemKey)} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	src := minimal + "forges:\n" +
		"  - {name: gh, kind: github, webhook_secret: file:hook, credential: {kind: pat, token: file:tok}}\n" +
		"  - {name: app, kind: github, credential: {kind: app, app_id: 1, installation_id: 2, private_key: file:key.pem}}\n"
	c, err := Parse([]byte(src), "paddock.yaml", dir)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if c.Forges[0].WebhookSecret != "correct horse battery staple" || c.Forges[0].Credential.Token != "ghp_abc123" {
		t.Fatalf("secrets read as %q / %q", string(c.Forges[0].WebhookSecret), string(c.Forges[0].Credential.Token))
	}
}
