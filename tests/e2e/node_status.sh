#!/usr/bin/env bash
# The node reports the real machine: capacity from the machine (CPUs, MemTotal, the data
# directory's filesystem; cgroup limits where there are), allocatable = capacity − --kube-reserved
# − --system-reserved − evictionHard memory.available 100Mi, --max-pods; the kubelet's four
# conditions; a bad flag value is refused before anything starts; Ready turns False (KubeletNotReady,
# naming the runtime) while the runtime shim does not answer, and True again when it does.
. "$(dirname "$0")/lib.sh"
cd "$T" || fail "no temp dir"
# bad values: a clear error naming the flag and the field, non-zero exit, nothing started
for bad in "--kube-reserved memory=1Gx|memory: quantity \"1Gx\": unknown suffix" \
           "--system-reserved gpu=1|gpu: unsupported resource" \
           "--max-pods many|--max-pods \"many\": must be an integer" \
           "--eviction-hard nodefs.available<200%|a percentage must be an integer from 0% to 100%"; do
  flag=${bad%%|*}; want=${bad#*|}
  # shellcheck disable=SC2086
  OUT=$(timeout 10 "$TROUPE" up --data "$T/bad" $flag 2>&1) && fail "troupe up $flag started"
  grep -qF -- "$want" <<<"$OUT" || fail "troupe up $flag: unclear error: $OUT"
done
pass "bad --kube-reserved/--system-reserved/--max-pods/--eviction-hard refused with the field named"

( exec "$TROUPE" up --data "$T/d" --node-name ns1 --default-runtime process --max-pods 42 --kube-reserved cpu=100m,memory=256Mi \
    --system-reserved cpu=50m,memory=128Mi,ephemeral-storage=1Gi >"$T/up.log" 2>&1 ) & UP=$!; PIDS+=($UP)
# (not jq -e alone: jq 1.6 exits 0 on an empty input, i.e. when get failed)
ready_is() { [ "$(tro get nodes ns1 -o json 2>/dev/null | jq -r '.status.conditions[]? | select(.type=="Ready") | .status')" = "$1" ]; }
wait_for 30 ready_is True || fail "node not Ready"
N=$(tro get nodes ns1 -o json)
ki() { jq -r "$1" <<<"$N" | sed -E 's/Ki$//'; }
# memory capacity: MemTotal unless a cgroup limit is lower (then it is that limit)
MEMTOTAL=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)
CAPMEM=$(ki .status.capacity.memory)
[[ "$CAPMEM" =~ ^[0-9]+$ ]] || fail "capacity.memory not in Ki: $(jq -r .status.capacity.memory <<<"$N")"
[ "$CAPMEM" -le "$MEMTOTAL" ] && [ "$CAPMEM" -gt 0 ] || fail "capacity.memory ${CAPMEM}Ki vs MemTotal ${MEMTOTAL}Ki"
ALLOCMEM=$(ki .status.allocatable.memory)
[ "$ALLOCMEM" = $((CAPMEM - 262144 - 131072 - 102400)) ] ||
  fail "allocatable.memory ${ALLOCMEM}Ki, want ${CAPMEM}Ki − 256Mi − 128Mi − 100Mi"
# cpu: the online CPUs (or a cgroup quota below them), less 150m
CPU=$(jq -r .status.capacity.cpu <<<"$N"); ACPU=$(jq -r .status.allocatable.cpu <<<"$N")
milli() { case $1 in *m) echo "${1%m}" ;; *) echo $(($1 * 1000)) ;; esac; }
[ "$(milli "$CPU")" -le $(($(nproc --all) * 1000)) ] && [ "$(milli "$CPU")" -gt 0 ] || fail "capacity.cpu $CPU vs $(nproc --all) CPUs"
[ "$(milli "$ACPU")" = $(($(milli "$CPU") - 150)) ] || fail "allocatable.cpu $ACPU, want $CPU − 150m"
# ephemeral-storage: the data directory's filesystem, less 1Gi and nodefs.available 10%
FSK=$(df -k --output=size "$T/d" | tail -1 | tr -d ' ')
[ "$(jq -r '.status.capacity.pods + "/" + .status.allocatable.pods' <<<"$N")" = "42/42" ] || fail "pods not 42"
TYPES=$(jq -r '[.status.conditions[].type] | join(",")' <<<"$N")
[ "$TYPES" = "MemoryPressure,DiskPressure,PIDPressure,Ready" ] || fail "conditions $TYPES"
jq -e '.status.conditions[] | select(.type=="MemoryPressure" and .reason=="KubeletHasSufficientMemory")' <<<"$N" >/dev/null ||
  fail "MemoryPressure reason"
tro describe node ns1 | grep -qE '^  DiskPressure +False .*KubeletHasNoDiskPressure +kubelet has no disk pressure' ||
  fail "describe node: $(tro describe node ns1)"
pass "capacity cpu=$CPU memory=${CAPMEM}Ki (MemTotal ${MEMTOTAL}Ki) fs ${FSK}Ki; allocatable cpu=$ACPU memory=${ALLOCMEM}Ki; 4 conditions"

# the runtime stops answering: Ready=False naming it within the shim call timeout (10 s) + a check
SHIM=$(pgrep -P "$UP" -f ' shim ' | head -1)
[ -n "$SHIM" ] || fail "no shim child of troupe up"
kill -STOP "$SHIM"
notready() { tro get nodes ns1 -o json | jq -e '.status.conditions[] | select(.type=="Ready" and .status=="False" and .reason=="KubeletNotReady") | select(.message | test("container runtime is down: runtime shim ipc://.*shim.sock"))' | grep -q .; }
wait_for 25 notready; R=$?
kill -CONT "$SHIM"
[ $R = 0 ] || fail "node still Ready with its runtime stopped: $(tro get nodes ns1 -o json | jq -c .status.conditions)"
wait_for 20 ready_is True || fail "node not Ready again after the runtime answered"
pass "Ready=False (KubeletNotReady, runtime named) while the shim was stopped, True again after"
kill "$UP"; wait "$UP" 2>/dev/null
! grep -q "Sanitizer\|runtime error" "$T/up.log" || fail "sanitizer report in the log: $(grep -m3 'Sanitizer\|runtime error' "$T/up.log")"
pass "stopped cleanly"
