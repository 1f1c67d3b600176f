package lxd

import (
	"fmt"
	"strings"
)

// Files the provider pushes into a container before starting it. The
// directory is root's only; the boot settings (with the single-use token)
// are moved to /run (RAM) and the disk copy deleted before anything else
// runs, so the token never sits in LXD's database (instance config is, and
// `lxc config show` prints it) nor is readable by a job.
const (
	guestDir       = "/var/lib/paddock"
	guestBootEnv   = guestDir + "/boot.env"
	guestBootstrap = guestDir + "/bootstrap.sh"
)

// bootstrapScript is the start hook. Images built by scripts/lxd-setup run it
// from their paddock-bootstrap.service unit; cloud-init images run it from
// the user-data (runcmd). It holds no secret, and runs once per container
// whichever starts it first.
const bootstrapScript = `#!/bin/bash
# Paddock bootstrap (lxd provider): boot settings to RAM, then the runner
# install script; the container powers off when the runner has exited.
set -u -o pipefail
log() { echo "paddock: $*" >&2; }
mkdir /run/paddock 2>/dev/null || { log "bootstrap already ran"; exit 0; }
chmod 0700 /run/paddock
if ! mv ` + guestBootEnv + ` /run/paddock/boot.env; then
	log "no boot settings at ` + guestBootEnv + `"
	systemctl poweroff 2>/dev/null || poweroff -f
	exit 1
fi
set -a
. /run/paddock/boot.env
set +a
rm -f /run/paddock/boot.env
export RUNNER_DIR=/home/runner/actions-runner
mkdir -p "$RUNNER_DIR"
cd /home/runner || exit 1
if curl --retry 10 --retry-delay 1 --retry-connrefused --fail -sS \
	-H "Authorization: Bearer ${BEARER_TOKEN}" -o /run/paddock/install.sh "${METADATA_URL}/install-script/"; then
	bash /run/paddock/install.sh
	RC=$?
else
	log "cannot fetch ${METADATA_URL}/install-script/"
	RC=1
fi
rm -f /run/paddock/install.sh
log "runner exited ($RC); powering off"
systemctl poweroff 2>/dev/null || poweroff -f
exit "$RC"
`

// userData is the #cloud-config for images with cloud-init: it only runs
// the pushed script (no token, no URL in it).
const userData = "#cloud-config\nruncmd:\n  - [/bin/bash, " + guestBootstrap + "]\n"

// bootEnv is sourced by the bootstrap script: the variable names are the
// ones the install script reads.
func bootEnv(name, metadataURL, callbackURL, token string) []byte {
	q := func(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
	return fmt.Appendf(nil, "PADDOCK_INSTANCE_NAME=%s\nMETADATA_URL=%s\nCALLBACK_URL=%s\nBEARER_TOKEN=%s\n",
		q(name), q(metadataURL), q(callbackURL), q(token))
}
