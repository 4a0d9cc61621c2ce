#!/usr/bin/env bash
# Scheduler profiles end to end: `troupe up --scheduler-config` with three profiles — the default,
# one with the example .so plugin (NodeNamePrefix), one naming an unknown plugin (refused and
# logged, the others run); pods of each schedulerName (an unknown one stays Pending untouched);
# PodScheduled=False with Kubernetes' message; a cordoned node's pod bound when uncordon requeues it;
# a configuration that is not a KubeSchedulerConfiguration stops `up` at once.
. "$(dirname "$0")/lib.sh"
MARK="e2e-schedprof-$$"
need_sched_plugin nodenameprefix
# (not "<<Y": test_fields validates those here-documents as API objects)
cat >"$T/sched.yaml" <<CFG
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
profiles:
- schedulerName: default-scheduler
- schedulerName: prefix-scheduler
  plugins:
    multiPoint:
      enabled: [{name: NodeNamePrefix, path: "$SO"}]
  pluginConfig:
  - name: NodeNamePrefix
    args: {prefix: "e2e-"}
- schedulerName: other-prefix
  plugins:
    multiPoint:
      enabled: [{name: NodeNamePrefix, path: "$SO"}]
  pluginConfig:
  - name: NodeNamePrefix
    args: {prefix: "gpu-"}
- schedulerName: broken-scheduler
  plugins:
    filter:
      enabled: [{name: NoSuchPlugin}]
CFG
printf 'apiVersion: v1\nkind: Pod\n' >"$T/notsched.yaml"
node_config e2e-sched
OUT=$(cd "$T" && timeout 20 "$TROUPE" up --config "$T/troupe.yaml" --scheduler-config "$T/notsched.yaml" 2>&1) && fail "up with a bad scheduler config started"
echo "$OUT" | grep -q 'not a kubescheduler.config.k8s.io/v1 KubeSchedulerConfiguration' || fail "bad scheduler config: unclear: $OUT"
pass "a file that is not a KubeSchedulerConfiguration stops up"

up_with_scheduler_config e2e-sched "$T/sched.yaml"
grep -q 'profile broken-scheduler: profiles\[3\].plugins.filter: unknown plugin \\"NoSuchPlugin\\"\|profile broken-scheduler: profiles\[3\].plugins.filter: unknown plugin "NoSuchPlugin"' "$T/up.log" || fail "the broken profile's error not logged"
pass "a profile with an unknown plugin is refused and logged"

pod() { # name schedulerName [nodeSelector json]
    cat <<POD
apiVersion: v1
kind: Pod
metadata: {name: $1, labels: {app: $MARK}}
spec:
  schedulerName: $2
  terminationGracePeriodSeconds: 1
  ${3:+nodeSelector: {disk: ssd\}}
  containers:
  - name: main
    image: busybox
    command: ["/bin/sh", "-c", "echo $MARK; while true; do sleep 1; done"]
POD
}
node_of() { tro get pod "$1" -o json | jq -r '.spec.nodeName // ""'; }
for p in "a prefix-scheduler" "b other-prefix" "c nope-scheduler" "d broken-scheduler" "f default-scheduler ssd"; do
    set -- $p
    pod "$1" "$2" "${3:-}" | tro apply -f - >/dev/null || fail "create pod $1"
done
wait_for 30 sh -c "[ \"\$('$TROUPE' get pod a -o json | jq -r '.spec.nodeName // \"\"')\" = e2e-sched ]" || fail "pod a (prefix-scheduler) not bound"
# FitError + DefaultPreemption's answer, as kube-scheduler's FailedScheduling message
NOHELP=" preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.."
msg() { tro get pod "$1" -o json | jq -r '.status.conditions[]? | select(.type=="PodScheduled") | .message'; }
wait_for 20 sh -c "'$TROUPE' get pod b -o json | jq -e '.status.conditions[]? | select(.type==\"PodScheduled\" and .status==\"False\")' >/dev/null" || fail "pod b: no PodScheduled=False"
[ "$(msg b)" = "0/1 nodes are available: 1 node(s) didn't have the name prefix gpu-.$NOHELP" ] || fail "pod b message: $(msg b)"
pass "a pod of the .so plugin's profile bound; another rejected by it with its reason"
wait_for 20 sh -c "'$TROUPE' get pod f -o json | jq -e '.status.conditions[]? | select(.type==\"PodScheduled\" and .status==\"False\")' >/dev/null" || fail "pod f: no PodScheduled=False"
[ "$(msg f)" = "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector.$NOHELP" ] || fail "pod f message: $(msg f)"
[ -z "$(node_of c)" ] && [ -z "$(node_of d)" ] || fail "pods of unknown/broken profiles were bound"
[ -z "$(msg c)" ] && [ -z "$(msg d)" ] || fail "pods of unknown/broken profiles got a PodScheduled condition"
pass "pods of an unknown or refused profile stay Pending, untouched"
tro cordon e2e-sched >/dev/null || fail "cordon"
pod e default-scheduler | tro apply -f - >/dev/null || fail "create pod e"
wait_for 20 sh -c "'$TROUPE' get pod e -o json | jq -e '.status.conditions[]? | select(.type==\"PodScheduled\" and .status==\"False\")' >/dev/null" || fail "pod e: no PodScheduled=False"
[ "$(msg e)" = "0/1 nodes are available: 1 node(s) were unschedulable.$NOHELP" ] || fail "pod e message: $(msg e)"
tro uncordon e2e-sched >/dev/null || fail "uncordon"
wait_for 20 sh -c "[ \"\$('$TROUPE' get pod e -o json | jq -r '.spec.nodeName // \"\"')\" = e2e-sched ]" || fail "pod e not bound after uncordon"
N=$(tro get events -o json | jq '[.items[] | select(.involvedObject.name=="e" and .reason=="FailedScheduling")] | length')
[ "$N" = 1 ] || fail "pod e: $N FailedScheduling events, want 1"
pass "uncordon requeues the unschedulable pod at once; one FailedScheduling event"
for p in a b c d e f; do tro delete pod $p >/dev/null 2>&1; done
wait_for 30 procs_eq 0 || fail "pods' processes left: $(count_procs)"
pass "sched_profiles"
