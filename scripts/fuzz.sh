#!/usr/bin/env bash
# Runs every fuzz target of the module for a while each (default 1m):
#   ./scripts/fuzz.sh [DURATION] [PACKAGE-PATTERN]
# New crashers land in <pkg>/testdata/fuzz/<Target>/; commit them and turn
# each into a named regression test.
set -euo pipefail
cd "$(dirname "$0")/.."
dur=${1:-1m}
pattern=${2:-./...}
for pkg in $(go list "$pattern"); do
	dir=$(go list -f '{{.Dir}}' "$pkg")
	for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
		echo "== $pkg $target ($dur)"
		go test "$pkg" -run '^$' -fuzz "^${target}\$" -fuzztime "$dur"
	done
done
