#!/usr/bin/env bash
# Builds MedSight and runs the whole test suite (unit, kernels, integration) with ctest.
# Installs what it needs first (as root, Debian 12). Vulkan runs on Mesa lavapipe when there is no GPU.
#   MS_TEST_LABEL=unit|kernels|integration   run one ctest label only (no hardening stages)
#   MS_TEST_LABEL=sanitize|fuzz              run one hardening stage only
#   MS_LONG=1                                also run long soak tests; fuzz 10 min per target
# After ctest, two hardening stages (docs/testing.md): scripts/sanitize.sh (unit + kernel tests
# under ASan/UBSan with leak checks, build-asan/) and scripts/fuzz.sh (libFuzzer, 20 s per
# target, build-fuzz/).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh --test
bash scripts/build.sh
# Pin lavapipe unless a real GPU ICD is present, so the suite behaves the same on every CI machine.
if [ -z "${VK_ICD_FILENAMES:-}" ] && [ -z "${VK_DRIVER_FILES:-}" ]; then
  export VK_ICD_FILENAMES=/usr/share/vulkan/icd.d/lvp_icd.x86_64.json
fi
case "${MS_TEST_LABEL:-}" in
  sanitize) exec bash scripts/sanitize.sh ;;
  fuzz) exec bash scripts/fuzz.sh ;;
esac
args=(--test-dir "${MS_BUILD_DIR:-build}" --output-on-failure --timeout 1200)
if [ -n "${MS_TEST_LABEL:-}" ]; then
  args+=(-L "$MS_TEST_LABEL")
fi
ctest "${args[@]}"
if [ -z "${MS_TEST_LABEL:-}" ]; then
  echo "== sanitizers (ASan + UBSan): unit and kernel tests =="
  bash scripts/sanitize.sh
  echo "== fuzzing (libFuzzer) =="
  bash scripts/fuzz.sh
fi
