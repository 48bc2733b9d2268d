#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz, clang, MS_FUZZ=ON in build-fuzz/) and fuzzes each one
# for a bounded time from its committed corpus, failing on any crash, leak, timeout (> 5 s per
# input) or out-of-memory (> 1 GiB). See docs/testing.md, "Fuzzing".
#   MS_FUZZ_SECONDS=N        seconds per target (default 20; 600 with MS_LONG=1)
#   MS_FUZZ_TARGETS="a b"    subset of: geometry timepoints json config slice_info
#   MS_FUZZ_BUILD_DIR=dir    build directory (default build-fuzz)
# What a failing target left (crash-*, leak-*, oom-*, timeout-*) is kept in
# <build>/artifacts/<target>/; fix the bug and commit the input as tests/fuzz/corpus/<target>/crash-<what>
# so that ctest's fuzz_replay_<target> replays it on every run.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${MS_FUZZ_BUILD_DIR:-build-fuzz}
targets=${MS_FUZZ_TARGETS:-geometry timepoints json config slice_info}
if [ "${MS_LONG:-0}" = 1 ]; then
  secs=${MS_FUZZ_SECONDS:-600}
else
  secs=${MS_FUZZ_SECONDS:-20}
fi

CC=clang CXX=clang++ cmake -S . -B "$build" -DMS_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
exes=()
for t in $targets; do exes+=("fuzz_$t"); done
cmake --build "$build" -j "$(nproc)" --target "${exes[@]}" >/dev/null

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Leaks are errors (LeakSanitizer runs after every input); UBSan findings abort like crashes.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=()
for t in $targets; do
  mkdir -p "$work/$t" "$build/artifacts/$t"
  opts=(-max_total_time="$secs" -timeout=5 -rss_limit_mb=1024 -print_final_stats=1
        -artifact_prefix="$build/artifacts/$t/")
  case $t in
    json) opts+=(-dict=tests/fuzz/json.dict) ;;
    config) opts+=(-dict=tests/fuzz/config.dict) ;;
    # DCMTK allocates an element's declared length (up to 4 GiB) before it finds that the input
    # is shorter, so a 19-byte file may ask for 2 GiB once: allowed as a single allocation
    # (virtual memory), while the 1 GiB resident limit still applies (docs/testing.md).
    slice_info) opts+=(-malloc_limit_mb=4200) ;;
  esac
  start=$(date +%s)
  # New inputs go to the scratch corpus (the first directory); the committed seeds are only read.
  if "$build/tests/fuzz/fuzz_$t" "${opts[@]}" "$work/$t" "tests/fuzz/corpus/$t" >"$work/$t.log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log")
    cov=$(grep -o 'cov: [0-9]*' "$work/$t.log" | tail -n 1)
    echo "fuzz_$t: ok, ${runs:-?} inputs in $(( $(date +%s) - start )) s, $cov"
  else
    echo "fuzz_$t: FAILED; inputs kept in $build/artifacts/$t/" >&2
    grep -v -E '^#[0-9]+\s+(NEW|REDUCE|pulse|INITED)' "$work/$t.log" | tail -n 80 >&2
    failed+=("$t")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: ${failed[*]} failed" >&2
  exit 1
fi
