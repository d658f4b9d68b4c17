#!/usr/bin/env bash
# test/summary.sh LOG RC...: the last lines of a test run. Sums bun's
# "N pass" / "N fail" lines in LOG; a run that exited non-zero with no failed
# test (an unhandled error between tests) counts as one failure; when
# anything failed, names what and where (test/failures.awk) before the final
# "N passed, N failed" line. Exits 0 only when nothing failed.
log=$1; shift
p=$(grep -E '^ *[0-9]+ pass$' "$log" | awk '{s+=$1} END {print s+0}')
f=$(grep -E '^ *[0-9]+ fail$' "$log" | awk '{s+=$1} END {print s+0}')
for rc in "$@"; do
  if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; fi
done
# which file failed, last, where a reader of the CI log looks first
if [ "$f" != 0 ]; then
  echo "--- failures ---"
  awk -f "$(dirname "$0")/failures.awk" "$log" | head -n 40
fi
echo "$p passed, $f failed"
[ "$f" = 0 ]
