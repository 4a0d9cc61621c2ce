#!/usr/bin/env bash
# `troupe patch` and `troupe label`, as kubectl's, against one server (no node): a strategic
# patch of a Deployment's replicas, a no-op one ("patched (no change)"), a merge patch in YAML
# (null removes), --patch-file; --subresource status sets a Pod's status.nominatedNodeName while
# a plain patch of status changes nothing (Kubernetes ignores status on the main resource);
# label add, an overwrite refused then accepted with --overwrite, removal; bad JSON, --type json,
# an invalid label and a missing object each exit 1 with a message.
. "$(dirname "$0")/lib.sh"
PORT=$((20000 + $$ % 12000)) # below the ephemeral ports (32768+)
EP=tcp://127.0.0.1:$PORT
tro init --cluster patch --data "$T/srv" >"$T/init.out" 2>&1 || fail "init"
"$TROUPE" server --data "$T/srv" --listen "$EP" --no-supervise >>"$T/server.log" 2>&1 & PIDS+=($!)
trs() { "$TROUPE" --server "$EP" "$@"; }
wait_for 20 trs get nodes || fail "server not serving"
# out/err/rc of one command: OUT, ERR, RC
run() { OUT=$("$@" 2>"$T/err"); RC=$?; ERR=$(cat "$T/err"); }

cat >"$T/d.yaml" <<Y
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      schedulerName: nobody-scheduler
      containers:
      - {name: c, image: busybox}
Y
cat >"$T/p.yaml" <<Y
apiVersion: v1
kind: Pod
metadata: {name: solo, labels: {tier: a}}
spec:
  schedulerName: nobody-scheduler
  containers:
  - {name: c, image: busybox}
Y
trs apply -f "$T/d.yaml" >/dev/null || fail "apply deployment"
trs apply -f "$T/p.yaml" >/dev/null || fail "apply pod"
dj() { trs get deployment web -o json; }
pj() { trs get pod solo -o json; }

# strategic (the default) patch of replicas
run trs patch deployment web -p '{"spec":{"replicas":3}}'
[ $RC = 0 ] && [ "$OUT" = "deployment.apps/web patched" ] || fail "strategic patch: rc=$RC out=$OUT err=$ERR"
[ "$(dj | jq .spec.replicas)" = 3 ] || fail "replicas not 3: $(dj | jq .spec.replicas)"
# "(no change)" compares the whole object before and after, status included (as kubectl's): the
# controllers first finish reacting to the scale-up (3 pods created, none scheduled here), or a
# status they write between the patch's read and its write reads as a change
settled() {
  local a b
  a=$(dj | jq -c '[.metadata.generation == .status.observedGeneration, .status.replicas, .status]')
  sleep 0.5
  b=$(dj | jq -c '[.metadata.generation == .status.observedGeneration, .status.replicas, .status]')
  [ "$a" = "$b" ] && [ "$(echo "$a" | jq -c '.[0:2]')" = '[true,3]' ]
}
wait_for 20 settled || fail "the Deployment's status did not settle: $(dj | jq -c .status)"
run trs patch deploy/web --type strategic -p '{"spec":{"replicas":3}}'
[ $RC = 0 ] && [ "$OUT" = "deployment.apps/web patched (no change)" ] || fail "no-op patch: rc=$RC out=$OUT err=$ERR"
pass "strategic patch of replicas; the same again is patched (no change)"

# merge patch, in YAML; null removes
run trs patch deployment web --type merge -p $'metadata:\n  annotations: {owner: ops, tmp: x}'
[ $RC = 0 ] && [ "$OUT" = "deployment.apps/web patched" ] || fail "merge patch: rc=$RC out=$OUT err=$ERR"
[ "$(dj | jq -c '.metadata.annotations | {owner, tmp}')" = '{"owner":"ops","tmp":"x"}' ] || fail "annotations: $(dj | jq -c .metadata.annotations)"
printf '{"metadata":{"annotations":{"tmp":null}},"spec":{"replicas":2}}\n' >"$T/patch.json"
run trs patch deployment web --type=merge --patch-file "$T/patch.json"
[ $RC = 0 ] || fail "merge patch from a file: rc=$RC err=$ERR"
[ "$(dj | jq -c '[.metadata.annotations.tmp, .metadata.annotations.owner, .spec.replicas]')" = '[null,"ops",2]' ] ||
  fail "after the file's merge patch: $(dj | jq -c '[.metadata.annotations, .spec.replicas]')"
pass "merge patch (YAML), --patch-file with null removing a key"

# status only through the subresource
run trs patch pod solo --subresource status --type merge -p '{"status":{"nominatedNodeName":"n9"}}'
[ $RC = 0 ] && [ "$OUT" = "pod/solo patched" ] || fail "status patch: rc=$RC out=$OUT err=$ERR"
[ "$(pj | jq -r .status.nominatedNodeName)" = n9 ] || fail "nominatedNodeName not set: $(pj | jq -c .status)"
run trs patch pod solo -p '{"status":{"nominatedNodeName":"other"}}'
[ $RC = 0 ] && [ "$OUT" = "pod/solo patched (no change)" ] || fail "plain status patch: rc=$RC out=$OUT err=$ERR"
[ "$(pj | jq -r .status.nominatedNodeName)" = n9 ] || fail "a plain patch changed status: $(pj | jq -c .status)"
pass "--subresource status sets status.nominatedNodeName; a plain patch of status changes nothing"

# label: add, overwrite refused, --overwrite, removal
run trs label pod solo env=dev
[ $RC = 0 ] && [ "$OUT" = "pod/solo labeled" ] || fail "label add: rc=$RC out=$OUT err=$ERR"
run trs label pod solo env=prod
[ $RC = 1 ] || fail "overwrite without --overwrite: rc=$RC out=$OUT"
[ "$ERR" = "error: 'env' already has a value (dev), and --overwrite is false" ] || fail "overwrite message: $ERR"
[ "$(pj | jq -r .metadata.labels.env)" = dev ] || fail "refused overwrite changed the label"
run trs label pod solo env=prod --overwrite
[ $RC = 0 ] && [ "$OUT" = "pod/solo labeled" ] || fail "label --overwrite: rc=$RC out=$OUT err=$ERR"
[ "$(pj | jq -c .metadata.labels)" = '{"tier":"a","env":"prod"}' ] || fail "labels after overwrite: $(pj | jq -c .metadata.labels)"
run trs label pod solo env=prod
[ $RC = 0 ] && [ "$OUT" = "pod/solo not labeled" ] || fail "same value: rc=$RC out=$OUT err=$ERR"
run trs label pod solo env-
[ $RC = 0 ] && [ "$OUT" = "pod/solo unlabeled" ] || fail "label removal: rc=$RC out=$OUT err=$ERR"
[ "$(pj | jq -c .metadata.labels)" = '{"tier":"a"}' ] || fail "labels after removal: $(pj | jq -c .metadata.labels)"
run trs label deployment web example.com/team=blue
[ $RC = 0 ] && [ "$OUT" = "deployment.apps/web labeled" ] || fail "prefixed label: rc=$RC out=$OUT err=$ERR"
[ "$(dj | jq -r '.metadata.labels["example.com/team"]')" = blue ] || fail "prefixed label not set"
pass "label add, overwrite refused then accepted with --overwrite, no change, removal, prefixed key"

# errors: exit 1 with a message, nothing written
RV=$(dj | jq -r .metadata.resourceVersion)
run trs patch deployment web -p '{"spec":'
[ $RC = 1 ] && echo "$ERR" | grep -q 'error: unable to parse' || fail "bad JSON: rc=$RC err=$ERR"
run trs patch deployment web -p '[1]'
[ $RC = 1 ] && echo "$ERR" | grep -q 'must be a map' || fail "a list as patch: rc=$RC err=$ERR"
run trs patch deployment web --type json -p '[{"op":"replace","path":"/spec/replicas","value":5}]'
[ $RC = 1 ] && echo "$ERR" | grep -q -- '--type json is not supported' || fail "--type json: rc=$RC err=$ERR"
run trs label pod solo 'bad key=x'
[ $RC = 1 ] && echo "$ERR" | grep -q 'invalid label spec' || fail "bad label key: rc=$RC err=$ERR"
run trs label pod solo 'k=-bad-'
[ $RC = 1 ] && echo "$ERR" | grep -q 'invalid label value' || fail "bad label value: rc=$RC err=$ERR"
[ "$(dj | jq -r .metadata.resourceVersion)" = "$RV" ] || fail "a refused patch wrote"
run trs patch deployment nope -p '{"spec":{"replicas":1}}'
[ $RC = 1 ] && echo "$ERR" | grep -q 'NotFound' || fail "patch of a missing object: rc=$RC err=$ERR"
run trs label pod nope a=b
[ $RC = 1 ] && echo "$ERR" | grep -q 'NotFound' || fail "label of a missing object: rc=$RC err=$ERR"
run trs patch gizmo x -p '{}'
[ $RC = 1 ] && echo "$ERR" | grep -q "doesn't have a resource type" || fail "unknown kind: rc=$RC err=$ERR"
run trs patch pod solo --subresource nope -p '{"status":{}}'
[ $RC = 1 ] && echo "$ERR" | grep -q 'no subresource' || fail "unknown subresource: rc=$RC err=$ERR"
pass "bad JSON, a list, --type json, bad label key/value, not found, unknown kind/subresource: exit 1 with a message"
