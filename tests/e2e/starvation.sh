#!/usr/bin/env bash
# Nothing starves under a steady event stream: a Deployment scales 0 → N (200) → 0 while other
# clients write 500 unrelated updates a second (annotations of bare Pods in another namespace,
# which every Pod informer sees, and ConfigMaps); the scale must complete within 3× its time
# without the stream, best of 4 rounds each. The bound is for starvation, not speed: the stream
# itself (the loadgen, the store's commits, every informer's decode) takes its share of two cores,
# and that share alone measured 0.93-1.65× here and on CI (1.65× failed a 1.5× bound on a clean
# CI machine, 2026-12-03); starvation is many times that (6.2×, 16 s against 1.3 s). Speed under
# load belongs to bench/, this test keeps only the fault. The controllers and the scheduler used to restart
# their batching timer on every event, so a stream of events spaced closer than the timer starved
# them (measured here: 6.2× with the old code, 0.97-1.06× now). The store lives on tmpfs when
# there is one: a slow fsync bunches events into bursts whose gaps let a timer fire, which hides
# the fault on a disk (1.6-2.0× with the old code). test_workqueue checks the mechanism itself.
. "$(dirname "$0")/lib.sh"
MARK="e2e-starve-$$"
N=${STARVE_N:-200}
RATE=${STARVE_RATE:-500}
[ "${TROUPE_SANITIZED:-0}" = 1 ] && RATE=${STARVE_RATE:-200} # an ASan server does not keep up with 500/s on 2 cores
PY=/usr/bin/python3
$PY -c 'import zmq, msgpack' 2>/dev/null || { echo "SKIP: python3-zmq and python3-msgpack are needed (scripts/deps.sh test)"; exit 77; }
# the store on tmpfs when there is one: commits are then small and frequent, so events reach the
# informers evenly spread (a slow fsync bunches them, and a bunch leaves the quiet a timer needs)
DATA="$T/data"
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
  DATA=$(mktemp -d /dev/shm/troupe-starve.XXXXXX)
  trap 'cleanup; rm -rf "$DATA"' EXIT
fi
printf 'nodeName: e2e-starve\nlogLevel: warn\ndata: %s\nmaxPods: 250\ndefaultRuntime: process\n' "$DATA" >"$T/troupe.yaml"
( cd "$T" && exec "$TROUPE" up --config "$T/troupe.yaml" >>"$T/up.log" 2>&1 ) & UP=$!; PIDS+=($UP)
wait_for 30 tro get nodes || fail "no API after 30 s"
EP="ipc://$DATA/run/troupe.sock" # the local endpoint (docs/architecture.md: the data directory)
[ -S "$DATA/run/troupe.sock" ] || fail "no local endpoint at $EP"

# the noise: 4 bare pods and 4 ConfigMaps in their own namespace
{
  printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: noise}\n'
  for i in 1 2 3 4; do
    printf -- '---\napiVersion: v1\nkind: Pod\nmetadata: {name: n%s, namespace: noise}\nspec: {terminationGracePeriodSeconds: 1, containers: [{name: c, image: busybox, command: [/bin/sh, -c, "exec sleep 3600 # %s"]}]}\n' "$i" "$MARK"
    printf -- '---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c%s, namespace: noise}\ndata: {k: v}\n' "$i"
  done
} >"$T/noise.yaml"
tro apply -f "$T/noise.yaml" >/dev/null || fail "apply noise"
TARGETS=$(for i in 1 2 3 4; do printf 'Pod/noise/n%s,ConfigMap/noise/c%s,' "$i" "$i"; done | sed 's/,$//')

cat >"$T/app.yaml" <<Y
apiVersion: apps/v1
kind: Deployment
metadata: {name: wide}
spec:
  replicas: 0
  selector: {matchLabels: {app: wide}}
  template:
    metadata: {labels: {app: wide}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: busybox
        command: ["/bin/sh", "-c", "exec sleep 3600 # $MARK"]
Y
tro apply -f "$T/app.yaml" >/dev/null || fail "apply deployment"

ready() { [ "$(tro get deployment wide -o json | jq '.status.readyReplicas // 0')" = "$1" ]; }
none_left() { [ "$(tro get pods -l app=wide -o json | jq '.items | length')" = 0 ]; }
# the best of ROUNDS of each (a shared 2-core machine's noise is one-sided: it only ever adds time)
ROUNDS=${STARVE_ROUNDS:-4}
[ "${TROUPE_SANITIZED:-0}" = 1 ] && ROUNDS=${STARVE_ROUNDS:-1} # the ratio is not asserted there
scale_once() {
  local t0 t1
  t0=$(date +%s%N)
  tro scale deployment wide --replicas "$N" >/dev/null || fail "scale to $N"
  wait_for 120 ready "$N" || fail "$1: $N replicas not Ready in 120 s ($(tro get deployment wide -o json | jq -c .status))"
  tro scale deployment wide --replicas 0 >/dev/null || fail "scale to 0"
  wait_for 120 none_left || fail "$1: pods left after scaling to 0 ($(tro get pods -l app=wide -o json | jq '.items | length'))"
  t1=$(date +%s%N)
  MS=$(( (t1 - t0) / 1000000 ))
}

wait_for 30 sh -c "[ \$('$TROUPE' get pods -n noise -o json | jq '[.items[] | select(.status.phase==\"Running\")] | length') = 4 ]" || fail "noise pods not Running"
# rounds without and with the stream alternate, best of each kept: the store grows with every
# round (revisions, the watch cache), so rounds run in two blocks favoured the first block
BASE=; LOADED=; got=
for r in $(seq 1 "$ROUNDS"); do
  scale_once "without the stream"; { [ -z "$BASE" ] || [ "$MS" -lt "$BASE" ]; } && BASE=$MS
  $PY "$(dirname "$0")/../loadgen.py" "$EP" "$RATE" 120 "$TARGETS" >"$T/loadgen.$r.out" 2>&1 & LG=$!; PIDS+=($LG)
  sleep 2
  kill -0 "$LG" 2>/dev/null || fail "loadgen stopped: $(cat "$T/loadgen.$r.out")"
  scale_once "under $RATE writes/s"; { [ -z "$LOADED" ] || [ "$MS" -lt "$LOADED" ]; } && LOADED=$MS
  kill "$LG"; wait "$LG" 2>/dev/null
  cat "$T/loadgen.$r.out"
  g=$(sed -n 's/.*(\([0-9]*\)\/s).*/\1/p' "$T/loadgen.$r.out")
  [ -n "$g" ] && [ "$g" -ge $((RATE * 6 / 10)) ] || fail "the stream was not steady: $(cat "$T/loadgen.$r.out")"
  got=$g
done
pass "0 → $N → 0 without the stream: $BASE ms (best of $ROUNDS)"
pass "0 → $N → 0 under a stream of $got writes/s: $LOADED ms (without: $BASE ms, ratio $(awk "BEGIN{printf \"%.2f\", $LOADED/$BASE}"))"
if [ "${TROUPE_SANITIZED:-0}" = 1 ]; then
  # under ASan the binary is ~3× slower and the stream's own CPU dominates two cores: the run still
  # checks memory safety and that every round completes, the ratio is only reported
  echo "ratio not asserted: a sanitizer build (TROUPE_SANITIZED=1)"
else
  [ "$LOADED" -le $((BASE * 3)) ] || fail "scaling under the stream took $LOADED ms, more than 3 × $BASE ms: starved"
fi
tro delete -f "$T/noise.yaml" >/dev/null
wait_for 30 procs_eq 0 || fail "processes left: $(count_procs)"
echo "1 passed, 0 failed"
