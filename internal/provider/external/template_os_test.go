package external

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

// TestInstallTemplateFollowsThePoolsOS: GARM providers hand
// runner_install_template to the machine as its user data, so a Windows
// pool's must be PowerShell (cloudbase-init's #ps1_sysnative) and a Linux
// pool's bash; the pool's own extra specs are kept.
func TestInstallTemplateFollowsThePoolsOS(t *testing.T) {
	for osType, first := range map[string]string{"windows": "#ps1_sysnative\n", "linux": "#!/bin/bash\n", "": "#!/bin/bash\n"} {
		raw, err := extraSpecs(json.RawMessage(`{"disable_updates":true}`), osType, "http://m/api/v1/metadata", "http://m/api/v1/callbacks", "tok-1")
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		tmpl, err := base64.StdEncoding.DecodeString(m["runner_install_template"].(string))
		if err != nil || !strings.HasPrefix(string(tmpl), first) || m["disable_updates"] != true {
			t.Fatalf("%q: template starts %q, extra specs %v", osType, string(tmpl)[:min(len(tmpl), 20)], m)
		}
		if strings.Contains(string(tmpl), "{{") {
			t.Fatalf("%q: template has {{, which GARM's text/template would expand", osType)
		}
	}
}
