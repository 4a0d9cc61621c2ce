#!/usr/bin/env bash
# A third-party actor loaded from a .so (examples/actor-echo) sees pods like a built-in; a .so
# without the entry symbol is refused with a clear error and a non-zero exit.
. "$(dirname "$0")/lib.sh"
MARK="e2e-ext-$$"
SO=$(realpath "${TROUPE_BUILD:-$(dirname "$TROUPE")}/libactor-echo.so")
[ -f "$SO" ] || fail "no $SO (built with the tree)"
OUT=$(timeout 20 "$TROUPE" up --data "$T/bad" --actor /lib/x86_64-linux-gnu/libm.so.6 2>&1) && fail "a .so without troupe_actor_entry was accepted"
echo "$OUT" | grep -q troupe_actor_entry || fail "refusal does not say why: $OUT"
( cd "$T" && exec "$TROUPE" up --actor "$SO" >"$T/up.log" 2>&1 ) & UP=$!; PIDS+=($UP)
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
tro delete pod echo-me >/dev/null
wait_for 30 grep -q 'pod deleted ns=default name=echo-me' "$T/up.log" || fail "echo actor did not see the deletion"
pass "third-party actor loaded with --actor"
echo "1 passed, 0 failed"
