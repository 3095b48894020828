#!/bin/sh
# Regenerates every <name>/<name>.expected.json from its input with the
# pinned OPA. Review the diff by hand before committing.
set -eu
cd "$(dirname "$0")/../.."
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
for in in policies/examples/*/*.input.json; do
	out="${in%.input.json}.expected.json"
	go tool opa eval -f raw -d policies -i "$in" 'data.sekretess.decision' >"$tmp"
	cp "$tmp" "$out"
done
