#!/usr/bin/env bash
# Preemption and PodDisruptionBudgets end to end (kube-scheduler's DefaultPreemption: the node
# with the fewest PDB violations first): `troupe up` with its own node cordoned and 2 hollow
# nodes of 2 cpu, each full with 2 pods of 1 cpu:
#   node A: prot1, prot2 (priority 10, app=prot), covered by a PDB minAvailable 2 (so
#           disruptionsAllowed 0);
#   node B: other1, other2 (priority 50, app=other), no PDB.
# Without the PDB a high-priority pod of 1 cpu would preempt on A (its victims' priority is the
# lower); with it, B is chosen: one "other" pod is evicted, both "prot" pods stay. Then, the PDB
# deleted, a second high pod preempts on A (the control: the budget, nothing else, moved the
# choice).
# The PDB status is the disruption controller's (currentHealthy = Ready selected pods,
# desiredHealthy = minAvailable, expectedPods = selected pods, disruptionsAllowed 0).
. "$(dirname "$0")/lib.sh"
hollow_cluster 2 e2e=pdb --cpu 2 --memory 4Gi
read -r A B < <(tro get nodes -l e2e=pdb -o json | jq -r '[.items[].metadata.name] | sort | join(" ")')
[ -n "$A" ] && [ -n "$B" ] || fail "hollow node names: '$A' '$B'"

cat >"$T/pc.yaml" <<'Y'
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: e2e-low}
value: 10
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: e2e-mid}
value: 50
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: e2e-high}
value: 1000
Y
tro apply -f "$T/pc.yaml" >/dev/null || fail "PriorityClasses refused"
mkpod() { # name class app [node]
  local sel=""
  [ -n "${4:-}" ] && sel="  nodeSelector: {kubernetes.io/hostname: $4}"$'\n'
  printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: %s, labels: {e2e: pdb, app: %s}}\nspec:\n  priorityClassName: %s\n%s  containers:\n  - name: c\n    image: busybox\n    resources: {requests: {cpu: "1"}}\n' \
    "$1" "$3" "$2" "$sel" >"$T/$1.yaml"
  tro apply -f "$T/$1.yaml" >/dev/null || fail "create pod $1"
}
pods() { tro get pods -o json; }
nodeof() { pods | jq -r --arg n "$1" '.items[] | select(.metadata.name==$n) | .spec.nodeName // ""'; }
exists() { [ "$(pods | jq --arg n "$1" '[.items[] | select(.metadata.name==$n and .metadata.deletionTimestamp==null)] | length')" = 1 ]; }
mkpod prot1 e2e-low prot "$A"; mkpod prot2 e2e-low prot "$A"
mkpod other1 e2e-mid other "$B"; mkpod other2 e2e-mid other "$B"
placed() { [ "$(nodeof prot1)$(nodeof prot2)$(nodeof other1)$(nodeof other2)" = "$A$A$B$B" ]; }
wait_for 30 placed || fail "the 4 pods not placed: $(pods | jq -c '[.items[] | {n: .metadata.name, node: .spec.nodeName}]')"
protready() { [ "$(ready_count app=prot)" = 2 ]; }
wait_for 30 protready || fail "prot pods not Ready: $(ready_count app=prot)"
pass "prot1, prot2 (priority 10) fill $A; other1, other2 (priority 50) fill $B"

cat >"$T/pdb.yaml" <<'Y'
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: prot}
spec:
  minAvailable: 2
  selector: {matchLabels: {app: prot}}
Y
tro apply -f "$T/pdb.yaml" >/dev/null || fail "PDB refused"
GEN=$(tro get pdb prot -o json | jq '.metadata.generation // 1')
# the disruption controller (actors/controllers/disruption.c) computes the status
st() { tro get pdb prot -o json | jq -c '.status | {observedGeneration, currentHealthy, desiredHealthy, expectedPods, disruptionsAllowed}'; }
computed() { [ "$(st)" = '{"observedGeneration":'"$GEN"',"currentHealthy":2,"desiredHealthy":2,"expectedPods":2,"disruptionsAllowed":0}' ]; }
wait_for 30 computed || fail "PDB status not computed: $(st)"
sleep 2 # the scheduler's PDB informer
pass "PDB prot (minAvailable 2, app=prot): status $(st)"

mkpod high1 e2e-high high
hbound() { [ -n "$(nodeof "$1")" ]; }
wait_for 60 hbound high1 || fail "high1 not bound: $(pods | jq -c '.items[] | select(.metadata.name=="high1") | .status'); $(grep -i preempt "$T/up.log" | tail -5)"
[ "$(nodeof high1)" = "$B" ] || fail "high1 on $(nodeof high1), want $B (the node without PDB violations); $(grep -i preempt "$T/up.log" | tail -5)"
exists prot1 && exists prot2 || fail "a protected pod was evicted: $(pods | jq -c '[.items[] | {n: .metadata.name, d: .metadata.deletionTimestamp}]')"
ngone=0; for p in other1 other2; do exists "$p" || ngone=$((ngone + 1)); done
[ "$ngone" = 1 ] || fail "$ngone other pods gone, 1 expected"
grep -q "preempting pod=default/other[12] node=$B for pod=default/high1" "$T/up.log" || fail "no preemption of an other pod logged"
grep -q "preempting pod=default/prot" "$T/up.log" && fail "a prot pod was preempted"
pass "high1 (priority 1000) preempted one priority-50 pod on $B, not the priority-10 pods the PDB protects on $A"

# the control: the PDB gone, the cheaper node A is chosen
tro delete pdb prot >/dev/null || fail "delete PDB"
gone_pdb() { ! tro get pdb prot >/dev/null 2>&1; }
wait_for 15 gone_pdb || fail "PDB not deleted"
sleep 2
mkpod high2 e2e-high high
wait_for 60 hbound high2 || fail "high2 not bound; $(grep -i preempt "$T/up.log" | tail -5)"
[ "$(nodeof high2)" = "$A" ] || fail "high2 on $(nodeof high2), want $A once the PDB is gone"
grep -q "preempting pod=default/prot[12] node=$A for pod=default/high2" "$T/up.log" || fail "no preemption of a prot pod logged for high2"
pass "without the PDB, high2 preempts a priority-10 pod on $A (the choice was the budget's)"
exit 0
