#!/usr/bin/env bash
# make test: format, lint, type, gen/ and wire-compatibility checks, then every test; ends with the line
# "N passed, K failed, S skipped", alone, last (CI reads it).
#
# N and K are deno test's own counts of tests (its closing "ok | N passed (M steps) | K failed |
# I ignored (J steps)" line, read back from the tee'd log): a describe() block or a Deno.test with
# steps counts once. S is every ignored test and step (I + J): tests skipped for a missing
# program or another reason (each announced loudly in the log). A failed check, a missing test
# program (scripts/test_deps.sh), or a test run that ends without that line, counts as one more
# failure. Under CI=true a program the tests need that cannot be installed fails its tests.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
make=${MAKE:-make}
timeout_seconds=${CMDOP_TEST_TIMEOUT:-3000}

failed=()
finish() {
  local passed=$1 failures=$2
  if [ "${#failed[@]}" -gt 0 ]; then echo "failed steps: ${failed[*]}"; fi
  echo "$passed passed, $failures failed, ${skipped:-0} skipped"
  [ "$failures" -eq 0 ] && [ "${#failed[@]}" -eq 0 ]
  exit
}

# Without Deno and node_modules nothing below can run.
if ! "$make" --no-print-directory -s deps; then
  failed+=(setup)
  finish 0 1
fi

for step in fmt-check lint check check-gen breaking; do
  echo "== make $step"
  "$make" --no-print-directory -s "$step" || failed+=("$step")
done

# A test that returns t.skip() counts as passed: skips go in the skip option (tests/_suite.ts).
echo "== no skips from inside a test"
if grep -rnE '\bt\.skip\(' --include='*_test.ts' src tests 2>/dev/null; then
  echo "t.skip() inside a test counts as passed: give it: it(name, { skip: reason }, fn)"
  failed+=(runtime-skip)
fi

# The Debian programs tests run (scripts/test_packages.txt); as root, apt-get installs the missing.
echo "== test programs"
if [ "$(id -u)" -eq 0 ]; then
  if ! bash scripts/test_deps.sh; then
    # Each test that needs a missing program says so: skipped, or failed under CI=true.
    echo "test_deps: some test programs are missing; their tests are skipped (failed under CI=true)"
  fi
else
  echo "not root: test programs are not installed; tests whose programs are missing are skipped"
fi

echo "== deno test"
# deno.json's test.include, less a folder that is not there (deno test fails on a missing one).
dirs=()
for dir in src tests; do [ -d "$dir" ] && dirs+=("$dir/"); done
if [ "${#dirs[@]}" -eq 0 ]; then
  echo "no src/ or tests/: no test to run"
  finish 0 "${#failed[@]}"
fi
log=$(mktemp "${TMPDIR:-/tmp}/cmdop-test.XXXXXX")
trap 'rm -f "$log"' EXIT
# The type check above covered the tests too: --no-check saves doing it twice.
timeout --foreground --kill-after=30 "$timeout_seconds" \
  "$root/scripts/deno" test -A --no-check --permit-no-files "${dirs[@]}" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

summary=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -E '^(ok|FAILED) \| [0-9]+ passed' | tail -n 1)
if [ -z "$summary" ]; then
  if [ "$status" -eq 124 ]; then
    echo "deno test did not finish within ${timeout_seconds}s (CMDOP_TEST_TIMEOUT)"
  else
    echo "deno test ended (status $status) before its summary line"
  fi
  failed+=(test)
  finish 0 "${#failed[@]}"
fi

passed=$(sed -E 's/^[A-Za-z]+ \| ([0-9]+) passed.*/\1/' <<<"$summary")
ignored=$(sed -nE 's/.*\| ([0-9]+) ignored.*/\1/p' <<<"$summary")
ignored_steps=$(sed -nE 's/.*\| [0-9]+ ignored \(([0-9]+) steps?\).*/\1/p' <<<"$summary")
skipped=$((${ignored:-0} + ${ignored_steps:-0}))
failures=$(sed -nE 's/.*\| ([0-9]+) failed.*/\1/p' <<<"$summary")
failures=${failures:-0}
if [ "$status" -ne 0 ] && [ "$failures" -eq 0 ]; then
  # e.g. a test marked only: deno fails the run with every test passed.
  echo "deno test exited with status $status"
  failed+=(test)
fi
finish "$passed" $((failures + ${#failed[@]}))
