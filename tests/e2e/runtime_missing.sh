#!/usr/bin/env bash
# runc or conmon missing on a node (issue 7 "Bad input and faults"). The node is started with
# `--runc DIR/runc --conmon DIR/conmon` (CRI-O's runtime_path and conmon settings), links that
# the test removes and puts back:
# - runc missing when the node starts: a `runtimeClassName: oci` pod gets FailedCreatePodSandBox
#   naming the runc path (the kubelet reports a runtime it cannot use at sandbox creation); runc
#   installed → the shim serves oci without a restart and the pod ends Running.
# - runc removed while pods run: a new pod waits in CreateContainerError naming the runc path,
#   the running pod is untouched (same container pid); runc back → Running.
# - conmon removed: the same, naming conmon.
# The failed creates leave no conmon, netns or veth (one of each per pod); nothing is left after
# deletion.
. "$(dirname "$0")/lib.sh"
RUNC=$(command -v runc) || skip "runc is not installed"
CONMON=$(command -v conmon) || skip "conmon is not installed"
[ "$(id -u)" = 0 ] || skip "needs root (containers, netns, mounts)"
cd "$T" || fail "no temp dir"
MARK=rm-$$; NODE=rm$$; DATA=$T/d; BIN=$T/bin
mkdir -p "$DATA" "$BIN"
ln -s "$CONMON" "$BIN/conmon"   # runc absent at start
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; sleep 2; stop_shims; cleanup' EXIT
( cd "$T" && exec "$TROUPE" up --data "$DATA" --node-name "$NODE" --runc "$BIN/runc" --conmon "$BIN/conmon" >>"$T/up.log" 2>&1 ) & UP=$!; PIDS+=($UP)
ready() { [ "$(tro get nodes "$NODE" -o json 2>/dev/null | jq -r '.status.conditions[]? | select(.type=="Ready") | .status')" = True ]; }
wait_for 60 ready || fail "node not Ready"
phase() { tro get pod "$1" -o json | jq -r .status.phase; }
waiting() { tro get pod "$1" -o json | jq -c '.status.containerStatuses[0].state.waiting // empty'; }
isrunning() { [ "$(phase "$1")" = Running ]; }
cpid() { tro get pod "$1" -o json | jq -r '.status.containerStatuses[0].containerID'; }

# 1. runc missing at start
busybox_pod first | tro apply -f - >/dev/null || fail "apply first"
sbfail() { tro describe pod first | grep -q "FailedCreatePodSandBox.*runc $BIN/runc: No such file"; }
wait_for 40 sbfail || fail "no FailedCreatePodSandBox naming runc: $(tro describe pod first | tail -5)"
ln -s "$RUNC" "$BIN/runc"
wait_for 90 isrunning first || fail "first not Running once runc is installed: $(tro describe pod first | tail -5)"
[ "$(tro logs first)" = "$MARK" ] || fail "first logs: $(tro logs first)"
pass "runc missing at start: FailedCreatePodSandBox naming $BIN/runc; Running once it is installed, no restart"
ID1=$(cpid first)

# 2. runc removed while a pod runs
rm "$BIN/runc"
busybox_pod second | tro apply -f - >/dev/null || fail "apply second"
ccerr() { waiting "$1" | jq -e --arg p "$2" '(.reason == "CreateContainerError") and (.message | contains($p))'; }
wait_for 60 ccerr second "runc $BIN/runc" || fail "second: $(waiting second) $(tro describe pod second | tail -3)"
sleep 5   # retried meanwhile: still CreateContainerError, never a started-and-crashed container
ccerr second "runc $BIN/runc" || fail "second after 5 s: $(waiting second)"
[ "$(tro get pod second -o json | jq '.status.containerStatuses[0].restartCount')" = 0 ] || fail "a failed create counted as a restart"
isrunning first || fail "first stopped while runc was missing"
[ "$(cpid first)" = "$ID1" ] || fail "first's container changed"
ln -s "$RUNC" "$BIN/runc"
wait_for 90 isrunning second || fail "second not Running once runc is back: $(waiting second)"
[ "$(tro get pod second -o json | jq '.status.containerStatuses[0].restartCount')" = 0 ] || fail "second restarted"
pass "runc removed: CreateContainerError naming it, the running pod untouched; Running once it is back"

# 3. conmon removed
rm "$BIN/conmon"
busybox_pod third | tro apply -f - >/dev/null || fail "apply third"
wait_for 60 ccerr third "conmon $BIN/conmon" || fail "third: $(waiting third) $(tro describe pod third | tail -3)"
isrunning first && isrunning second || fail "a running pod stopped while conmon was missing"
ln -s "$CONMON" "$BIN/conmon"
wait_for 90 isrunning third || fail "third not Running once conmon is back: $(waiting third)"
pass "conmon removed: CreateContainerError naming it, the others untouched; Running once it is back"
# the failed creates left no process or network: one conmon, netns and veth per pod (the last
# failed attempt's record and rootfs may stay until the pod goes, as the kubelet keeps one dead
# container per container)
R=$(pod_residue "$DATA")
[ "${R#* }" = "conmon=3 netns=3 veth=3" ] || fail "after the failed creates: $R"
pass "one conmon, netns and veth per pod after the failed creates ($R)"

tro delete pod first second third --grace-period 0 --force >/dev/null 2>&1 ||
  for p in first second third; do tro delete pod "$p" --grace-period 0 --force >/dev/null 2>&1; done
gone() { [ "$(tro get pods -o json | jq '.items | length')" = 0 ]; }
wait_for 60 gone || fail "pods not gone"
kill "$UP"; wait "$UP" 2>/dev/null
node_paths "$DATA"
left() { [ "$(node_residue "$DATA")" = "overlay=0 conmon=0 netns=0 veth=0 bridge=0 masq=0 rundir=0 mounts=0" ]; }
wait_for 30 left || fail "left behind after the node stopped: $(node_residue "$DATA")"
pass "nothing left behind"
