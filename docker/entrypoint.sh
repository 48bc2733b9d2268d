#!/usr/bin/env bash
# Container entry point of a MedSight node: builds Orthanc's configuration, picks the Vulkan
# driver, then runs Orthanc in the foreground (PID 1's child via exec, so SIGTERM stops it cleanly).
#
#   MEDSIGHT_CONFIG            base configuration (default /etc/medsight/orthanc.json, the sample)
#   MEDSIGHT_CONFIG_OVERRIDES  ':'-separated JSON files merged over it in order: objects merge key by
#                              key, anything else (lists included) replaces. Strings in these files may
#                              use ${VAR} or ${VAR:-default} from the environment (e.g. passwords).
#   MEDSIGHT_RUN_DIR           where the merged file is written (default /run/medsight)
#   medsight-entrypoint --print-config   prints the merged configuration and exits
# Extra arguments go to Orthanc (e.g. --verbose).
set -euo pipefail

base=${MEDSIGHT_CONFIG:-/etc/medsight/orthanc.json}
run_dir=${MEDSIGHT_RUN_DIR:-/run/medsight}
merged=$run_dir/orthanc.json
print_only=0
if [ "${1:-}" = "--print-config" ]; then
  print_only=1
  shift
fi

mkdir -p "$run_dir"
/usr/bin/python3 - "$base" "${MEDSIGHT_CONFIG_OVERRIDES:-}" "$merged" <<'PY'
import json, os, re, sys

base, overrides, out = sys.argv[1], sys.argv[2], sys.argv[3]
VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

def expand(v, where):
    if isinstance(v, str):
        def sub(m):
            if m.group(1) in os.environ:
                return os.environ[m.group(1)]
            if m.group(2) is not None:
                return m.group(2)
            sys.exit("medsight-entrypoint: %s uses ${%s}, which is not set" % (where, m.group(1)))
        return VAR.sub(sub, v)
    if isinstance(v, list):
        return [expand(x, where) for x in v]
    if isinstance(v, dict):
        return {k: expand(x, where) for k, x in v.items()}
    return v

def merge(a, b):
    for k, v in b.items():
        if isinstance(v, dict) and isinstance(a.get(k), dict):
            merge(a[k], v)
        else:
            a[k] = v
    return a

def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        sys.exit("medsight-entrypoint: cannot read %s: %s" % (path, e))

cfg = load(base)
for path in filter(None, overrides.split(":")):
    merge(cfg, expand(load(path), path))
with open(out, "w") as f:
    json.dump(cfg, f, indent=2)
PY

if [ "$print_only" = 1 ]; then
  cat "$merged"
  exit 0
fi

# Vulkan: with no GPU device node in the container (/dev/dri/renderD*: Mesa's Intel/AMD drivers;
# /dev/nvidia*: the NVIDIA container toolkit, which also mounts its ICD when the "graphics" driver
# capability is given), pin Mesa lavapipe so the loader does not probe drivers that cannot work.
if [ -z "${VK_ICD_FILENAMES:-}" ] && [ -z "${VK_DRIVER_FILES:-}" ] &&
   ! compgen -G '/dev/dri/renderD*' >/dev/null && [ ! -e /dev/nvidia0 ]; then
  export VK_ICD_FILENAMES=/usr/share/vulkan/icd.d/lvp_icd.x86_64.json
fi
export TCP_NODELAY=1   # DCMTK on Debian keeps Nagle on otherwise: ~50 ms per C-STORE
exec /usr/sbin/Orthanc "$@" "$merged"
