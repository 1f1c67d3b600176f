package config

import (
	"strings"
	"testing"
)

func TestSharedWebhookSecretRefused(t *testing.T) {
	setBaseEnv(t)
	forges := "forges:\n" +
		"  - {name: a, kind: github, webhook_secret: s3cret, credential: {kind: pat, token: x}}\n" +
		"  - {name: b, kind: github, web_url: https://ghes.example/, api_url: https://ghes.example/api/v3/, webhook_secret: s3cret, credential: {kind: pat, token: y}}\n"
	want := "paddock.yaml:10: forges[1].webhook_secret: same secret as forges[0] (a); give each github forge its own webhook secret"
	probs := parseErr(t, minimal+forges)
	found := false
	var got []string
	for _, p := range probs {
		got = append(got, p.String())
		found = found || strings.Contains(p.String(), want)
	}
	if !found {
		t.Fatalf("no problem contains %q; got:\n%s", want, strings.Join(got, "\n"))
	}
	// Distinct secrets are fine.
	mustParse(t, minimal+strings.Replace(forges, "webhook_secret: s3cret, credential: {kind: pat, token: y}", "webhook_secret: other, credential: {kind: pat, token: y}", 1))
}
