#!/usr/bin/env bash
# Runs every benchmark in this module six times and summarises: medians and
# the ratios of sluice to each sibling in the same run (cmd/ratio: xrate,
# the naive x/sync + x/time/rate compositions, failsafe-go), and benchstat's
# table when benchstat is installed (go install golang.org/x/perf/cmd/benchstat@latest).
#
#   ./run.sh                 everything
#   BENCH=Allow ./run.sh     only benchmarks matching Allow
#
# The raw output is kept in a file named at the end, for benchstat later.
set -euo pipefail
cd "$(dirname "$0")"

out=$(mktemp "${TMPDIR:-/tmp}/sluice-bench.XXXXXX")
go test -run '^$' -bench "${BENCH:-.}" -benchmem -count "${COUNT:-6}" ./... | tee "$out"

echo
PATH=$PATH:$(go env GOPATH)/bin
if command -v benchstat >/dev/null 2>&1; then
	benchstat "$out"
	echo
fi
go run ./cmd/ratio <"$out"
echo
echo "raw output: $out"
