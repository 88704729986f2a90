#!/usr/bin/env bash
# Runs libFuzzer targets for a fixed time each.
#
#   tests/fuzz/run.sh SECONDS BIN...
#
# Each target BIN (named fuzz_<x>) runs on a scratch copy of its committed
# seed corpus: tests/fuzz/corpus/<name>/ is copied into
# tests/fuzz/corpus-work/<name>/ (git-ignored), where new inputs accumulate
# between runs. tests/fuzz/<name>.dict is used when present. Crash, leak,
# timeout and out-of-memory inputs land in tests/fuzz/corpus-work/<name>.artifacts/.
# Exits non-zero when any target found anything (or could not run).
set -u

if [ $# -lt 2 ]; then
  echo "usage: $0 SECONDS BIN..." >&2
  exit 2
fi
secs=$1
shift
case "$secs" in
  ''|*[!0-9]*) echo "run.sh: SECONDS must be a whole number, not '$secs'" >&2; exit 2 ;;
esac

here=$(cd "$(dirname "$0")" && pwd)
work_root="$here/corpus-work"
mkdir -p "$work_root"

# Leaks count as failures; sanitizer reports stop the run.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=()
for bin in "$@"; do
  name=$(basename "$bin")
  if [ ! -x "$bin" ]; then
    echo "FAIL $name: $bin is not an executable" >&2
    failed+=("$name")
    continue
  fi
  work="$work_root/$name"
  artifacts="$work_root/$name.artifacts"
  log="$work_root/$name.log"
  mkdir -p "$work" "$artifacts"
  if [ -d "$here/corpus/$name" ]; then
    # the committed seeds, without overwriting what earlier runs found
    cp -n "$here/corpus/$name"/* "$work"/ 2>/dev/null || true
  fi
  args=(-max_total_time="$secs" -rss_limit_mb=1024 -malloc_limit_mb=256 -timeout=10
        -artifact_prefix="$artifacts/" -print_final_stats=1)
  if [ -f "$here/$name.dict" ]; then
    args+=(-dict="$here/$name.dict")
  fi
  before=$(find "$artifacts" -type f | wc -l)
  "$bin" "${args[@]}" "$work" >"$log" 2>&1
  rc=$?
  after=$(find "$artifacts" -type f | wc -l)
  if [ "$rc" -ne 0 ] || [ "$after" -gt "$before" ]; then
    echo "FAIL $name (exit $rc) — log: $log, inputs: $artifacts"
    grep -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error|fuzz_frame:|SUMMARY|Test unit written' "$log" |
      head -20 | sed 's/^/    /'
    failed+=("$name")
  else
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1)
    echo "ok   $name (${secs}s, ${runs:-?} runs, ${cov:-cov: ?}, corpus $(find "$work" -type f | wc -l) files)"
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: ${#failed[@]} target(s) failed: ${failed[*]}"
  exit 1
fi
echo "fuzz: all $# target(s) clean"
