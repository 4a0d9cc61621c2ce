#!/usr/bin/env bash
# Faults on a node (issue 7 "Bad input and faults"): each gets a Kubernetes reason, the node keeps
# serving its other pods, and a retry succeeds once the cause is gone.
# - a CNI plugin that fails (the node's --cni-bin-dir holds a bridge that answers a CNI error):
#   FailedCreatePodSandBox naming the plugin's message, the pod waits; the real plugin back →
#   Running. A missing plugin: the error names its path.
# - a registry that is down: ErrImagePull naming the connection failure; the registry started
#   and the image pushed → Running after the back-off.
# - a full disk during a pull (the node's data dir on a 112 MB tmpfs, filled; a 20 MB layer needs 40): ErrImagePull with
#   "No space left", nothing half-written kept; space freed → Running.
# Nothing is left behind.
. "$(dirname "$0")/lib.sh"
need_images
cd "$T" || fail "no temp dir"
PORT=$((20000 + $$ % 12000)); MARK=nf-$$; NODE=nf$$
image_build "$T/img" "$MARK" || fail "could not build the test image"
# the node's data on a small tmpfs, so that a pull can fill it
DATA=$T/d; mkdir -p "$DATA"
mount -t tmpfs -o size=112m "troupe-e2e-$$" "$DATA" || skip "cannot mount a tmpfs"
umount_data() { umount -l "$DATA" 2>/dev/null; }
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; sleep 2; stop_shims; umount_data; cleanup' EXIT
# a CNI bin dir of links to Debian's plugins, whose bridge can be swapped for a failing one
CNI=$T/cni; mkdir -p "$CNI"
for p in /usr/lib/cni/*; do ln -s "$p" "$CNI/$(basename "$p")"; done
printf '#!/bin/sh\ncat >/dev/null\necho '"'"'{"cniVersion":"1.0.0","code":11,"msg":"injected bridge failure","details":"test"}'"'"'\nexit 1\n' >"$T/bad-bridge"
chmod +x "$T/bad-bridge"
( cd "$T" && exec "$TROUPE" up --data "$DATA" --node-name "$NODE" --cni-bin-dir "$CNI" >>"$T/up.log" 2>&1 ) & UP=$!; PIDS+=($UP)
ready() { [ "$(tro get nodes "$NODE" -o json 2>/dev/null | jq -r '.status.conditions[]? | select(.type=="Ready") | .status')" = True ]; }
wait_for 60 ready || fail "node not Ready"
phase() { tro get pod "$1" -o json | jq -r .status.phase; }
waiting() { tro get pod "$1" -o json | jq -r '.status.containerStatuses[0].state.waiting.reason // empty'; }
# a pod that keeps running through all the faults (the seeded busybox: no registry needed)
cat >"$T/steady.yaml" <<Y
apiVersion: v1
kind: Pod
metadata: {name: steady}
spec:
  containers:
  - name: c
    image: busybox
    command: ["/bin/sh", "-c", "echo up; sleep 3600"]
Y
tro apply -f "$T/steady.yaml" >/dev/null || fail "apply steady"
wait_for 60 sh -c "[ \"\$('$TROUPE' get pod steady -o json | jq -r .status.phase)\" = Running ]" || fail "steady pod not Running"

# 1. the bridge plugin fails
ln -sf "$T/bad-bridge" "$CNI/bridge"
sed 's/name: steady/name: netfail/' "$T/steady.yaml" >"$T/netfail.yaml"
tro apply -f "$T/netfail.yaml" >/dev/null || fail "apply netfail"
sbfail() { tro describe pod netfail | grep -q "FailedCreatePodSandBox.*injected bridge failure"; }
wait_for 30 sbfail || fail "no FailedCreatePodSandBox event naming the plugin's error: $(tro describe pod netfail | tail -5)"
[ "$(waiting netfail)" = ContainerCreating ] || fail "netfail pod: $(tro get pod netfail -o json | jq -c .status.containerStatuses)"
[ "$(phase steady)" = Running ] || fail "the steady pod stopped while a sandbox failed"
rm -f "$CNI/bridge"
misfail() { tro describe pod netfail | grep -q "FailedCreatePodSandBox.*$CNI/bridge"; }
wait_for 40 misfail || fail "a missing plugin is not named in the event: $(tro describe pod netfail | tail -5)"
ln -s /usr/lib/cni/bridge "$CNI/bridge"
wait_for 60 sh -c "[ \"\$('$TROUPE' get pod netfail -o json | jq -r .status.phase)\" = Running ]" ||
  fail "netfail pod not Running once the plugin is back: $(tro describe pod netfail | tail -5)"
pass "a failing and a missing CNI plugin: FailedCreatePodSandBox with the plugin's words; Running once it is back; steady untouched"

# 2. the registry is down
IMG=127.0.0.1:$PORT/nf/busybox:1
cat >"$T/down.yaml" <<Y
apiVersion: v1
kind: Pod
metadata: {name: regdown}
spec:
  containers:
  - name: c
    image: $IMG
    command: ["/bin/sh", "-c", "cat /marker; sleep 3600"]
Y
tro apply -f "$T/down.yaml" >/dev/null || fail "apply regdown"
downmsg() { tro get pod regdown -o json | jq -e '.status.containerStatuses[0].state.waiting | (.reason | test("ErrImagePull|ImagePullBackOff")) and (.message | test("connect|refused"; "i"))'; }
wait_for 30 downmsg || fail "registry down: $(tro get pod regdown -o json | jq -c .status.containerStatuses)"
registry_start "$T/reg" "$PORT"
image_push "$T/img" "$IMG" || fail "push"
wait_for 90 sh -c "[ \"\$('$TROUPE' get pod regdown -o json | jq -r .status.phase)\" = Running ]" ||
  fail "not Running once the registry is up: $(tro get pod regdown -o json | jq -c .status.containerStatuses)"
[ "$(tro logs regdown)" = "$MARK" ] || fail "regdown logs: $(tro logs regdown)"
pass "registry down: ErrImagePull naming the refused connection; Running after the back-off once it is up"

# 3. the disk fills during a pull: a 20 MB layer on a data dir with ~8 MB free
head -c 20000000 /dev/urandom >"$T/big.bin"
mkdir -p "$T/img/bundle/rootfs/data" && cp "$T/big.bin" "$T/img/bundle/rootfs/data/big.bin"
umoci repack --image "$T/img/layout:1" "$T/img/bundle" >/dev/null || fail "repack big"
image_push "$T/img" "127.0.0.1:$PORT/nf/big:1" || fail "push big"
FREE=$(df --output=avail -B1 "$DATA" | tail -1)
FILL=$((FREE - 8 * 1024 * 1024)); [ "$FILL" -gt 0 ] || fail "the tmpfs has only $FREE bytes free"
head -c "$FILL" /dev/zero >"$DATA/filler" || true
sed -e 's/name: regdown/name: full/' -e "s|$IMG|127.0.0.1:$PORT/nf/big:1|" "$T/down.yaml" >"$T/full.yaml"
tro apply -f "$T/full.yaml" >/dev/null || fail "apply full"
fullmsg() { tro get pod full -o json | jq -e '.status.containerStatuses[0].state.waiting | (.reason | test("ErrImagePull|ImagePullBackOff")) and (.message | test("space"; "i"))'; }
wait_for 60 fullmsg || fail "full disk: $(tro get pod full -o json | jq -c .status.containerStatuses)"
[ -z "$(ls -A "$DATA/oci/images/tmp" 2>/dev/null)" ] || fail "a failed pull left temp files: $(ls "$DATA/oci/images/tmp")"
[ "$(phase steady)" = Running ] || fail "the steady pod stopped while the disk was full"
rm -f "$DATA/filler"
wait_for 120 sh -c "[ \"\$('$TROUPE' get pod full -o json | jq -r .status.phase)\" = Running ]" ||
  fail "not Running once space is back: $(tro get pod full -o json | jq -c .status.containerStatuses)"
pass "disk full during a pull: ErrImagePull (no space), no temp file kept, Running once space is back"

tro delete pod steady netfail regdown full --grace-period 0 --force >/dev/null 2>&1 ||
  for p in steady netfail regdown full; do tro delete pod "$p" --grace-period 0 --force >/dev/null 2>&1; done
gone() { [ "$(tro get pods -o json | jq '.items | length')" = 0 ]; }
wait_for 60 gone || fail "pods not gone"
kill "$UP"; wait "$UP" 2>/dev/null
node_paths "$DATA"
left() { [ "$(node_residue "$DATA")" = "overlay=0 conmon=0 netns=0 veth=0 bridge=0 masq=0 rundir=0 mounts=0" ]; }
wait_for 30 left || fail "left behind after the node stopped: $(node_residue "$DATA")"
pass "nothing left behind"
