#!/usr/bin/env bash
# The standalone node (issue 7): `troupe agent --standalone --manifests DIR` runs the Pods of DIR's
# files with no server to join (the kubelet's static pods), offline on the seeded busybox image.
# Checked: both pods of two files Running as NAME-NODE, seen by `troupe runtime ps --namespace
# default` (not in troupe.io) and through the node's local API socket; a Deployment file refused
# with a message and nothing run for it; an edited file (another command) replaces its pod (a new
# container running the new command, the old one gone); a removed file deletes its pod and its
# containers; another file's pod is untouched throughout; SIGTERM leaves nothing (no conmon, veth,
# overlay mount, netns pin, bridge, CNI rule) and the user's own CLI config is not overwritten.
. "$(dirname "$0")/lib.sh"
need_images
cd "$T" || fail "no temp dir"
MARK=sa-e2e-$$; DATA=$T/d; M=$T/manifests; N=sa$$
BEFORE=$(node_residue)
mkdir -p "$M" "$XDG_CONFIG_HOME/troupe"
echo "# the user's own" >"$XDG_CONFIG_HOME/troupe/config"
pod() { # pod NAME COMMAND
  printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: %s, labels: {app: %s}}\nspec:\n  containers:\n  - name: main\n    image: busybox\n    command: ["sh", "-c", "%s"]\n' "$1" "$1" "$2"
}
pod web "echo web-$MARK > /tmp/i; exec httpd -f -p 8080 -h /tmp" >"$M/web.yaml"
pod worker "while true; do echo tick-$MARK-v1; sleep 1; done" >"$M/worker.yaml"
printf 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: dep}\nspec: {replicas: 1}\n' >"$M/dep.yaml"
echo "not: [a manifest" >"$M/.hidden.yaml"
( exec "$TROUPE" agent --standalone --manifests "$M" --data "$DATA" --node-name "$N" >>"$T/sa.log" 2>&1 ) & SA=$!; PIDS+=($SA)
API="--server ipc://$DATA/run/troupe.sock"
# shellcheck disable=SC2086
api() { tro $API "$@"; }
phase() { api get pod "$1" -o json 2>/dev/null | jq -r '.status.phase'; }
both() { [ "$(phase "web-$N")" = Running ] && [ "$(phase "worker-$N")" = Running ]; }
wait_for 90 both || fail "pods not Running: $(api get pods -o wide 2>&1)"
api get pod "web-$N" -o json | jq -e --arg n "$N" '.spec.nodeName == $n and .metadata.annotations["kubernetes.io/config.source"] == "file"' >/dev/null ||
  fail "web-$N is not a static pod bound to $N: $(api get pod "web-$N" -o json | jq -c '{spec: .spec.nodeName, ann: .metadata.annotations}')"
pass "two static pods Running through the local API socket (web-$N, worker-$N)"

[ "$(tro runtime ps --namespace default --data "$DATA" | grep -c RUNNING)" = 2 ] || fail "runtime ps --namespace default: $(tro runtime ps -a --namespace default --data "$DATA")"
[ "$(tro runtime ps --namespace troupe.io --data "$DATA" | grep -c RUNNING)" = 0 ] || fail "static pods in namespace troupe.io: $(tro runtime ps --namespace troupe.io --data "$DATA")"
grep -q "dep.yaml.*kind Deployment is not run: static pods are Pods only" "$T/sa.log" || fail "the Deployment file was not refused with a message"
api get pods -o name | grep -q dep && fail "a pod was made for the Deployment file"
[ "$(api exec "web-$N" -- wget -qO- http://127.0.0.1:8080/i)" = "web-$MARK" ] || fail "web does not serve its page"
pass "runtime ps --namespace default shows them (troupe.io none); the Deployment file refused"

# edit worker's command: its pod is replaced, web untouched
cid() { tro runtime ps --namespace default --data "$DATA" | awk -v p="default/$1-$N" '$0 ~ p && /RUNNING/ {print $1}'; }
W1=$(cid worker); WEB1=$(cid web); UID1=$(api get pod "worker-$N" -o json | jq -r .metadata.uid)
[ -n "$W1" ] && [ -n "$WEB1" ] || fail "container ids: worker=$W1 web=$WEB1"
pod worker "while true; do echo tick-$MARK-v2; sleep 1; done" >"$M/worker.yaml"
replaced() { local c; c=$(cid worker); [ -n "$c" ] && [ "$c" != "$W1" ] && [ "$(phase "worker-$N")" = Running ] &&
  [ "$(api get pod "worker-$N" -o json | jq -r .metadata.uid)" != "$UID1" ]; }
wait_for 60 replaced || fail "worker not replaced after its file changed: $(tro runtime ps -a --namespace default --data "$DATA")"
newlog() { api logs "worker-$N" | grep -q "tick-$MARK-v2"; }
wait_for 20 newlog || fail "the new worker does not run the new command: $(api logs "worker-$N" | tail -3)"
tro runtime ps -a --namespace default --data "$DATA" | grep -q "^$W1" && fail "the old worker container is still there"
[ "$(cid web)" = "$WEB1" ] || fail "web was restarted by worker's edit"
pgrep -f "tick-$MARK-v1" >/dev/null && fail "the old worker's process still runs"
pass "edited worker.yaml: pod replaced (new uid, new container, new command), web untouched"

# remove web's file: its pod and containers go
rm "$M/web.yaml"
gone() { ! api get pod "web-$N" >/dev/null 2>&1 && [ -z "$(tro runtime ps -a --namespace default --data "$DATA" | grep "default/web-$N")" ]; }
wait_for 60 gone || fail "web not deleted after its file went: $(api get pods 2>&1); $(tro runtime ps -a --namespace default --data "$DATA")"
[ "$(phase "worker-$N")" = Running ] || fail "worker not Running after web's removal"
pass "removed web.yaml: pod and containers gone, worker still Running"

kill "$SA"; wait "$SA" 2>/dev/null
pgrep -f "$MARK" >/dev/null && fail "container processes left after SIGTERM: $(pgrep -af "$MARK")"
clean() { [ "$(node_residue)" = "$BEFORE" ]; }
wait_for 20 clean || fail "left behind after SIGTERM: $(node_residue), before: $BEFORE"
[ "$(cat "$XDG_CONFIG_HOME/troupe/config")" = "# the user's own" ] ||
  fail "the standalone node overwrote the CLI config"
pass "SIGTERM: nothing left behind ($(node_residue)); the CLI config untouched"
