package metadata

import (
	"fmt"
	"strings"
)

// installScript is what GET /api/v1/metadata/install-script answers: a bash
// script that boots the runner with Paddock's own single-use flow. Boot
// scripts rendered by GARM providers (and Paddock's runner_install_template)
// fetch it with the instance token and run it.
//
// The URLs and token are written in, so the script also works when fetched
// and run on its own; values exported by the wrapper win, since they come from
// the manager's configured public URL rather than from the request's Host.
const installScript = `#!/bin/bash
# Paddock runner install script. Fetches this machine's single-use runner
# configuration, downloads the runner (sha256 checked), starts it with its
# just-in-time config and reports progress, and when the runner exits.
# Needs bash, curl, tar, sha256sum.
set -o pipefail

METADATA_URL=${METADATA_URL:-%s}
CALLBACK_URL=${CALLBACK_URL:-%s}
BEARER_TOKEN=${BEARER_TOKEN:-%s}
RUNNER_DIR=${RUNNER_DIR:-"$PWD/actions-runner"}

clean() { printf '%%s' "$1" | tr -d '"\\\n\r\t' | head -c 1000; }
post() {
	curl --retry 5 --retry-delay 2 --retry-connrefused --fail -sS -X POST \
		-H 'Content-Type: application/json' -H "Authorization: Bearer ${BEARER_TOKEN}" \
		-d "$2" "${CALLBACK_URL}/$1" >/dev/null
}
status() { post status "{\"status\":\"$1\",\"message\":\"$(clean "$2")\"}"; }
fail() {
	status failed "$1" || true
	echo "paddock install: $1" >&2
	exit 1
}
# json_get KEY: the first "KEY":"value" string of $CONFIG (Go's encoder
# writes no spaces and escapes only <, > and &, undone here).
json_get() {
	printf '%%s' "$CONFIG" | grep -o "\"$1\":\"[^\"]*\"" | head -n 1 |
		sed -e "s/^\"$1\":\"//" -e 's/"$//' -e 's/\\u0026/\&/g' -e 's/\\u003c/</g' -e 's/\\u003e/>/g'
}

for tool in curl tar sha256sum grep sed; do
	command -v "$tool" >/dev/null 2>&1 || fail "$tool is required on the machine"
done
status installing "fetching runner configuration" || fail "cannot report to ${CALLBACK_URL}"
# A shared pool's warm machine waits unbound for a job: the manager holds the
# request, answers 204 if none came, and the machine asks again.
while :; do
	CONFIG=$(curl --retry 10 --retry-delay 3 --retry-connrefused --fail -sS -H 'Accept: application/json' \
		-w '\n%%{http_code}' -H "Authorization: Bearer ${BEARER_TOKEN}" "${METADATA_URL}/runner") ||
		fail "cannot fetch the runner configuration from ${METADATA_URL}/runner"
	CODE=${CONFIG##*$'\n'}
	CONFIG=${CONFIG%%$'\n'*}
	[ "$CODE" = 204 ] || break
done
NAME=$(json_get name)
JIT=$(json_get jit_config)
URL=$(json_get download_url)
SUM=$(json_get sha256_checksum)
[ -n "$JIT" ] && [ -n "$URL" ] && [ -n "$SUM" ] || fail "runner configuration lacks jit_config, download_url or sha256_checksum"

mkdir -p "$RUNNER_DIR" && cd "$RUNNER_DIR" || fail "cannot create $RUNNER_DIR"
status installing "downloading runner for $NAME" || true
curl --retry 5 --retry-delay 3 --retry-connrefused --fail -sSL -o runner.tar.gz "$URL" ||
	fail "cannot download the runner from $URL"
GOT=$(sha256sum runner.tar.gz | cut -d ' ' -f 1)
[ "$GOT" = "${SUM,,}" ] || fail "runner package sha256 $GOT does not match the published $SUM: refusing to run it"
tar xzf runner.tar.gz || fail "cannot extract the runner package"
rm -f runner.tar.gz

OS_NAME=$(. /etc/os-release 2>/dev/null; echo "${NAME:-}")
OS_VERSION=$(. /etc/os-release 2>/dev/null; echo "${VERSION_ID:-}")
post system-info "{\"os_name\":\"$(clean "$OS_NAME")\",\"os_version\":\"$(clean "$OS_VERSION")\",\"agent_id\":null}" || true
# The runner refuses root unless told; a throwaway machine is the case it allows.
if [ "$(id -u)" = 0 ]; then export RUNNER_ALLOW_RUNASROOT=1; fi
# The JIT config goes in the environment, not argv, which every local user
# can read (ps); the runner takes it as --jitconfig and drops the variable.
# The instance token stays out of the runner's (and so the job's) environment.
ACTIONS_RUNNER_INPUT_JITCONFIG="$JIT" BEARER_TOKEN= PADDOCK_INSTANCE_TOKEN= ./run.sh &
PID=$!
unset JIT
# From here on the token only serves the one "done" report below.
status idle "runner $NAME started" || echo "paddock install: could not report idle" >&2
wait "$PID"
RC=$?
# The machine is single-use: once the runner has exited, the manager may
# destroy it at once rather than wait for the forge to say so.
status done "exit status $RC" || echo "paddock install: could not report done" >&2
exit "$RC"
`

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func renderInstallScript(metadataURL, callbackURL, token string) string {
	return fmt.Sprintf(installScript, shellQuote(metadataURL), shellQuote(callbackURL), shellQuote(token))
}
