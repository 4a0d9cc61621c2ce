#!/usr/bin/env bash
# The agent killed -9 in the middle of starting a pod (issue 7 "Bad input and faults": "an agent
# killed mid-pull or mid-start"). The shim keeps its jobs; the next agent carries on. The node runs
# with `--cni-bin-dir` and `--runc` pointing at wrappers that stall when a flag file exists, so
# that the kill lands inside the step:
# - mid-sandbox: the bridge plugin stalls 6 s (RunPodSandbox in the shim);
# - mid-start: `runc start` stalls 6 s (StartContainer in the shim, after CreateContainer);
# - mid-pull: the registry is frozen (SIGSTOP) once the shim's PullImage has connected to it, the
#   agent killed and restarted, the registry thawed: the shim's pull completes (no temp file
#   kept) and the pod starts.
# Then the shim killed -9: the node starts a new one, which re-adopts the running containers.
# Each time: the pod ends Running with restartCount 0, exactly one container for it in the runtime,
# one conmon, one netns and one veth per pod (no duplicate sandbox or container), the other pod
# untouched; nothing left after deletion.
. "$(dirname "$0")/lib.sh"
RUNC=$(command -v runc) || skip "runc is not installed"
command -v conmon >/dev/null || skip "conmon is not installed"
[ -x /usr/lib/cni/bridge ] || skip "Debian's CNI plugins are not installed (containernetworking-plugins)"
[ "$(id -u)" = 0 ] || skip "needs root (containers, netns, mounts)"
command -v ss >/dev/null || skip "ss (iproute2) is not installed: it shows when the pull has connected"
need_images
cd "$T" || fail "no temp dir"
PORT=$((20000 + $$ % 12000))
MARK=ar-$$; NODE=ar$$; DATA=$T/d; BIN=$T/bin; CNI=$T/cni
mkdir -p "$DATA" "$BIN" "$CNI"
for p in /usr/lib/cni/*; do ln -s "$p" "$CNI/$(basename "$p")"; done
rm "$CNI/bridge"
# the wrappers: note that they ran (T/in-STEP), stall while T/slow-STEP exists (at most 6 s)
cat >"$CNI/bridge" <<S
#!/bin/sh
if [ "\$CNI_COMMAND" = ADD ] && [ -e "$T/slow-cni" ]; then touch "$T/in-cni"; sleep 6; fi
exec /usr/lib/cni/bridge "\$@"
S
cat >"$BIN/runc" <<S
#!/bin/sh
for a in "\$@"; do
  if [ "\$a" = start ] && [ -e "$T/slow-start" ]; then touch "$T/in-start"; sleep 6; break; fi
done
exec "$RUNC" "\$@"
S
chmod +x "$CNI/bridge" "$BIN/runc"
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; sleep 2; stop_shims; cleanup' EXIT
start_up() { ( cd "$T" && exec "$TROUPE" up --data "$DATA" --node-name "$NODE" --cni-bin-dir "$CNI" --runc "$BIN/runc" >>"$T/up.log" 2>&1 ) & UP=$!; PIDS+=($UP); }
ready() { [ "$(tro get nodes "$NODE" -o json 2>/dev/null | jq -r '.status.conditions[]? | select(.type=="Ready") | .status')" = True ]; }
start_up
wait_for 60 ready || fail "node not Ready"
isrunning() { [ "$(tro get pod "$1" -o json | jq -r .status.phase)" = Running ]; }
cid() { tro get pod "$1" -o json | jq -r '.status.containerStatuses[0].containerID'; }
restarts() { tro get pod "$1" -o json | jq -r '.status.containerStatuses[0].restartCount'; }
# containers of pod $1 in the runtime, running or not
instances() { tro runtime ps -a --data "$DATA" -o json | jq --arg p "$1" '[.[] | select(.podName == $p)] | length'; }
# a steady pod, there before the faults
busybox_pod steady | tro apply -f - >/dev/null || fail "apply steady"
wait_for 60 isrunning steady || fail "steady not Running"
STEADY=$(cid steady)
check() { # POD N: pod Running, restartCount 0, one container; N pods on the node: N conmon, netns, veth
  wait_for 90 isrunning "$1" || fail "$1 not Running after the agent restart: $(tro describe pod "$1" | tail -5)"
  sleep 3   # time for a duplicate to show
  [ "$(restarts "$1")" = 0 ] || fail "$1 restartCount $(restarts "$1")"
  [ "$(instances "$1")" = 1 ] || fail "$1 has $(instances "$1") containers: $(tro runtime ps -a --data "$DATA")"
  local r; r=$(pod_residue "$DATA")
  [ "${r#* }" = "conmon=$2 netns=$2 veth=$2" ] || fail "after $1: $r (expected $2 of each)"
  [ "$(cid steady)" = "$STEADY" ] && isrunning steady || fail "the steady pod changed"
  [ "$(tro logs "$1")" = "$MARK" ] || fail "$1 logs: $(tro logs "$1")"
}

# 1. killed while the shim creates the sandbox
touch "$T/slow-cni"
busybox_pod midsb | tro apply -f - >/dev/null || fail "apply midsb"
wait_for 30 test -e "$T/in-cni" || fail "the sandbox never reached the bridge plugin"
kill -9 "$UP"; wait "$UP" 2>/dev/null
rm -f "$T/slow-cni"
start_up
wait_for 60 ready || fail "node not Ready after the restart"
check midsb 2
pass "agent kill -9 during RunPodSandbox: Running, restartCount 0, one container, one conmon/netns/veth per pod"

# 2. killed between CreateContainer and StartContainer's end (runc start stalls)
touch "$T/slow-start"
busybox_pod midstart | tro apply -f - >/dev/null || fail "apply midstart"
wait_for 30 test -e "$T/in-start" || fail "runc start never ran"
kill -9 "$UP"; wait "$UP" 2>/dev/null
rm -f "$T/slow-start"
start_up
wait_for 60 ready || fail "node not Ready after the second restart"
check midstart 3
pass "agent kill -9 during StartContainer: Running, restartCount 0, one container, one conmon/netns/veth per pod"

# 3. killed while the shim pulls (the registry frozen mid-pull)
image_build "$T/img" "$MARK" || fail "could not build the test image"
registry_start "$T/reg" "$PORT"
IMG=127.0.0.1:$PORT/ar/busybox:1
image_push "$T/img" "$IMG" || fail "push"
busybox_pod midpull | sed "s|image: busybox|image: $IMG|; s|echo $MARK|cat /marker|" >"$T/midpull.yaml"
pulling() { ss -Htn state established "( dport = :$PORT )" | grep -q .; }
kill -STOP "$REG_PID"
tro apply -f "$T/midpull.yaml" >/dev/null || { kill -CONT "$REG_PID"; fail "apply midpull"; }
wait_for 20 pulling || { kill -CONT "$REG_PID"; fail "the shim never connected to the registry"; }
kill -9 "$UP"; wait "$UP" 2>/dev/null
start_up
wait_for 20 ready || { kill -CONT "$REG_PID"; fail "node not Ready after the third restart"; }
kill -CONT "$REG_PID"
check midpull 4
[ -z "$(ls -A "$DATA/oci/images/tmp" 2>/dev/null)" ] || fail "temp files left by the pull: $(ls "$DATA/oci/images/tmp")"
# the new agent's PullImage joined the shim's running job: one pull for the two requests
[ "$(grep -c "oci pulled image=$IMG" "$T/up.log")" = 1 ] || fail "pulls: $(grep "oci pull" "$T/up.log")"
pass "agent kill -9 during PullImage: the new agent's request joins the shim's pull (one pull), Running, restartCount 0, one container, no temp file"

# 4. the shim killed -9: the node starts a new one (as systemd restarts containerd), which re-adopts
# the containers conmon kept running; the pods stay Running with the same processes
ctr_pids() { tro runtime ps -a --data "$DATA" -o json | jq -c '[.[] | {podName, pid, state}] | sort_by(.podName)'; }
BEFORE=$(ctr_pids)
[ "$(jq '[.[] | select(.state == "RUNNING")] | length' <<<"$BEFORE")" = 4 ] || fail "4 running containers expected: $BEFORE"
SHIM=$(cat "$DATA/run/shim.pid")
kill -9 "$SHIM"
newshim() { p=$(cat "$DATA/run/shim.pid" 2>/dev/null); [ -n "$p" ] && [ "$p" != "$SHIM" ] && kill -0 "$p"; }
wait_for 30 newshim || fail "no new shim after the old one was killed: $(tail -5 "$T/up.log")"
grep -q "runtime shim pid=$SHIM is gone: started again" "$T/up.log" || fail "the restart is not logged"
sleep 3
[ "$(ctr_pids)" = "$BEFORE" ] || fail "containers changed with the shim: $BEFORE → $(ctr_pids)"
for p in steady midsb midstart midpull; do
  isrunning "$p" && [ "$(restarts "$p")" = 0 ] || fail "$p after the shim restart: $(tro get pod "$p" -o json | jq -c .status.containerStatuses)"
done
[ "$(tro exec midpull -- cat /marker)" = "$MARK" ] || fail "exec through the new shim"
busybox_pod aftershim | tro apply -f - >/dev/null || fail "apply aftershim"
wait_for 90 isrunning aftershim || fail "a new pod after the shim restart: $(tro describe pod aftershim | tail -5)"
R=$(pod_residue "$DATA")
[ "${R#* }" = "conmon=5 netns=5 veth=5" ] || fail "after the shim restart: $R"
pass "shim kill -9: a new shim within seconds, containers re-adopted (same pids), restartCount 0, exec and new pods work"

tro delete pod steady midsb midstart midpull aftershim --grace-period 0 --force >/dev/null 2>&1 ||
  for p in steady midsb midstart midpull aftershim; do tro delete pod "$p" --grace-period 0 --force >/dev/null 2>&1; done
gone() { [ "$(tro get pods -o json | jq '.items | length')" = 0 ]; }
wait_for 60 gone || fail "pods not gone"
empty() { [ "$(tro runtime ps -a --data "$DATA" -o json | jq length)" = 0 ]; }
wait_for 60 empty || fail "containers left in the runtime: $(tro runtime ps -a --data "$DATA")"
kill "$UP"; wait "$UP" 2>/dev/null
node_paths "$DATA"
left() { [ "$(node_residue "$DATA")" = "overlay=0 conmon=0 netns=0 veth=0 bridge=0 masq=0 rundir=0 mounts=0" ]; }
wait_for 30 left || fail "left behind after the node stopped: $(node_residue "$DATA")"
pass "nothing left behind"
