#!/usr/bin/env bash
# Issue 9, the control plane: PriorityClasses and the Priority admission plugin through the CLI
# (built-ins, `get pc`, a class's value and policy in a pod, unknown class Forbidden, built-ins not
# deletable, re-apply of a pod keeps its admitted priority), and the controllers' Events through
# the event correlator (a 15-replica Deployment: 9 SuccessfulCreate events, then one aggregate
# "(combined from similar events): …" counted up, not 15 objects).
. "$(dirname "$0")/lib.sh"
MARK="e2e-prio-$$"
printf 'nodeName: e2e-prio\nlogLevel: info\ndefaultRuntime: process\n' >"$T/troupe.yaml"
( cd "$T" && exec "$TROUPE" up --config "$T/troupe.yaml" >>"$T/up.log" 2>&1 ) & UP=$!; PIDS+=($UP)
wait_for 30 tro get nodes e2e-prio || fail "no API after 30 s"

OUT=$(tro get pc) || fail "get pc: $OUT"
echo "$OUT" | grep -Eq '^system-node-critical +2000001000 +false' || fail "get pc: $OUT"
echo "$OUT" | grep -Eq '^system-cluster-critical +2000000000 +false +.* +PreemptLowerPriority' || fail "get pc: $OUT"
[ "$(tro get priorityclasses -o json | jq '.items | length')" = 2 ] || fail "get priorityclasses: not the 2 built-ins"
OUT=$(tro delete pc system-node-critical 2>&1) && fail "a built-in class was deleted"
echo "$OUT" | grep -q 'this is a system priority class and cannot be deleted' || fail "delete built-in: $OUT"
pass "built-in PriorityClasses, get pc, not deletable"

cat >"$T/prio.yaml" <<Y
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: high}
value: 1000
preemptionPolicy: Never
description: the important ones
---
apiVersion: v1
kind: Pod
metadata: {name: vip}
spec:
  priorityClassName: high
  terminationGracePeriodSeconds: 1
  containers: [{name: c, image: busybox, command: [/bin/sh, -c, "sleep 600 # $MARK"]}]
Y
tro apply -f "$T/prio.yaml" >/dev/null || fail "apply class and pod"
[ "$(tro get pod vip -o json | jq -c '[.spec.priority, .spec.preemptionPolicy]')" = '[1000,"Never"]' ] ||
  fail "pod priority: $(tro get pod vip -o json | jq -c .spec)"
OUT=$(printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: nobody}\nspec: {priorityClassName: nope, containers: [{name: c, image: busybox, command: [sleep, "1"]}]}\n' | tro apply -f - 2>&1) &&
  fail "a pod with an unknown class was created"
echo "$OUT" | grep -q 'pods "nobody" is forbidden: no PriorityClass with name nope was found' || fail "unknown class: $OUT"
[ "$(tro apply -f "$T/prio.yaml" | grep -c unchanged)" = 2 ] || fail "re-apply not unchanged"
sed -i 's/image: busybox/image: busybox:2/' "$T/prio.yaml"
OUT=$(tro apply -f "$T/prio.yaml" 2>&1) || fail "image change of a pod with an admitted priority refused: $OUT"
echo "$OUT" | grep -q 'pod/vip configured' || fail "apply: $OUT"
pass "Priority admission: class value and policy in the pod, unknown class Forbidden, re-apply keeps them"

cat >"$T/many.yaml" <<Y
apiVersion: apps/v1
kind: Deployment
metadata: {name: many}
spec:
  replicas: 15
  selector: {matchLabels: {app: many}}
  template:
    metadata: {labels: {app: many}}
    spec:
      terminationGracePeriodSeconds: 1
      containers: [{name: c, image: busybox, command: [/bin/sh, -c, "sleep 600 # $MARK"]}]
Y
tro apply -f "$T/many.yaml" >/dev/null || fail "apply deployment"
wait_for 60 sh -c "[ \$('$TROUPE' get pods -l app=many -o json | jq '.items | length') = 15 ]" || fail "15 pods not created"
creates() { tro get events -o json | jq -c '[.items[] | select(.reason=="SuccessfulCreate" and .involvedObject.kind=="ReplicaSet")]'; }
agg_done() { [ "$(creates | jq '[.[] | select(.message | startswith("(combined from similar events): Created pod:"))] | .[0].count')" = 6 ]; }
wait_for 20 agg_done || fail "no aggregate SuccessfulCreate event counted to 6: $(creates)"
[ "$(creates | jq length)" = 10 ] || fail "SuccessfulCreate events: $(creates | jq length), want 9 + 1 aggregate: $(creates)"
pass "15 creations: 9 SuccessfulCreate events and one aggregate with count 6"

tro delete deployment many >/dev/null || fail "delete deployment"
tro delete pod vip >/dev/null || fail "delete pod"
wait_for 40 sh -c "[ \$('$TROUPE' get pods -o json | jq '.items | length') = 0 ]" || fail "pods left"
wait_for 20 procs_eq 0 || fail "processes left: $(count_procs)"
echo "1 passed, 0 failed"
