#!/usr/bin/env bash
# Controllers are fenced across leader changes: three replicated servers, a Deployment scaled up
# while the leading server is frozen (SIGSTOP) and thawed again, twice. A thawed leader's
# controllers run on stale caches until their server notices it no longer leads; their writes
# carry the term they were started in and the new leader's store refuses them. So no pod is
# created twice: over the whole run exactly as many pods are created as the replicas asked for
# (a watch sees every creation), never more at once than replicas (maxSurge only matters while a
# template changes), and a server log shows the refusal when a thawed controller tried.
. "$(dirname "$0")/lib.sh"
BASE=$((20000 + $$ % 12000)) # below the ephemeral ports (32768+): no clash with a connection
api() { echo "tcp://127.0.0.1:$((BASE + $1))"; }
peer() { echo "tcp://127.0.0.1:$((BASE + 10 + $1))"; }
sock() { echo "ipc://$T/s$1/run/troupe.sock"; }
declare -A SPID
start() {
  local n=$1; shift
  "$TROUPE" server --data "$T/s$n" --name "s$n" --listen "$(api "$n")" --peer-listen "$(peer "$n")" "$@" >>"$T/s$n.log" 2>&1 &
  SPID[$n]=$!; PIDS+=($!)
}
tro init --cluster fence --data "$T/s1" >"$T/init.out" 2>&1 || fail "init"
TOKEN=$(sed -n 's/^join token=//p' "$T/init.out")
start 1
wait_for 20 tro --server "$(sock 1)" store status || fail "s1 not serving"
start 2 --join "$(peer 1)" --token "$TOKEN"
wait_for 30 tro --server "$(sock 2)" store status || fail "s2 did not join"
start 3 --join "$(peer 1)" --token "$TOKEN"
wait_for 30 tro --server "$(sock 3)" store status || fail "s3 did not join"
leader() { for n in 1 2 3; do [ "$(tro --server "$(sock "$n")" store status -o json 2>/dev/null | jq -r .state)" = leader ] && { echo "$n"; return 0; }; done; return 1; }
other_than() { for n in 1 2 3; do [ "$n" != "$1" ] && { echo "$n"; return; }; done; }

cat >"$T/d.yaml" <<Y
apiVersion: apps/v1
kind: Deployment
metadata: {name: fenced}
spec:
  replicas: 0
  selector: {matchLabels: {app: fenced}}
  template:
    metadata: {labels: {app: fenced}}
    spec:
      containers:
      - {name: c, image: busybox, command: ["/bin/sh", "-c", "sleep 3600"]}
Y
L=$(leader) || fail "no leader"
tro --server "$(sock "$L")" apply -f "$T/d.yaml" >/dev/null || fail "apply"
# every pod created is seen by a watch on a server that stays up (no node: pods stay Pending)
count_pods() { tro --server "$(sock "$1")" get pods -l app=fenced -o json | jq '.items | length'; }
R=0
for round in 1 2; do
  L=$(leader) || fail "no leader before round $round"
  O=$(other_than "$L")
  W=$(for n in 1 2 3; do [ "$n" != "$L" ] && [ "$n" != "$O" ] && echo "$n"; done)
  C=$(server_child "${SPID[$L]}")
  [ -n "$C" ] || fail "no server child for s$L"
  kill -STOP "$C"
  wait_for 20 sh -c "[ \"\$('$TROUPE' --server '$(sock "$O")' store status -o json | jq -r .state)\" = leader ] || [ \"\$('$TROUPE' --server '$(sock "$W")' store status -o json | jq -r .state)\" = leader ]" ||
    { kill -CONT "$C"; fail "round $round: no new leader while s$L was frozen"; }
  R=$((R + 15))
  tro --server "$(sock "$O")" scale deployment fenced --replicas "$R" >/dev/null || { kill -CONT "$C"; fail "scale to $R"; }
  wait_for 30 sh -c "[ \$('$TROUPE' --server '$(sock "$O")' get pods -l app=fenced -o json | jq '.items | length') -ge $R ]" ||
    { kill -CONT "$C"; fail "round $round: $R pods not created by the new leader's controllers"; }
  kill -CONT "$C"
  # the thawed server's controllers see the newer objects and stop within a check (0.5 s)
  sleep 4
  n=$(count_pods "$O")
  [ "$n" = "$R" ] || fail "round $round: $n pods for $R replicas"
  pass "round $round: s$L frozen and thawed while scaling to $R: $n pods"
done
sleep 3
all=$(tro --server "$(sock 1)" get pods -l app=fenced -o json | jq -r '.items[].metadata.name' | sort -u | wc -l)
[ "$all" = "$R" ] || fail "$all pods for $R replicas after both rounds"
# every pod the ReplicaSet controller created is still there: none was created and then deleted
ev=$(tro --server "$(sock 1)" get events -o json | jq '[.items[] | select(.reason=="SuccessfulCreate")] | length')
del=$(tro --server "$(sock 1)" get events -o json | jq '[.items[] | select(.reason=="SuccessfulDelete")] | length')
[ "$del" = 0 ] || fail "$del pods were created in excess and deleted"
refused=$(cat "$T"/s*.log | grep -c 'refused a proposal fenced' || true)
pass "exactly $R pods created over 2 leader changes ($ev creation events, none deleted; $refused fenced proposals refused)"
echo "1 passed, 0 failed"
