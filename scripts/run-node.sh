#!/usr/bin/env bash
# Starts a MedSight node: Orthanc + DICOMweb + MedSight with the sample config, embedded SQLite,
# Mesa lavapipe when no GPU is present. Installs and builds what it needs (as root, Debian 12).
# Idempotent: a node already started by this script is restarted with the fresh build.
#   MS_CONFIG=/path/orthanc.json   use another configuration (default: /etc/medsight/orthanc.json,
#                                  copied from config/orthanc.json on first run)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
install -d /var/log/medsight
echo "Building MedSight (log: /var/log/medsight/build.log)"
build=${MS_BUILD_DIR:-build-node}
if ! MS_BUILD_DIR=$build MS_BUILD_TYPE=${MS_BUILD_TYPE:-Release} bash scripts/build.sh -DMS_BUILD_TESTS=OFF >/var/log/medsight/build.log 2>&1; then
  tail -n 40 /var/log/medsight/build.log >&2
  exit 1
fi

install -d /usr/local/share/medsight /etc/medsight /var/lib/medsight/db /var/log/medsight
install -m 0644 "$build/libOrthancMedSight.so" /usr/local/share/medsight/
config=${MS_CONFIG:-/etc/medsight/orthanc.json}
if [ ! -f "$config" ]; then
  install -m 0644 config/orthanc.json "$config"
fi

# Mesa installs Intel/Radeon ICD files even without such hardware: look for a GPU device node.
if ! ls /dev/dri/renderD* /dev/nvidia0 >/dev/null 2>&1; then
  export VK_ICD_FILENAMES=/usr/share/vulkan/icd.d/lvp_icd.x86_64.json   # no GPU: lavapipe
fi
export TCP_NODELAY=1   # DCMTK on Debian keeps Nagle on otherwise: ~50 ms per C-STORE

pidfile=/var/run/medsight-orthanc.pid
if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  echo "Stopping the running node (pid $(cat "$pidfile"))"
  kill "$(cat "$pidfile")"
  for _ in $(seq 60); do kill -0 "$(cat "$pidfile")" 2>/dev/null || break; sleep 0.5; done
fi
nohup /usr/sbin/Orthanc "$config" >>/var/log/medsight/orthanc.log 2>&1 &
echo $! >"$pidfile"

read -r http dicom aet < <(/usr/bin/python3 -c '
import json, sys
c = json.load(open(sys.argv[1]))
print(c.get("HttpPort", 8042), c.get("DicomPort", 4242), c.get("DicomAet", "ORTHANC"))' "$config")
for _ in $(seq 120); do
  if curl -fs "http://127.0.0.1:$http/medsight/status" >/dev/null 2>&1; then
    echo "MedSight node running (pid $(cat "$pidfile")), config $config, log /var/log/medsight/orthanc.log"
    echo "  Orthanc Explorer + REST: http://$(hostname -f 2>/dev/null || hostname):$http/   (MedSight: /medsight/status)"
    echo "  DICOMweb:                http://$(hostname -f 2>/dev/null || hostname):$http/dicom-web/"
    echo "  DICOM C-STORE:           port $dicom, AE title $aet"
    curl -fs "http://127.0.0.1:$http/medsight/status"
    exit 0
  fi
  if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then break; fi
  sleep 0.5
done
echo "The node did not start; last log lines:" >&2
tail -n 30 /var/log/medsight/orthanc.log >&2
exit 1
