#!/usr/bin/env bash
# Runs the whole test suite: formatting, vet, staticcheck, module tidiness,
# and every Go test (golden vectors, round trips, fuzz seeds, the capture
# check with Wireshark's dissector, SIP interop with sipp) under the race
# detector.
#
# Tools the tests need (tshark, sipp, chromium for the web page's browser
# tests, and gcc: -race needs cgo) are installed with apt-get when this
# runs as root. Without them the tests that need them are skipped
# (without gcc, the tests run without the race detector), except when
# CI=true, where a missing tool fails the run.
#
# As root, the real NAT traversal test (scripts/netns-nat.sh) runs last.
#
# Long fuzzing runs are separate: see scripts/fuzz.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

need() { # need COMMAND DEBIAN-PACKAGE
	command -v "$1" >/dev/null 2>&1 && return 0
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "installing $2 (for $1)"
		if [ -z "${apt_updated:-}" ]; then
			apt-get update -qq
			apt_updated=1
		fi
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
	fi
	if ! command -v "$1" >/dev/null 2>&1; then
		if [ "${CI:-}" = true ]; then
			echo "FAIL: $1 (Debian package $2) is required in CI and could not be installed" >&2
			exit 1
		fi
		echo "note: $1 not found (Debian package $2); tests that need it are skipped" >&2
	fi
}
need tshark tshark
need sipp sip-tester
# Headless Chromium drives the node's web page (internal/browsertest;
# RELOAD_CHROMIUM may name another binary).
if [ -z "${RELOAD_CHROMIUM:-}" ]; then
	need chromium chromium
fi
need gcc gcc
race=-race
if ! command -v gcc >/dev/null 2>&1; then
	race=
fi

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change: $unformatted" >&2
	exit 1
fi
echo "== go vet"
go vet ./...
echo "== go mod tidy -diff"
go mod tidy -diff
echo "== staticcheck"
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
echo "== go test $race"
# Every package under the race detector: links, forwarding, the topology
# and storage are driven by many goroutines at once (readers, timers,
# ICE and DTLS callbacks), and a data race there is a bug even when no
# assertion notices it. All packages, not only those with goroutines of
# their own: on 2 cores the whole suite takes about 5 minutes under -race
# against about 3 minutes without, and a separate plain pass would add
# those 3 minutes to run the same assertions again. The plain build still
# runs at full speed in the NAT traversal test below and in scripts/fuzz.sh.
# One package at a time: the overlay tests run dozens of real peers each,
# and 2 cores shared between packages slow their failure detection. -race
# slows them several times over, hence the long timeout (per package).
go test $race -count=1 -p 1 -timeout 30m ./...
echo "== brief stateful fuzzing of the node (fuzz/, a few thousand executions per target)"
# Always, in CI and locally: a short -fuzz run of each stateful target
# beyond its committed seed corpus (which the go test above already ran).
# The budget is a number of executions, not a duration: with -fuzztime as
# a duration Go's fuzzing coordinator can fail a target with a bare
# "context deadline exceeded" when the time runs out while a worker is
# busy (golang/go#75804), which a loaded CI machine meets. The counts take
# from a few seconds to half a minute each on 2 cores.
# Long runs: scripts/fuzz.sh 10m ./fuzz/
for spec in FuzzHost:5000 FuzzHostStorage:3000; do
	target=${spec%%:*} execs=${spec#*:}
	go test ./fuzz/ -run '^$' -fuzz "^${target}\$" -fuzztime "${execs}x" -parallel 2
done
echo "== real NAT traversal (network namespaces)"
# Two peers behind kernel NATs join through a public peer and talk over
# ICE server-reflexive paths, then under delay and loss (about 30 s).
# Needs root; a kernel or sandbox without network namespaces is an
# environment limit, reported loudly but not failed.
# Then the symmetric case: both peers behind symmetric NATs (a random
# port per flow) link only through a TURN relay one peer found in the
# overlay (RFC 6940 §9), and a control run without TURN must not link
# (about 80 s).
if [ "$(id -u)" = 0 ]; then
	for nat_case in default symmetric routed portmap; do
		rc=0
		if [ "$nat_case" = default ]; then
			./scripts/netns-nat.sh || rc=$?
		elif [ "$nat_case" = routed ]; then
			# Direct response and relay peer routing for a client behind a
			# NAT (RFC 7263, RFC 7264; about 50 s).
			echo "== direct response and relay peer routing through a NAT"
			./scripts/netns-nat.sh routed || rc=$?
		elif [ "$nat_case" = portmap ]; then
			# A peer behind miniupnpd maps a port (NAT-PMP, then UPnP IGD)
			# and is reached through it; a control run without (about 45 s).
			echo "== port mapping (UPnP IGD, NAT-PMP) through miniupnpd"
			./scripts/netns-nat.sh portmap || rc=$?
		else
			echo "== real NAT traversal through a TURN relay (symmetric NATs)"
			./scripts/netns-nat.sh symmetric || rc=$?
		fi
		if [ "$rc" = 77 ]; then
			echo "##### NOTE: real NAT traversal test ($nat_case) SKIPPED: network namespaces are not permitted here #####" >&2
		elif [ "$rc" != 0 ]; then
			exit "$rc"
		fi
	done
else
	echo "note: not root, so the real NAT traversal test (scripts/netns-nat.sh) is skipped" >&2
fi
