#!/usr/bin/env bash
# Real containers (issue 7): an image built at run time (busybox-static, umoci) and pushed with
# skopeo to Debian's docker-registry on loopback is pulled by the node; pods run under runc and
# conmon on an overlayfs rootfs in their own network namespace (CNI bridge) with cgroup limits.
# Checked: own rootfs (the image's file, not the host's), pod IPs differ, come from the Node's
# spec.podCIDR (node IPAM) and pod-to-pod HTTP works,
# exec output / stderr / stdin / exit code, the pod's resolv.conf and the cluster DNS from a pod, CRI logs (with --timestamps), the memory and cpu
# limits in the pod's cgroup, OOMKilled 137, ErrImagePull → ImagePullBackOff, the agent killed -9
# with containers running (re-adopted, nothing restarted) and a container that exited meanwhile
# (its real exit code), `troupe runtime ps` with the agent stopped; after deletion and after the
# node stops: no veth, overlay mount, conmon, netns pin, runc container or pod cgroup left.
. "$(dirname "$0")/lib.sh"
need_images
cd "$T" || fail "no temp dir"
PORT=$((20000 + $$ % 12000)); REG=127.0.0.1:$PORT; MARK=ctr-e2e-$$; IMG=$REG/e2e/busybox:1
# the node's runtime flags: a bad value stops `up` with the flag named, before anything starts
for bad in "--image-gc-low-threshold 90|must be below --image-gc-high-threshold" "--image-gc-high-threshold 101|percentage" \
           "--default-runtime kata|must be oci or process" "--insecure-registry http://x/y|must be HOST or HOST:PORT" \
           "--cluster-cidr 10.244.0.1/16|host bits zero" "--node-cidr-mask-size 8|nodeCIDRMaskSize 8" \
           "--node-ip nope|must be an IPv4 address" "--pod-cidr 10.1.0.0/99|must be an IPv4 CIDR"; do
  flag=${bad%%|*}; want=${bad#*|}
  # shellcheck disable=SC2086
  OUT=$(timeout 10 "$TROUPE" up --data "$T/bad" $flag 2>&1) && fail "troupe up $flag started"
  grep -qF -- "$want" <<<"$OUT" || fail "troupe up $flag: unclear error: $OUT"
done
registry_start "$T/reg" "$PORT"
image_build "$T/img" "$MARK" || fail "could not build the test image"
image_push "$T/img" "$IMG" || fail "could not push the test image"
DATA=$T/d; NODE=ctr$$
start_up() { ( cd "$T" && exec "$TROUPE" up --data "$DATA" --node-name "$NODE" >>"$T/up.log" 2>&1 ) & UP=$!; PIDS+=($UP); }
# this node's web servers: httpd processes in its cgroup hierarchy (other tests may run httpd too)
httpds() { for p in $(pgrep -f "httpd -f -p 8080 -h /www"); do grep -q "troupe-$NODE/" "/proc/$p/cgroup" 2>/dev/null && echo "$p"; done | sort | tr '\n' ' '; }
start_up
ready() { [ "$(tro get nodes "$NODE" -o json 2>/dev/null | jq -r '.status.conditions[]? | select(.type=="Ready") | .status')" = True ]; }
wait_for 60 ready || fail "node not Ready"
cat >"$T/web.yaml" <<Y
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      subdomain: web
      containers:
      - name: web
        image: $IMG
        command: ["/bin/sh", "-c", "echo started-$MARK; echo to-stderr >&2; hostname > /www/index.html; exec httpd -f -p 8080 -h /www"]
        resources: {limits: {memory: 64Mi, cpu: 200m}}
Y
tro apply -f "$T/web.yaml" >/dev/null || fail "apply"
pods() { tro get pods -l app=web -o json; }
with_ip() { [ "$(pods | jq '[.items[] | select(.status.phase=="Running" and (.status.podIP // "") != "")] | length')" = "$1" ]; }
wait_for 90 with_ip 2 || fail "2 pods with an IP not Running: $(pods | jq -c '[.items[].status | {phase, podIP, containerStatuses}]')"
P1=$(pods | jq -r '.items[0].metadata.name'); P2=$(pods | jq -r '.items[1].metadata.name')
IP1=$(pods | jq -r '.items[0].status.podIP'); IP2=$(pods | jq -r '.items[1].status.podIP')
[ "$IP1" != "$IP2" ] || fail "both pods have $IP1"
# node IPAM (issue 8): the Node has a /24 of the cluster CIDR 10.244.0.0/16, both its fields say
# so, the pods' addresses come from it, and pods leaving for another node's pods keep theirs
CIDR=$(tro get nodes "$NODE" -o json | jq -r '.spec.podCIDR // empty')
[[ "$CIDR" =~ ^10\.244\.[0-9]+\.0/24$ ]] || fail "node spec.podCIDR '$CIDR': a /24 of 10.244.0.0/16 expected"
[ "$(tro get nodes "$NODE" -o json | jq -r '.spec.podCIDRs | join(",")')" = "$CIDR" ] || fail "spec.podCIDRs differs from $CIDR"
for ip in "$IP1" "$IP2"; do [ "${ip%.*}.0/24" = "$CIDR" ] || fail "pod IP $ip not from the node's podCIDR $CIDR"; done
node_paths "$DATA"
nft list table ip "troupe_$BR" | grep -q "ip saddr $CIDR ip daddr != 10.244.0.0/16 ip daddr != 224.0.0.0/4 masquerade" ||
  fail "masquerade rule of $CIDR: $(nft list table ip "troupe_$BR")"
pass "node podCIDR $CIDR (node IPAM), pods' IPs from it, masquerade exempts the cluster CIDR"
[ "$(pods | jq -r '.items[0].status.qosClass')" = Guaranteed ] || fail "qosClass of limits-only pod: $(pods | jq -r '.items[0].status.qosClass')"
pods | jq -e '.items[0].status.containerStatuses[0] | (.containerID | startswith("oci://")) and (.imageID | startswith("sha256:"))' >/dev/null ||
  fail "containerID/imageID: $(pods | jq -c '.items[0].status.containerStatuses[0] | {containerID, imageID}')"
pass "image pulled from the registry, 2 pods Running with IPs $IP1 $IP2"

[ "$(tro exec "$P1" -- cat /marker)" = "$MARK" ] || fail "exec cat /marker did not print the image's file"
tro exec "$P1" -- test -e /etc/debian_version && fail "the container sees the host's root filesystem"
tro exec "$P1" -- sh -c 'exit 7'; rc=$?; [ "$rc" = 7 ] || fail "exec exit code $rc, 7 expected"
[ "$(echo hello-stdin | tro exec -i "$P1" -- cat)" = hello-stdin ] || fail "exec -i did not pass stdin"
ERR=$(tro exec "$P1" -- sh -c 'echo out; echo err >&2' 2>&1 >/dev/null); [ "$ERR" = err ] || fail "exec stderr: '$ERR'"
OUT=$(tro exec "$P1" -- /no/such/command 2>&1); rc=$?; [ "$rc" != 0 ] || fail "exec of a missing command succeeded: $OUT"
[ "$(tro exec "$P1" -- hostname)" = "$P1" ] || fail "hostname in the pod: $(tro exec "$P1" -- hostname)"
# the pod's DNS (dnsPolicy ClusterFirst): the node's cluster DNS (actors/dns) on 10.96.0.10,
# reached through the pod's default route to the node, answering a pod name
RC=$(tro exec "$P1" -- cat /etc/resolv.conf)
{ grep -qx "nameserver 10.96.0.10" <<<"$RC" && grep -q "^search default.svc.cluster.local svc.cluster.local cluster.local" <<<"$RC" &&
  grep -qx "options ndots:5" <<<"$RC"; } || fail "the pod's resolv.conf is not ClusterFirst's: $RC"
OUT=$(tro exec "$P1" -- nslookup "${IP2//./-}.default.pod.cluster.local" 2>&1)
grep -q "Address.*$IP2" <<<"$OUT" || fail "nslookup of the other pod's name through the cluster DNS: $OUT"
pass "pod resolv.conf ClusterFirst (10.96.0.10, search path, ndots:5); the cluster DNS answers from inside a pod"
tro exec "$P1" -- grep -qE "^$IP1\s+$P1.web.default.svc.cluster.local\s+$P1\$" /etc/hosts ||
  fail "/etc/hosts does not name the pod with its subdomain's FQDN: $(tro exec "$P1" -- cat /etc/hosts)"
GOT=$(tro exec "$P1" -- timeout 5 wget -qO- "http://$IP2:8080/" | tr -d '\r\n ')
[ "$GOT" = "$P2" ] || fail "pod $P1 could not fetch http://$IP2:8080/ from $P2 (got '$GOT')"
GOT=$(tro exec "$P1" -- timeout 5 wget -qO- "http://127.0.0.1:8080/" | tr -d '\r\n ')
[ "$GOT" = "$P1" ] || fail "localhost inside the pod: got '$GOT'"
pass "exec: output, stderr, stdin, exit codes; own rootfs, hostname, /etc/hosts; pod-to-pod and localhost HTTP"

L=$(tro logs "$P1"); grep -qx "started-$MARK" <<<"$L" || fail "logs: $L"
grep -qx to-stderr <<<"$L" || fail "logs miss stderr: $L"
tro logs "$P1" --timestamps | grep -qE "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+[-+Z0-9:]* started-$MARK$" || fail "logs --timestamps: $(tro logs "$P1" --timestamps)"
UID1=$(pods | jq -r '.items[0].metadata.uid')
CG=$(find /sys/fs/cgroup/memory/troupe-$NODE -maxdepth 3 -type d -name "pod$UID1" 2>/dev/null | head -1)
[ -n "$CG" ] || fail "no pod cgroup pod$UID1 under /sys/fs/cgroup/memory/troupe-$NODE"
LIM=$(cat "$CG"/*/memory.limit_in_bytes 2>/dev/null | head -1); [ "$LIM" = 67108864 ] || fail "memory limit in the cgroup: $LIM"
Q=$(cat /sys/fs/cgroup/cpu/"${CG#/sys/fs/cgroup/memory/}"/*/cpu.cfs_quota_us 2>/dev/null | head -1); [ "$Q" = 20000 ] || fail "cpu quota: $Q"
tro runtime ps --data "$DATA" | grep -q " web " || fail "runtime ps does not list the web containers: $(tro runtime ps --data "$DATA")"
tro runtime images --data "$DATA" | grep -q "e2e/busybox:1" || fail "runtime images: $(tro runtime images --data "$DATA")"
pass "CRI logs (stdout, stderr, --timestamps), memory 64Mi and cpu 200m in the pod cgroup, runtime ps/images"

cat >"$T/bad.yaml" <<Y
apiVersion: v1
kind: Pod
metadata: {name: oom}
spec:
  restartPolicy: Never
  containers:
  - name: hog
    image: $IMG
    command: ["/bin/sh", "-c", "a=\$(head -c 300000000 /dev/zero | tr '\\\\0' x); echo survived"]
    resources: {limits: {memory: 32Mi}}
---
apiVersion: v1
kind: Pod
metadata: {name: noimage}
spec:
  containers:
  - name: nope
    image: $REG/e2e/does-not-exist:1
---
apiVersion: v1
kind: Pod
metadata: {name: nocmd}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: $IMG
    command: ["/not/here"]
---
apiVersion: v1
kind: Pod
metadata: {name: never}
spec:
  containers:
  - name: c
    image: $REG/e2e/busybox:absent
    imagePullPolicy: Never
Y
# a registry that wants credentials (htpasswd): pulled with the pod's imagePullSecrets, refused without
command -v htpasswd >/dev/null || fail "htpasswd missing (apache2-utils: scripts/deps.sh test)"
htpasswd -Bbn tuser tpass >"$T/htpasswd"
REG2=127.0.0.1:$((PORT + 1))
registry_start "$T/reg2" $((PORT + 1)) "$T/htpasswd"
image_push "$T/img" "$REG2/e2e/private:1" tuser:tpass || fail "push to the registry with auth"
AUTH=$(printf '{"auths":{"%s":{"username":"tuser","password":"tpass"}}}' "$REG2")
cat >>"$T/bad.yaml" <<Y
---
apiVersion: v1
kind: Secret
metadata: {name: regcred}
type: kubernetes.io/dockerconfigjson
stringData: {.dockerconfigjson: '$AUTH'}
---
apiVersion: v1
kind: Pod
metadata: {name: private}
spec:
  imagePullSecrets: [{name: regcred}]
  containers:
  - name: c
    image: $REG2/e2e/private:1
    command: ["/bin/sh", "-c", "cat /marker; sleep 600"]
---
apiVersion: v1
kind: Pod
metadata: {name: nocred}
spec:
  containers:
  - name: c
    image: $REG2/e2e/private:1
Y
tro apply -f "$T/bad.yaml" >/dev/null || fail "apply of the failing pods"
term() { tro get pod "$1" -o json | jq -c '[.status.containerStatuses[]? | (.state.terminated, .lastState.terminated) | select(. != null)] | .[0]'; }
oomed() { term oom | jq -e '.reason == "OOMKilled" and .exitCode == 137'; }
wait_for 60 oomed || fail "memory hog not OOMKilled/137: $(tro get pod oom -o json | jq -c .status.containerStatuses)"
waiting() { tro get pod "$1" -o json | jq -r '.status.containerStatuses[0].state.waiting.reason // empty'; }
wait_for 30 sh -c "[ \"\$('$TROUPE' get pod noimage -o json | jq -r '.status.containerStatuses[0].state.waiting.reason // empty')\" = ImagePullBackOff ]" ||
  fail "missing image: $(tro get pod noimage -o json | jq -c .status.containerStatuses)"
tro get pod noimage -o json | jq -e '.status.containerStatuses[0].state.waiting.message | test("not found|unknown|manifest"; "i")' >/dev/null ||
  fail "missing image: the registry's reason is not in the message: $(tro get pod noimage -o json | jq -c .status.containerStatuses[0].state)"
tro describe pod noimage | grep -q "Failed to pull image" || fail "no Failed event for the pull"
startfail() { term nocmd | jq -e '.exitCode == 128 and .reason == "StartError" and (.message | test("not here|no such file|executable"; "i"))'; }
wait_for 30 startfail || fail "missing command: $(tro get pod nocmd -o json | jq -c .status.containerStatuses)"
wait_for 30 sh -c "[ \"\$('$TROUPE' get pod never -o json | jq -r '.status.containerStatuses[0].state.waiting.reason // empty')\" = ErrImageNeverPull ]" ||
  fail "imagePullPolicy Never: $(tro get pod never -o json | jq -c .status.containerStatuses)"
wait_for 60 sh -c "[ \"\$('$TROUPE' get pod private -o json | jq -r .status.phase)\" = Running ]" ||
  fail "pod with imagePullSecrets: $(tro get pod private -o json | jq -c .status.containerStatuses)"
[ "$(tro logs private)" = "$MARK" ] || fail "private image's marker: $(tro logs private)"
wait_for 30 sh -c "'$TROUPE' get pod nocred -o json | jq -e '.status.containerStatuses[0].state.waiting.message | test(\"UNAUTHORIZED|401|authentication\"; \"i\")'" ||
  fail "pull without credentials: $(tro get pod nocred -o json | jq -c .status.containerStatuses)"
with_ip 2 || fail "the good pods stopped running beside the bad ones"
pass "OOMKilled 137, ErrImagePull → ImagePullBackOff with the registry's reason, StartError 128, ErrImageNeverPull, imagePullSecrets (and UNAUTHORIZED without); the others unharmed"
tro delete -f "$T/bad.yaml" >/dev/null

# the agent killed -9 with containers running: they keep running, are re-adopted, not restarted;
# one that exits meanwhile is reported with its real exit code
cat >"$T/short.yaml" <<Y
apiVersion: v1
kind: Pod
metadata: {name: short}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: $IMG
    command: ["/bin/sh", "-c", "while [ ! -e /tmp/go ]; do sleep 0.2; done; exit 3"]
---
apiVersion: v1
kind: Pod
metadata: {name: gone}
spec:
  containers:
  - name: orphan
    image: $IMG
    command: ["/bin/sh", "-c", "sleep 600"]
Y
tro apply -f "$T/short.yaml" >/dev/null
both_run() { [ "$(tro get pod short -o json | jq -r .status.phase)" = Running ] && [ "$(tro get pod gone -o json | jq -r .status.phase)" = Running ]; }
wait_for 30 both_run || fail "short and gone pods not Running"
# a pod force-deleted (grace 0: the object goes at once): its container and sandbox are orphans
# that the agent stops and removes
tro delete pod gone --grace-period 0 --force >/dev/null 2>&1 || fail "force delete"
HTTPD=$(httpds)
[ "$(wc -w <<<"$HTTPD")" = 2 ] || fail "expected 2 httpd processes: $HTTPD"
kill -9 "$UP"; wait "$UP" 2>/dev/null
sleep 1
[ "$(httpds)" = "$HTTPD" ] || fail "containers died with the agent"
tro runtime ps --data "$DATA" | grep -q " web " || fail "runtime ps with the agent stopped: $(tro runtime ps --data "$DATA")"
# the short pod exits (3) while no agent is there: told so through its rootfs, seen from the host
SHORT=$(tro runtime ps --data "$DATA" -o json | jq -r '.[] | select(.name == "c" and .state == "RUNNING") | .bundle')
[ -d "$SHORT/rootfs/tmp" ] || fail "the short container's rootfs: '$SHORT'"
touch "$SHORT/rootfs/tmp/go"
sleep 2
start_up
wait_for 60 ready || fail "node not Ready after the restart"
wait_for 30 sh -c "[ \"\$('$TROUPE' get pod short -o json | jq -c '.status.containerStatuses[0].state.terminated.exitCode')\" = 3 ]" ||
  fail "exit code of the container that ended while the agent was down: $(tro get pod short -o json | jq -c .status.containerStatuses)"
sleep 3
[ "$(httpds)" = "$HTTPD" ] || fail "containers restarted after the agent restart"
[ "$(pods | jq '[.items[].status.containerStatuses[0].restartCount] | add')" = 0 ] || fail "restartCount after re-adoption: $(pods | jq -c '[.items[].status.containerStatuses[0].restartCount]')"
[ "$(tro exec "$P1" -- cat /marker)" = "$MARK" ] || fail "exec after re-adoption"
orphan_gone() { ! tro runtime ps -a --data "$DATA" | grep -q " orphan "; }
wait_for 30 orphan_gone || fail "the container of a pod deleted while the agent was away is still there: $(tro runtime ps -a --data "$DATA")"
[ "$(ls "$DATA/oci/sandboxes" | grep -c '\.json$')" = 3 ] || fail "sandboxes after the orphan's removal: $(ls "$DATA/oci/sandboxes")"
pass "agent kill -9: containers kept and re-adopted (same pids, restartCount 0), exit code 3 of one that ended meanwhile; a force-deleted pod's container and sandbox removed"

tro delete -f "$T/short.yaml" >/dev/null
tro delete -f "$T/web.yaml" >/dev/null || fail "delete"
gone() { [ "$(tro get pods -A -o json | jq '.items | length')" = 0 ]; }
wait_for 60 gone || fail "pods not gone after delete"
NONE="overlay=0 conmon=0 netns=0 veth=0"
pclean() { [ "$(pod_residue "$DATA")" = "$NONE" ]; }
wait_for 30 pclean || fail "left behind after delete: $(pod_residue "$DATA")"
[ -z "$(find /sys/fs/cgroup/memory/troupe-$NODE -name 'pod*' -type d 2>/dev/null)" ] || fail "pod cgroups left: $(find /sys/fs/cgroup/memory/troupe-$NODE -name 'pod*' -type d)"
node_paths "$DATA"
RUNC_LEFT=$(runc --root "$RUN/runc" list -q 2>/dev/null | wc -l)
[ "$RUNC_LEFT" = 0 ] || fail "runc containers left: $RUNC_LEFT"
pass "deletion leaves no veth, overlay mount, conmon, netns pin, runc container or pod cgroup"
kill "$UP"; wait "$UP" 2>/dev/null
node_paths "$DATA"; RUN0=$RUN; BR0=$BR
clean() { [ "$(node_residue "$DATA")" = "$NONE bridge=0 masq=0 rundir=0 mounts=0" ]; }
wait_for 20 clean || fail "left behind after the node stopped: $(node_residue "$DATA") (run dir $RUN0, bridge $BR0)"
[ -z "$(ls -d /sys/fs/cgroup/memory/troupe-$NODE 2>/dev/null)" ] || fail "the node's cgroup hierarchy is left after it stopped"
pass "the stopped node leaves no bridge, mount, rule or cgroup"
