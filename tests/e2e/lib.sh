# Shared helpers for end-to-end tests: a temp HOME, bounded waits, cleanup by PID.
# Not a test itself (CMake registers tests/e2e/*.sh except lib.sh).
set -u
TROUPE=${TROUPE:-build/troupe}
TROUPE=$(realpath "$TROUPE")
T=$(mktemp -d /tmp/troupe-e2e.XXXXXX)
export HOME=$T XDG_DATA_HOME=$T/data XDG_CONFIG_HOME=$T/config
PIDS=()
fail() { echo "FAIL: $*"; for f in "$T"/*.log "$T"/lab/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -30 "$f"; }; done; exit 1; }
pass() { echo "ok: $*"; }
# A test that cannot run here says why and exits 77, which CTest reports as skipped (Not Run),
# never as passed (CMakeLists.txt sets SKIP_RETURN_CODE 77).
SKIP_CODE=77
skip() { echo "SKIP: $*"; exit $SKIP_CODE; }
wait_for() { local t=$1; shift; local end=$((SECONDS + t)); while [ $SECONDS -lt $end ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.3; done; return 1; }
# 0 when every sanitizer report in file $1 is libraft 0.15's own crash (a SEGV inside libraft.so,
# canonical/raft#356, which e2e faults provokes on purpose and survives with a supervisor)
sanitizer_known() {
  awk '/ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:/ { if (open && !known) bad = 1; open = 1; known = 0; seg = /SEGV/; frames = 0; next }
       open && / #[0-9]+ / { frames++; if (seg && frames <= 6 && /libraft\.so/) known = 1 }
       END { if (open && !known) bad = 1; exit bad }' "$1"
}
# A runtime shim outlives its agent (DESIGN.md): one whose agent crashed or was killed -9 is
# still running from DATA/run/shim.pid; SIGTERM makes it stop and remove its containers.
stop_shims() {
  local f p
  for f in "$T"/run/shim.pid "$T"/*/run/shim.pid; do
    [ -f "$f" ] || continue
    p=$(cat "$f" 2>/dev/null); [ -n "$p" ] && grep -q "shim" "/proc/$p/cmdline" 2>/dev/null || continue
    kill "$p" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$p" 2>/dev/null
  done
}
cleanup() {
  [ -n "${KEEP_T:-}" ] && { cp -r "$T" "$KEEP_T" 2>/dev/null || true; }
  lab_down # a multi-node lab first: it stops its nodes, their shims, the server, links, namespaces
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done; kill -9 "$p" 2>/dev/null; done
  stop_shims
  # container processes this test started carry its marker in their command line
  if [ -n "${MARK:-}" ]; then for p in $(pgrep -f "$MARK"); do kill -9 "$p" 2>/dev/null; done; fi
  # in a sanitizer build the servers' reports (a leak at exit, a use after free) fail the test
  local bad="" f
  if [ "${TROUPE_SANITIZED:-0}" = 1 ]; then
    for f in $(grep -lE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$T"/*.log "$T"/*/*.log 2>/dev/null); do
      sanitizer_known "$f" && continue
      bad="$bad $f"
      echo "FAIL: sanitizer report in $f:"; grep -m1 -A30 -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$f"
    done
  fi
  rm -rf "$T"
  [ -z "$bad" ] || exit 1
}
trap cleanup EXIT
tro() { "$TROUPE" "$@"; }
# `troupe server` runs the server as a supervised child (cli/supervise.c): the process to freeze
# with SIGSTOP is that child (kill -9 of the supervisor ends both)
server_child() { pgrep -P "$1" | head -1; }
count_procs() { pgrep -fc "$MARK" || true; }
running() { [ "$(tro get pods -l "$1" -o json | jq '[.items[] | select(.status.phase=="Running" and .metadata.deletionTimestamp==null)] | length')" = "$2" ]; }
ready_count() { tro get pods -l "$1" -o json | jq '[.items[] | select(.metadata.deletionTimestamp==null) | select(any(.status.conditions[]?; .type=="Ready" and .status=="True"))] | length'; }
# count processes matching a pattern from this shell (a `sh -c` wrapper would match itself)
procs_eq() { [ "$(pgrep -fc "${2:-$MARK}" || true)" = "$1" ]; }
# ---- scheduler configurations (sched_permit, sched_profiles)
# need_sched_plugin NAME: SO = the example scheduler plugin libsched-NAME.so built beside troupe
# (or in $TROUPE_BUILD); skip (77) when it is not built
need_sched_plugin() {
  SO="${TROUPE_BUILD:-$(dirname "$TROUPE")}/libsched-$1.so"
  [ -f "$SO" ] || skip "example plugin not built: $SO"
}
# node_config NODE: $T/troupe.yaml for one node NODE on the process runtime
node_config() { printf 'nodeName: %s\nlogLevel: info\ndefaultRuntime: process\n' "$1" >"$T/troupe.yaml"; }
node_ready() { tro get node "$1" -o json | jq -e '.status.conditions[]? | select(.type=="Ready" and .status=="True")' >/dev/null; }
# up_with_scheduler_config NODE SCHEDCFG: `troupe up` as node NODE (node_config) with
# --scheduler-config SCHEDCFG, logging to $T/up.log, its PID in UP (and PIDS); returns once the
# API answers and NODE is Ready (fails after 30 s for each)
up_with_scheduler_config() {
  node_config "$1"
  ( cd "$T" && exec "$TROUPE" up --config "$T/troupe.yaml" --scheduler-config "$2" >>"$T/up.log" 2>&1 ) & UP=$!; PIDS+=($UP)
  wait_for 30 tro get nodes "$1" || fail "no API/node $1 after 30 s"
  wait_for 30 node_ready "$1" || fail "node $1 not Ready"
}
# ---- hollow nodes (kubemark) beside `troupe up`: preemption, preemption_pdb, pdb, eviction, sched_spread_service
# need_hollow: skip (77) unless root, jq and `troupe hollow` are there
need_hollow() {
  [ "$(id -u)" = 0 ] || skip "needs root (troupe up runs a node)"
  command -v jq >/dev/null || skip "needs jq"
  if "$TROUPE" hollow --help 2>&1 | grep -q 'unknown command "hollow"'; then skip "this build has no 'troupe hollow'"; fi
}
# nodes_ready SELECTOR N: exactly N nodes of the label selector SELECTOR are Ready
nodes_ready() { [ "$(tro get nodes -l "$1" -o json | jq '[.items[] | select(any(.status.conditions[]?; .type=="Ready" and .status=="True"))] | length')" = "$2" ]; }
# hollow_cluster N LABEL [hollow flags…]: need_hollow; `troupe up` on tcp://127.0.0.1:$PORT (PORT
# from the PID; UP, $T/up.log) with its own node cordoned, and N hollow nodes of 110 pods labelled
# LABEL (k=v), `troupe hollow --nodes N --pods 110 --labels LABEL` with the flags given (HOL,
# $T/hollow.log); returns once the N are Ready (fails after 60 s). UP and HOL are in PIDS.
hollow_cluster() {
  local n=$1 label=$2 node; shift 2
  need_hollow
  PORT=$((20000 + $$ % 12000))
  ( cd "$T" && exec "$TROUPE" up --data "$T/node" --listen "tcp://127.0.0.1:$PORT" >"$T/up.log" 2>&1 ) & UP=$!; PIDS+=($UP)
  wait_for 60 tro get nodes || fail "troupe up: no API"
  sleep 1
  for node in $(tro get nodes -o json | jq -r '.items[].metadata.name'); do tro cordon "$node" >/dev/null || fail "cordon $node"; done
  "$TROUPE" hollow --nodes "$n" --pods 110 --labels "$label" "$@" >"$T/hollow.log" 2>&1 & HOL=$!; PIDS+=($HOL)
  wait_for 60 nodes_ready "$label" "$n" || fail "$n hollow nodes labelled $label not Ready"
}
# ---- images and a registry for the container tests (Debian: docker-registry, skopeo, umoci, busybox-static)
# need_images: skip (77) unless the tools and root are there
need_images() {
  [ "$(id -u)" = 0 ] || skip "containers need root"
  local t; for t in runc conmon docker-registry skopeo umoci busybox jq; do command -v "$t" >/dev/null || skip "$t is not installed (scripts/deps.sh test)"; done
  [ -x /usr/lib/cni/bridge ] || skip "CNI plugins missing (containernetworking-plugins)"
}
# registry_start DIR PORT [HTPASSWD]: Debian's docker-registry on 127.0.0.1:PORT; sets REG_PID
registry_start() {
  local dir=$1 port=$2 auth=""
  mkdir -p "$dir/data"
  [ -n "${3:-}" ] && auth=$(printf 'auth:\n  htpasswd:\n    realm: troupe-test\n    path: %s\n' "$3")
  printf 'version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s/data\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:%s\n%s\n' "$dir" "$port" "$auth" >"$dir/config.yml"
  docker-registry serve "$dir/config.yml" >"$T/registry.log" 2>&1 & REG_PID=$!; PIDS+=($REG_PID)
  wait_for 15 curl -s -o /dev/null "http://127.0.0.1:$port/v2/" || fail "registry did not start"
}
# image_build DIR MARK [CMD]: an OCI layout DIR/layout:1 from busybox-static, /marker holding MARK
image_build() {
  local dir=$1 mark=$2 a
  rm -rf "$dir/layout" "$dir/bundle"
  umoci init --layout "$dir/layout" >/dev/null && umoci new --image "$dir/layout:1" >/dev/null &&
    umoci unpack --image "$dir/layout:1" "$dir/bundle" >/dev/null || return 1
  mkdir -p "$dir/bundle/rootfs/bin" "$dir/bundle/rootfs/tmp" "$dir/bundle/rootfs/www" "$dir/bundle/rootfs/etc"
  cp "$(command -v busybox)" "$dir/bundle/rootfs/bin/busybox"
  for a in $("$dir/bundle/rootfs/bin/busybox" --list); do [ "$a" = busybox ] || ln -sf busybox "$dir/bundle/rootfs/bin/$a"; done
  echo "$mark" >"$dir/bundle/rootfs/marker"
  printf 'root:x:0:0:root:/root:/bin/sh\nwww:x:33:33:www:/www:/bin/sh\n' >"$dir/bundle/rootfs/etc/passwd"
  printf 'root:x:0:\nwww:x:33:\n' >"$dir/bundle/rootfs/etc/group"
  umoci repack --image "$dir/layout:1" "$dir/bundle" >/dev/null &&
    umoci config --image "$dir/layout:1" --config.cmd /bin/sh ${3:+--config.entrypoint "$3"} >/dev/null
}
# busybox_pod NAME: a Pod NAME on the oci runtime running the node's busybox image (`echo $MARK;
# sleep 3600`); the manifest names a placeholder the heredoc check (test_fields) validates
busybox_pod() {
  cat <<Y | sed "s/^metadata: {name: the-pod}\$/metadata: {name: $1}/"
apiVersion: v1
kind: Pod
metadata: {name: the-pod}
spec:
  runtimeClassName: oci
  containers:
  - name: c
    image: busybox
    command: ["/bin/sh", "-c", "echo ${MARK:-}; sleep 3600"]
Y
}
# image_push DIR REF [CREDS]: pushes DIR/layout:1 to docker://REF over plain HTTP
image_push() { skopeo copy -q --dest-tls-verify=false ${3:+--dest-creds "$3"} "oci:$1/layout:1" "docker://$2" >/dev/null; }
# What a node of data dir $1 leaves: its own (other tests may run containers at the same time).
# pod_residue: per-pod things — overlay mounts under the data dir, conmon processes of its
# containers, pinned netns under its run dir, veths on its bridge; node_residue adds the node's
# bridge, its masquerade table (nftables), its run dir and every mount below the data or run dir.
# All zero when nothing is left.
node_paths() {
  RUN=$(jq -r '.runDir // empty' "$1/run/shim.json" 2>/dev/null)
  BR=$(jq -r '.plugins[0].bridge // empty' "$1/oci/cni/10-troupe.conflist" 2>/dev/null)
}
pod_residue() {
  node_paths "$1"
  local veth=0
  [ -n "$BR" ] && veth=$(ip -o link show master "$BR" 2>/dev/null | grep -c veth)
  echo "overlay=$(grep " $1/" /proc/mounts | grep -c overlay) conmon=$(pgrep -fc "conmon .*$1/" || true) netns=$(grep -c "${RUN:-/nonexistent}/netns/sb-" /proc/mounts) veth=$veth"
}
node_residue() {
  node_paths "$1"
  local br=0 run=0
  [ -n "$BR" ] && ip link show "$BR" >/dev/null 2>&1 && br=1
  [ -n "$RUN" ] && [ -e "$RUN" ] && run=1
  local masq=0
  [ -n "$BR" ] && nft list table ip "troupe_$BR" >/dev/null 2>&1 && masq=1
  echo "$(pod_residue "$1") bridge=$br masq=$masq rundir=$run mounts=$(grep -cE " ($1|${RUN:-/nonexistent})/" /proc/mounts)"
}
# Multi-node clusters (issue 8): `troupe lab up` makes N machines (network namespaces on a bridge)
# joined to a server; lab_up N [agent flags…] starts it under $T/lab and waits until N nodes are
# Ready; `labtro` is troupe with the lab's admin config; lab_json reads $T/lab/lab.json. The lab is
# taken down by its own SIGTERM handler (cleanup kills it by PID); lab_down is the fallback.
LAB=""
lab_up() {
  local n=$1; shift
  LAB=$T/lab
  "$TROUPE" lab up --nodes "$n" --data "$LAB" ${LAB_SERVER_CONFIG:+--server-config "$LAB_SERVER_CONFIG"} "$@" >"$T/lab.log" 2>&1 & LAB_PID=$!
  PIDS=("$LAB_PID" "${PIDS[@]}")
  wait_for 60 test -s "$LAB/lab.json" || fail "troupe lab up: no lab.json within 60 s"
  wait_for 90 lab_ready "$n" || fail "lab: $n nodes not Ready within 90 s: $(labtro get nodes 2>&1)"
}
labtro() { "$TROUPE" --kubeconfig "$LAB/config/troupe/config" "$@"; }
lab_json() { jq -r "$1" "$LAB/lab.json"; }
lab_ready() { [ "$(labtro get nodes -o json | jq '[.items[] | select(any(.status.conditions[]?; .type=="Ready" and .status=="True"))] | length')" = "$1" ]; }
# stops the lab (SIGTERM: it takes everything down) and waits up to 120 s for it
lab_down() {
  [ -n "${LAB_PID:-}" ] || return 0
  kill "$LAB_PID" 2>/dev/null
  for _ in $(seq 1 600); do kill -0 "$LAB_PID" 2>/dev/null || break; sleep 0.2; done
  [ -f "$LAB/lab.json" ] && "$TROUPE" lab down --data "$LAB" >/dev/null 2>&1
  LAB_PID=
}
