#!/usr/bin/env bash
# Many nodes on one machine (`troupe lab up`: network namespaces on a bridge, each joined with a
# bootstrap token): a Deployment spreads over them; a node's agent killed -9 is detected and its
# replicas run again on the others (time printed); the node started again with its data rejoins
# without a token and removes the pods it lost; `lab` down leaves no namespace, link or process.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces)"
command -v ip >/dev/null && command -v nsenter >/dev/null || skip "needs iproute2 and util-linux's nsenter"
MARK="e2e-multi-$$"
printf 'controllers: {nodeMonitorGracePeriodSeconds: 10, podEvictionTimeoutSeconds: 5}\n' >"$T/server.yaml"
LAB_SERVER_CONFIG=$T/server.yaml lab_up 3 --default-runtime process
PREFIX=$(lab_json .prefix)
[ "$(ip netns list | grep -c "^$PREFIX-m")" = 3 ] || fail "3 namespaces expected: $(ip netns list)"
for n in 1 2 3; do
  [ "$(labtro get node m$n -o json | jq -r '.status.addresses[] | select(.type=="InternalIP") | .address')" = "$(lab_json ".nodes[$((n-1))].ip")" ] ||
    fail "node m$n does not report its machine's address as InternalIP"
done
pass "3 machines joined and Ready, each with its own address"

cat >"$T/app.yaml" <<Y
apiVersion: apps/v1
kind: Deployment
metadata: {name: spread}
spec:
  replicas: 3
  selector: {matchLabels: {app: spread}}
  template:
    metadata: {labels: {app: spread}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: c
        image: busybox
        command: ["/bin/sh", "-c", "while :; do sleep 1; done # MARK"]
        resources: {requests: {cpu: 300m, memory: 32Mi}}
Y
sed -i "s/MARK/$MARK/" "$T/app.yaml"
labtro apply -f "$T/app.yaml" >/dev/null || fail "apply"
pods() { labtro get pods -l app=spread -o json; }
spread_ok() { [ "$(pods | jq '[.items[] | select(.status.phase=="Running")] | length')" = 3 ] && [ "$(pods | jq '[.items[] | select(.status.phase=="Running") | .spec.nodeName] | unique | length')" = 3 ]; }
wait_for 60 spread_ok || fail "3 replicas not Running on 3 nodes: $(labtro get pods -o wide 2>&1)"
pass "a Deployment spread over the 3 nodes"

VICTIM=m2; VPID=$(lab_json '.nodes[1].pid')
kill -9 "$VPID"; T0=$SECONDS
moved() { [ "$(pods | jq '[.items[] | select(.status.phase=="Running" and .spec.nodeName!="m2" and .metadata.deletionTimestamp==null)] | length')" = 3 ]; }
wait_for 90 moved || fail "replicas of the lost node not Running elsewhere within 90 s: $(labtro get pods -o wide 2>&1)"
echo "node m2 lost (agent killed -9): 3 replicas Running on the others after $((SECONDS - T0)) s (grace 10 s, eviction 5 s)"
labtro get node m2 -o json | jq -e '.status.conditions[] | select(.type=="Ready") | .status=="Unknown"' >/dev/null || fail "lost node not Unknown"
labtro get node m2 -o json | jq -e '[.spec.taints[]? | select(.key=="node.kubernetes.io/unreachable") | .effect] | sort == ["NoExecute","NoSchedule"]' >/dev/null ||
  fail "lost node without the unreachable taints: $(labtro get node m2 -o json | jq -c .spec.taints)"
pass "a lost node's replicas run again on the others"

# m2 comes back with its data: no token; its lost pod's process is removed
NS=$(lab_json '.nodes[1].netns'); D2=$(lab_json '.nodes[1].data')
nsenter --net="/run/netns/$NS" env XDG_CONFIG_HOME="$D2/config" "$TROUPE" join "$(lab_json .server)" --data "$D2" --node-name m2 --default-runtime process >>"$T/m2-again.log" 2>&1 & M2=$!; PIDS+=($M2)
wait_for 60 sh -c "'$TROUPE' --kubeconfig '$LAB/config/troupe/config' get node m2 -o json | jq -e 'any(.status.conditions[]?; .type==\"Ready\" and .status==\"True\")'" || fail "m2 not Ready again"
wait_for 60 procs_eq 3 || fail "$(count_procs) replica processes, 3 expected once m2 removed the pod it lost"
wait_for 30 sh -c "'$TROUPE' --kubeconfig '$LAB/config/troupe/config' get node m2 -o json | jq -e '[.spec.taints[]? | select(.key==\"node.kubernetes.io/unreachable\")] | length == 0'" ||
  fail "the unreachable taints stayed on the node that came back"
pass "the lost node rejoined without a token and removed the pod it no longer owns"

# maintenance: cordon keeps new pods away, drain evicts (refusing a pod without a controller
# unless --force, as kubectl), uncordon lets pods in again
OUT=$(labtro cordon m3) && [ "$OUT" = "node/m3 cordoned" ] || fail "cordon m3: $OUT"
labtro get node m3 -o json | jq -e '.spec.unschedulable == true' >/dev/null || fail "cordoned node not unschedulable"
cat >"$T/bare.yaml" <<Y
apiVersion: v1
kind: Pod
metadata: {name: bare}
spec:
  nodeName: m1
  terminationGracePeriodSeconds: 1
  containers: [{name: c, image: busybox, command: ["/bin/sh", "-c", "while :; do sleep 1; done # $MARK"]}]
Y
labtro apply -f "$T/bare.yaml" >/dev/null || fail "apply bare pod"
wait_for 30 sh -c "'$TROUPE' --kubeconfig '$LAB/config/troupe/config' get pod bare -o json | jq -e '.status.phase==\"Running\"'" || fail "bare pod not Running on m1"
OUT=$(labtro drain m1 --timeout 60s 2>&1) && fail "drain evicted a pod without a controller: $OUT"
echo "$OUT" | grep -q "declare no controller (use --force to override): default/bare" || fail "drain refusal: $OUT"
OUT=$(labtro drain m1 --force --timeout 60s 2>&1) || fail "drain --force m1: $OUT"
echo "$OUT" | grep -q "node/m1 drained" || fail "drain did not end with node/m1 drained: $OUT"
on_m1() { [ "$(labtro get pods -A -o json | jq '[.items[] | select(.spec.nodeName=="m1")] | length')" = 0 ]; }
on_m1 || fail "pods left on the drained node: $(labtro get pods -o wide 2>&1)"
running3() { [ "$(pods | jq '[.items[] | select(.status.phase=="Running" and .metadata.deletionTimestamp==null)] | length')" = "$1" ]; }
wait_for 60 running3 3 || fail "3 replicas not Running after the drain: $(labtro get pods -o wide 2>&1)"
# m1 and m3 cordoned: a new replica can only go to m2
labtro scale deployment spread --replicas 4 >/dev/null || fail "scale to 4"
wait_for 60 running3 4 || fail "4 replicas not Running: $(labtro get pods -o wide 2>&1)"
NEWEST=$(pods | jq -r '.items | sort_by(.metadata.creationTimestamp) | last | .spec.nodeName')
[ "$NEWEST" = m2 ] || fail "a replica made while m1 and m3 were cordoned went to $NEWEST"
labtro uncordon m1 | grep -q "node/m1 uncordoned" || fail "uncordon m1"
labtro uncordon m3 >/dev/null && labtro get node m3 -o json | jq -e '.spec.unschedulable != true' >/dev/null || fail "uncordon m3"
pass "cordon, drain (refused without --force for a bare pod, then done), uncordon"

labtro delete -f "$T/app.yaml" >/dev/null
labtro delete -f "$T/bare.yaml" >/dev/null 2>&1
wait_for 60 procs_eq 0 || fail "processes left after delete: $(count_procs)"
kill "$M2"; wait "$M2" 2>/dev/null
lab_down
[ "$(ip netns list | grep -c "^$PREFIX-")" = 0 ] || fail "namespaces left: $(ip netns list | grep "^$PREFIX-")"
ip link show "$PREFIX-br" >/dev/null 2>&1 && fail "bridge $PREFIX-br left"
pgrep -f "$LAB/" >/dev/null && fail "processes of the lab left: $(pgrep -af "$LAB/")"
pass "lab down: no namespace, link or process left"
echo "6 passed, 0 failed"
