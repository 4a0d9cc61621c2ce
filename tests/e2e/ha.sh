#!/usr/bin/env bash
# A highly available control plane: three replicated servers sharing one set of keys (published
# through the store), an agent and the CLI given all three endpoints. A Deployment runs with
# exactly its replicas (controllers run beside the leader only); kill -9 of the server the agent
# uses and that leads: the agent fails over, its pods keep running untouched, the controllers
# move with the leadership, and the CLI scales through the surviving servers. The node's Lease
# renewals are held in the leader's memory (resourceVersion unchanged) yet seen on every server,
# before and after the failover, and the node never goes NotReady.
. "$(dirname "$0")/lib.sh"
MARK="e2e-ha-$$"
BASE=$((20000 + $$ % 12000)) # below the ephemeral ports (32768+): no clash with a connection
api() { echo "tcp://127.0.0.1:$((BASE + $1))"; }
peer() { echo "tcp://127.0.0.1:$((BASE + 10 + $1))"; }
ALL="$(api 1),$(api 2),$(api 3)"
declare -A SPID
start() {
  local n=$1; shift
  "$TROUPE" server --data "$T/s$n" --name "s$n" --listen "$(api "$n")" --peer-listen "$(peer "$n")" \
    --lease-checkpoint-seconds 300 "$@" >>"$T/s$n.log" 2>&1 &
  SPID[$n]=$!; PIDS+=($!)
}
tro init --cluster ha --data "$T/s1" >"$T/init.out" 2>&1 || fail "init"
TOKEN=$(sed -n 's/^join token=//p' "$T/init.out")
start 1
wait_for 20 tro --server "ipc://$T/s1/run/troupe.sock" store status || fail "s1 not serving"
start 2 --join "$(peer 1)" --token "$TOKEN"
start 3 --join "$(peer 1)" --token "$TOKEN"
wait_for 30 tro --server "ipc://$T/s3/run/troupe.sock" store status || fail "s3 did not join"
cmp -s "$T/s1/pki/server.cert_secret" "$T/s3/pki/server.cert_secret" || fail "servers do not share the cluster's keys"
pass "3 servers, one set of keys"

# a node's credentials made on s1 while it runs reach the other servers through the store
tro init node n1 --data "$T/s1" --server "$ALL" -o "$T/n1.config" >/dev/null || fail "init node"
wait_for 20 test -f "$T/s3/pki/clients/node-n1.cert" || fail "the node's certificate did not reach s3"
# the CLI, with the cluster's admin keys, lists every server
sed "s|^server: .*|server: \"$ALL\"|" "$XDG_CONFIG_HOME/troupe/config" >"$T/admin.config"
trc() { "$TROUPE" --kubeconfig "$T/admin.config" "$@"; }
for n in 1 2 3; do tro --kubeconfig "$T/admin.config" --server "$(api $n)" get namespaces >/dev/null || fail "admin keys refused by s$n"; done
pass "node certificate propagated, admin keys accepted by every server"

"$TROUPE" --kubeconfig "$T/n1.config" agent --node-name n1 --default-runtime process --data "$T/agent" >>"$T/agent.log" 2>&1 & AG=$!; PIDS+=($AG)
wait_for 40 sh -c "'$TROUPE' --kubeconfig '$T/admin.config' get nodes n1 -o json | jq -e '.status.conditions[] | select(.type==\"Ready\" and .status==\"True\")' | grep -q ." || fail "node n1 not Ready"
cat >"$T/d.yaml" <<Y
apiVersion: apps/v1
kind: Deployment
metadata: {name: ha}
spec:
  replicas: 3
  selector: {matchLabels: {app: ha}}
  template:
    metadata: {labels: {app: ha}}
    spec:
      containers:
      - {name: c, image: busybox, command: ["/bin/sh", "-c", "echo $MARK; while true; do sleep 1; done"]}
Y
trc apply -f "$T/d.yaml" >/dev/null || fail "apply"
runs() { [ "$(trc get pods -l app=ha -o json | jq '[.items[] | select(.status.phase=="Running")] | length')" = "$1" ]; }
wait_for 60 runs 3 || fail "3 pods not Running"
sleep 3
[ "$(trc get pods -l app=ha -o json | jq '.items | length')" = 3 ] || fail "$(trc get pods -l app=ha -o json | jq '.items | length') pods for 3 replicas: controllers ran on several servers"
[ "$(count_procs)" = 3 ] || fail "3 Running but $(count_procs) processes"
pass "Deployment: exactly 3 pods with 3 servers"

# lease renewals: renewTime moves every 10 s, the resourceVersion does not, every server sees it
lease_on() { tro --kubeconfig "$T/admin.config" --server "$(api "$1")" get lease n1 -n kube-node-lease -o json; }
L0=$(lease_on 3) || fail "no Lease for n1"
RV0=$(echo "$L0" | jq -r .metadata.resourceVersion); T0=$(echo "$L0" | jq -r .spec.renewTime)
renewed_on() { [ "$(lease_on "$1" | jq -r .spec.renewTime)" != "$T0" ]; }
wait_for 25 renewed_on 3 || fail "the Lease was not renewed within 25 s (seen on s3)"
T1=$(lease_on 3 | jq -r .spec.renewTime)
for n in 1 2 3; do
  wait_for 5 sh -c "[ \"\$('$TROUPE' --kubeconfig '$T/admin.config' --server '$(api "$n")' get lease n1 -n kube-node-lease -o json | jq -r .spec.renewTime)\" \> '$T0' ]" || fail "s$n does not serve the renewal"
  RVN=$(lease_on "$n" | jq -r .metadata.resourceVersion)
  [ "$RVN" = "$RV0" ] || fail "a renewal changed the Lease's resourceVersion on s$n ($RV0 -> $RVN): it was written to the log"
done
pass "lease renewed ($T0 -> $T1) at resourceVersion $RV0 on all 3 servers"

# a silent server (stopped: its kernel still accepts connections) costs the CLI one timeout, once:
# the next invocation starts with the server that answered
C3=$(server_child "${SPID[3]}"); [ -n "$C3" ] || fail "s3 runs no supervised server process"
kill -STOP "$C3"
S0=$SECONDS
trc --server "$(api 3),$(api 2)" get namespaces >/dev/null 2>"$T/silent.err" || { kill -CONT "$C3"; fail "no answer with s3 silent: $(cat "$T/silent.err")"; }
grep -q "did not answer" "$T/silent.err" || { kill -CONT "$C3"; fail "the silent server was not reported"; }
trc --server "$(api 3),$(api 2)" get namespaces >/dev/null 2>"$T/silent2.err" || { kill -CONT "$C3"; fail "second invocation failed"; }
kill -CONT "$C3"
! grep -q "did not answer" "$T/silent2.err" || fail "the CLI tried the silent server again: $(cat "$T/silent2.err")"
pass "a silent server cost the CLI one timeout, not two ($((SECONDS - S0)) s)"

# kill -9 the server the agent talks to (s1, the first endpoint), which also leads
LEADER=$(tro --server "ipc://$T/s2/run/troupe.sock" store status -o json | jq -r .leaderAddress)
[ "$LEADER" = "$(peer 1)" ] || echo "note: leader is $LEADER, not s1"
BEFORE=$(pgrep -f "$MARK" | sort | tr '\n' ' ')
kill -9 "${SPID[1]}"
wait_for 20 grep -q "switching to" "$T/agent.log" || fail "the agent did not fail over"
wait_for 30 sh -c "'$TROUPE' --server 'ipc://$T/s2/run/troupe.sock' store status -o json | jq -e '.leaderAddress != \"\" and .leaderAddress != \"$(peer 1)\"' | grep -qx true" || fail "no new leader"
trc scale deployment ha --replicas 4 >/dev/null 2>"$T/scale.err" || fail "scale through the surviving servers: $(cat "$T/scale.err")"
wait_for 60 runs 4 || fail "scale to 4 not done after the failover (controllers did not move?)"
NOW=$(pgrep -f "$MARK" | sort | tr '\n' ' ')
for p in $BEFORE; do case " $NOW " in *" $p "*) ;; *) fail "container process $p was restarted by the failover" ;; esac; done
grep -q "resuming informers" "$T/agent.log" || fail "the agent's informers did not resume on the new server"
! grep -q "watch expired" "$T/agent.log" || fail "an informer could not resume from its revision on the new server: $(grep "watch expired" "$T/agent.log" | head -1)"
pass "server killed: agent failed over (watches resumed from their revisions), pods untouched, scaled to 4 through the others"
T2=$(lease_on 2 | jq -r .spec.renewTime)
wait_for 25 sh -c "[ \"\$('$TROUPE' --kubeconfig '$T/admin.config' --server '$(api 2)' get lease n1 -n kube-node-lease -o json | jq -r .spec.renewTime)\" \> '$T2' ]" || fail "the Lease is not renewed after the failover"
trc get events -o json | jq -e '[.items[] | select(.reason=="NodeNotReady")] | length == 0' | grep -qx true || fail "node n1 went NotReady"
trc get nodes n1 -o json | jq -e '.status.conditions[] | select(.type=="Ready" and .status=="True")' | grep -q . || fail "node n1 not Ready after the failover"
pass "lease renewed after the failover, node Ready throughout"

trc delete -f "$T/d.yaml" >/dev/null || fail "delete"
wait_for 40 procs_eq 0 || fail "processes left after delete"
pass "deleted"
