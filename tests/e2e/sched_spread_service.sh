#!/usr/bin/env bash
# PodTopologySpread's default constraints select by Services (Kubernetes' DefaultSelector) end to
# end: `troupe up` with a profile whose PodTopologySpread defaults are a hard hostname spread
# (defaultingType List, maxSkew 1, DoNotSchedule), a big hollow node (64 cpu) and a small one
# (2 cpu), both labelled e2e=spread; bare pods (no owner) with nodeSelector e2e=spread.
# - no Service selects app=e2e-solo: no default constraints, resource scoring puts 3 pods on big;
# - a Service selecting app=e2e-web: 4 such pods, created one after another, split 2 / 2 (the
#   scheduler's Service informer gives the selector; without it all would go to big);
# - the Service deleted: 2 more app=e2e-web pods both go to big (the constraint is gone).
. "$(dirname "$0")/lib.sh"
need_hollow
PORT=$((20000 + ($$ + 7) % 12000))
cat >"$T/sched.yaml" <<'CFG'
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
profiles:
- schedulerName: default-scheduler
  pluginConfig:
  - name: PodTopologySpread
    args:
      defaultingType: List
      defaultConstraints:
      - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule}
CFG
( cd "$T" && exec "$TROUPE" up --data "$T/node" --listen "tcp://127.0.0.1:$PORT" --scheduler-config "$T/sched.yaml" >"$T/up.log" 2>&1 ) & UP=$!; PIDS+=($UP)
wait_for 60 tro get nodes || fail "troupe up: no API"
"$TROUPE" hollow --nodes 1 --cpu 64 --memory 64Gi --pods 110 --prefix big- --labels e2e=spread >"$T/hollow-big.log" 2>&1 & H1=$!; PIDS+=($H1)
"$TROUPE" hollow --nodes 1 --cpu 2 --memory 64Gi --pods 110 --prefix small- --labels e2e=spread >"$T/hollow-small.log" 2>&1 & H2=$!; PIDS+=($H2)
wait_for 60 nodes_ready e2e=spread 2 || fail "2 hollow nodes not Ready"
BIG=$(tro get nodes -l e2e=spread -o json | jq -r '.items[].metadata.name | select(startswith("big-"))')
SMALL=$(tro get nodes -l e2e=spread -o json | jq -r '.items[].metadata.name | select(startswith("small-"))')
[ -n "$BIG" ] && [ -n "$SMALL" ] || fail "hollow nodes: big '$BIG' small '$SMALL'"

nodeof() { tro get pod "$1" -o json | jq -r '.spec.nodeName // ""'; }
mkpod() { # name app: created, then waited for until bound
  printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: %s, labels: {app: %s}}\nspec:\n  nodeSelector: {e2e: spread}\n  containers:\n  - name: c\n    image: busybox\n    resources: {requests: {cpu: 100m, memory: 64Mi}}\n' "$1" "$2" >"$T/$1.yaml"
  tro apply -f "$T/$1.yaml" >/dev/null || fail "create pod $1"
  wait_for 30 sh -c "[ -n \"\$('$TROUPE' get pod $1 -o json | jq -r '.spec.nodeName // \"\"')\" ]" || fail "pod $1 not bound: $(tro get pod "$1" -o json | jq -c '.status.conditions')"
}
count_on() { # app node
  tro get pods -l "app=$1" -o json | jq --arg n "$2" '[.items[] | select(.spec.nodeName==$n)] | length'
}

for i in 1 2 3; do mkpod solo-$i e2e-solo; done
[ "$(count_on e2e-solo "$BIG")" = 3 ] || fail "no Service: pods not all on $BIG: $(count_on e2e-solo "$BIG") there"
pass "without a Service selecting them, bare pods get no default constraints (3 on the big node)"

printf 'apiVersion: v1\nkind: Service\nmetadata: {name: e2e-web}\nspec:\n  selector: {app: e2e-web}\n  ports: [{port: 80}]\n' >"$T/svc.yaml"
tro apply -f "$T/svc.yaml" >/dev/null || fail "create Service"
sleep 1
for i in 1 2 3 4; do mkpod web-$i e2e-web; done
[ "$(count_on e2e-web "$BIG")" = 2 ] && [ "$(count_on e2e-web "$SMALL")" = 2 ] ||
  fail "with the Service: $(count_on e2e-web "$BIG") on $BIG, $(count_on e2e-web "$SMALL") on $SMALL, want 2 / 2"
pass "a Service selecting the pods: the default hostname spread applies with its selector (2 / 2)"

tro delete service e2e-web >/dev/null || fail "delete Service"
sleep 1
for i in 5 6; do mkpod web-$i e2e-web; done
[ "$(nodeof web-5)" = "$BIG" ] && [ "$(nodeof web-6)" = "$BIG" ] || fail "Service gone: web-5 on $(nodeof web-5), web-6 on $(nodeof web-6), want $BIG"
pass "the Service deleted: no default constraints again"
pass "sched_spread_service"
