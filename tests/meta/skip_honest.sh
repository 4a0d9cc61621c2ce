#!/usr/bin/env bash
# Skips are reported, never passed: (1) a test exiting 77 under SKIP_RETURN_CODE 77 is counted as
# SKIPPED by scripts/ctest.sh, which keeps ctest's exit status (a skip does not fail the run, a
# failure does); (2) no e2e script skips with `exit 0`; (3) every e2e/unit test carries
# SKIP_RETURN_CODE 77 in CMakeLists.txt.
set -u
SRC=${TROUPE_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
D=$(mktemp -d /tmp/troupe-skip.XXXXXX)
trap 'rm -rf "$D"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

cat >"$D/CTestTestfile.cmake" <<'CT'
add_test(skipper "/bin/sh" "-c" "echo SKIP: no way; exit 77")
set_tests_properties(skipper PROPERTIES SKIP_RETURN_CODE 77)
add_test(passer "/bin/true")
CT
out=$(cd "$D" && "$SRC/scripts/ctest.sh" 2>&1); rc=$?
[ $rc = 0 ] || fail "a skip failed the run (rc $rc): $out"
grep -q 'ctest summary: 1 passed, 1 SKIPPED, 0 failed' <<<"$out" || fail "summary wrong: $out"
grep -q '^  skipper$' <<<"$out" || fail "the skipped test is not named: $out"

cat >>"$D/CTestTestfile.cmake" <<'CT'
add_test(failer "/bin/false")
CT
out=$(cd "$D" && "$SRC/scripts/ctest.sh" 2>&1); rc=$?
[ $rc != 0 ] || fail "a failure did not fail the run: $out"
grep -q 'ctest summary: 1 passed, 1 SKIPPED, 1 failed' <<<"$out" || fail "summary wrong with a failure: $out"
echo "ok: ctest.sh counts 1 passed, 1 skipped, 1 failed and keeps ctest's status"

bad=$(grep -nE 'SKIP[^"]*".*exit 0|exit 0.*SKIP' "$SRC"/tests/e2e/*.sh)
[ -z "$bad" ] || fail "an e2e script skips with exit 0: $bad"
[ "$(grep -c 'SKIP_RETURN_CODE 77' "$SRC/CMakeLists.txt")" -ge 2 ] || fail "unit and e2e tests lack SKIP_RETURN_CODE 77"
echo "ok: e2e scripts skip with 77, CMake maps it to skipped"
