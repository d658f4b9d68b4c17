#!/usr/bin/env bash
# Every test: environment setup, the binary builds (end-to-end tests run the
# built binary; x86-64 and ARM64), the .deb packages, the unit/db/e2e/package
# suite, then the long fuzz runs. Prints a final "N passed, N failed" line
# over both runs.
set -uo pipefail
cd "$(dirname "$0")/.."
BUN=./node_modules/.bin/bun
log=$(mktemp)
trap 'rm -f "$log"' EXIT

bash test/setup.sh || { echo "0 passed, 1 failed"; exit 1; }
$BUN build.ts || { echo "0 passed, 1 failed"; exit 1; }
$BUN packaging/deb.ts || { echo "0 passed, 1 failed"; exit 1; }

$BUN test 2>&1 | tee -a "$log"
rc1=${PIPESTATUS[0]}
PYDHCP_LONG=1 $BUN test --timeout 900000 ./test/long 2>&1 | tee -a "$log"
rc2=${PIPESTATUS[0]}

bash test/summary.sh "$log" "$rc1" "$rc2"
