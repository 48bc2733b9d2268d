#!/usr/bin/env bash
# Builds the benchmarks (Release) and runs each one on the current Vulkan device and on the plain C
# reference in one run, printing per-stage times and GPU/C ratios. Timings are never asserted.
#   MS_VK_DEVICE=cpu|gpu|auto|<name>   device to use (default auto)
#   bash scripts/bench.sh [bench_name ...]   (default: all of tests/bench/bench_*.c)
# On a machine with an NVIDIA GPU but no Vulkan loader, unpack the loader .debs first (see
# docs/performance.md, "Running on an H100").
set -euo pipefail
cd "$(dirname "$0")/.."
build=${MS_BUILD_DIR:-build-bench}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DMS_BUILD_TESTS=ON >/dev/null
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for f in tests/bench/bench_*.c; do names+=("$(basename "$f" .c)"); done
fi
cmake --build "$build" -j "$(nproc)" --target "${names[@]}" >/dev/null
for n in "${names[@]}"; do
  echo "===== $n ($(date -u +%FT%TZ))"
  "$build/tests/$n" || echo "$n exited with $?"
done
