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
side_log=$(mktemp "${TMPDIR:-/tmp}/cmdop-test-side.XXXXXX")
trap 'rm -f "$log" "$side_log"' EXIT

# Tests that spend minutes waiting and little CPU (an attach idle for 2 minutes behind a proxy, once
# through haproxy's 30 s timeout and once through nginx, haproxy and Caddy with TLS; the MCP
# Inspector installed from npm, most of a minute of download) run beside the rest instead of after
# it: their own deno test, their output printed afterwards. The proxies file took 2m13 of a
# 20-minute run, 2 of those minutes idle; the frozen machine and relay (SIGSTOP) and the network
# faults between namespaces wait out keepalive silences (33 s and 69 s of a 22-minute run), and
# a terminal resumed across two 20 s blackholes waits them out (52 s).
side=(
  tests/integration/keepalive_test.ts
  tests/integration/mcp_inspector_test.ts
  tests/deploy/proxies_test.ts
  tests/integration/frozen_test.ts
  tests/network/faults_test.ts
  tests/network/resume_test.ts
)
present=()
for file in "${side[@]}"; do [ -f "$file" ] && present+=("$file"); done
side=("${present[@]}")
# The rest, named file by file: deno test's --ignore is not applied to folders given as arguments.
rest=()
while IFS= read -r file; do
  [[ " ${side[*]} " == *" $file "* ]] || rest+=("$file")
done < <(find "${dirs[@]%/}" -name '*_test.ts' -type f | sort)
side_pid=
if [ "${#side[@]}" -gt 0 ]; then
  timeout --kill-after=30 "$timeout_seconds" \
    "$root/scripts/deno" test -A --no-check "${side[@]}" >"$side_log" 2>&1 </dev/null &
  side_pid=$!
fi

# The type check above covered the tests too: --no-check saves doing it twice.
timeout --foreground --kill-after=30 "$timeout_seconds" \
  "$root/scripts/deno" test -A --no-check --permit-no-files "${rest[@]}" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
side_status=0
if [ -n "$side_pid" ]; then
  wait "$side_pid"
  side_status=$?
  echo "== deno test, run beside the rest: ${side[*]}"
  cat "$side_log"
fi

# deno test's closing line in a log: "ok | N passed (M steps) | K failed | I ignored (J steps)".
summary_of() {
  sed 's/\x1b\[[0-9;]*m//g' "$1" | grep -E '^(ok|FAILED) \| [0-9]+ passed' | tail -n 1
}
passed=0 failures=0 skipped=0
count() {
  local summary=$1 status=$2 what=$3 n
  if [ -z "$summary" ]; then
    if [ "$status" -eq 124 ]; then
      echo "$what did not finish within ${timeout_seconds}s (CMDOP_TEST_TIMEOUT)"
    else
      echo "$what ended (status $status) before its summary line"
    fi
    failed+=(test)
    return
  fi
  n=$(sed -E 's/^[A-Za-z]+ \| ([0-9]+) passed.*/\1/' <<<"$summary")
  passed=$((passed + n))
  n=$(sed -nE 's/.*\| ([0-9]+) ignored.*/\1/p' <<<"$summary")
  skipped=$((skipped + ${n:-0}))
  n=$(sed -nE 's/.*\| [0-9]+ ignored \(([0-9]+) steps?\).*/\1/p' <<<"$summary")
  skipped=$((skipped + ${n:-0}))
  n=$(sed -nE 's/.*\| ([0-9]+) failed.*/\1/p' <<<"$summary")
  failures=$((failures + ${n:-0}))
  if [ "$status" -ne 0 ] && [ "${n:-0}" -eq 0 ]; then
    # e.g. a test marked only: deno fails the run with every test passed.
    echo "$what exited with status $status"
    failed+=(test)
  fi
}
count "$(summary_of "$log")" "$status" "deno test"
if [ -n "$side_pid" ]; then count "$(summary_of "$side_log")" "$side_status" "deno test (${side[*]})"; fi
finish "$passed" $((failures + ${#failed[@]}))
