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

// TestProblems checks each kind of error names the right line and key path.
// Line numbers count from the start of src; minimal is 7 lines long.
func TestProblems(t *testing.T) {
	setBaseEnv(t)
	t.Setenv("T_EMPTY", "")
	t.Setenv("T_BAD_DSN", "postgres://paddock:hunter2@db:notaport/x")
	t.Setenv("T_DSN", "postgres://paddock@127.0.0.1/paddock")
	pool := "pools:\n  - {name: p, entity: acme/app, provider: local, max_runners: 2}\n" // pool line is 9
	for _, tc := range []struct {
		name, src, want string
	}{
		{"unknown top-level key", minimal + "pool:\n  - name: x\n",
			`paddock.yaml:8: unknown key "pool" (did you mean "pools"?)`},
		{"unknown nested key", strings.Replace(minimal, "server:\n", "server:\n  lisen: :80\n", 1),
			`paddock.yaml:2: server: unknown key "lisen" (did you mean "listen"?)`},
		{"unknown key lists known ones", minimal + "controller: {zzzzzzzz: 1}\n",
			`paddock.yaml:8: controller: unknown key "zzzzzzzz" (known keys: idle_grace, max_create_attempts, poll_budget_per_hour, poll_interval, reconcile_interval, retention)`},
		{"duplicate key", minimal + "state_dir: /a\nstate_dir: /b\n",
			`paddock.yaml:9: state_dir: duplicate key (first set on line 8)`},
		{"bad duration", minimal + "controller:\n  idle_grace: 30\n",
			`paddock.yaml:9: controller.idle_grace: must be a duration such as "90s" or "20m", got "30"`},
		{"poll budget", minimal + "controller:\n  poll_budget_per_hour: 0\n",
			`paddock.yaml:9: controller.poll_budget_per_hour: must be ≥ 1`},
		{"duration too short", minimal + "controller:\n  reconcile_interval: 1s\n",
			`paddock.yaml:9: controller.reconcile_interval: must be at least 5s`},
		{"negative duration", pool + minimal + "controller: {idle_grace: -1s}\n",
			`controller.idle_grace: must not be negative`},
		{"integer wanted", minimal + "    max_parallel: eight\n",
			`paddock.yaml:8: providers[0].max_parallel: must be an integer, got "eight"`},
		{"bool wanted", minimal + "pools:\n  - {name: p, entity: acme/app, provider: local, max_runners: 2, enabled: yes}\n",
			`paddock.yaml:9: pools[0].enabled: must be true or false, got "yes"`},
		{"list wanted", minimal + "pools:\n  - {name: p, entity: a/b, provider: local, max_runners: 1, labels: linux}\n",
			`paddock.yaml:9: pools[0].labels: must be a list, got "linux"`},
		{"mapping wanted", minimal + "controller: 5m\n",
			`paddock.yaml:8: controller: must be a mapping, got "5m"`},
		{"string wanted", minimal + "state_dir: [a]\n",
			`paddock.yaml:8: state_dir: must be a string, got a list`},
		{"missing env", strings.Replace(minimal, "env:T_ADMIN", "env:T_NOT_SET_ANYWHERE", 1),
			`paddock.yaml:2: server.admin_token: environment variable T_NOT_SET_ANYWHERE is not set`},
		{"empty env", strings.Replace(minimal, "env:T_ADMIN", "env:T_EMPTY", 1),
			`paddock.yaml:2: server.admin_token: environment variable T_EMPTY is empty`},
		{"missing file", strings.Replace(minimal, "env:T_ADMIN", "file:nope.txt", 1),
			`paddock.yaml:2: server.admin_token: secret file `},
		{"missing required secret", strings.Replace(minimal, "  admin_token: env:T_ADMIN\n", "  listen: :8080\n", 1),
			`paddock.yaml:1: server.admin_token: required (e.g. env:PADDOCK_ADMIN_TOKEN)`},
		{"short encryption key", strings.Replace(minimal, "env:T_KEY", "c2hvcnQ=", 1),
			`paddock.yaml:4: store.encryption_key: must be 32 bytes, got 5`},
		{"postgres without dsn", strings.Replace(minimal, "store:\n", "store:\n  driver: postgres\n", 1),
			`paddock.yaml:3: store.dsn: required with driver: postgres`},
		{"postgres bad dsn", strings.Replace(minimal, "store:\n", "store:\n  driver: postgres\n  dsn: env:T_BAD_DSN\n", 1),
			`paddock.yaml:5: store.dsn: not a valid PostgreSQL connection string`},
		{"dsn with sqlite", strings.Replace(minimal, "store:\n", "store:\n  dsn: env:T_DSN\n", 1),
			`paddock.yaml:4: store.dsn: only used with driver: postgres`},
		{"unknown driver", strings.Replace(minimal, "store:\n", "store:\n  driver: mysql\n", 1),
			`paddock.yaml:4: store.driver: unknown driver "mysql" (want sqlite or postgres)`},
		{"bad listen", strings.Replace(minimal, "server:\n", "server:\n  listen: localhost\n", 1),
			`paddock.yaml:2: server.listen: must be host:port such as 127.0.0.1:8080, got "localhost"`},
		{"bad url", strings.Replace(minimal, "server:\n", "server:\n  public_url: ftp://x\n", 1),
			`paddock.yaml:2: server.public_url: must be an http:// or https:// URL with a host, got "ftp://x"`},
		{"no providers", "server: {admin_token: env:T_ADMIN}\nstore: {encryption_key: env:T_KEY}\n",
			`paddock.yaml: providers: at least one provider is required`},
		{"provider unknown", strings.Replace(minimal, "type: process", "type: openstack", 1),
			`paddock.yaml:7: providers[0].type: unknown provider type "openstack"`},
		{"duplicate name", minimal + "  - name: local\n    type: process\n",
			`paddock.yaml:8: providers[1].name: duplicate name "local" (first used at providers[0].name, line 6)`},
		{"bad provider reference", minimal + "pools:\n  - {name: p, entity: a/b, provider: cloud, max_runners: 1}\n",
			`paddock.yaml:9: pools[0].provider: unknown provider "cloud"`},
		{"bad entity reference", minimal + "entities: [{forge: gh, kind: organization, name: acme}]\n" + pool,
			`paddock.yaml:10: pools[0].entity: unknown entity "acme/app"`},
		{"bad forge reference", minimal + "forges: [{name: gh, kind: github, credential: {kind: pat, token: x}}]\n" +
			"entities: [{forge: gl, kind: organization, name: acme, intake: poll}]\n",
			`paddock.yaml:9: entities[0].forge: unknown forge "gl" (declared: gh)`},
		{"gitea without runner downloads", minimal + "forges: [{name: g, kind: gitea, api_url: https://g/api/v1, web_url: https://g, credential: {kind: pat, token: x}}]\n",
			`paddock.yaml:8: forges[0].runner_downloads: required for a gitea forge`},
		{"bad runner sha256", minimal + "forges: [{name: g, kind: forgejo, api_url: https://g/api/v1, web_url: https://g, credential: {kind: pat, token: x}, runner_downloads: [{url: https://g/r, sha256: abc}]}]\n",
			`forges[0].runner_downloads[0].sha256: must be 64 hex digits, got "abc"`},
		{"webhook secret needed", minimal + "forges: [{name: gh, kind: github, credential: {kind: pat, token: x}}]\n" +
			"entities: [{forge: gh, kind: repository, name: acme/app}]\n",
			`paddock.yaml:8: forges[0].webhook_secret: required: entities on this forge use intake webhook`},
		{"repository name", minimal + "entities: [{forge: gh, kind: repository, name: acme, intake: poll}]\n",
			`paddock.yaml:8: entities[0].name: a repository must be written owner/repo, got "acme"`},
		{"labels required", minimal + "pools:\n  - {name: p, entity: a/b, provider: local}\n",
			`paddock.yaml:9: pools[0].labels: at least one label is required`},
		{"max_runners bounded", minimal + "pools:\n  - {name: p, entity: a/b, provider: local, labels: [x], min_idle: 1000000000, max_runners: 1000000000}\n",
			`paddock.yaml:9: pools[0].max_runners: must be ≤ 10000`},
		{"prefix for every provider", minimal + "pools:\n  - {name: p, entity: a/b, provider: local, labels: [x], runner_prefix: 1abc}\n",
			`paddock.yaml:9: pools[0].runner_prefix: "1abc" must be lower-case letters`},
		{"bootstrap_timeout bounded", minimal + "pools:\n  - {name: p, entity: a/b, provider: local, labels: [x], bootstrap_timeout: 1ns}\n",
			`paddock.yaml:9: pools[0].bootstrap_timeout: must be from 10s to 24h0m0s`},
		{"entity name the forge refuses", minimal + "forges: [{name: gh, kind: github, credential: {kind: pat, token: t}}]\nentities: [{forge: gh, name: ac.me/app, intake: poll}]\n",
			`paddock.yaml:9: entities[0].name: "ac.me/app": a GitHub owner is`},
		{"max_runners zero", minimal + "pools:\n  - name: p\n    entity: a/b\n    provider: local\n    max_runners: 0\n",
			`paddock.yaml:12: pools[0].max_runners: must be ≥ 1`},
		{"min_idle above max", minimal + "pools:\n  - {name: p, entity: a/b, provider: local, max_runners: 2, min_idle: 3}\n",
			`paddock.yaml:9: pools[0].min_idle: must be ≤ max_runners (2)`},
		{"arch", minimal + "pools:\n  - {name: p, entity: a/b, provider: local, max_runners: 2, arch: amd64}\n",
			`pools[0].arch: unknown arch "amd64" (want x64 or arm64; amd64 is written x64)`},
		{"percent", minimal + "pools:\n  - {name: p, entity: a/b, provider: local, max_runners: 2, free_target_percent: 101}\n",
			`pools[0].free_target_percent: must be ≤ 100`},
		{"duplicate label", minimal + "pools:\n  - {name: p, entity: a/b, provider: local, max_runners: 2, labels: [GPU, gpu]}\n",
			`paddock.yaml:9: pools[0].labels[1]: duplicate label "gpu"`},
		{"syntax error", "server:\n  listen: [\n", `paddock.yaml:2: did not find expected node content`},
		{"empty file", "", `paddock.yaml: config is empty`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			probs := parseErr(t, tc.src)
			var got []string
			for _, p := range probs {
				if strings.Contains(p.String(), tc.want) {
					return
				}
				got = append(got, p.String())
			}
			t.Errorf("no problem contains %q; got:\n%s", tc.want, strings.Join(got, "\n"))
		})
	}
}

func TestAllProblemsReportedTogether(t *testing.T) {
	t.Setenv("T_KEY", testKeyHex)
	src := `server:
  admin_token: env:T_MISSING_ONE
  lisen: 127.0.0.1:1
store:
  encryption_key: env:T_KEY
controller: {reconcile_interval: soon}
providers:
  - {name: local, type: process}
pools:
  - {name: p, entity: a/b, provider: nope, max_runners: 0, labels: [x]}
`
	_, err := Parse([]byte(src), "paddock.yaml", "")
	if err == nil {
		t.Fatal("want an error")
	}
	want := []string{
		"paddock.yaml:2: server.admin_token: environment variable T_MISSING_ONE is not set",
		`paddock.yaml:3: server: unknown key "lisen" (did you mean "listen"?)`,
		`paddock.yaml:6: controller.reconcile_interval: must be a duration such as "90s" or "20m", got "soon"`,
		`paddock.yaml:10: pools[0].provider: unknown provider "nope"`,
		"paddock.yaml:10: pools[0].max_runners: must be ≥ 1",
	}
	if got := err.Error(); got != strings.Join(want, "\n") {
		t.Errorf("Error() =\n%s\nwant\n%s", got, strings.Join(want, "\n"))
	}
}

// A value that failed to decode must not also be reported as missing.
func TestNoRequiredAfterDecodeError(t *testing.T) {
	t.Setenv("T_KEY", testKeyHex)
	probs := parseErr(t, "server: {admin_token: env:T_NOPE_NOPE}\nstore: {encryption_key: env:T_KEY}\nproviders: [{name: l, type: process}]\n")
	if len(probs) != 1 {
		t.Errorf("got %d problems, want 1: %v", len(probs), probs)
	}
}

func TestAppCredential(t *testing.T) {
	setBaseEnv(t)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if err := os.WriteFile(filepath.Join(dir, "app.pem"), pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bad.pem"), []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	forge := func(cred string) string {
		return minimal + "forges:\n  - name: gh\n    kind: github\n    credential: " + cred + "\n"
	}
	c, err := Parse([]byte(forge("{kind: app, app_id: 1, installation_id: 2, private_key: file:app.pem}")), "p.yaml", dir)
	if err != nil {
		t.Fatal(err)
	}
	cred := c.Forges[0].Credential.ToCore()
	if cred.AppID != 1 || cred.InstallationID != 2 || cred.PrivateKeyPEM != strings.TrimSpace(string(pemBytes)) {
		t.Errorf("credential = %+v", cred.Redacted())
	}

	_, err = Parse([]byte(forge("{kind: app, app_id: 1, private_key: file:bad.pem, token: x}")), "p.yaml", dir)
	for _, want := range []string{
		"p.yaml:11: forges[0].credential.token: only valid for kind pat",
		"p.yaml:11: forges[0].credential.installation_id: required for kind app",
		"p.yaml:11: forges[0].credential.private_key: must be a PEM-encoded private key",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v\ndoes not contain %q", err, want)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "absent.yaml"))
	if err == nil || !strings.Contains(err.Error(), "absent.yaml") {
		t.Errorf("Load of a missing file: %v", err)
	}
}
