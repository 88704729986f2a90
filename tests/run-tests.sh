#!/usr/bin/env bash
# Runs every test binary given, counts cmocka test cases, prints one summary
# line "N passed, M failed" and fails when anything failed. A binary that
# crashes or exits non-zero without reporting a failed case counts as one.
set -u
passed=0
failed=0
failures=()
timeout_s=${TS_TEST_TIMEOUT:-900}
logdir=${TS_TEST_LOGDIR:-build/test-logs}
mkdir -p "$logdir"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# the font and layout libraries' process-long caches (tests/lint/lsan.supp)
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$(cd "$(dirname "$0")" && pwd)/lint/lsan.supp:print_suppressions=0}

for bin in "$@"; do
  # unit/test_x and integration/test_x are different tests: keep the folder
  name=$(basename "$(dirname "$bin")")/$(basename "$bin")
  log="$logdir/${name//\//-}.log"
  start=$(date +%s)
  timeout --signal=KILL "$timeout_s" "$bin" >"$log" 2>&1
  rc=$?
  secs=$(( $(date +%s) - start ))
  ok=$(grep -c '^\[       OK \]' "$log")
  # cmocka names a failed test twice (as it fails, and in the summary)
  bad=$(grep '^\[  FAILED  \] [a-zA-Z_]' "$log" | sort -u | wc -l)
  passed=$((passed + ok))
  failed=$((failed + bad))
  if [ "$rc" -ne 0 ] && [ "$bad" -eq 0 ]; then
    failed=$((failed + 1))
    bad=1
  fi
  if [ "$bad" -gt 0 ] || [ "$rc" -ne 0 ]; then
    failures+=("$name")
    echo "FAIL $name ($ok ok, $bad failed, exit $rc, ${secs}s) — log: $log"
    grep -E '^\[  (FAILED|ERROR) ?\]|ERROR: AddressSanitizer|runtime error|Assertion|seed=' "$log" | head -20 | sed 's/^/    /'
    tail -5 "$log" | sed 's/^/    | /'
  else
    echo "ok   $name ($ok tests, ${secs}s)"
  fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
