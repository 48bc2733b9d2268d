#!/usr/bin/env bash
# Builds MedSight (Release, no tests) from this checkout and installs a node's files under a root
# directory: the plugin, the sample configuration and the container entry point. The Dockerfile
# runs it with root "/"; docker/validate.sh runs it into a throwaway directory.
#   bash docker/install.sh ROOT      (build tree: $MS_BUILD_DIR, default <repo>/build-docker)
set -euo pipefail
root=${1:?usage: install.sh ROOT}
src=$(cd "$(dirname "$0")/.." && pwd)
build=${MS_BUILD_DIR:-$src/build-docker}
MS_BUILD_DIR=$build MS_BUILD_TYPE=Release bash "$src/scripts/build.sh" -DMS_BUILD_TESTS=OFF
install -D -m 0644 "$build/libOrthancMedSight.so" "$root/usr/local/share/medsight/libOrthancMedSight.so"
install -D -m 0644 "$src/config/orthanc.json" "$root/etc/medsight/orthanc.json"
install -D -m 0644 "$src/docker/scale-out.json" "$root/etc/medsight/scale-out.json"
install -D -m 0755 "$src/docker/entrypoint.sh" "$root/usr/local/bin/medsight-entrypoint"
echo "installed MedSight into $root"
