package metadata_test

import (
	"context"
	"strings"
	"testing"

	"github.com/paddock-ci/paddock/internal/machineapi"
)

// osBooting is a controller that knows its instance's pool os_type.
type osBooting struct {
	*booting
	os string
}

func (o osBooting) OSTypeForToken(_ context.Context, tok string) (string, error) {
	if tok != "tok" {
		return "", machineapi.ErrBadToken
	}
	return o.os, nil
}

// TestInstallScriptFollowsThePoolsOS: install-script answers PowerShell to
// a machine of an os_type windows pool and bash otherwise; install-script.ps1
// is PowerShell whatever the pool says. Both check the token and count as
// progress (installing).
func TestInstallScriptFollowsThePoolsOS(t *testing.T) {
	const ps = "# Paddock runner install script for Windows"
	for _, c := range []struct {
		os, path, want string
	}{
		{"windows", "install-script", ps},
		{"windows", "install-script/", ps},
		{"linux", "install-script", "#!/bin/bash\n"},
		{"linux", "install-script.ps1", ps},
		{"windows", "install-script.ps1/", ps},
	} {
		b := &booting{}
		srv := newGarmServer(t, osBooting{b, c.os}, nil)
		base := srv.URL + "/api/v1/metadata/"
		code, body := get(t, base+c.path, "tok")
		if code != 200 || !strings.HasPrefix(body, c.want) {
			t.Fatalf("%s pool, GET %s: %d %.60q, want %.40q", c.os, c.path, code, body, c.want)
		}
		if strings.HasPrefix(body, ps) && (!strings.Contains(body, "'"+srv.URL+"/api/v1/metadata'") || !strings.Contains(body, "'tok'")) {
			t.Fatalf("%s: URLs or token not written in:\n%s", c.path, body)
		}
		if code, _ := get(t, base+c.path, "forged"); code != 401 {
			t.Fatalf("GET %s with a forged token: %d, want 401", c.path, code)
		}
		if log := b.log(); len(log) != 1 || log[0] != "installing: install script fetched" {
			t.Fatalf("reports = %q", log)
		}
	}
}
