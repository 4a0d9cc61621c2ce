#!/usr/bin/env bash
# Single-node cluster end to end: deploy, self-heal, scale up/down, rolling update bound,
# bad input, logs, delete, restart with objects and revisions intact.
. "$(dirname "$0")/lib.sh"
MARK="e2e-single-$$"
printf 'nodeName: e2e-node\nlogLevel: info\ndefaultRuntime: process\n' >"$T/troupe.yaml"
start_up() { ( cd "$T" && exec "$TROUPE" up --config "$T/troupe.yaml" >>"$T/up.log" 2>&1 ) & UP=$!; PIDS+=($UP); }
start_up
wait_for 30 tro get nodes || fail "no API after 30 s"
wait_for 10 tro get nodes e2e-node || fail "--config nodeName not used"
OUT=$(cd "$T" && timeout 10 "$TROUPE" up 2>&1) && fail "a second troupe up on the same data dir started"
echo "$OUT" | grep -q 'in use' || fail "second troupe up: unclear refusal: $OUT"
wait_for 30 sh -c "'$TROUPE' get nodes -o json | jq -e '.items[0].status.conditions[] | select(.type==\"Ready\" and .status==\"True\")' | grep -q ." || fail "node not Ready"
pass "cluster up, node Ready"

cat >"$T/app.yaml" <<Y
apiVersion: v1
kind: ConfigMap
metadata: {name: appcfg}
data: {k: v}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: app, labels: {app: e2e}}
spec:
  replicas: 3
  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 1}}
  selector: {matchLabels: {app: e2e}}
  template:
    metadata: {labels: {app: e2e}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: main
        image: busybox
        command: ["/bin/sh", "-c", "echo started-$MARK v1; while true; do sleep 1; done"]
Y
OUT=$(tro apply -f "$T/app.yaml") || fail "apply failed: $OUT"
echo "$OUT" | grep -q 'deployment.apps/app created' || fail "apply output: $OUT"
[ "$(tro apply -f "$T/app.yaml" | grep -c unchanged)" = 2 ] || fail "re-apply should report unchanged"
wait_for 30 running app=e2e 3 || fail "3 replicas not Running"
[ "$(count_procs)" = 3 ] || fail "3 Running but $(count_procs) processes"
tro get pods | head -1 | grep -q 'NAME *READY *STATUS *RESTARTS *AGE' || fail "pod table header"
pass "3 replicas Running with 3 processes"

VICTIM=$(pgrep -f "$MARK" | head -1)
kill -9 "$VICTIM"
healed() { ! kill -0 "$VICTIM" 2>/dev/null && [ "$(count_procs)" = 3 ] && [ "$(tro get pods -l app=e2e -o json | jq '[.items[].status.containerStatuses[]?.restartCount] | add')" -ge 1 ]; }
wait_for 40 healed || fail "killed container not replaced (procs=$(count_procs))"
pass "kill -9 of a container: restarted"

tro scale deployment app --replicas 5 | grep -q scaled || fail "scale 5"
wait_for 30 running app=e2e 5 || fail "scale to 5"
wait_for 10 procs_eq 5 || fail "5 Running but $(count_procs) processes"
tro scale deployment app --replicas 2 >/dev/null || fail "scale 2"
wait_for 30 running app=e2e 2 || fail "scale down to 2"
wait_for 20 procs_eq 2 || fail "2 wanted, $(count_procs) processes"
pass "scaled to 5 and back to 2"

# Rolling update: 4 replicas, maxUnavailable 1 → never fewer than 3 Ready while it rolls.
tro scale deployment app --replicas 4 >/dev/null
wait_for 30 running app=e2e 4 || fail "scale to 4"
wait_for 20 sh -c "[ \$('$TROUPE' get pods -l app=e2e -o json | jq '[.items[] | select(any(.status.conditions[]?; .type==\"Ready\" and .status==\"True\"))] | length') = 4 ]" || fail "4 Ready"
sed -i 's/ v1;/ v2;/' "$T/app.yaml"
sed -i 's/replicas: 3/replicas: 4/' "$T/app.yaml"
tro apply -f "$T/app.yaml" | grep -q 'deployment.apps/app configured' || fail "template change not applied"
min=99
end=$((SECONDS + 90))
while [ $SECONDS -lt $end ]; do
  r=$(ready_count app=e2e); [ "$r" -lt "$min" ] && min=$r
  st=$(tro get deployment app -o json)
  if [ "$(echo "$st" | jq '.status.updatedReplicas == 4 and .status.availableReplicas == 4 and .status.replicas == 4 and .status.observedGeneration >= .metadata.generation')" = true ]; then break; fi
  sleep 0.3
done
[ $SECONDS -lt $end ] || fail "rolling update did not complete: $(tro get deployment app -o json | jq -c .status)"
[ "$min" -ge 3 ] || fail "rolling update dropped to $min Ready (< replicas - maxUnavailable = 3)"
tro rollout status deployment app --timeout 30 | grep -q 'successfully rolled out' || fail "rollout status"
v2_only() { procs_eq 4 "started-$MARK v2" && procs_eq 0 "started-$MARK v1"; }
wait_for 30 v2_only || fail "v2 processes: $(pgrep -fc "started-$MARK v2"), v1: $(pgrep -fc "started-$MARK v1")"
[ "$(tro get rs -l app=e2e -o json | jq '.items | length')" = 2 ] || fail "expected old+new ReplicaSets"
pass "rolling update never below $min Ready (bound 3)"

tro rollout undo deployment app | grep -q 'rolled back' || fail "rollout undo"
v1_only() { procs_eq 4 "started-$MARK v1" && procs_eq 0 "started-$MARK v2"; }
wait_for 60 v1_only || fail "undo: v1 processes $(pgrep -fc "started-$MARK v1"), v2 $(pgrep -fc "started-$MARK v2")"
tro rollout status deployment app --timeout 60 | grep -q 'successfully rolled out' || fail "rollout status after undo"
[ "$(tro get rs -l app=e2e -o json | jq '.items | length')" = 2 ] || fail "undo should re-use the old ReplicaSet"
sed -i 's/ v2;/ v1;/' "$T/app.yaml"
pass "rollout undo re-uses the previous ReplicaSet"

# bad input: each gets a clear error, nothing changes
printf 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: bad}\nspec: {replicas: -3, selector: {matchLabels: {a: b}}, template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c, command: [x]}]}}}\n' >"$T/bad.yaml"
OUT=$(tro apply -f "$T/bad.yaml" 2>&1) && fail "invalid Deployment accepted"
echo "$OUT" | grep -q 'spec.replicas' || fail "error does not name the field: $OUT"
printf '\x93\xff\x00garbage' >"$T/garbage.yaml"
OUT=$(tro apply -f "$T/garbage.yaml" 2>&1) && fail "garbage accepted"
echo "$OUT" | grep -qi 'yaml' || fail "garbage error unclear: $OUT"
printf 'apiVersion: v1\nkind: Frobnicator\nmetadata: {name: x}\n' >"$T/unknown.yaml"
OUT=$(tro apply -f "$T/unknown.yaml" 2>&1) && fail "unknown kind accepted"
echo "$OUT" | grep -q 'Frobnicator' || fail "unknown kind error: $OUT"
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: typed}\ndata: {k: [1, 2]}\n' >"$T/type.yaml"
OUT=$(tro apply -f "$T/type.yaml" 2>&1) && fail "wrong type accepted"
echo "$OUT" | grep -q 'data' || fail "wrong type error: $OUT"
OUT=$(tro get pods nonexistent 2>&1) && fail "get of a missing pod succeeded"
echo "$OUT" | grep -q 'NotFound' || fail "missing pod error: $OUT"
running app=e2e 4 || fail "cluster lost pods after bad input"
pass "bad input refused clearly"

# a manifest means what it says (docs/fields.md): a Kubernetes field Troupe does not do yet is
# refused by its path; $(VAR) references are expanded; a Secret's stringData is stored as data
printf 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: probed}\nspec: {selector: {matchLabels: {a: b}}, template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c, command: [x], resizePolicy: [{resourceName: cpu, restartPolicy: NotRequired}]}]}}}\n' >"$T/unsup.yaml"
OUT=$(tro apply -f "$T/unsup.yaml" 2>&1) && fail "a field Troupe does not do was accepted"
echo "$OUT" | grep -q 'spec.template.spec.containers\[0\].resizePolicy: Unsupported: not supported yet' || fail "unsupported field error: $OUT"
cat >"$T/env.yaml" <<Y
apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData: {user: admin}
---
apiVersion: v1
kind: Pod
metadata: {name: expand}
spec:
  restartPolicy: Never
  containers:
  - {name: c, command: [/bin/sh, -c, "echo 'expanded=\$(WHO) kept=\$\$(WHO)'"], env: [{name: WHO, value: world}]}
Y
tro apply -f "$T/env.yaml" >/dev/null || fail "apply of the Secret and Pod"
[ "$(tro get secret creds -o json | jq -r '.data.user + " " + (.stringData // "none")')" = "YWRtaW4= none" ] || fail "stringData not stored as data: $(tro get secret creds -o json | jq -c '{data, stringData}')"
[ "$(tro apply -f "$T/env.yaml" | grep -c unchanged)" = 2 ] || fail "re-apply of stringData should report unchanged"
wait_for 30 sh -c "'$TROUPE' logs expand | grep -q expanded=" || fail "pod expand shows no output"
tro logs expand | grep -qF 'expanded=world kept=$(WHO)' || fail "\$(VAR) expansion: $(tro logs expand)"
tro delete -f "$T/env.yaml" >/dev/null || fail "delete of the Secret and Pod"
pass "unsupported field refused by path, \$(VAR) expanded, stringData stored as data"

POD=$(tro get pods -l app=e2e -o json | jq -r '[.items[] | select(.metadata.deletionTimestamp==null)][0].metadata.name')
tro logs "$POD" | grep -q "started-$MARK v1" || fail "logs do not show output"
timeout 3 "$TROUPE" logs -f "$POD" >"$T/follow.out" 2>&1
grep -q "started-$MARK" "$T/follow.out" || fail "logs -f shows nothing"
timeout 3 "$TROUPE" get pods -w -l app=e2e >"$T/watch.out" 2>&1
grep -q "$POD" "$T/watch.out" || fail "get -w shows nothing: $(cat "$T/watch.out")"
tro describe pod "$POD" | grep -q "Name: *$POD" || fail "describe pod"
tro describe deployment app | grep -q 'Replicas:' || fail "describe deployment"
pass "logs and describe"

# restart: objects and revisions intact
CM_RV=$(tro get configmap appcfg -o json | jq -r .metadata.resourceVersion)
DEP_UID=$(tro get deployment app -o json | jq -r .metadata.uid)
kill "$UP"; for _ in $(seq 1 100); do kill -0 "$UP" 2>/dev/null || break; sleep 0.2; done
kill -0 "$UP" 2>/dev/null && fail "troupe up did not stop on SIGTERM within 20 s"
wait_for 10 procs_eq 0 || fail "container processes left after stopping troupe up: $(count_procs)"
start_up
wait_for 30 tro get nodes || fail "no API after restart"
[ "$(tro get configmap appcfg -o json | jq -r .metadata.resourceVersion)" = "$CM_RV" ] || fail "configmap revision changed across restart"
[ "$(tro get deployment app -o json | jq -r .metadata.uid)" = "$DEP_UID" ] || fail "deployment uid changed across restart"
wait_for 40 running app=e2e 4 || fail "pods not Running again after restart"
pass "restart keeps objects and revisions"

tro delete -f "$T/app.yaml" | grep -q 'deleted' || fail "delete"
wait_for 30 running app=e2e 0 || fail "pods not gone"
wait_for 30 procs_eq 0 || fail "processes left after delete: $(count_procs)"
wait_for 30 sh -c "[ \$('$TROUPE' get pods -l app=e2e -o json | jq '.items | length') = 0 ]" || fail "pod objects left after delete"
[ "$(tro get rs -o json | jq '[.items[] | select(.metadata.labels.app=="e2e")] | length')" = 0 ] || fail "ReplicaSets not garbage-collected"
pass "delete removes pods, processes, ReplicaSets"

# A dependent that comes with owners none of which exists is collected (as Kubernetes' garbage
# collector: its owner is absent): the collector looks at a dependent when it comes, not only
# when an owner goes. A pod whose owner lives, and one with no owner, stay.
cat >"$T/dangling.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata:
  name: dangling
  labels: {app: gc}
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: gone, uid: 0d0d0d0d-0000-4000-8000-00000000dead, controller: true}]
spec: {containers: [{name: c, command: [sleep, "300"]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: ownerless, labels: {app: gc}}
spec: {containers: [{name: c, command: [sleep, "300"]}]}
YAML
tro apply -f "$T/dangling.yaml" >/dev/null || fail "create the dangling pod: $(tro apply -f "$T/dangling.yaml" 2>&1)"
dangling_gone() { ! tro get pod dangling >/dev/null 2>&1; }
wait_for 20 dangling_gone || fail "a pod whose owner does not exist was not collected"
tro get pod ownerless >/dev/null 2>&1 || fail "a pod without owners was collected"
tro delete pod ownerless >/dev/null || fail "delete ownerless"
wait_for 30 procs_eq 0 || fail "processes left after the collector's check: $(count_procs)"
pass "a pod whose owner does not exist is collected when it comes; one without owners stays"
echo "1 passed, 0 failed"
