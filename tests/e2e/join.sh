#!/usr/bin/env bash
# Joining nodes with bootstrap tokens (kubeadm token + join): `token create` prints the token alone
# on its last line, `token list` shows it, an expired, wrong, deleted, malformed or other cluster's
# token is refused with words that say which; a good one makes a node that runs pods, a node
# restarted with the same --data needs no token, another machine may not take a joined node's name,
# a joined node can act only as itself, an unknown key may do nothing but join.
. "$(dirname "$0")/lib.sh"
MARK="e2e-join-$$"
PORT=$((20000 + $$ % 12000))
EP=tcp://127.0.0.1:$PORT
tro init --cluster e2e --data "$T/srv" >"$T/init.out" 2>&1 || fail "init"
"$TROUPE" server --data "$T/srv" --listen "$EP" >>"$T/server.log" 2>&1 & SRV=$!; PIDS+=($SRV)
wait_for 30 tro get nodes || fail "server not serving"
# a node process: joins from its own data directory and config home (another machine)
join() { local n=$1; shift; XDG_CONFIG_HOME="$T/$n/config" exec "$TROUPE" join "$EP" --data "$T/$n" --default-runtime process "$@"; }
refused() { # $1 expected words, then the join's arguments
  local want=$1; shift
  timeout -k 5 40 env XDG_CONFIG_HOME="$T/bad/config" "$TROUPE" join "$EP" --data "$T/bad" --node-name bad "$@" >"$T/bad.out" 2>&1 \
    && fail "join with $* was accepted: $(cat "$T/bad.out")"
  grep -qi -- "$want" "$T/bad.out" || fail "join with $* refused without saying \"$want\": $(cat "$T/bad.out")"
  [ ! -e "$T/bad/node.conf" ] || fail "a refused join wrote an identity"
}

TOKEN=$(tro token create --description "e2e nodes" | tail -1)
[[ "$TOKEN" =~ ^K10[0-9a-f]{64}::[a-z0-9]{6}\.[a-z0-9]{16}$ ]] || fail "token create printed \"$TOKEN\""
ID=${TOKEN##*::}; ID=${ID%%.*}
JOINCMD=$(tro token create --print-join-command | tail -1)
[[ "$JOINCMD" =~ ^troupe\ join\ tcp://127\.0\.0\.1:$PORT\ --token\ K10 ]] || fail "join command: $JOINCMD"
tro token list >"$T/list.out" || fail "token list"
grep -q "^$ID\.[a-z0-9]\{16\} *2[0-9]h .*authentication,signing *e2e nodes" "$T/list.out" || fail "token list: $(cat "$T/list.out")"
pass "token create / --print-join-command / list"

SHORT=$(tro token create --ttl 1s | tail -1); sleep 2
refused "expired" --token "$SHORT"
refused "does not match" --token "${TOKEN%?????}zzzzz"
refused "offset" --token "K10nothex::abc"
GONE=$(tro token create | tail -1); tro token delete "${GONE##*::}" >/dev/null || fail "token delete"
tro token list | grep -q "${GONE##*::}" && fail "a deleted token is still listed"
refused "not found" --token "$GONE"
# the token's server key is not this server's: another cluster's token
OTHER=K10$(printf '%064d' 7)::${TOKEN##*::}
refused "another cluster" --token "$OTHER"
refused "no server key" --token "${TOKEN##*::}"
pass "expired, wrong, malformed, deleted, other cluster's and key-less tokens refused, each saying so"

join n1 --token "$TOKEN" --node-name n1 >"$T/n1.log" 2>&1 & N1=$!; PIDS+=($N1)
join n2 --token "$TOKEN" --node-name n2 >"$T/n2.log" 2>&1 & N2=$!; PIDS+=($N2)
ready() { tro get node "$1" -o json | jq -e 'any(.status.conditions[]?; .type=="Ready" and .status=="True")'; }
wait_for 40 ready n1 || fail "n1 not Ready after joining"
wait_for 40 ready n2 || fail "n2 not Ready after joining"
grep -q 'node "n1" joined' "$T/n1.log" || fail "join did not say it joined"
[ "$(stat -c %a "$T/n1/node.conf")" = 600 ] || fail "node.conf is not private"
cat >"$T/pod.yaml" <<Y
apiVersion: v1
kind: Pod
metadata: {name: on-n1}
spec:
  nodeName: n1
  containers: [{name: c, image: busybox, command: ["/bin/sh", "-c", "echo hello-MARK; exec sleep 3600"]}]
Y
sed -i "s/MARK/$MARK/" "$T/pod.yaml"
tro apply -f "$T/pod.yaml" >/dev/null || fail "apply"
wait_for 30 sh -c "'$TROUPE' get pod on-n1 -o json | jq -e '.status.phase==\"Running\"'" || fail "pod on joined node n1 not Running"
pass "two nodes joined with one token, Ready, running pods"

# a joined node acts only as itself
OUT=$("$TROUPE" --kubeconfig "$T/n1/node.conf" delete node n2 2>&1) && fail "node n1 deleted node n2"
echo "$OUT" | grep -q "Forbidden" || fail "node n1 deleting n2: $OUT"
# another machine may not take n1's name while n1 exists
timeout -k 5 40 env XDG_CONFIG_HOME="$T/thief/config" "$TROUPE" join "$EP" --data "$T/thief" --node-name n1 --token "$TOKEN" >"$T/thief.out" 2>&1 \
  && fail "a second machine took node n1's name"
grep -q "already joined" "$T/thief.out" || fail "name taken refused without saying so: $(cat "$T/thief.out")"
# an unknown key may not read anything
sed -e 's/^publicKey:.*/publicKey: "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"/' -e 's/^secretKey:.*/secretKey: "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs"/' "$T/n1/node.conf" >"$T/stranger.conf"
OUT=$(timeout 20 "$TROUPE" --kubeconfig "$T/stranger.conf" get pods 2>&1) && fail "an unknown key listed pods: $OUT"
echo "$OUT" | grep -q "Unauthorized" || fail "unknown key: $OUT"
pass "a node acts only as itself; a joined name is not taken over; an unknown key may only join"

# n1 restarted with the same data: no token, same identity, its pod kept
kill "$N1"; wait "$N1" 2>/dev/null
join n1 >>"$T/n1.log" 2>&1 & N1=$!; PIDS+=($N1)
sleep 3; kill -0 "$N1" 2>/dev/null || fail "n1 did not start again without a token: $(tail -3 "$T/n1.log")"
wait_for 40 ready n1 || fail "n1 not Ready after its restart"
[ "$(grep -c 'joined' "$T/n1.log")" = 1 ] || fail "n1 joined again instead of using its identity"
wait_for 30 sh -c "'$TROUPE' get pod on-n1 -o json | jq -e '.status.phase==\"Running\"'" || fail "pod on n1 not Running after the restart"
OUT=$(join n1 --node-name other 2>&1) && fail "a data directory joined as n1 ran as another node"
echo "$OUT" | grep -q 'joined as node "n1"' || fail "--node-name against the stored name: $OUT"
pass "a node restarted with its data needs no token"

tro delete -f "$T/pod.yaml" >/dev/null
wait_for 30 procs_eq 0 || fail "processes left: $(count_procs)"
echo "5 passed, 0 failed"
