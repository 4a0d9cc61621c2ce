#!/usr/bin/env bash
# The Eviction API and `troupe drain` through it, as kubectl drain against a PodDisruptionBudget:
# `troupe up` with its own node cordoned and 2 hollow nodes; a Deployment of 2 on hollow node A.
# - a PDB minAvailable 2 (its status written by the disruption controller: observedGeneration ==
#   generation, currentHealthy = Ready selected pods, desiredHealthy = 2, disruptionsAllowed 0):
#   `troupe drain A --timeout 8s` prints kubectl's refusal for each pod, `error when evicting
#   pods/"NAME" -n "default" (will retry after 5s): Cannot evict pod as it would violate the pod's
#   disruption budget.`, retries, and fails naming the pods left and the budget ("The disruption
#   budget web needs 2 healthy pods and has 2 currently"); both pods are still there, unmarked;
# - the PDB changed to minAvailable 1: the drain evicts one pod (the budget's disruptedPods names
#   it), is refused for the other until the first one's replacement is Ready on node B, then
#   evicts it and ends "node/A drained";
# - `--disable-eviction` deletes without asking the budget (minAvailable 2 on node B's pods).
# The budget's status is the disruption controller's (actors/controllers/disruption.c).
. "$(dirname "$0")/lib.sh"
hollow_cluster 2 e2e=evict --cpu 4 --memory 8Gi --startup-delay 500ms
read -r A B < <(tro get nodes -l e2e=evict -o json | jq -r '[.items[].metadata.name] | sort | join(" ")')
tro cordon "$B" >/dev/null || fail "cordon $B"

cat >"$T/app.yaml" <<'Y'
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: busybox
        resources: {requests: {cpu: 100m}}
Y
tro apply -f "$T/app.yaml" >/dev/null || fail "apply deployment"
pods() { tro get pods -l app=web -o json; }
on_node() { pods | jq -r --arg n "$1" '[.items[] | select(.spec.nodeName==$n and .metadata.deletionTimestamp==null) | .metadata.name] | sort | join(" ")'; }
ready_on() { [ "$(pods | jq --arg n "$1" '[.items[] | select(.spec.nodeName==$n and .metadata.deletionTimestamp==null) | select(any(.status.conditions[]?; .type=="Ready" and .status=="True"))] | length')" = "$2" ]; }
wait_for 60 ready_on "$A" 2 || fail "2 web pods not Ready on $A: $(pods | jq -c '[.items[] | {n: .metadata.name, node: .spec.nodeName}]')"
tro uncordon "$B" >/dev/null || fail "uncordon $B"
WEB=$(on_node "$A")
pass "a Deployment of 2 Ready on $A ($WEB); $B schedulable"

pdb() { # name minAvailable
  printf 'apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: %s}\nspec:\n  minAvailable: %s\n  selector: {matchLabels: {app: web}}\n' "$1" "$2" >"$T/pdb-$1.yaml"
  tro apply -f "$T/pdb-$1.yaml" >/dev/null || fail "apply pdb $1 minAvailable $2"
}
observed() { tro get pdb "$1" -o json | jq -e '.status.observedGeneration == .metadata.generation' >/dev/null; }
allowed() { tro get pdb "$1" -o json | jq -e --argjson n "$2" '.status.observedGeneration == .metadata.generation and .status.disruptionsAllowed == $n' >/dev/null; }

pdb web 2
wait_for 20 observed web || fail "the disruption controller did not write pdb/web's status: $(tro get pdb web -o json | jq -c .status)"
wait_for 20 allowed web 0 || fail "pdb/web status: $(tro get pdb web -o json | jq -c .status)"
pass "pdb/web minAvailable 2: currentHealthy 2, disruptionsAllowed 0"

OUT=$(tro drain "$A" --timeout 8s 2>&1) && fail "drain passed a budget with no disruption allowed: $OUT"
for p in $WEB; do
  echo "$OUT" | grep -qF "error when evicting pods/\"$p\" -n \"default\" (will retry after 5s): Cannot evict pod as it would violate the pod's disruption budget." ||
    fail "no kubectl refusal for $p: $OUT"
  echo "$OUT" | grep -qF "pod/$p: The disruption budget web needs 2 healthy pods and has 2 currently" || fail "pending pod $p and the budget not named: $OUT"
done
[ "$(echo "$OUT" | grep -c 'will retry after 5s')" -ge 4 ] || fail "not retried every 5 s within 8 s: $OUT"
echo "$OUT" | grep -qF "There are pending pods in node \"$A\" when an error occurred: drain did not complete within 8s" || fail "timeout not reported: $OUT"
[ "$(on_node "$A")" = "$WEB" ] || fail "pods evicted or marked despite the budget: $(pods | jq -c '[.items[] | {n: .metadata.name, d: .metadata.deletionTimestamp}]')"
pass "drain --timeout 8s: refused by pdb/web (429), retried every 5 s, failed naming the pods and the budget"

# minAvailable 1: one at a time
pdb web 1
wait_for 20 allowed web 1 || fail "pdb/web minAvailable 1 status: $(tro get pdb web -o json | jq -c '{g: .metadata.generation, s: .status}')"
"$TROUPE" get pdb -w -o json >"$T/pdbwatch.out" 2>/dev/null & PW=$!; PIDS+=($PW)
sleep 0.5
OUT=$(tro drain "$A" --timeout 90s 2>&1) || fail "drain with minAvailable 1: $OUT"
kill "$PW" 2>/dev/null; wait "$PW" 2>/dev/null
echo "$OUT" | grep -qF "node/$A drained" || fail "drain did not end drained: $OUT"
for p in $WEB; do echo "$OUT" | grep -qF "pod/$p evicted" || fail "$p not reported evicted: $OUT"; done
echo "$OUT" | grep -q "will retry after 5s): Cannot evict pod as it would violate the pod's disruption budget." ||
  fail "the second pod was not held back while the first one's replacement came up: $OUT"
[ -z "$(on_node "$A")" ] || fail "pods left on $A: $(on_node "$A")"
jq -s -e --arg w "$WEB" '[.[] | (.status.disruptedPods // {}) | keys[]] | unique | any(. as $k | ($w | split(" ")) | index($k))' "$T/pdbwatch.out" >/dev/null ||
  fail "no eviction recorded in pdb/web's disruptedPods: $(tail -3 "$T/pdbwatch.out")"
wait_for 30 ready_on "$B" 2 || fail "2 replacements not Ready on $B"
pass "minAvailable 1: drain evicted one pod at a time (a 429 in between, disruptedPods recorded) and completed"

# --disable-eviction: deleted without asking the budget
pdb web 2
wait_for 20 allowed web 0 || fail "pdb/web back to minAvailable 2: $(tro get pdb web -o json | jq -c .status)"
ONB=$(on_node "$B")
OUT=$(tro drain "$B" --disable-eviction --timeout 30s 2>&1) || fail "drain --disable-eviction: $OUT"
echo "$OUT" | grep -q "will retry" && fail "--disable-eviction asked the budget: $OUT"
for p in $ONB; do echo "$OUT" | grep -qF "pod/$p evicted" || fail "$p not deleted: $OUT"; done
pass "drain --disable-eviction deletes despite the budget"

tro delete -f "$T/app.yaml" >/dev/null 2>&1
tro delete pdb web >/dev/null 2>&1
