#!/usr/bin/env bash
# Services and EndpointSlices (issue 8) on one node with the process runtime. Checked: a bad
# --service-cidr or --service-node-port-range stops `up`; cluster IPs come from 10.96.0.0/16
# (never .1 nor .10 automatically), a requested one is honoured, a taken one and one out of range
# are refused with the api-server's words, the cluster IP is immutable; node ports are allocated
# from 30000-32767, a requested one honoured, a taken one refused, released when the type changes
# away and on delete; `get svc` prints PORT(S) as 80:30080/TCP; the allocations survive a restart.
# EndpointSlices: one per selecting Service (labels, owner, the named targetPort resolved to the
# container port), following scale up and down, a readiness flip (an httpGet readinessProbe on a
# server this test switches) and a deleted pod; none for a Service without selector; a deleted
# Service's slices are collected. A pod started after the Services gets their environment
# (<SVC>_SERVICE_HOST, _SERVICE_PORT, _SERVICE_PORT_<NAME>, Docker link variables), none with
# enableServiceLinks false.
. "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || skip "jq is not installed (scripts/deps.sh test)"
command -v python3 >/dev/null || skip "python3 is not installed"
MARK="e2e-svc-$$"
PORT=$((20000 + $$ % 12000))
for bad in "--service-cidr 10.96.0.1/16|host bits" "--service-cidr 10.96.0.0/30|not an IPv4 CIDR" \
           "--service-node-port-range 32767-30000|not a port range"; do
  flag=${bad%%|*}; want=${bad#*|}
  # shellcheck disable=SC2086
  OUT=$(timeout 10 "$TROUPE" up --data "$T/bad" $flag 2>&1) && fail "troupe up $flag started"
  grep -qF -- "$want" <<<"$OUT" || fail "troupe up $flag: unclear error: $OUT"
done
pass "bad service flags stop up"
printf 'nodeName: svc-node\nlogLevel: info\ndefaultRuntime: process\nserviceCIDR: 10.96.0.0/16\n' >"$T/troupe.yaml"
start_up() { ( cd "$T" && exec "$TROUPE" up --config "$T/troupe.yaml" --data "$T/d" >>"$T/up.log" 2>&1 ) & UP=$!; PIDS+=($UP); }
start_up
wait_for 30 tro get nodes svc-node || fail "no API after 30 s"
# the readiness switch: a file served on loopback (present: 200, absent: 404)
mkdir -p "$T/www"; echo ok >"$T/www/ready"
( cd "$T/www" && exec python3 -m http.server --bind 127.0.0.1 "$PORT" >"$T/http.log" 2>&1 ) & PIDS+=($!)
wait_for 10 curl -sf "http://127.0.0.1:$PORT/ready" || fail "readiness server did not start"

cat >"$T/app.yaml" <<Y
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        command: ["/bin/sh", "-c", "echo $MARK; while true; do sleep 1; done"]
        ports: [{name: http, containerPort: 8080}]
        readinessProbe: {httpGet: {host: 127.0.0.1, port: $PORT, path: /ready}, periodSeconds: 1, failureThreshold: 1}
---
apiVersion: v1
kind: Service
metadata: {name: web, labels: {tier: front}}
spec:
  selector: {app: web}
  ports: [{name: web, port: 80, targetPort: http}]
---
apiVersion: v1
kind: Service
metadata: {name: np}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{name: a, port: 80, targetPort: 8080, nodePort: 30080}, {name: b, port: 81, targetPort: 8081}]
---
apiVersion: v1
kind: Service
metadata: {name: fixed}
spec:
  clusterIP: 10.96.0.50
  ports: [{port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: headless}
spec:
  clusterIP: None
  selector: {app: web}
---
apiVersion: v1
kind: Service
metadata: {name: dns}
spec:
  clusterIP: 10.96.0.10
  ports: [{name: dns, port: 53, protocol: UDP}]
Y
tro apply -f "$T/app.yaml" >/dev/null || fail "apply"
svc() { tro get svc "$1" -o json; }
IP=$(svc web | jq -r .spec.clusterIP)
[[ "$IP" == 10.96.* ]] || fail "web clusterIP $IP not in 10.96.0.0/16"
case "$IP" in 10.96.0.0|10.96.0.1|10.96.0.10|10.96.255.255) fail "web got the reserved $IP";; esac
[ "$(svc web | jq -c .spec.clusterIPs)" = "[\"$IP\"]" ] || fail "clusterIPs: $(svc web | jq -c .spec.clusterIPs)"
[ "$(svc web | jq -r '.spec.type + " " + .spec.sessionAffinity + " " + (.spec.ports[0].protocol)')" = "ClusterIP None TCP" ] ||
  fail "defaults: $(svc web | jq -c .spec)"
[ "$(svc fixed | jq -r .spec.clusterIP)" = 10.96.0.50 ] || fail "requested clusterIP not honoured"
[ "$(svc dns | jq -r .spec.clusterIP)" = 10.96.0.10 ] || fail "the DNS address could not be requested"
[ "$(svc headless | jq -r .spec.clusterIP)" = None ] || fail "headless: $(svc headless | jq -r .spec.clusterIP)"
[ "$(svc np | jq -r '.spec.ports[0].nodePort')" = 30080 ] || fail "requested nodePort not honoured"
NP2=$(svc np | jq -r '.spec.ports[1].nodePort')
[ "$NP2" -ge 30000 ] && [ "$NP2" -le 32767 ] && [ "$NP2" != 30080 ] || fail "allocated nodePort $NP2"
tro get svc | grep -E "^np +NodePort +10\.96\.[0-9.]+ +<none> +80:30080/TCP,81:$NP2/TCP " >/dev/null || fail "get svc: $(tro get svc)"
pass "cluster IP $IP and node ports 30080, $NP2 allocated; requested ones honoured"

try() { # name, spec (yaml flow), expected error
  printf 'apiVersion: v1\nkind: Service\nmetadata: {name: %s}\nspec: %s\n' "$1" "$2" >"$T/try.yaml"
  OUT=$(tro apply -f "$T/try.yaml" 2>&1) && fail "$1 accepted: $2"
  grep -qF -- "$3" <<<"$OUT" || fail "$1: unclear error: $OUT"
}
try taken "{clusterIP: 10.96.0.50, ports: [{port: 80}]}" 'spec.clusterIPs: Invalid value: "10.96.0.50": failed to allocate IP 10.96.0.50: provided IP is already allocated'
try far "{clusterIP: 10.0.0.5, ports: [{port: 80}]}" "is not in the valid range. The range of valid IPs is 10.96.0.0/16"
try np2 "{type: NodePort, ports: [{port: 80, nodePort: 30080}]}" "spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated"
try np3 "{type: NodePort, ports: [{port: 80, nodePort: 80}]}" "provided port is not in the valid range. The range of valid ports is 30000-32767"
try web "{clusterIP: 10.96.0.77, selector: {app: web}, ports: [{name: web, port: 80, targetPort: http}]}" "may not change once set"
try lb "{type: LoadBalancer, ports: [{port: 80}]}" "not supported yet by Troupe"
[ "$(svc web | jq -r .spec.clusterIP)" = "$IP" ] || fail "clusterIP changed"
pass "taken, out-of-range and changed cluster IPs and taken node ports refused"

slices() { tro get endpointslices -l "kubernetes.io/service-name=$1" -o json; }
eps() { slices "$1" | jq '[.items[].endpoints[]] | length'; }
ready_eps() { slices "$1" | jq '[.items[].endpoints[] | select(.conditions.ready)] | length'; }
eps_is() { [ "$(eps "$1")" = "$2" ] && [ "$(ready_eps "$1")" = "$3" ]; }
wait_for 60 eps_is web 2 2 || fail "web slices: $(slices web | jq -c '[.items[] | {endpoints, ports}]')"
S=$(slices web | jq '.items[0]')
jq -e '.metadata.labels["endpointslice.kubernetes.io/managed-by"] == "endpointslice-controller.k8s.io" and
       .metadata.labels.tier == "front" and .addressType == "IPv4" and
       .metadata.ownerReferences[0].kind == "Service" and .metadata.ownerReferences[0].controller and
       .ports == [{"name": "web", "protocol": "TCP", "port": 8080}] and
       (.endpoints[0].targetRef.kind == "Pod") and .endpoints[0].nodeName == "svc-node" and
       (.endpoints[0].addresses | length) == 1' <<<"$S" >/dev/null || fail "web slice: $S"
[[ "$(jq -r .metadata.name <<<"$S")" == web-????? ]] || fail "slice name $(jq -r .metadata.name <<<"$S")"
[ "$(slices np | jq -c '[.items[].ports[] | .port] | sort')" = "[8080,8081]" ] || fail "np ports: $(slices np | jq -c '[.items[].ports]')"
wait_for 20 eps_is headless 2 2 || fail "headless slice: $(slices headless | jq -c .items)"
[ "$(slices fixed | jq '.items | length')" = 0 ] || fail "a Service without selector got a slice"
pass "EndpointSlices: 2 ready endpoints, named port resolved to 8080, none without selector"

# the service environment of a pod started after the Services (enableServiceLinks, default true)
cat >"$T/env.yaml" <<Y
apiVersion: v1
kind: Pod
metadata: {name: envpod}
spec:
  containers:
  - name: c
    command: ["/bin/sh", "-c", "echo $MARK host=\$WEB_SERVICE_HOST port=\$WEB_SERVICE_PORT named=\$WEB_SERVICE_PORT_WEB link=\$NP_PORT_81_TCP dns=\$DNS_PORT_53_UDP_ADDR; sleep 3600"]
---
apiVersion: v1
kind: Pod
metadata: {name: nolinks}
spec:
  enableServiceLinks: false
  containers:
  - name: c
    command: ["/bin/sh", "-c", "echo $MARK host=\$WEB_SERVICE_HOST.; sleep 3600"]
Y
tro apply -f "$T/env.yaml" >/dev/null || fail "apply env pods"
NPIP=$(svc np | jq -r .spec.clusterIP)
WANT="host=$IP port=80 named=80 link=tcp://$NPIP:81 dns=10.96.0.10"
wait_for 30 sh -c "'$TROUPE' logs envpod | grep -qF '$WANT'" || fail "service env: $(tro logs envpod 2>&1), want $WANT"
wait_for 30 sh -c "'$TROUPE' logs nolinks | grep -qF 'host=.'" || fail "enableServiceLinks false: $(tro logs nolinks 2>&1)"
tro delete pod envpod nolinks >/dev/null 2>&1 || { tro delete pod envpod >/dev/null; tro delete pod nolinks >/dev/null; }
pass "service environment: $WANT; none with enableServiceLinks false"

tro scale deployment web --replicas 4 >/dev/null || fail "scale up"
wait_for 60 eps_is web 4 4 || fail "after scale to 4: $(eps web) endpoints, $(ready_eps web) ready"
pass "scale up: 4 endpoints"
rm "$T/www/ready"
wait_for 30 eps_is web 4 0 || fail "readiness off: $(eps web) endpoints, $(ready_eps web) ready"
[ "$(slices web | jq '[.items[].endpoints[] | select(.conditions.serving)] | length')" = 0 ] || fail "not-ready endpoints still serving"
echo ok >"$T/www/ready"
wait_for 30 eps_is web 4 4 || fail "readiness back: $(eps web) endpoints, $(ready_eps web) ready"
pass "readiness flip: endpoints not ready, then ready again"
tro scale deployment web --replicas 1 >/dev/null || fail "scale down"
wait_for 60 eps_is web 1 1 || fail "after scale to 1: $(eps web) endpoints"
POD=$(tro get pods -l app=web -o json | jq -r '[.items[] | select(.metadata.deletionTimestamp==null)][0].metadata.name')
tro delete pod "$POD" >/dev/null || fail "delete pod"
gone() { ! slices web | jq -e --arg p "$POD" '[.items[].endpoints[] | select(.targetRef.name == $p)] | length > 0' >/dev/null; }
wait_for 60 gone || fail "deleted pod $POD still an endpoint"
wait_for 60 eps_is web 1 1 || fail "replacement pod: $(eps web) endpoints"
pass "scale down to 1 and a deleted pod: its endpoint leaves, the replacement's comes"

# restart: allocations are read back from the store
kill "$UP"; for _ in $(seq 1 100); do kill -0 "$UP" 2>/dev/null || break; sleep 0.2; done
kill -0 "$UP" 2>/dev/null && fail "troupe up did not stop"
start_up
wait_for 30 tro get nodes svc-node || fail "no API after restart"
try taken2 "{clusterIP: 10.96.0.50, ports: [{port: 80}]}" "provided IP is already allocated"
try np4 "{type: NodePort, ports: [{port: 80, nodePort: 30080}]}" "provided port is already allocated"
pass "allocations survive a restart"

# type changes away from NodePort: its node ports are free again; deletion frees the cluster IP
printf 'apiVersion: v1\nkind: Service\nmetadata: {name: np}\nspec: {selector: {app: web}, ports: [{name: a, port: 80, targetPort: 8080}, {name: b, port: 81, targetPort: 8081}]}\n' >"$T/np.yaml"
OUT=$(tro apply -f "$T/np.yaml" 2>&1) || fail "np to ClusterIP: $OUT"
[ "$(svc np | jq -r .spec.type)" = ClusterIP ] || fail "np type $(svc np | jq -r .spec.type)"
[ "$(svc np | jq '[.spec.ports[] | select(.nodePort)] | length')" = 0 ] || fail "node ports kept: $(svc np | jq -c .spec.ports)"
printf 'apiVersion: v1\nkind: Service\nmetadata: {name: np5}\nspec: {type: NodePort, ports: [{port: 80, nodePort: 30080}]}\n' >"$T/np5.yaml"
wait_for 10 tro apply -f "$T/np5.yaml" || fail "30080 not released: $(tro apply -f "$T/np5.yaml" 2>&1)"
tro delete svc fixed >/dev/null || fail "delete fixed"
printf 'apiVersion: v1\nkind: Service\nmetadata: {name: fixed2}\nspec: {clusterIP: 10.96.0.50, ports: [{port: 80}]}\n' >"$T/f2.yaml"
wait_for 10 tro apply -f "$T/f2.yaml" || fail "10.96.0.50 not released: $(tro apply -f "$T/f2.yaml" 2>&1)"
tro delete svc web >/dev/null || fail "delete web"
wait_for 30 sh -c "[ \"\$('$TROUPE' get endpointslices -l kubernetes.io/service-name=web -o json | jq '.items | length')\" = 0 ]" ||
  fail "web's slices not collected"
pass "node ports released on type change, cluster IP on delete, slices collected with their Service"
tro delete deployment web >/dev/null
wait_for 30 procs_eq 0 || fail "processes left: $(count_procs)"
echo "1 passed, 0 failed"
