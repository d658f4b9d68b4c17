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

p=$(grep -E '^ *[0-9]+ pass$' "$log" | awk '{s+=$1} END {print s+0}')
f=$(grep -E '^ *[0-9]+ fail$' "$log" | awk '{s+=$1} END {print s+0}')
if [ "$rc1" != 0 ] || [ "$rc2" != 0 ]; then [ "$f" = 0 ] && f=1; fi
# which file failed, last, where a reader of the CI log looks first
if [ "$f" != 0 ]; then
  echo "--- failures ---"
  awk -f test/failures.awk "$log" | head -n 40
fi
echo "$p passed, $f failed"
[ "$f" = 0 ]
