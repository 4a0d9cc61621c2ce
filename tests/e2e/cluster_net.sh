#!/usr/bin/env bash
# The cluster network across machines, over the oci runtime (runc + conmon + CNI) on a 3-machine
# `troupe lab` (network namespaces on a bridge, each machine joined with a token). Checked:
# 1. each pod's IP is in its own node's spec.podCIDR (3 distinct /24s); a pod reaches a pod on
#    another node by IP and the server sees the client pod's own IP (no NAT: a CGI prints
#    REMOTE_ADDR);
# 2. a ClusterIP Service (named targetPort): 30 requests from a pod on each node and from each
#    machine's own namespace reach all 3 replicas; a NodePort answers on every machine's address
#    from the outer host;
# 3. the cluster DNS (10.96.0.10 in every machine): A and SRV (named port) of the Service, the
#    headless Service's A records = the pod IPs, PTR of a pod IP, NXDOMAIN for an unknown
#    Service (dig from a machine's namespace); busybox nslookup in a pod, short name too;
# 4. a replica turned not Ready (exec readinessProbe, its file removed) is ready=false in the
#    EndpointSlice and gets no Service traffic; it comes back when the file returns;
# 5. a node holding a replica loses its agent (kill -9): requests every ~0.5 s keep working (the
#    failures are counted and printed, the last 10 must succeed), the replicas run elsewhere;
# 6. nothing is left after the lab is down: namespaces, links, the host's nft table, conmon/runc
#    processes, mounts and run dirs of the nodes.
. "$(dirname "$0")/lib.sh"
need_images
for t in nft dig nsenter ip curl; do command -v "$t" >/dev/null || skip "$t is not installed (nftables, bind9-dnsutils, util-linux, iproute2, curl)"; done
BASE=$((20000 + $$ % 12000)); REG_PORT=$BASE; SRV_PORT=$((BASE + 1))
NET=10.250.$((1 + $$ % 250)); HOST=$NET.1; REG=$HOST:$REG_PORT; IMG=$REG/e2e/web:1
MARK="e2e-cnet-$$"
T0=$SECONDS
PROXY_BEFORE=0; nft list table ip troupe-proxy >/dev/null 2>&1 && PROXY_BEFORE=1
printf 'controllers: {nodeMonitorGracePeriodSeconds: 10, podEvictionTimeoutSeconds: 5}\n' >"$T/server.yaml"
LAB_SERVER_CONFIG=$T/server.yaml lab_up 3 --subnet "$NET.0/24" --port "$SRV_PORT" --default-runtime oci --insecure-registry "$REG"
PREFIX=$(lab_json .prefix)
[ "$(lab_json .hostIP)" = "$HOST" ] || fail "lab host address $(lab_json .hostIP), $HOST expected"
ns() { echo "/run/netns/$(lab_json ".nodes[$(($1 - 1))].netns")"; }
nodeip() { lab_json ".nodes[$(($1 - 1))].ip"; }
echo "lab of 3 machines Ready after $((SECONDS - T0)) s"

# the registry, on the bridge's host address (the machines reach the host there)
mkdir -p "$T/reg/data"
printf 'version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s/reg/data\nhttp:\n  addr: %s\n' "$T" "$REG" >"$T/reg/config.yml"
docker-registry serve "$T/reg/config.yml" >"$T/registry.log" 2>&1 & REG_PID=$!; PIDS+=($REG_PID)
wait_for 15 curl -s -o /dev/null "http://$REG/v2/" || fail "registry on $REG did not start"
image_build "$T/img" "$MARK" || fail "image build"
image_push "$T/img" "$IMG" || fail "image push to $IMG"

cat >"$T/app.yaml" <<Y
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: web
        image: IMG
        command:
        - /bin/sh
        - -c
        - |
          mkdir -p /www/cgi-bin
          echo '#!/bin/sh' >/www/cgi-bin/who
          echo 'echo "Content-Type: text/plain"; echo; echo "\$(hostname) \$REMOTE_ADDR"' >>/www/cgi-bin/who
          chmod +x /www/cgi-bin/who
          touch /tmp/ready
          exec httpd -f -p 8080 -h /www
        ports: [{name: http, containerPort: 8080}]
        readinessProbe:
          exec: {command: [cat, /tmp/ready]}
          periodSeconds: 1
          failureThreshold: 1
        resources: {requests: {cpu: 300m, memory: 32Mi}}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: Service
metadata: {name: webnp}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080, nodePort: 30080}]
---
apiVersion: v1
kind: Service
metadata: {name: webhl}
spec:
  clusterIP: None
  selector: {app: web}
  ports: [{port: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: c1}
spec:
  nodeName: m1
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: IMG
    command: ["/bin/sh", "-c", "while :; do sleep 1; done # MARK"]
    resources: {requests: {cpu: 10m, memory: 8Mi}}
---
apiVersion: v1
kind: Pod
metadata: {name: c2}
spec:
  nodeName: m2
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: IMG
    command: ["/bin/sh", "-c", "while :; do sleep 1; done # MARK"]
    resources: {requests: {cpu: 10m, memory: 8Mi}}
---
apiVersion: v1
kind: Pod
metadata: {name: c3}
spec:
  nodeName: m3
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: IMG
    command: ["/bin/sh", "-c", "while :; do sleep 1; done # MARK"]
    resources: {requests: {cpu: 10m, memory: 8Mi}}
Y
sed -i "s|image: IMG|image: $IMG|; s|MARK|$MARK|" "$T/app.yaml"
labtro apply -f "$T/app.yaml" >/dev/null || fail "apply"
webpods() { labtro get pods -l app=web -o json; }
spread() { [ "$(webpods | jq '[.items[] | select(.status.phase=="Running" and .metadata.deletionTimestamp==null) | select(any(.status.conditions[]?; .type=="Ready" and .status=="True"))] | length')" = 3 ] &&
           [ "$(webpods | jq '[.items[] | select(.status.phase=="Running") | .spec.nodeName] | unique | length')" = 3 ]; }
wait_for 120 spread || fail "3 web replicas not Ready on 3 nodes within 120 s: $(labtro get pods -o wide 2>&1)"
clients_up() { [ "$(labtro get pods -o json | jq '[.items[] | select(.metadata.name|test("^c[123]$")) | select(.status.phase=="Running")] | length')" = 3 ]; }
wait_for 60 clients_up || fail "client pods not Running: $(labtro get pods -o wide 2>&1)"
echo "pods Running after $((SECONDS - T0)) s"

# ---- 1. pod IPs from the node's podCIDR; pod → pod across nodes without NAT
podip() { labtro get pod "$1" -o json | jq -r '.status.podIP // empty'; }
webon() { webpods | jq -r --arg n "$1" '[.items[] | select(.spec.nodeName==$n and .metadata.deletionTimestamp==null) | .metadata.name][0] // empty'; }
declare -A CIDR
for n in 1 2 3; do
  CIDR[$n]=$(labtro get node "m$n" -o json | jq -r '.spec.podCIDR // empty')
  case "${CIDR[$n]}" in *.0/24) ;; *) fail "node m$n: podCIDR '${CIDR[$n]}', a /24 expected" ;; esac
  pfx=${CIDR[$n]%0/24}
  for p in "c$n" "$(webon "m$n")"; do
    ip=$(podip "$p")
    [ "${ip#"$pfx"}" != "$ip" ] || fail "pod $p on m$n has IP '$ip', outside its node's podCIDR ${CIDR[$n]}"
  done
done
[ "$(printf '%s\n' "${CIDR[@]}" | sort -u | wc -l)" = 3 ] || fail "podCIDRs not distinct: ${CIDR[*]}"
# httpd listens on IPv6 too: REMOTE_ADDR is [::ffff:A.B.C.D] for an IPv4 peer
who() { labtro exec "$1" -- timeout 5 wget -qO- "$2" 2>/dev/null | sed 's/\[::ffff:\([0-9.]*\)\]/\1/'; }
for n in 1 2 3; do
  m=$((n % 3 + 1)); W=$(webon "m$m"); WIP=$(podip "$W"); CIP=$(podip "c$n")
  OUT=$(who "c$n" "http://$WIP:8080/cgi-bin/who")
  [ "$OUT" = "$W $CIP" ] || fail "c$n (m$n, $CIP) → $W (m$m, $WIP): '$OUT', '$W $CIP' expected (the server must see the client pod's own IP)"
done
pass "pod IPs from each node's podCIDR (${CIDR[*]}); pod → pod across nodes by IP, the server sees the client pod's IP"

# ---- 2. ClusterIP from every node's pods and namespaces; NodePort on every machine
CIP_WEB=$(labtro get svc web -o json | jq -r .spec.clusterIP)
[ -n "$CIP_WEB" ] && [ "$CIP_WEB" != null ] || fail "Service web has no clusterIP"
# 30 requests from a pod (one exec) → the distinct replica names that answered
from_pod() { labtro exec "$1" -- sh -c "for i in \$(seq 1 ${3:-30}); do timeout 5 wget -qO- '$2' 2>/dev/null || echo FAILED; done" 2>/dev/null | awk '{print $1}'; }
from_ns() { for i in $(seq 1 30); do nsenter --net="$1" curl -s -m 3 "$2" || echo FAILED; done | awk '{print $1}'; }
check30() { # what label output
  local fails distinct
  fails=$(echo "$3" | grep -c FAILED)
  distinct=$(echo "$3" | grep -v FAILED | sort -u | grep -c .)
  [ "$fails" = 0 ] || fail "$1: $fails of 30 requests failed"
  [ "$distinct" = "$2" ] || fail "$1: 30 requests reached $distinct distinct replicas ($(echo "$3" | sort | uniq -c | tr '\n' ' ')), $2 expected"
}
for n in 1 2 3; do
  check30 "pod c$n (m$n) → ClusterIP $CIP_WEB:80" 3 "$(from_pod "c$n" "http://$CIP_WEB/cgi-bin/who")"
  check30 "machine m$n's namespace → ClusterIP $CIP_WEB:80" 3 "$(from_ns "$(ns $n)" "http://$CIP_WEB/cgi-bin/who")"
done
for n in 1 2 3; do
  OUT=$(curl -s -m 3 "http://$(nodeip $n):30080/cgi-bin/who")
  echo "$OUT" | grep -q '^web-' || fail "NodePort 30080 on m$n ($(nodeip $n)) from the host: '$OUT'"
done
pass "ClusterIP (targetPort by name) from a pod and from the namespace of each machine: 30 requests reach the 3 replicas; NodePort on every machine"

# ---- 3. DNS
NS1=$(ns 1)
d() { nsenter --net="$NS1" dig +time=2 +tries=2 @10.96.0.10 "$@"; }
A=$(d +short web.default.svc.cluster.local A)
[ "$A" = "$CIP_WEB" ] || fail "A web.default.svc.cluster.local: '$A', $CIP_WEB expected"
SRV=$(d +short _http._tcp.web.default.svc.cluster.local SRV)
[ "$(echo "$SRV" | awk '{print $3, $4}')" = "80 web.default.svc.cluster.local." ] || fail "SRV _http._tcp.web: '$SRV', port 80 target web.default.svc.cluster.local. expected"
HL=$(d +short webhl.default.svc.cluster.local A | sort | tr '\n' ' ')
IPS=$(webpods | jq -r '.items[].status.podIP' | sort | tr '\n' ' ')
[ "$HL" = "$IPS" ] || fail "headless webhl: A '$HL', the pod IPs '$IPS' expected"
C1IP=$(podip c1)
PTR=$(d +short -x "$C1IP")
[ "$PTR" = "$(echo "$C1IP" | tr . -).default.pod.cluster.local." ] || fail "PTR of $C1IP: '$PTR'"
d nosuch.default.svc.cluster.local A | grep -q 'status: NXDOMAIN' || fail "an unknown Service: not NXDOMAIN: $(d nosuch.default.svc.cluster.local A)"
for name in web web.default.svc.cluster.local; do
  OUT=$(labtro exec c2 -- nslookup "$name" 2>&1)
  echo "$OUT" | grep -A3 -i '^name' | grep -q "$CIP_WEB" || fail "nslookup $name in pod c2: $OUT"
done
pass "DNS: A, SRV (named port), headless = pod IPs, PTR, NXDOMAIN (dig on m1); nslookup in a pod, short name too"

# ---- 4. readiness
W=$(webon m3); WIP=$(podip "$W")
slice_ready() { [ "$(labtro get endpointslices -l kubernetes.io/service-name=web -o json | jq -r --arg ip "$WIP" '[.items[].endpoints[]? | select(.addresses[0]==$ip) | .conditions.ready][0]')" = "$1" ]; }
labtro exec "$W" -- rm /tmp/ready || fail "exec rm in $W"
wait_for 30 slice_ready false || fail "$W ($WIP) not ready=false in web's EndpointSlice 30 s after its probe file went: $(labtro get endpointslices -o json | jq -c '.items[].endpoints')"
# the proxy of c1's machine follows the slice within a few seconds (10 requests without W)
gets() { from_pod c1 "http://$CIP_WEB/cgi-bin/who" 10 | grep -qx "$1"; }
nogets() { ! gets "$1"; }
wait_for 15 nogets "$W" || fail "the not-Ready $W still got Service traffic 15 s after its endpoint turned ready=false"
OUT=$(from_pod c1 "http://$CIP_WEB/cgi-bin/who")
check30 "pod c1 → ClusterIP while $W is not Ready" 2 "$OUT"
echo "$OUT" | grep -qx "$W" && fail "the not-Ready $W still got Service traffic"
labtro exec "$W" -- touch /tmp/ready || fail "exec touch in $W"
wait_for 30 slice_ready true || fail "$W not ready=true again 30 s after its probe file came back"
wait_for 15 gets "$W" || fail "$W Ready again but no Service traffic within 15 s"
check30 "pod c1 → ClusterIP once $W is Ready again" 3 "$(from_pod c1 "http://$CIP_WEB/cgi-bin/who")"
pass "a not-Ready replica is ready=false in the EndpointSlice and gets no traffic; back when Ready"

# ---- 5. a node lost: the Service keeps answering
VICTIM=$(webpods | jq -r '[.items[] | select(.spec.nodeName != "m1") | .spec.nodeName][0]'); VN=${VICTIM#m}
LOST=$(webpods | jq -r --arg v "$VICTIM" '.items[] | select(.spec.nodeName == $v) | .metadata.name')
kill -9 "$(lab_json ".nodes[$((VN - 1))].pid")" || fail "kill -9 the agent of $VICTIM"
TK=$SECONDS
moved() { [ "$(webpods | jq --arg v "$VICTIM" '[.items[] | select(.status.phase=="Running" and .spec.nodeName != $v and .metadata.deletionTimestamp == null) | select(any(.status.conditions[]?; .type=="Ready" and .status=="True"))] | length')" = 3 ]; }
fails=0; total=0; ok=0; end=$((SECONDS + 90))
one() { labtro exec c1 -- timeout 5 wget -qO- "http://$CIP_WEB/cgi-bin/who" 2>/dev/null | grep -q '^web-'; }
while [ $SECONDS -lt $end ]; do
  total=$((total + 1))
  one || { fails=$((fails + 1)); echo "  request $total at +$((SECONDS - TK)) s failed"; }
  moved && { ok=1; break; }
  sleep 0.5
done
[ "$ok" = 1 ] || fail "replicas of $VICTIM not Running and Ready elsewhere within 90 s: $(labtro get pods -o wide 2>&1)"
echo "node $VICTIM lost (agent killed -9): 3 replicas Running elsewhere after $((SECONDS - TK)) s; $fails of $total requests failed meanwhile"
GOOD=0; for i in $(seq 1 10); do one && GOOD=$((GOOD + 1)); sleep 0.5; done
[ "$GOOD" = 10 ] || fail "after the node loss only $GOOD of the last 10 requests to the Service succeeded"
# the lost node's containers still run (its shim outlives the agent, as containerd does), but the
# Service no longer sends them anything: 30 requests reach the 3 replicas now Running elsewhere
for p in $LOST; do wait_for 15 nogets "$p" || fail "$p, on the lost node $VICTIM, still got Service traffic 15 s after its replacement was Ready"; done
OUT=$(from_pod c1 "http://$CIP_WEB/cgi-bin/who")
check30 "pod c1 → ClusterIP after the loss of $VICTIM" 3 "$OUT"
for p in $LOST; do echo "$OUT" | grep -qx "$p" && fail "$p, on the lost node $VICTIM, still got Service traffic"; done
pass "a node lost: the Service kept answering ($fails of $total failed while the endpoints moved, the last 10 all good), now only to the replicas elsewhere"

# ---- 6. nothing left
labtro delete -f "$T/app.yaml" >/dev/null 2>&1
lab_down
[ "$(ip netns list | grep -c "^$PREFIX-")" = 0 ] || fail "namespaces left: $(ip netns list | grep "^$PREFIX-")"
# the kernel destroys a deleted namespace's veth peers asynchronously (its netns cleanup work):
# a link may still be listed for a moment after lab_down; one still there after 10 s is left
no_links() { ! ip -o link show | grep -q "$PREFIX-"; }
wait_for 10 no_links || fail "links left: $(ip -o link show | grep "$PREFIX-")"
# the lab's proxies work in the machines' namespaces: none may leave its table in the host's (where
# a `troupe up` of another test running at the same time has its own: then this is not checkable)
if nft list table ip troupe-proxy >/dev/null 2>&1; then
  OTHERS=$(pgrep -af 'troupe (up|join|server)' | grep -v "$T/")
  [ -n "$OTHERS" ] || [ "$PROXY_BEFORE" = 1 ] || fail "nft table ip troupe-proxy left in the host namespace"
  echo "note: a table ip troupe-proxy in the host namespace belongs to another node on this machine (not checked): $(echo "$OTHERS" | head -1 | cut -c1-100)"
fi
pgrep -f "(conmon|runc).*$T/" >/dev/null && fail "conmon/runc processes of the test left: $(pgrep -af "(conmon|runc).*$T/")"
pgrep -f "$LAB/" >/dev/null && fail "processes of the lab left: $(pgrep -af "$LAB/")"
for n in 1 2 3; do
  R=$(node_residue "$LAB/m$n")
  [ "$R" = "overlay=0 conmon=0 netns=0 veth=0 bridge=0 masq=0 rundir=0 mounts=0" ] || fail "node m$n left: $R"
done
pass "lab down: no namespace, link, nft table, process, mount or run dir left"
echo "ran in $((SECONDS - T0)) s"
echo "6 passed, 0 failed"
