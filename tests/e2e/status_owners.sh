#!/usr/bin/env bash
# The node agent writes only the pod status fields it owns (a strategic merge patch of pods/status,
# as the kubelet's status manager): status.nominatedNodeName and conditions of other owners (a
# readiness gate's, the scheduler's DisruptionTarget) set on a Running pod of the process runtime
# survive its status writes when the container exits and restarts (phase, container statuses,
# Ready False then True again), while the agent's own conditions still change.
. "$(dirname "$0")/lib.sh"
MARK="e2e-owners-$$"
node_config so1
( cd "$T" && exec "$TROUPE" up --config "$T/troupe.yaml" >>"$T/up.log" 2>&1 ) & UP=$!; PIDS+=($UP)
wait_for 30 tro get nodes || fail "no API after 30 s"
wait_for 30 node_ready so1 || fail "node not Ready"
cat >"$T/pod.yaml" <<Y
apiVersion: v1
kind: Pod
metadata: {name: own}
spec:
  containers:
  - name: c
    image: busybox
    command: ["/bin/sh", "-c", "while [ ! -f $T/stop ]; do sleep 0.2; done; rm -f $T/stop; exit 1", "$MARK"]
Y
tro apply -f "$T/pod.yaml" >/dev/null || fail "apply"
pod() { tro get pod own -o json; }
phase_ready() { pod | jq -e '.status.phase=="Running" and any(.status.conditions[]; .type=="Ready" and .status=="True")' >/dev/null; }
wait_for 30 phase_ready || fail "pod not Running and Ready"
pass "pod Running, Ready"
# another writer (the scheduler, a controller): a nomination, a gate's condition, a DisruptionTarget
OUT=$("$TROUPE" patch pod own --subresource status --type strategic -p '{"status":{"nominatedNodeName":"so9","conditions":[
  {"type":"example.com/gate","status":"True","lastTransitionTime":"2027-01-01T00:00:00Z"},
  {"type":"DisruptionTarget","status":"True","reason":"PreemptionByScheduler","message":"by e2e"}]}}') ||
  fail "status patch: $OUT"
kept() {
  pod | jq -e '.status.nominatedNodeName=="so9"
    and any(.status.conditions[]; .type=="example.com/gate" and .status=="True")
    and any(.status.conditions[]; .type=="DisruptionTarget" and .reason=="PreemptionByScheduler")' >/dev/null
}
kept || fail "the status patch did not land: $(pod | jq -c .status)"
# the container exits: the agent writes Ready False, then the restart (restartCount 1), Ready True
touch "$T/stop"
restarted() { pod | jq -e '.status.containerStatuses[0].restartCount>=1' >/dev/null; }
wait_for 30 restarted || fail "no restart written: $(pod | jq -c .status)"
kept || fail "the agent's status write wiped what others wrote: $(pod | jq -c .status)"
wait_for 30 phase_ready || fail "not Ready again after the restart"
kept || fail "the agent's Ready write wiped what others wrote: $(pod | jq -c .status)"
pod | jq -e '[.status.conditions[] | select(.type=="Ready")] | length==1 and .[0].reason==null' >/dev/null ||
  fail "Ready not rewritten by type (one, no stale reason): $(pod | jq -c .status.conditions)"
pod | jq -e 'any(.status.conditions[]; .type=="PodScheduled" and .status=="True")' >/dev/null || fail "PodScheduled lost"
pass "nominatedNodeName, a gate's condition and DisruptionTarget survive the agent's status writes (restart, Ready)"
tro delete pod own >/dev/null || fail "delete"
gone() { ! tro get pod own >/dev/null 2>&1; }
wait_for 40 gone || fail "pod not removed after delete"
procs_eq 0 || fail "container processes left: $(pgrep -fa "$MARK")"
pass "deleted, nothing left"
