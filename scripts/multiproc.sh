#!/usr/bin/env bash
# Runs the multi-process soak at full scale: 100 `reload node` processes on
# loopback, 10 % of them killed (SIGKILL) and restarted every 5 s for 60 s,
# 500 stored values and 10 SIP registrations that must all survive.
# The suite runs the same test scaled down (16 processes, 20 s of churn).
#
# Scale: RELOAD_SOAK_N, RELOAD_SOAK_CHURN, RELOAD_SOAK_INTERVAL,
# RELOAD_SOAK_DURATION, RELOAD_SOAK_VALUES, RELOAD_SOAK_AORS (see
# cmd/reload/multiproc_test.go). The report lines also go to the file
# named by RELOAD_SOAK_LOG, when set.
set -euo pipefail
cd "$(dirname "$0")/.."
RELOAD_SOAK=1 exec go test -count=1 -v -run '^TestMultiProcess$' -timeout 30m ./cmd/reload/ "$@"
