#!/usr/bin/env bash
# Checks docker/ without a Docker engine: every file the Dockerfile and install.sh use exists, the
# scripts parse, the JSON and compose files parse and agree with each other, the entry point merges
# the scale-out configuration as intended, and (unless --no-build) the Dockerfile's build step
# (docker/install.sh) runs into a throwaway root and the installed node really starts: Orthanc with
# the installed plugin, once with the sample configuration and once with the merged scale-out one
# (minus the PostgreSQL plugin: no database server here), answering GET /medsight/status.
#   bash docker/validate.sh [--no-build]
set -euo pipefail
cd "$(dirname "$0")/.."
build=1
[ "${1:-}" = "--no-build" ] && build=0
tmp=$(mktemp -d /tmp/medsight-docker-validate.XXXXXX)
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "validate: FAIL: $*" >&2; exit 1; }
ok() { echo "validate: ok: $*"; }

# 1. Files the image build needs.
for f in $(sed -n 's/^COPY \([^ ]*\) .*/\1/p' docker/Dockerfile) docker/install.sh scripts/build.sh \
         config/orthanc.json docker/scale-out.json docker/entrypoint.sh docker/Dockerfile.dockerignore; do
  [ -e "$f" ] || fail "$f (used by the image build) is missing"
done
grep -q 'docker/install.sh' docker/Dockerfile || fail "the Dockerfile does not run docker/install.sh"
ok "files referenced by the Dockerfile exist"

# 2. Scripts parse.
for s in docker/*.sh scripts/deps.sh scripts/build.sh; do bash -n "$s" || fail "bash -n $s"; done
ok "shell scripts parse"

# 3. JSON, compose, and how they fit together.
/usr/bin/python3 - <<'PY' || fail "configuration files"
import json, sys
import yaml   # python3-yaml (Debian)

for p in ("config/orthanc.json", "docker/scale-out.json"):
    json.load(open(p))
c = yaml.safe_load(open("docker/compose.yml"))
svcs = c["services"]
nodes = [n for n, s in svcs.items() if "build" in s]
assert len(nodes) == 2, "want two MedSight nodes, got %s" % nodes
declared = set(c.get("volumes") or {})
shared = None
for n in nodes:
    s = svcs[n]
    assert s["build"]["context"] == ".." and s["build"]["dockerfile"] == "docker/Dockerfile", n
    env = s["environment"]
    assert env["MEDSIGHT_CONFIG_OVERRIDES"] == "/etc/medsight/scale-out.json", n
    assert "POSTGRES_PASSWORD" in env, n
    vols = dict(v.split(":", 1) for v in s["volumes"])
    assert set(vols) <= declared, "%s uses undeclared volumes %s" % (n, set(vols) - declared)
    inv = {v: k for k, v in vols.items()}
    storage, node = inv["/var/lib/medsight/storage"], inv["/var/lib/medsight/node"]
    shared = shared or storage
    assert storage == shared, "the nodes must share one storage volume"
    assert node != storage
    assert s["depends_on"]["postgres"]["condition"] == "service_healthy", n
node_vols = [dict((v.split(":", 1)[1], v.split(":", 1)[0]) for v in svcs[n]["volumes"])["/var/lib/medsight/node"]
             for n in nodes]
assert len(set(node_vols)) == 2, "each node needs its own /var/lib/medsight/node (SQLite)"
ports = [p.split(":")[0] for n in nodes for p in svcs[n]["ports"]]
assert len(set(ports)) == len(ports), "host ports collide: %s" % ports
so = json.load(open("docker/scale-out.json"))
assert so["PostgreSQL"]["EnableIndex"] is True and so["PostgreSQL"]["Lock"] is False
assert so["StorageDirectory"] == "/var/lib/medsight/storage" and so["IndexDirectory"] == "/var/lib/medsight/node"
assert any("PostgreSQLIndex" in p for p in so["Plugins"])
PY
ok "config/orthanc.json, docker/scale-out.json, docker/compose.yml parse and agree"
if docker compose version >/dev/null 2>&1; then
  POSTGRES_PASSWORD=x docker compose -f docker/compose.yml config -q || fail "docker compose config"
  ok "docker compose config"
else
  echo "validate: skipped: docker compose config (no compose plugin here; the YAML was checked above)"
fi

# 4. The entry point's merge.
env -i PATH="$PATH" MEDSIGHT_CONFIG=config/orthanc.json MEDSIGHT_RUN_DIR="$tmp/run" \
  MEDSIGHT_CONFIG_OVERRIDES=docker/scale-out.json POSTGRES_PASSWORD=secret MEDSIGHT_NODE_NAME=node-x \
  bash docker/entrypoint.sh --print-config >"$tmp/merged.json" || fail "entrypoint --print-config"
/usr/bin/python3 - "$tmp/merged.json" <<'PY' || fail "merged scale-out configuration"
import json, sys
m = json.load(open(sys.argv[1]))
base = json.load(open("config/orthanc.json"))
assert m["PostgreSQL"]["Password"] == "secret" and m["PostgreSQL"]["Host"] == "postgres"
assert m["Name"] == "node-x" and m["DicomAet"] == "MEDSIGHT"
assert m["MedSight"]["Database"] == "/var/lib/medsight/node/medsight.sqlite"
# Objects merge key by key: the sample's rules and analysis settings survive.
assert m["MedSight"]["Rules"] == base["MedSight"]["Rules"]
assert m["MedSight"]["Calcium"] == base["MedSight"]["Calcium"]
assert m["DicomWeb"] == base["DicomWeb"] and m["SaveJobs"] is False
PY
if env -i PATH="$PATH" MEDSIGHT_CONFIG=config/orthanc.json MEDSIGHT_RUN_DIR="$tmp/run2" \
     MEDSIGHT_CONFIG_OVERRIDES=docker/scale-out.json bash docker/entrypoint.sh --print-config \
     >/dev/null 2>"$tmp/err"; then
  fail "the entry point accepted a scale-out configuration without POSTGRES_PASSWORD"
fi
grep -q 'POSTGRES_PASSWORD' "$tmp/err" || fail "no clear message for a missing POSTGRES_PASSWORD: $(cat "$tmp/err")"
ok "entry point merges the scale-out configuration (and refuses a missing password)"

[ "$build" = 1 ] || { echo "validate: skipped: build and start (--no-build)"; exit 0; }

# 5. The Dockerfile's build step into a throwaway root, then start what it installed.
echo "validate: building into $tmp/root (Release; a few minutes)"
MS_BUILD_DIR="$tmp/build" bash docker/install.sh "$tmp/root" >"$tmp/install.log" 2>&1 ||
  { tail -n 30 "$tmp/install.log" >&2; fail "docker/install.sh"; }
for f in usr/local/share/medsight/libOrthancMedSight.so etc/medsight/orthanc.json etc/medsight/scale-out.json \
         usr/local/bin/medsight-entrypoint; do
  [ -e "$tmp/root/$f" ] || fail "install.sh did not install /$f"
done
ok "docker/install.sh built and installed the node"

start_node() {  # $1: label, $2..: override files (after the local-paths one)
  local label=$1; shift
  read -r http dicom < <(/usr/bin/python3 -c '
import socket
ps = []
for _ in range(2):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); ps.append(s)
print(*[s.getsockname()[1] for s in ps])')
  mkdir -p "$tmp/$label"
  cat >"$tmp/$label/local.json" <<JSON
{"HttpPort": $http, "DicomPort": $dicom, "RemoteAccessAllowed": false,
 "StorageDirectory": "$tmp/$label/storage", "IndexDirectory": "$tmp/$label/index",
 "Plugins": ["/usr/share/orthanc/plugins/libOrthancDicomWeb.so", "$tmp/root/usr/local/share/medsight/libOrthancMedSight.so"],
 "MedSight": {"Database": "$tmp/$label/index/medsight.sqlite"}}
JSON
  local overrides
  overrides=$(IFS=:; echo "$*")
  overrides=${overrides:+$overrides:}$tmp/$label/local.json
  MEDSIGHT_CONFIG="$tmp/root/etc/medsight/orthanc.json" MEDSIGHT_RUN_DIR="$tmp/$label/run" \
    MEDSIGHT_CONFIG_OVERRIDES="$overrides" POSTGRES_PASSWORD=unused \
    bash "$tmp/root/usr/local/bin/medsight-entrypoint" >"$tmp/$label/orthanc.log" 2>&1 &
  pid=$!
  for _ in $(seq 120); do
    if curl -fs "http://127.0.0.1:$http/medsight/status" >"$tmp/$label/status.json" 2>/dev/null; then
      /usr/bin/python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); assert "Version" in s and "Device" in s' \
        "$tmp/$label/status.json" || fail "$label: unexpected /medsight/status"
      kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
      ok "$label: Orthanc + MedSight started from the installed files ($(cat "$tmp/$label/status.json" | head -c 160)...)"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  tail -n 30 "$tmp/$label/orthanc.log" >&2
  fail "$label: the node did not answer /medsight/status"
}
start_node sample
start_node scale-out "$tmp/root/etc/medsight/scale-out.json"
echo "validate: all checks passed"
