#!/usr/bin/env bash
# Builds MedSight with AddressSanitizer + UndefinedBehaviorSanitizer (MS_SANITIZE=ON, GCC, in
# build-asan/) and runs the unit and kernel tests there, leaks included. See docs/testing.md.
#   MS_ASAN_BUILD_DIR=dir   build directory (default build-asan)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${MS_ASAN_BUILD_DIR:-build-asan}
cmake -S . -B "$build" -DMS_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "$(nproc)" >/dev/null

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
args=(--test-dir "$build" --output-on-failure --timeout 1200)
ctest "${args[@]}" -L unit

# Kernel tests: keep lavapipe mapped so its one global block stays reachable (tests/lsan.supp
# explains why a suppression alone cannot match it). libasan must come first in LD_PRELOAD.
# The kernel tests start no other programs, so nothing else runs with these preloads.
# Like scripts/test.sh: lavapipe unless a driver is named, so a direct run behaves as in CI.
if [ -z "${VK_ICD_FILENAMES:-}" ] && [ -z "${VK_DRIVER_FILES:-}" ]; then
  export VK_ICD_FILENAMES=/usr/share/vulkan/icd.d/lvp_icd.x86_64.json
fi
icd=${VK_ICD_FILENAMES:-${VK_DRIVER_FILES:-}}
lvp=/usr/lib/x86_64-linux-gnu/libvulkan_lvp.so
if [[ "$icd" == *lvp_icd* ]] && [ -e "$lvp" ]; then
  libasan=$(gcc -print-file-name=libasan.so)
  LD_PRELOAD="$libasan $lvp${LD_PRELOAD:+ $LD_PRELOAD}" ctest "${args[@]}" -L kernels
else
  ctest "${args[@]}" -L kernels
fi
