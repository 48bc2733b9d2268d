#!/usr/bin/env bash
# Installs the Debian 12 packages MedSight needs to build, run and test. Idempotent: apt-get runs only
# when something is missing. Usage: bash scripts/deps.sh [--test]   (must run as root)
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  orthanc orthanc-dev orthanc-dicomweb orthanc-gdcm
  dcmtk libdcmtk-dev
  libvulkan-dev mesa-vulkan-drivers vulkan-tools glslc spirv-tools
  libsqlite3-dev sqlite3 libcurl4-openssl-dev
  curl ca-certificates python3
)
if [ "${1:-}" = "--test" ]; then
  packages+=(dicom3tools python3 python3-pydicom python3-numpy valgrind chromium)  # chromium: headless UI test
  packages+=(clang)  # libFuzzer (-fsanitize=fuzzer) for scripts/fuzz.sh
  # Node.js + npm for the viewer check (tests/viewer: dcmjs, dicomweb-client). Debian's nodejs 18 works;
  # a Node already on PATH (e.g. NodeSource, which bundles npm) is kept: Debian's npm would conflict with it.
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    packages+=(nodejs npm)
  fi
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "deps.sh: missing packages (${missing[*]}); run as root to install them" >&2
  exit 1
fi
echo "deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# The orthanc package tries to (re)start its service; policy-rc.d refusals there are harmless.
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
