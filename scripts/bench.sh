#!/usr/bin/env bash
# Builds the benchmarks (Release) and runs them on the current Vulkan device and on the plain C
# reference in one run, printing per-stage times and C/GPU ratios. Timings are never asserted.
#   bash scripts/bench.sh                    bench_all: every analysis at every default size
#   bash scripts/bench.sh bench_all 256x256x64 128x128x16x40   arguments go to the one benchmark
#   bash scripts/bench.sh bench_calcium bench_segops ...       these benchmarks, default arguments
#   bash scripts/bench.sh --all              every tests/bench/bench_*.c, default arguments
#   bash scripts/bench.sh --ingest [opts]    ingest slowdown with/without the plugin
#                                            (tests/bench/ingest_bench.py; builds the plugin)
# Environment: MS_VK_DEVICE=cpu|gpu|auto|<name> (default auto), MS_BUILD_DIR (default
# build-bench), and for bench_all MS_BENCH_SIZES=small, MS_BENCH_ONLY=calcium,..., MS_BENCH_REPS.
# On a machine with an NVIDIA GPU but no Vulkan loader, unpack the loader .debs first (see
# docs/performance.md, "Running on an H100").
set -euo pipefail
cd "$(dirname "$0")/.."
build=${MS_BUILD_DIR:-build-bench}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DMS_BUILD_TESTS=ON >/dev/null

if [ "${1:-}" = "--ingest" ]; then
  shift
  cmake --build "$build" -j "$(nproc)" --target OrthancMedSight >/dev/null
  echo "===== ingest_bench ($(date -u +%FT%TZ), $(uptime))"
  exec /usr/bin/python3 tests/bench/ingest_bench.py --plugin "$build/libOrthancMedSight.so" "$@"
fi

names=()
args=()
if [ "${1:-}" = "--all" ]; then
  for f in tests/bench/bench_*.c; do names+=("$(basename "$f" .c)"); done
elif [ $# -eq 0 ]; then
  names=(bench_all)
else
  # Benchmark names first; anything after the first non-name is that benchmark's arguments.
  while [ $# -gt 0 ] && [ -f "tests/bench/$1.c" ]; do names+=("$1"); shift; done
  args=("$@")
  if [ ${#names[@]} -eq 0 ]; then
    echo "no benchmark named '$1' (tests/bench/bench_*.c)" >&2
    exit 2
  fi
  if [ ${#args[@]} -gt 0 ] && [ ${#names[@]} -gt 1 ]; then
    echo "arguments can follow one benchmark only" >&2
    exit 2
  fi
fi
cmake --build "$build" -j "$(nproc)" --target "${names[@]}" >/dev/null
status=0
for n in "${names[@]}"; do
  echo "===== $n ${args[*]:-} ($(date -u +%FT%TZ), $(uptime))"
  "$build/tests/$n" "${args[@]}" || { rc=$?; echo "$n exited with $rc"; [ $rc -eq 77 ] || status=1; }
done
exit $status
