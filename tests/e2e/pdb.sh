#!/usr/bin/env bash
# PodDisruptionBudget end to end (validation, the disruption controller, `troupe get pdb`):
# `troupe up` with its own node cordoned and a hollow node running a Deployment of 3.
# - a PDB with minAvailable 2 over the Deployment's pods: status disruptionsAllowed 1,
#   currentHealthy 3, desiredHealthy 2, expectedPods 3, observedGeneration 1, condition
#   DisruptionAllowed True/SufficientPods;
# - `troupe get pdb`: kubectl's columns, N/A for the unset bound;
# - changed to maxUnavailable 0: 0 allowed, condition False/InsufficientPods, observedGeneration 2;
#   the Deployment scaled to 4: expectedPods follows its scale; disruptedPods entries kept, expired;
# - a PDB with maxUnavailable over a pod without a controller: the pod left out of expectedPods, an
#   UnmanagedPods Warning Event (Kubernetes >= 1.27); the pod
#   relabelled out of the selector: the budget re-synced at once (expectedPods 0); its selector
#   changed, the pod relabelled into the new one: re-synced at once (expectedPods 1);
# - bad PDBs refused with the field path and a non-zero exit (both bounds, a bad percent string,
#   over 100%, a negative number, a bad selector).
. "$(dirname "$0")/lib.sh"
hollow_cluster 1 e2e=pdb --cpu 8 --memory 16Gi

cat >"$T/web.yaml" <<'Y'
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: c
        image: busybox
        resources: {requests: {cpu: 100m}}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web-pdb}
spec:
  minAvailable: 2
  selector: {matchLabels: {app: web}}
Y
tro apply -f "$T/web.yaml" >/dev/null || fail "Deployment and PDB refused"
wait_for 60 eval '[ "$(ready_count app=web)" = 3 ]' || fail "3 web pods not Ready: $(tro get pods -o wide 2>&1)"
pdb() { tro get pdb "${1:-web-pdb}" -o json; }
st() { pdb "${2:-web-pdb}" | jq -r "$1"; }
STATUS='"\(.status.disruptionsAllowed) \(.status.currentHealthy) \(.status.desiredHealthy) \(.status.expectedPods) \(.status.observedGeneration) \(.status.conditions[0].type) \(.status.conditions[0].status) \(.status.conditions[0].reason)"'
# pdb_is PDB JQ WANT: the jq string JQ of pdb PDB prints WANT
pdb_is() { [ "$(st "$2" "$1")" = "$3" ]; }
# pdb_await SECONDS PDB JQ WANT WHAT: waits until pdb_is PDB JQ WANT, or fails with WHAT and PDB's status
pdb_await() { wait_for "$1" pdb_is "$2" "$3" "$4" || fail "$5: $(pdb "$2" | jq -c .status)"; }
pdb_await 30 web-pdb "$STATUS" "1 3 2 3 1 DisruptionAllowed True SufficientPods" "minAvailable 2 over 3 ready pods"
pass "minAvailable 2 over a Deployment of 3: disruptionsAllowed 1, currentHealthy 3, desiredHealthy 2, expectedPods 3, SufficientPods"

OUT=$(tro get pdb)
echo "$OUT" | head -1 | grep -Eq '^NAME +MIN AVAILABLE +MAX UNAVAILABLE +ALLOWED DISRUPTIONS +AGE$' || fail "get pdb header: $OUT"
echo "$OUT" | grep -Eq '^web-pdb +2 +N/A +1 +[0-9]+[smhd]' || fail "get pdb row: $OUT"
pass "troupe get pdb: NAME MIN AVAILABLE MAX UNAVAILABLE ALLOWED DISRUPTIONS AGE, N/A for the unset bound"

tro patch pdb web-pdb --type merge -p '{"spec":{"minAvailable":null,"maxUnavailable":0}}' >/dev/null || fail "patch to maxUnavailable 0"
pdb_await 30 web-pdb "$STATUS" "0 3 3 3 2 DisruptionAllowed False InsufficientPods" "maxUnavailable 0"
tro get pdb | grep -Eq '^web-pdb +N/A +0 +0 ' || fail "get pdb after the change: $(tro get pdb)"
pass "maxUnavailable 0: 0 allowed, InsufficientPods, observedGeneration 2"

tro scale deployment web --replicas 4 >/dev/null || fail "scale web to 4"
pdb_await 60 web-pdb "$STATUS" "0 4 4 4 2 DisruptionAllowed False InsufficientPods" "scaled to 4"
pass "the Deployment scaled to 4: expectedPods and desiredHealthy follow its scale"

# disruptedPods, as the Eviction API writes it: a fresh entry is not counted healthy (and kept),
# one older than 2 minutes (Kubernetes' DeletionTimeout) is dropped, as is one of a pod that is gone
P1=$(tro get pods -l app=web -o json | jq -r '[.items[] | select(.metadata.deletionTimestamp == null)][0].metadata.name')
P2=$(tro get pods -l app=web -o json | jq -r '[.items[] | select(.metadata.deletionTimestamp == null)][1].metadata.name')
NOW=$(date -u +%Y-%m-%dT%H:%M:%SZ); OLD=$(date -u -d '-3 minutes' +%Y-%m-%dT%H:%M:%SZ)
tro patch pdb web-pdb --subresource status --type merge \
  -p "{\"status\":{\"disruptedPods\":{\"$P1\":\"$NOW\",\"$P2\":\"$OLD\",\"gone-pod\":\"$NOW\"}}}" >/dev/null || fail "status patch"
pdb_await 30 web-pdb '"\(.status.currentHealthy) \(.status.disruptedPods | keys | join(","))"' "3 $P1" "disruptedPods"
pass "disruptedPods: a fresh entry is kept and not counted healthy, an expired one and a gone pod's are dropped"

cat >"$T/solo.yaml" <<'Y'
apiVersion: v1
kind: Pod
metadata: {name: solo, labels: {app: solo}}
spec:
  containers:
  - name: c
    image: busybox
    resources: {requests: {cpu: 100m}}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: solo-pdb}
spec:
  maxUnavailable: 1
  selector: {matchLabels: {app: solo}}
Y
tro apply -f "$T/solo.yaml" >/dev/null || fail "solo pod and PDB refused"
# Kubernetes >= 1.27: left out of expectedPods (0), still healthy (1), nothing allowed, and a
# Warning Event UnmanagedPods on the budget; not a failed sync
pdb_await 30 solo-pdb '"\(.status.expectedPods) \(.status.currentHealthy) \(.status.disruptionsAllowed) \(.status.conditions[0].status) \(.status.conditions[0].reason)"' \
  '0 1 0 False InsufficientPods' "a pod without a controller"
unmanaged_event() { tro get events -o json | jq -e '[.items[] | select(.reason == "UnmanagedPods" and .type == "Warning" and .involvedObject.kind == "PodDisruptionBudget" and .involvedObject.name == "solo-pdb" and (.message | contains("were found to be unmanaged")))] | length > 0' >/dev/null; }
wait_for 15 unmanaged_event || fail "no UnmanagedPods Warning on solo-pdb: $(tro get events -o json | jq -c '[.items[] | {reason, message}]')"
pass "maxUnavailable over a pod without a controller: left out of expectedPods, healthy, 0 allowed, UnmanagedPods Warning"
# relabelled out of the selector: the budget is queued by the pod's old labels (well before the
# controllers' 30 s resync) and now expects no pod
# (an integer minAvailable first: no controller needed, the sync succeeds and is not retried)
tro patch pdb solo-pdb --type merge -p '{"spec":{"maxUnavailable":null,"minAvailable":1}}' >/dev/null || fail "solo-pdb to minAvailable 1"
pdb_await 30 solo-pdb '"\(.status.expectedPods) \(.status.currentHealthy) \(.status.conditions[0].reason)"' "1 1 InsufficientPods" "solo-pdb minAvailable 1"
sleep 1
tro patch pod solo --type merge -p '{"metadata":{"labels":{"app":"elsewhere"}}}' >/dev/null || fail "relabel solo"
pdb_await 10 solo-pdb '"\(.status.expectedPods) \(.status.disruptionsAllowed) \(.status.conditions[0].reason)"' "0 0 InsufficientPods" "solo relabelled"
pass "a pod relabelled out of a budget's selector re-syncs the budget (old labels): expectedPods 0, InsufficientPods"
# the budget's selector changed (the controller's cached selector follows it): a pod relabelled
# into the new selector re-syncs it at once; then deleted, the budget no longer follows the pod
tro patch pdb solo-pdb --type merge -p '{"spec":{"selector":{"matchLabels":{"app":"moved"}}}}' >/dev/null || fail "solo-pdb new selector"
pdb_await 30 solo-pdb '"\(.status.expectedPods) \(.status.observedGeneration)"' "0 3" "solo-pdb with a new selector"
sleep 1
tro patch pod solo --type merge -p '{"metadata":{"labels":{"app":"moved"}}}' >/dev/null || fail "relabel solo to moved"
pdb_await 10 solo-pdb '"\(.status.expectedPods) \(.status.currentHealthy) \(.status.disruptionsAllowed)"' "1 1 0" "solo relabelled into the new selector"
pass "a budget's selector changed: a pod relabelled into the new one re-syncs it (expectedPods 1)"
tro delete pdb solo-pdb >/dev/null || fail "delete solo-pdb"
tro patch pod solo --type merge -p '{"metadata":{"labels":{"app":"solo"}}}' >/dev/null || fail "relabel solo back"
tro get pdb solo-pdb >/dev/null 2>&1 && fail "solo-pdb still there after its delete"

bad() { # spec-yaml expected-error
  printf 'apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: bad}\nspec: %s\n' "$1" >"$T/bad.yaml"
  if tro apply -f "$T/bad.yaml" >"$T/bad.out" 2>&1; then fail "accepted: $1"; fi
  grep -qF -- "$2" "$T/bad.out" || fail "refusal of $1 lacks '$2': $(cat "$T/bad.out")"
}
bad '{minAvailable: 1, maxUnavailable: 1}' 'minAvailable and maxUnavailable cannot be both set'
bad '{minAvailable: 1, maxUnavailable: 1}' 'spec: Invalid value'
bad '{minAvailable: "abc"}' "spec.minAvailable: Invalid value: \"abc\": a valid percent string must be a numeric string followed by an ending '%'"
bad '{maxUnavailable: "150%"}' 'spec.maxUnavailable: Invalid value: "150%": must not be greater than 100%'
bad '{minAvailable: -1}' 'spec.minAvailable: Invalid value: -1: must be greater than or equal to 0'
bad '{selector: {matchExpressions: [{key: app, operator: In}]}}' 'spec.selector.matchExpressions[0].values: Required value'
tro get pdb bad >/dev/null 2>&1 && fail "a refused PDB was stored"
pass "bad PDBs refused with their field path and a non-zero exit"
