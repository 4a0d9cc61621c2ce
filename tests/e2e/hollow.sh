#!/usr/bin/env bash
# Hollow nodes (kubemark): `troupe hollow --nodes 50` next to `troupe up` over tcp. Bad flags exit 2
# naming the flag. 50 Nodes join with an identity each (50 NodeJoins, the bootstrap token removed
# once they are in), Ready with the labels, round-robin zones, taints and capacity given, and stay
# Ready past the node controller's grace period (10 s here: the Leases are renewed). A Deployment of
# 100 replicas runs on them with pod IPs inside each node's podCIDR; deleting it, every pod is
# gone (the hollow node confirms with grace 0). The hollow process stopped (SIGTERM, exit 0): its
# nodes become Unknown with the unreachable taint. Started again with the same --data: Ready again,
# no new NodeJoin. Nothing of the hollow process is left.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root (troupe up runs a node)"
command -v jq >/dev/null || skip "needs jq"
PORT=$((20000 + $$ % 12000))
N=50

# bad flags: exit 2 and the flag named
for c in "--nodes 0|--nodes \"0\"" "--nodes 3 --taints k=v:Maybe|effect \"Maybe\"" "--nodes 3 --labels x|expected key=value" \
         "--nodes 3 --memory 1Q|--memory \"1Q\"" "--nodes 3 --zones ,|--zones" "--nodes 3 extra|unexpected argument"; do
  args=${c%%|*}; want=${c#*|}
  OUT=$(timeout 10 "$TROUPE" hollow $args 2>&1); rc=$?
  [ $rc = 2 ] || fail "troupe hollow $args: exit $rc, 2 expected ($OUT)"
  grep -qF -- "$want" <<<"$OUT" || fail "troupe hollow $args: unclear error: $OUT"
done
pass "bad flags: exit 2 with the flag named"

printf 'controllers: {nodeMonitorGracePeriodSeconds: 10}\n' >"$T/server.yaml"
( cd "$T" && exec "$TROUPE" up --data "$T/node" --config "$T/server.yaml" --listen "tcp://127.0.0.1:$PORT" >"$T/up.log" 2>&1 ) & UP=$!; PIDS+=($UP)
wait_for 60 tro get nodes || fail "troupe up: no API"
grep -q "tcp://127.0.0.1:$PORT" "$XDG_CONFIG_HOME/troupe/config" || fail "the admin config is not the tcp endpoint"

start_hollow() { "$TROUPE" hollow --nodes $N --labels type=hollow,tier=bench --taints dedicated=hollow:NoSchedule --zones z1,z2,z3 \
                   --lease-period 2s --startup-delay 500ms >>"$T/hollow.log" 2>&1 & HOL=$!; PIDS+=($HOL); }
start_hollow
nodes() { tro get nodes -l type=hollow -o json; }
nready() { nodes | jq '[.items[] | select(any(.status.conditions[]?; .type=="Ready" and .status=="True"))] | length'; }
all_ready() { [ "$(nready)" = $N ]; }
wait_for 90 all_ready || fail "$N hollow nodes not Ready within 90 s: $(nready) are"
J=$(nodes)
[ "$(echo "$J" | jq '[.items[] | select(.metadata.labels.tier=="bench" and .metadata.labels["kubernetes.io/os"]=="linux" and .metadata.labels["kubernetes.io/hostname"]==.metadata.name)] | length')" = $N ] ||
  fail "labels missing: $(echo "$J" | jq -c '.items[0].metadata.labels')"
[ "$(echo "$J" | jq -c '[.items[].metadata.labels["topology.kubernetes.io/zone"]] | group_by(.) | map(length)')" = "[17,17,16]" ] ||
  fail "zones not round-robin: $(echo "$J" | jq -c '[.items[].metadata.labels["topology.kubernetes.io/zone"]] | group_by(.) | map([.[0], length])')"
[ "$(echo "$J" | jq '[.items[] | select(.spec.taints == [{"key":"dedicated","value":"hollow","effect":"NoSchedule"}])] | length')" = $N ] ||
  fail "taints: $(echo "$J" | jq -c '.items[0].spec.taints')"
[ "$(echo "$J" | jq '[.items[] | select(.status.allocatable == {"cpu":"4","memory":"16Gi","ephemeral-storage":"100Gi","pods":"110"} and .status.capacity == .status.allocatable and .status.images == [])] | length')" = $N ] ||
  fail "capacity/allocatable: $(echo "$J" | jq -c '.items[0].status | {capacity, allocatable}')"
[ "$(grep -c "node joined node=hollow-" "$T/up.log")" = $N ] || fail "$(grep -c "node joined node=hollow-" "$T/up.log") NodeJoins, $N expected (an identity each)"
wait_for 20 sh -c "! '$TROUPE' token list | grep -q 'troupe hollow'" || fail "the bootstrap token was left: $(tro token list)"
pass "$N hollow nodes joined (a CURVE identity each) and Ready with labels, zones, taints and capacity"
sleep 15 # past the controller's 10 s grace period: the Leases keep them Ready
all_ready || fail "hollow nodes lost Ready after the grace period ($(nready) Ready): the Leases are not renewed"
[ "$(tro get leases -n kube-node-lease -o json | jq '[.items[] | select(.metadata.name | startswith("hollow-"))] | length')" = $N ] || fail "not $N Leases"
pass "still Ready after 15 s (grace 10 s): Leases renewed"

cat >"$T/app.yaml" <<'Y'
apiVersion: apps/v1
kind: Deployment
metadata: {name: hol}
spec:
  replicas: 100
  selector: {matchLabels: {app: hol}}
  template:
    metadata: {labels: {app: hol}}
    spec:
      nodeSelector: {type: hollow}
      tolerations: [{key: dedicated, operator: Equal, value: hollow, effect: NoSchedule}]
      containers:
      - {name: c, image: busybox, command: ["sleep", "3600"], resources: {requests: {cpu: 100m, memory: 32Mi}}}
Y
tro apply -f "$T/app.yaml" >/dev/null || fail "apply"
pods() { tro get pods -l app=hol -o json; }
running() { [ "$(pods | jq '[.items[] | select(.status.phase=="Running" and .status.podIP != null)] | length')" = 100 ]; }
wait_for 90 running || fail "100 replicas not Running: $(pods | jq -c '[.items[].status.phase] | group_by(.) | map([.[0], length])')"
P=$(pods); nodes >"$T/nodes.json"
bad=$(echo "$P" | jq --slurpfile n "$T/nodes.json" '
  ($n[0].items | map({key: .metadata.name, value: (.spec.podCIDR // "")}) | from_entries) as $cidr |
  [.items[] | . as $p | ($cidr[$p.spec.nodeName] // null) as $c |
   select($c == null or $c == "" or (($p.status.podIP | split(".")[0:3]) != ($c | split("/")[0] | split(".")[0:3])))] | length')
[ "$bad" = 0 ] || fail "$bad pods not on a hollow node or with a podIP outside its node's podCIDR: $(echo "$P" | jq -c '[.items[] | {n: .spec.nodeName, ip: .status.podIP}][0:5]')"
[ "$(echo "$P" | jq '[.items[].status.podIP] | unique | length')" = 100 ] || fail "pod IPs not unique"
[ "$(echo "$P" | jq '[.items[] | select(all(.status.conditions[]; .status=="True") and (.status.conditions | length) == 4 and .status.containerStatuses[0].state.running.startedAt != null and (.status.hostIP | startswith("198.18.")))] | length')" = 100 ] ||
  fail "pod status not as a running pod's: $(echo "$P" | jq -c '.items[0].status')"
pass "100 replicas Running on hollow nodes, pod IPs inside the nodes' podCIDRs"

tro delete deployment hol >/dev/null || fail "delete"
gone() { [ "$(pods | jq '.items | length')" = 0 ]; }
wait_for 60 gone || fail "pods of the deleted Deployment left: $(pods | jq '.items | length')"
pass "deletion confirmed: every pod gone"

kill -TERM $HOL; wait $HOL; rc=$?
[ $rc = 0 ] || fail "hollow exited $rc on SIGTERM, 0 expected"
lost() { [ "$(nodes | jq '[.items[] | select(any(.status.conditions[]?; .type=="Ready" and .status=="Unknown")) | select(any(.spec.taints[]?; .key=="node.kubernetes.io/unreachable"))] | length')" = $N ]; }
wait_for 60 lost || fail "stopped hollow nodes not Unknown/unreachable within 60 s: $(nodes | jq -c '[.items[].status.conditions[] | select(.type=="Ready") | .status] | group_by(.) | map([.[0], length])')"
pass "hollow process stopped (exit 0): its nodes became Unknown with the unreachable taint"

start_hollow
wait_for 60 all_ready || fail "restarted hollow nodes not Ready again: $(nready)"
[ "$(grep -c "node joined node=hollow-" "$T/up.log")" = $N ] || fail "a restart joined again: $(grep -c "node joined node=hollow-" "$T/up.log") NodeJoins"
grep -q "(0 joined now" "$T/hollow.log" || fail "restart did not reuse the identities: $(tail -3 "$T/hollow.log")"
untainted() { [ "$(nodes | jq '[.items[] | select(any(.spec.taints[]?; .key=="node.kubernetes.io/unreachable"))] | length')" = 0 ]; }
wait_for 30 untainted || fail "the unreachable taint stayed on nodes that came back"
pass "restarted with the same --data: the same identities (no NodeJoin), Ready again"

kill -TERM $HOL; wait $HOL || fail "hollow exit $? on SIGTERM"
[ -z "$(pgrep -f "troupe hollow --nodes $N --labels type=hollow,tier=bench")" ] || fail "a hollow process is left"
pass "nothing of the hollow process left"
