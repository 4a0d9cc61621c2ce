#!/usr/bin/env bash
# Preemption end to end (kube-scheduler's DefaultPreemption and its I/O): `troupe up` with its own
# node cordoned and 2 hollow nodes of 2 cpu filled by 4 low-priority pods of 1 cpu.
# - a pod of a PriorityClass with preemptionPolicy Never stays Pending (Insufficient cpu), nothing
#   is evicted, it is not nominated; its message ends "preemption: not eligible due to
#   preemptionPolicy=Never.." as kube-scheduler's;
# - a low-priority pod waits (nothing of lower priority to evict): "preemption: 0/3 nodes are
#   available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found …";
# - a high-priority pod: status.nominatedNodeName set (seen on the watch), exactly one victim on
#   that node marked DisruptionTarget (PreemptionByScheduler; its PodScheduled and Ready conditions
#   kept: a strategic merge patch) and deleted, a Preempted Event on it
#   ("Preempted by pod <uid> on node <node>"), the high pod bound to the nominated node; the freed
#   room is not taken by the waiting low pod nor by the Never pod of equal priority (the
#   nominated pod counts there), which both stay Pending; once the hollow node reports the high
#   pod Running (a strategic merge patch of its own status fields, as the kubelet), its
#   nominatedNodeName and PodScheduled are still there;
# - a stale nomination (status.nominatedNodeName written by hand on the waiting low pod) is
#   cleared once the pod is tried again and preemption finds no candidate, as kube-scheduler does;
# - Scheduled Events (deferred until the scheduler is idle, docs/decisions.md): one per bound pod,
#   "Successfully assigned default/<pod> to <node>", naming the node it is on.
. "$(dirname "$0")/lib.sh"
hollow_cluster 2 e2e=preempt --cpu 2 --memory 4Gi

cat >"$T/pc.yaml" <<'Y'
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: e2e-low}
value: 10
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: e2e-high}
value: 1000
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: e2e-never}
value: 1000
preemptionPolicy: Never
Y
tro apply -f "$T/pc.yaml" >/dev/null || fail "PriorityClasses refused"
mkpod() { # name class
  printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: %s, labels: {e2e: preempt}}\nspec:\n  priorityClassName: %s\n  containers:\n  - name: c\n    image: busybox\n    resources: {requests: {cpu: "1"}}\n' "$1" "$2" >"$T/$1.yaml"
  tro apply -f "$T/$1.yaml" >/dev/null || fail "create pod $1"
}
# "$TROUPE" itself, not the tro function: $! must be the watcher, not a subshell, to be killed
"$TROUPE" get pods -w -o json >"$T/watch.out" 2>"$T/watch.err" & WATCH=$!; PIDS+=($WATCH)
pods() { tro get pods -o json; }
nodeof() { pods | jq -r --arg n "$1" '.items[] | select(.metadata.name==$n) | .spec.nodeName // ""'; }
for i in 1 2 3 4; do mkpod "low$i" e2e-low; done
allbound() { [ "$(pods | jq '[.items[] | select(.metadata.name|startswith("low")) | select((.spec.nodeName // "") | startswith("hollow-"))] | length')" = 4 ]; }
wait_for 30 allbound || fail "the 4 low pods not bound: $(pods | jq -c '[.items[] | {n: .metadata.name, node: .spec.nodeName}]')"
declare -A LOWNODE
for i in 1 2 3 4; do LOWNODE[low$i]=$(nodeof "low$i"); done
pass "4 low-priority pods of 1 cpu fill the 2 hollow nodes (2 cpu each)"

# preemptionPolicy: Never
mkpod never e2e-never
cond() { pods | jq -r --arg n "$1" '.items[] | select(.metadata.name==$n) | .status.conditions[]? | select(.type=="PodScheduled") | "\(.status) \(.message)"'; }
unsched() { cond "$1" | grep -q '^False .*Insufficient cpu'; }
wait_for 30 unsched never || fail "the Never pod: no PodScheduled=False Insufficient cpu: $(cond never)"
sleep 3
J=$(pods)
[ "$(echo "$J" | jq '[.items[] | select(.metadata.name|startswith("low")) | select(.metadata.deletionTimestamp == null)] | length')" = 4 ] ||
  fail "a low pod was evicted by the Never pod: $(echo "$J" | jq -c '[.items[] | {n: .metadata.name, d: .metadata.deletionTimestamp}]')"
[ "$(echo "$J" | jq -r '.items[] | select(.metadata.name=="never") | .spec.preemptionPolicy + " " + (.status.nominatedNodeName // "-") + " " + (.spec.nodeName // "-")')" = "Never - -" ] ||
  fail "the Never pod: $(echo "$J" | jq -c '.items[] | select(.metadata.name=="never") | {p: .spec.preemptionPolicy, s: .status}')"
# kube-scheduler's FailedScheduling text: the FitError, then DefaultPreemption's answer
NMSG=$(cond never)
case "$NMSG" in *"cpu. preemption: not eligible due to preemptionPolicy=Never..") ;; *) fail "the Never pod's message: $NMSG" ;; esac
pass "preemptionPolicy Never: Pending (Insufficient cpu), nothing evicted, not nominated; \"$NMSG\""

# a low pod waits: nothing of lower priority
mkpod waiting e2e-low
wait_for 30 unsched waiting || fail "the waiting low pod: $(cond waiting)"
# its own node cordoned (preemption cannot help there), the hollow nodes' pods not of lower priority
WANT=" preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod.."
WMSG=$(cond waiting)
case "$WMSG" in *"cpu.$WANT") ;; *) fail "the waiting pod's message: $WMSG" ;; esac
pass "a low pod with nothing to preempt: \"$WMSG\""

# the high pod preempts one low pod
mkpod high e2e-high
hbound() { [ -n "$(nodeof high)" ]; }
wait_for 60 hbound || fail "the high pod was not bound: $(cond high); $(grep -i preempt "$T/up.log" | tail -5)"
HNODE=$(nodeof high)
HUID=$(pods | jq -r '.items[] | select(.metadata.name=="high") | .metadata.uid')
gone=()
for i in 1 2 3 4; do
  st=$(pods | jq -r --arg n "low$i" '[.items[] | select(.metadata.name==$n)] | length')
  [ "$st" = 0 ] && gone+=("low$i")
done
[ "${#gone[@]}" = 1 ] || fail "${#gone[@]} low pods gone (${gone[*]:-none}), 1 expected"
V=${gone[0]}
[ "${LOWNODE[$V]}" = "$HNODE" ] || fail "victim $V was on ${LOWNODE[$V]}, the high pod is on $HNODE"
pass "the high pod preempted exactly one low pod ($V) and is bound to its node $HNODE"

# the hollow node reports the high pod Running with a strategic merge patch of only its own fields
# (as the kubelet's status manager): the scheduler's nominatedNodeName and PodScheduled stay
hrun() { [ "$(pods | jq -r '.items[] | select(.metadata.name=="high") | .status.phase')" = Running ]; }
wait_for 30 hrun || fail "the high pod not Running on $HNODE: $(pods | jq -c '.items[] | select(.metadata.name=="high") | .status')"
HST=$(pods | jq -c '.items[] | select(.metadata.name=="high") | .status')
[ "$(echo "$HST" | jq -r '.nominatedNodeName // "-"')" = "$HNODE" ] || fail "the hollow node's Running report lost status.nominatedNodeName: $HST"
[ "$(echo "$HST" | jq -r '[.conditions[] | select(.type=="PodScheduled") | .status] | join(",")')" = True ] || fail "PodScheduled not kept once True: $HST"
[ "$(echo "$HST" | jq -r '[.conditions[] | select(.type=="Ready" or .type=="ContainersReady" or .type=="Initialized") | .status] | join(",")')" = "True,True,True" ] ||
  fail "the hollow node's conditions: $HST"
pass "Running as reported by the hollow node, status.nominatedNodeName=$HNODE and PodScheduled=True kept"

kill "$WATCH" 2>/dev/null
grep -Eq "\"nominatedNodeName\": ?\"$HNODE\"" "$T/watch.out" || fail "status.nominatedNodeName=$HNODE never seen on the watch ($(grep -c . "$T/watch.out") lines)"
grep -q '"PreemptionByScheduler"' "$T/watch.out" || fail "no DisruptionTarget condition (PreemptionByScheduler) seen on the victim"
# the scheduler's status write is a strategic merge patch carrying only DisruptionTarget: the
# conditions the binding (PodScheduled) and the node (Ready) wrote on the victim stay beside it
vconds=$(jq -c --arg v "$V" '.. | objects | select(.kind? == "Pod" and .metadata.name? == $v)
  | select(any(.status.conditions[]?; .type == "DisruptionTarget")) | [.status.conditions[] | .type + "=" + .status] | sort' "$T/watch.out" | head -1)
for c in DisruptionTarget=True PodScheduled=True Ready=True; do
  echo "$vconds" | grep -q "\"$c\"" || fail "victim $V with DisruptionTarget lacks $c: ${vconds:-never seen}"
done
pass "status.nominatedNodeName=$HNODE written before the binding; the victim marked DisruptionTarget/PreemptionByScheduler, its other conditions kept ($vconds)"

evs() { tro get events -o json; }
pre_ev() { evs | jq -e --arg v "$V" --arg m "Preempted by pod $HUID on node $HNODE" '[.items[] | select(.reason=="Preempted" and .involvedObject.name==$v and .message==$m and .type=="Normal")] | length == 1' >/dev/null; }
wait_for 15 pre_ev || fail "no Preempted event on $V: $(evs | jq -c '[.items[] | select(.reason=="Preempted") | {o: .involvedObject.name, m: .message}]')"
[ "$(evs | jq '[.items[] | select(.reason=="Preempted")] | length')" = 1 ] || fail "more than one Preempted event: $(evs | jq -c '[.items[] | select(.reason=="Preempted") | .involvedObject.name]')"
pass "Preempted event on $V (\"Preempted by pod $HUID on node $HNODE\")"

sleep 3
J=$(pods)
for p in waiting never; do
  [ "$(echo "$J" | jq -r --arg n "$p" '.items[] | select(.metadata.name==$n) | .spec.nodeName // ""')" = "" ] || fail "$p took a node"
done
[ "$(echo "$J" | jq '[.items[] | select(.metadata.name|startswith("low"))] | length')" = 3 ] || fail "another low pod was evicted"
pass "the waiting low pod and the Never pod stay Pending; no further eviction"

# a nomination that preemption can no longer honour is cleared (Kubernetes: DefaultPreemption
# finds no candidate and returns NominatedNodeName "", the scheduler removes it from the status):
# the waiting pod is given a stale nomination (as left by an earlier scheduler), then relabelled
# so that it is tried again at once
"$TROUPE" patch pod waiting --subresource status --type merge -p "{\"status\":{\"nominatedNodeName\":\"$HNODE\"}}" >/dev/null ||
  fail "patch of waiting's status refused"
nnof() { pods | jq -r --arg n "$1" '.items[] | select(.metadata.name==$n) | .status.nominatedNodeName // ""'; }
[ "$(nnof waiting)" = "$HNODE" ] || fail "the stale nomination was not written: $(nnof waiting)"
sleep 1
"$TROUPE" label pod waiting e2e-poke=1 >/dev/null || fail "label waiting"
cleared() { [ -z "$(nnof waiting)" ]; }
wait_for 30 cleared || fail "the waiting pod's nomination to $HNODE was not cleared: $(pods | jq -c '.items[] | select(.metadata.name=="waiting") | .status')"
[ -z "$(nodeof waiting)" ] || fail "the waiting pod took a node"
case "$(cond waiting)" in "False "*"No preemption victims found for incoming pod..") ;; *) fail "the waiting pod's message after the clear: $(cond waiting)" ;; esac
pass "a nomination with no candidate left is cleared (status.nominatedNodeName removed, still Pending)"

sched_evs() { # every bound pod has exactly one Scheduled event naming its node
  local j; j=$(evs) || return 1
  pods | jq -e --argjson ev "$j" '[.items[] | select((.spec.nodeName // "") != "") | .metadata.name as $n | .spec.nodeName as $node |
      [$ev.items[] | select(.reason=="Scheduled" and .involvedObject.name==$n and .message==("Successfully assigned default/" + $n + " to " + $node))] | length == 1]
      | length > 0 and all' >/dev/null
}
wait_for 15 sched_evs || fail "Scheduled events: $(evs | jq -c '[.items[] | select(.reason=="Scheduled") | {o: .involvedObject.name, m: .message}]')"
pass "one Scheduled event per bound pod (\"Successfully assigned default/<pod> to <node>\"), written once the scheduler was idle"
exit 0
