#!/usr/bin/env bash
# A network partition isolating the Raft leader, with three servers each in its own network
# namespace behind a bridge: the minority stops acknowledging writes, the majority elects a
# leader and goes on, no two leaders share a term, and after the heal every server agrees. Three
# clients record a read/write/compare-and-swap history on one register throughout; the history
# must be linearizable (tests/lincheck.py).
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
$PY -c 'import zmq, msgpack' 2>/dev/null || skip "python3-zmq and python3-msgpack are needed (scripts/deps.sh test)"
NS=trp$$
NETS=()
net_cleanup() { for n in "${NETS[@]}"; do ip netns del "$n" 2>/dev/null; done; }
trap 'cleanup; net_cleanup' EXIT
if ! ip netns add "${NS}h" 2>/dev/null; then skip "cannot create network namespaces (needs root)"; fi
NETS+=("${NS}h")
SUB=10.$((100 + $$ % 100)).$(($$ / 100 % 200))
ip -n "${NS}h" link add br0 type bridge && ip -n "${NS}h" link set br0 up || fail "bridge"
for n in 1 2 3; do
  ip netns add "${NS}$n" || fail "netns $n"
  NETS+=("${NS}$n")
  ip link add v$n netns "${NS}$n" type veth peer name h$n netns "${NS}h" || fail "veth $n"
  ip -n "${NS}$n" addr add "$SUB.$n/24" dev v$n
  ip -n "${NS}$n" link set v$n up
  ip -n "${NS}$n" link set lo up
  ip -n "${NS}h" link set h$n master br0
  ip -n "${NS}h" link set h$n up
done
peer() { echo "tcp://$SUB.$1:7100"; }
sock() { echo "ipc://$T/s$1/run/troupe.sock"; }
declare -A SPID
start() {
  local n=$1; shift
  ip netns exec "${NS}$n" "$TROUPE" server --data "$T/s$n" --peer-listen "$(peer "$n")" "$@" >>"$T/s$n.log" 2>&1 &
  SPID[$n]=$!; PIDS+=($!)
}
status() { tro --server "$(sock "$1")" store status -o json; }

tro init --cluster part --data "$T/s1" >"$T/init.out" 2>&1 || fail "init"
TOKEN=$(sed -n 's/^join token=//p' "$T/init.out")
start 1
wait_for 20 sh -c "[ \"\$('$TROUPE' --server '$(sock 1)' store status -o json | jq -r .state)\" = leader ]" || fail "s1 not leader"
start 2 --join "$(peer 1)" --token "$TOKEN"; wait_for 30 status 2 || fail "s2 did not join"
start 3 --join "$(peer 1)" --token "$TOKEN"; wait_for 30 status 3 || fail "s3 did not join"
pass "3 servers in 3 network namespaces"

$PY "$(dirname "$0")/../lincheck.py" record "$T/history.json" 24 "$(sock 1),$(sock 2),$(sock 3)" 3 >"$T/record.out" 2>&1 & REC=$!; PIDS+=($REC)
sleep 4
L=""; for n in 1 2 3; do [ "$(status 1 | jq -r .leaderAddress)" = "$(peer $n)" ] && L=$n; done
[ -n "$L" ] || fail "no leader before the partition"
ip -n "${NS}h" link set h$L down
CUT=$SECONDS
echo "leader s$L isolated"
M=$(( L % 3 + 1 ))
wait_for 15 sh -c "L2=\$('$TROUPE' --server '$(sock $M)' store status -o json | jq -r .leaderAddress); [ -n \"\$L2\" ] && [ \"\$L2\" != '$(peer $L)' ]" ||
  fail "the majority elected no leader within 15 s"
echo "majority leader $(status $M | jq -r .leaderAddress) after $((SECONDS - CUT)) s"
# the isolated server must not acknowledge a write
if timeout 10 "$TROUPE" --server "$(sock $L)" create configmap minority-write --from-literal k=v >/dev/null 2>&1; then
  fail "the isolated former leader acknowledged a write"
fi
tro --server "$(sock $M)" create configmap majority-write --from-literal k=v >/dev/null || fail "the majority does not take writes"
# no split brain: sample every server's view; two leaders never share a term
for i in $(seq 1 10); do
  for n in 1 2 3; do status $n 2>/dev/null | jq -r 'select(.state=="leader") | .term'; done | sort | uniq -d | grep -q . && fail "two leaders in one term"
  sleep 0.2
done
pass "minority stopped acknowledging, majority elected and writes, no two leaders in a term"

ip -n "${NS}h" link set h$L up
wait "$REC" || fail "recorder: $(cat "$T/record.out")"
cat "$T/record.out"
wait_for 30 sh -c "a=\$('$TROUPE' --server '$(sock 1)' store status -o json | jq .appliedIndex); b=\$('$TROUPE' --server '$(sock 2)' store status -o json | jq .appliedIndex); c=\$('$TROUPE' --server '$(sock 3)' store status -o json | jq .appliedIndex); [ \"\$a\" = \"\$b\" ] && [ \"\$b\" = \"\$c\" ]" ||
  fail "servers did not converge after the heal"
for n in 1 2 3; do
  tro --server "$(sock $n)" get configmap majority-write >/dev/null || fail "s$n lacks the majority's write"
  tro --server "$(sock $n)" get configmap minority-write >/dev/null 2>&1 && fail "s$n holds the minority's unacknowledged write"
  tro --server "$(sock $n)" get configmap lin-reg -o json | jq -r .data.v
done | sort -u | wc -l | grep -qx 1 || fail "servers disagree on the register"
pass "healed: all servers agree, the minority's write is gone"

$PY "$(dirname "$0")/../lincheck.py" check "$T/history.json" || fail "the recorded history is not linearizable"
pass "history linearizable"

# no snapshot yet (default threshold): a simulated machine crash rebuilds the store from the log
kill -9 "${SPID[$L]}"; wait "${SPID[$L]}" 2>/dev/null
echo "boot-before-a-crash" >"$T/s$L/store/unsynced"
start "$L"
wait_for 30 sh -c "[ \"\$('$TROUPE' --server '$(sock $L)' store status -o json | jq .appliedIndex)\" -ge $(status $M | jq .appliedIndex) ]" || fail "s$L did not rebuild"
grep -q "machine restarted while the store ran unsynced" "$T/s$L.log" || fail "s$L did not notice the simulated crash"
[ "$(tro --server "$(sock $L)" get configmap lin-reg -o json | jq -r .data.v)" = "$(tro --server "$(sock $M)" get configmap lin-reg -o json | jq -r .data.v)" ] || fail "s$L rebuilt a different register"
tro --server "$(sock $L)" get configmap majority-write >/dev/null || fail "s$L rebuilt without the majority's write"
pass "store rebuilt from the Raft log after a simulated machine crash"
