#!/usr/bin/env bash
# Installs GitHub's published API artefacts that internal/ghcontract tests
# validate against: the OpenAPI description (@octokit/openapi) and real webhook
# payloads (@octokit/webhooks-examples). Pinned so contract results only change
# when someone bumps a pin on purpose. Idempotent: does nothing when the pinned
# versions are already installed.
set -euo pipefail

OPENAPI_VERSION=23.0.2
EXAMPLES_VERSION=7.6.1

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="$root/internal/ghcontract/testdata/npm"

installed() { # installed PACKAGE VERSION
	local pj="$dir/node_modules/$1/package.json"
	[[ -f "$pj" ]] && node -e 'process.exit(require(process.argv[1]).version === process.argv[2] ? 0 : 1)' "$pj" "$2"
}

if installed @octokit/openapi "$OPENAPI_VERSION" && installed @octokit/webhooks-examples "$EXAMPLES_VERSION"; then
	exit 0
fi

command -v npm >/dev/null || { echo "contract-deps: npm is required" >&2; exit 1; }
mkdir -p "$dir"
npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$dir" \
	"@octokit/openapi@$OPENAPI_VERSION" "@octokit/webhooks-examples@$EXAMPLES_VERSION" >/dev/null
installed @octokit/openapi "$OPENAPI_VERSION" && installed @octokit/webhooks-examples "$EXAMPLES_VERSION" || {
	echo "contract-deps: install finished but pinned versions are not in $dir" >&2
	exit 1
}
