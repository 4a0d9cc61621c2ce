#!/usr/bin/env bash
# Permit WAIT end to end, through the example Gang plugin (.so): pods of a gang are held (assumed,
# not bound, no PodScheduled=False) until the gang is complete, then all are bound; a gang that does
# not fill up is rejected when its wait runs out, with Kubernetes' message, and requeued.
. "$(dirname "$0")/lib.sh"
MARK="e2e-schedpermit-$$"
need_sched_plugin gang
cat >"$T/sched.yaml" <<CFG
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
profiles:
- schedulerName: gang-scheduler
  plugins:
    multiPoint:
      enabled: [{name: Gang, path: "$SO"}]
  pluginConfig:
  - name: Gang
    args: {size: 3, timeoutSeconds: 5}
CFG
up_with_scheduler_config e2e-permit "$T/sched.yaml"

pod() { # name gang
    cat <<POD
apiVersion: v1
kind: Pod
metadata: {name: $1, labels: {app: $MARK, troupe.example/gang: $2}}
spec:
  schedulerName: gang-scheduler
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: busybox
    command: ["/bin/sh", "-c", "echo $MARK; while true; do sleep 1; done"]
POD
}
node_of() { tro get pod "$1" -o json | jq -r '.spec.nodeName // ""'; }
msg() { tro get pod "$1" -o json | jq -r '.status.conditions[]? | select(.type=="PodScheduled") | .message'; }
for p in g1 g2; do pod $p a | tro apply -f - >/dev/null || fail "create pod $p"; done
sleep 2
[ -z "$(node_of g1)" ] && [ -z "$(node_of g2)" ] || fail "a pod of an incomplete gang was bound"
[ -z "$(msg g1)" ] && [ -z "$(msg g2)" ] || fail "a waiting pod got a PodScheduled condition: $(msg g1) / $(msg g2)"
pod g3 a | tro apply -f - >/dev/null || fail "create pod g3"
for p in g1 g2 g3; do
    wait_for 20 sh -c "[ \"\$('$TROUPE' get pod $p -o json | jq -r '.spec.nodeName // \"\"')\" = e2e-permit ]" || fail "pod $p not bound once the gang was complete"
done
pass "a gang's pods wait on Permit until the gang is complete, then all are bound"

pod t1 b | tro apply -f - >/dev/null || fail "create pod t1"
wait_for 30 sh -c "'$TROUPE' get pod t1 -o json | jq -e '.status.conditions[]? | select(.type==\"PodScheduled\" and .status==\"False\")' >/dev/null" || fail "pod t1: no PodScheduled=False after its wait ran out"
[ "$(msg t1)" = "rejected due to timeout after waiting 5s at plugin Gang" ] || fail "pod t1 message: $(msg t1)"
[ -z "$(node_of t1)" ] || fail "pod t1 bound alone"
pass "a gang that does not fill up is rejected when its wait runs out"
# t1 is waiting again (requeued): deleting it rejects the waiting pod and frees its room
tro delete pod t1 >/dev/null 2>&1
for p in g1 g2 g3; do tro delete pod $p >/dev/null 2>&1; done
wait_for 30 procs_eq 0 || fail "pods' processes left: $(count_procs)"
pass "sched_permit"
