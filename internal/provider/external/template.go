package external

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/paddock-ci/paddock/internal/winboot"
)

// installWrapper is the script handed to providers as
// extra_specs.runner_install_template. Providers built on GARM's common code
// run it through text/template, so it must contain no "{{" (it has no
// template variables: the values are written in). It fetches the
// machine-specific install script from the metadata endpoint and runs it; if
// that fails, the manager hears about it instead of waiting for the
// bootstrap timeout.
const installWrapper = `#!/bin/bash
# Paddock runner bootstrap (runner_install_template). Fetches this machine's
# install script with its single-use instance token and runs it.
set -o pipefail

METADATA_URL=%s
CALLBACK_URL=%s
BEARER_TOKEN=%s
export METADATA_URL CALLBACK_URL BEARER_TOKEN

fail() {
	local msg
	msg=$(printf '%%s' "$1" | tr -d '"\\\n\r' | head -c 1000)
	curl --retry 3 --retry-delay 2 --retry-connrefused --fail -s -X POST \
		-H 'Content-Type: application/json' -H "Authorization: Bearer ${BEARER_TOKEN}" \
		-d "{\"status\":\"failed\",\"message\":\"${msg}\"}" "${CALLBACK_URL}/status" >/dev/null || true
	echo "paddock bootstrap: $1" >&2
	exit 1
}

command -v curl >/dev/null 2>&1 || { echo "paddock bootstrap: curl is required" >&2; exit 1; }
SCRIPT=$(mktemp) || fail "cannot create a temporary file"
trap 'rm -f "$SCRIPT"' EXIT
curl --retry 10 --retry-delay 3 --retry-connrefused --fail -sS \
	-H "Authorization: Bearer ${BEARER_TOKEN}" -o "$SCRIPT" "${METADATA_URL}/install-script/" \
	|| fail "cannot download ${METADATA_URL}/install-script/"
bash "$SCRIPT"
rc=$?
[ "$rc" -eq 0 ] || fail "install script exited with code $rc"
`

// shellQuote quotes s for bash as one word.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// InstallTemplate renders the wrapper for one machine (plain text).
func InstallTemplate(metadataURL, callbackURL, token string) string {
	return fmt.Sprintf(installWrapper, shellQuote(strings.TrimRight(metadataURL, "/")),
		shellQuote(strings.TrimRight(callbackURL, "/")), shellQuote(token))
}

// extraSpecs merges the pool's extra specs (a JSON object, or empty) with
// runner_install_template, which Paddock always sets: PowerShell for
// Windows pools (GARM's providers hand it to Windows machines as their user
// data), bash otherwise.
func extraSpecs(pool json.RawMessage, osType, metadataURL, callbackURL, token string) (json.RawMessage, error) {
	m := map[string]any{}
	if len(pool) > 0 && string(pool) != "null" {
		if err := json.Unmarshal(pool, &m); err != nil {
			return nil, fmt.Errorf("extra specs must be a JSON object: %w", err)
		}
	}
	tmpl := InstallTemplate(metadataURL, callbackURL, token)
	if osType == "windows" {
		tmpl = winboot.InstallTemplate(metadataURL, callbackURL, token)
	}
	m["runner_install_template"] = base64.StdEncoding.EncodeToString([]byte(tmpl))
	return json.Marshal(m)
}
