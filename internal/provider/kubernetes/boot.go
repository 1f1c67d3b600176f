package kubernetes

import (
	"fmt"
	"strings"

	"github.com/paddock-ci/paddock/internal/provider"
)

// fetchAndRun is the bash that boots a machine the GARM way: fetch the
// install script from the metadata endpoint with the instance token and run
// it. It reads PADDOCK_METADATA_URL, PADDOCK_CALLBACK_URL and
// PADDOCK_INSTANCE_TOKEN, so the pod's script carries no token itself (the
// token comes from the Secret through the environment). %s is the directory
// the runner is unpacked in.
const fetchAndRun = `set -eu
export METADATA_URL="${PADDOCK_METADATA_URL%%/}"
export CALLBACK_URL="${PADDOCK_CALLBACK_URL%%/}"
export BEARER_TOKEN="${PADDOCK_INSTANCE_TOKEN}"
export RUNNER_DIR=%[1]s/actions-runner
mkdir -p %[1]s
curl --retry 10 --retry-delay 3 --retry-connrefused --fail -sS \
	-H "Authorization: Bearer ${BEARER_TOKEN}" \
	-o %[1]s/paddock-install.sh "${METADATA_URL}/install-script/"
exec bash %[1]s/paddock-install.sh
`

// podBootScript is the container command for BootInstallScript.
func podBootScript() []string {
	return []string{"/bin/bash", "-c", fmt.Sprintf(fetchAndRun, workspaceDir)}
}

// vmUserData is the cloud-init NoCloud user-data of a VMI: a shell script
// (cloud-init runs "#!" user-data once, as root, late in boot). It is the
// only place the token is written, and it lives in the per-instance Secret.
func vmUserData(spec provider.Spec) string {
	var b strings.Builder
	b.WriteString("#!/bin/bash\n# Paddock runner boot (cloud-init user-data). Holds only a single-use instance token.\n")
	fmt.Fprintf(&b, "export PADDOCK_METADATA_URL=%s\n", shellQuote(spec.MetadataURL))
	fmt.Fprintf(&b, "export PADDOCK_CALLBACK_URL=%s\n", shellQuote(spec.CallbackURL))
	fmt.Fprintf(&b, "export PADDOCK_INSTANCE_TOKEN=%s\n", shellQuote(spec.Token))
	fmt.Fprintf(&b, fetchAndRun, "/opt/paddock")
	return b.String()
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
