#!/usr/bin/env bash
# ctest with its arguments, then one line counting passed, skipped and failed tests, so that a
# skipped test (exit 77, SKIP_RETURN_CODE) is never mistaken for a pass. ctest's exit status is
# kept: a skip does not fail the run, a failure does. Run from a build directory.
set -uo pipefail
out=$(mktemp)
trap 'rm -f "$out"' EXIT
ctest "$@" 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
# ctest's result lines: "  3/20 Test  #3: name ....   Passed    0.01 sec", "***Skipped", "***Failed", "***Timeout"
passed=$(grep -cE '^ *[0-9]+/[0-9]+ Test +#[0-9]+: .* +Passed +[0-9.]+ sec' "$out")
skipped=$(grep -E '^ *[0-9]+/[0-9]+ Test +#[0-9]+: ' "$out" | grep -c '\*\*\*Skipped')
failed=$(grep -E '^ *[0-9]+/[0-9]+ Test +#[0-9]+: ' "$out" | grep -vE ' Passed +[0-9.]+ sec|\*\*\*Skipped' | grep -c .)
echo "ctest summary: $passed passed, $skipped SKIPPED, $failed failed (in $(pwd))"
if [ "$skipped" -gt 0 ]; then
  echo "skipped tests (did not run, not passed):"
  grep -E '^ *[0-9]+/[0-9]+ Test +#[0-9]+: .*\*\*\*Skipped' "$out" | sed -E 's/^ *[0-9]+\/[0-9]+ Test +#[0-9]+: ([^ ]+).*/  \1/'
fi
exit "$rc"
