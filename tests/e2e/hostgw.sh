#!/usr/bin/env bash
# Node IPAM and host-gw routes on one machine (issue 8): `troupe up`'s Node gets a /24 of
# 10.244.0.0/16 and reports the default route's interface address as its InternalIP; two Nodes
# made by hand stand for other machines (their InternalIP is this machine's default gateway, on
# link): one brings its own podCIDR, one gets the next subnet from the IPAM, and the agent adds
# `<podCIDR> via <InternalIP> proto 84` for each; a Node that moves has its route replaced; a
# deleted Node's route goes, and its subnet is handed out again only after the others; a full
# cluster CIDR (a /22: four subnets) gives the Node that finds none an Event CIDRNotAvailable,
# and it gets the subnet freed by a deletion.
# Changes the machine's main routing table (two 10.244.x/24 routes, removed by the test).
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root (routes in the main table)"
GW=$(ip -4 route show default | awk '/^default via/ {print $3; exit}')
DEV=$(ip -4 route show default | awk '/^default via/ {for (i = 1; i < NF; i++) if ($i == "dev") print $(i+1); exit}')
[ -n "$GW" ] && [ -n "$DEV" ] || skip "no IPv4 default route through a gateway"
MYIP=$(ip -4 -o addr show dev "$DEV" | awk '{split($4, a, "/"); print a[1]; exit}')
# subnets no other test uses: the fake nodes' own and the cluster's (a /24 at the top of a /16)
CL=10.247.0.0/22; FAKE_A=fake-a-$$; FAKE_B=fake-b-$$; NODE=gw$$
printf 'nodeName: %s\ndefaultRuntime: process\ncontrollers: {clusterCIDR: %s, nodeCIDRMaskSize: 24}\n' "$NODE" "$CL" >"$T/troupe.yaml"
( cd "$T" && exec "$TROUPE" up --config "$T/troupe.yaml" >>"$T/up.log" 2>&1 ) & UP=$!; PIDS+=($UP)
# the routes this test may leave if it fails half way: removed whatever happens
del_routes() { for r in 10.247.250.0/24 10.247.1.0/24 10.247.2.0/24 10.247.3.0/24; do ip route del "$r" proto 84 2>/dev/null; done; }
trap 'del_routes; cleanup' EXIT
wait_for 30 tro get nodes "$NODE" || fail "no node after 30 s"
cidr() { tro get nodes "$1" -o json | jq -r '.spec.podCIDR // empty'; }
cidr_is() { [ "$(cidr "$1")" = "$2" ]; }
wait_for 10 cidr_is "$NODE" 10.247.0.0/24 || fail "podCIDR of the first node: '$(cidr "$NODE")'"
[ "$(tro get nodes "$NODE" -o json | jq -r '.status.addresses[] | select(.type=="InternalIP") | .address')" = "$MYIP" ] ||
  fail "InternalIP $(tro get nodes "$NODE" -o json | jq -c .status.addresses), $MYIP ($DEV, the default route's) expected"
pass "node $NODE: podCIDR 10.247.0.0/24 from --cluster-cidr $CL, InternalIP $MYIP of $DEV"

fake() { # name ip [podCIDR]
  printf 'apiVersion: v1\nkind: Node\nmetadata: {name: %s}\nspec: {%s}\nstatus: {addresses: [{type: InternalIP, address: "%s"}]}\n' \
    "$1" "${3:+podCIDR: $3}" "$2" >"$T/$1.yaml"
  OUT=$(tro apply -f "$T/$1.yaml" 2>&1) || fail "create node $1: $OUT"
}
fake "$FAKE_A" "$GW" 10.247.250.0/24
fake "$FAKE_B" "$GW"
wait_for 10 cidr_is "$FAKE_B" 10.247.1.0/24 || fail "node IPAM gave $FAKE_B '$(cidr "$FAKE_B")', 10.247.1.0/24 expected"
has() { ip route show proto 84 | grep -q "^$1 via $2 "; }
wait_for 10 has 10.247.250.0/24 "$GW" || fail "no route 10.247.250.0/24 via $GW: $(ip route show proto 84)"
wait_for 10 has 10.247.1.0/24 "$GW" || fail "no route 10.247.1.0/24 via $GW: $(ip route show proto 84)"
ip route show proto 84 | grep -q "^10.247.0.0/24" && fail "a route to the node's own podCIDR"
pass "IPAM gave $FAKE_B 10.247.1.0/24; routes to both fake nodes via $GW (proto 84), none to our own"

# the podCIDR is set once
sed "s|spec: {}|spec: {podCIDR: 10.247.9.0/24}|" "$T/$FAKE_B.yaml" >"$T/move.yaml"
OUT=$(tro apply -f "$T/move.yaml" 2>&1) && fail "podCIDR changed: $OUT"
grep -q "may not change podCIDR" <<<"$OUT" || fail "unclear refusal: $OUT"
# a manifest that does not name the podCIDR keeps it (as kubectl's three-way merge)
sed "s|spec: {}|spec: {unschedulable: true}|" "$T/$FAKE_B.yaml" >"$T/cordon.yaml"
OUT=$(tro apply -f "$T/cordon.yaml" 2>&1) || fail "re-apply of $FAKE_B without its podCIDR: $OUT"
cidr_is "$FAKE_B" 10.247.1.0/24 || fail "re-apply lost the podCIDR: '$(cidr "$FAKE_B")'"
tro delete node "$FAKE_A" >/dev/null || fail "delete $FAKE_A"
wait_for 10 eval '! has 10.247.250.0/24 "$GW"' || fail "route of deleted $FAKE_A still there"
has 10.247.1.0/24 "$GW" || fail "route of $FAKE_B went with $FAKE_A's"
tro delete node "$FAKE_B" >/dev/null || fail "delete $FAKE_B"
wait_for 10 eval '! has 10.247.1.0/24 "$GW"' || fail "route of deleted $FAKE_B still there"
fake "$FAKE_A" "$GW"
wait_for 10 cidr_is "$FAKE_A" 10.247.2.0/24 || fail "a new node got '$(cidr "$FAKE_A")': 10.247.2.0/24 (after the last given) expected"
wait_for 10 has 10.247.2.0/24 "$GW" || fail "no route for the new node"
tro delete node "$FAKE_A" >/dev/null
wait_for 10 eval '! has 10.247.2.0/24 "$GW"' || fail "route of deleted $FAKE_A still there"
pass "podCIDR immutable, kept by a re-apply; deleted nodes' routes removed, the others kept; next subnet after the last given"
# full: .0 is ours, three more fit; the fourth Node gets an Event and waits
for i in 1 2 3 4; do fake "full$i-$$" "$GW"; wait_for 10 eval "[ -n \"\$(cidr full$i-$$)\" ] || [ $i = 4 ]"; done
full() { tro get events -o json | jq -e --arg n "full4-$$" '.items[] | select(.reason=="CIDRNotAvailable" and .involvedObject.name==$n)'; }
wait_for 10 full || fail "no CIDRNotAvailable event for full4-$$: $(tro get events -o json | jq -c '[.items[] | {reason, n: .involvedObject.name}]')"
[ -z "$(cidr "full4-$$")" ] || fail "full4-$$ got $(cidr "full4-$$") from a full range"
FREED=$(cidr "full2-$$")
tro delete node "full2-$$" >/dev/null || fail "delete full2-$$"
wait_for 15 cidr_is "full4-$$" "$FREED" || fail "full4-$$ did not get the freed $FREED: '$(cidr "full4-$$")'"
wait_for 10 has "$FREED" "$GW" || fail "no route to $FREED via $GW for full4-$$"
for i in 1 3 4; do tro delete node "full$i-$$" >/dev/null; done
wait_for 10 eval '[ -z "$(ip route show proto 84 | grep "^10\.247\.")" ]' || fail "routes left: $(ip route show proto 84)"
pass "range full: CIDRNotAvailable, then the subnet a deleted Node freed; all routes gone with their Nodes"
