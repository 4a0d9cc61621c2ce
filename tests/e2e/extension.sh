#!/usr/bin/env bash
# A third-party actor loaded from a .so (examples/actor-echo) sees pods like a built-in; a .so
# without the entry symbol is refused with a clear error and a non-zero exit. The bound pod's spec
# is immutable but for its images: a re-apply with a new image is taken, another change refused.
. "$(dirname "$0")/lib.sh"
MARK="e2e-ext-$$"
SO=$(realpath "${TROUPE_BUILD:-$(dirname "$TROUPE")}/libactor-echo.so")
[ -f "$SO" ] || fail "no $SO (built with the tree)"
OUT=$(timeout 20 "$TROUPE" up --data "$T/bad" --actor /lib/x86_64-linux-gnu/libm.so.6 2>&1) && fail "a .so without troupe_actor_entry was accepted"
echo "$OUT" | grep -q troupe_actor_entry || fail "refusal does not say why: $OUT"
( cd "$T" && exec "$TROUPE" up --default-runtime process --actor "$SO" >"$T/up.log" 2>&1 ) & UP=$!; PIDS+=($UP)
wait_for 30 tro get nodes || fail "no API"
grep -q 'echo watching pods' "$T/up.log" || fail "echo actor did not start"
cat >"$T/p.yaml" <<Y
apiVersion: v1
kind: Pod
metadata: {name: echo-me}
spec:
  containers: [{name: c, image: busybox, command: ["/bin/sh", "-c", "echo $MARK; sleep 600"]}]
Y
tro apply -f "$T/p.yaml" >/dev/null || fail "apply"
wait_for 30 grep -q 'pod added ns=default name=echo-me' "$T/up.log" || fail "echo actor did not see the pod"
wait_for 30 grep -q 'name=echo-me node=.* phase=Running' "$T/up.log" || fail "echo actor did not see the pod Running"
pass "third-party actor loaded with --actor"
NODE=$(tro get pod echo-me -o json | jq -r .spec.nodeName)
sed -i 's/image: busybox/image: busybox:2/' "$T/p.yaml"
OUT=$(tro apply -f "$T/p.yaml" 2>&1) || fail "image change of a bound pod refused: $OUT"
echo "$OUT" | grep -q 'pod/echo-me configured' || fail "apply output: $OUT"
[ "$(tro get pod echo-me -o json | jq -r '.spec.containers[0].image + " " + .spec.nodeName')" = "busybox:2 $NODE" ] || fail "image not updated or node lost"
# the kubelet restarts a container whose image changed: a new attempt, reporting the new image
restarted() { [ "$(tro get pod echo-me -o json | jq -r '.status.containerStatuses[0] | "\(.restartCount) \(.image) \(.state | keys[0])"')" = "1 busybox:2 running" ]; }
wait_for 60 restarted || fail "container not restarted with its new image: $(tro get pod echo-me -o json | jq -c .status.containerStatuses)"
sed -i 's/sleep 600/sleep 601/' "$T/p.yaml"
OUT=$(tro apply -f "$T/p.yaml" 2>&1) && fail "command change of a pod accepted: $OUT"
echo "$OUT" | grep -q 'spec: Forbidden: pod updates may not change fields other than .*(changed: spec.containers\[0\].command' || fail "refusal does not name the field: $OUT"
pass "pod spec immutable but for images (re-apply keeps the binding, the container restarts with the new image)"
tro delete pod echo-me >/dev/null
wait_for 30 grep -q 'pod deleted ns=default name=echo-me' "$T/up.log" || fail "echo actor did not see the deletion"
pass "deletion seen by the actor"
echo "3 passed, 0 failed"
