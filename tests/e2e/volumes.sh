#!/usr/bin/env bash
# Volumes and environment from objects (issue 7): a pod of two containers on the oci runtime with a
# configMap volume (the file changes within 10 s of `troupe apply` of the ConfigMap), a secret
# volume with defaultMode 0400, an emptyDir shared by the two containers, a Memory emptyDir (a
# tmpfs inside the container), a hostPath
# Directory of a temp dir, a subPath, a downwardAPI file,
# env from configMapKeyRef / secretKeyRef / fieldRef status.podIP and envFrom with a prefix; a pod
# referencing a missing ConfigMap waits in CreateContainerConfigError `configmap "x" not found`
# and starts once it exists; a pod with runAsUser 1000 and fsGroup 2000 has group 2000, writes
# into its emptyDir files of group 2000 and reads a 0400 secret through the group (0440, group
# 2000); a ReplicaSet's pod writing 3 MiB into an emptyDir with sizeLimit 1Mi is evicted (Failed,
# Evicted, the kubelet's message, an Evicted event) and the ReplicaSet makes a new pod; the evicted
# pod's volumes, sandbox and container are removed while its object stays Failed/Evicted; after
# deletion no pod volume directory and no tmpfs mount is left.
. "$(dirname "$0")/lib.sh"
need_images
cd "$T" || fail "no temp dir"
PORT=$((20000 + $$ % 12000)); REG=127.0.0.1:$PORT; MARK=vol-e2e-$$; IMG=$REG/e2e/busybox:1
# what this test's node leaves is counted under its own data dir and pod uids (another test may
# run containers on the machine meanwhile: node_residue and pod_residue count the whole machine)
vol_mounts() { grep -c " $DATA/pods/.*/volumes/kubernetes.io~" /proc/mounts; }
mine() { echo "mounts=$(grep -c " $DATA/" /proc/mounts) conmon=$(pgrep -fc -- "-b $DATA/" || true) netns=$(grep -cE "sb-(${UIDS// /|})( |$)" /proc/mounts)"; }
VBEFORE=0; UIDS=none
registry_start "$T/reg" "$PORT"
image_build "$T/img" "$MARK" || fail "could not build the test image"
image_push "$T/img" "$IMG" || fail "could not push the test image"
DATA=$T/d
( cd "$T" && exec "$TROUPE" up --data "$DATA" --node-name v1 >>"$T/up.log" 2>&1 ) & UP=$!; PIDS+=($UP)
ready() { [ "$(tro get nodes v1 -o json 2>/dev/null | jq -r '.status.conditions[]? | select(.type=="Ready") | .status')" = True ]; }
wait_for 60 ready || fail "node not Ready"
mkdir -p "$T/hostdir"; echo from-host-$MARK >"$T/hostdir/f"

cat >"$T/objs.yaml" <<Y
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {greeting: hello, mode: fast}
---
apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData: {password: s3cret}
Y
cat >"$T/pod.yaml" <<Y
apiVersion: v1
kind: Pod
metadata: {name: vols, labels: {app: vols}}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: main
    image: $IMG
    command: ["/bin/sh", "-c", "sleep 3600 # $MARK"]
    env:
    - {name: MODE, valueFrom: {configMapKeyRef: {name: cfg, key: mode}}}
    - {name: PASS, valueFrom: {secretKeyRef: {name: creds, key: password}}}
    - {name: IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
    - {name: MISSING_OK, valueFrom: {configMapKeyRef: {name: nope, key: x, optional: true}}}
    envFrom:
    - {prefix: CFG_, configMapRef: {name: cfg}}
    volumeMounts:
    - {name: conf, mountPath: /etc/conf}
    - {name: sec, mountPath: /etc/sec}
    - {name: shared, mountPath: /shared}
    - {name: ram, mountPath: /ram}
    - {name: host, mountPath: /host, readOnly: true}
    - {name: shared, mountPath: /sub, subPath: sub/dir}
    - {name: info, mountPath: /info}
  - name: side
    image: $IMG
    command: ["/bin/sh", "-c", "echo hi-from-side > /shared/from-side; sleep 3600 # $MARK"]
    volumeMounts:
    - {name: shared, mountPath: /shared}
  volumes:
  - {name: conf, configMap: {name: cfg}}
  - {name: sec, secret: {secretName: creds, defaultMode: 0400}}
  - {name: shared, emptyDir: {}}
  - {name: ram, emptyDir: {medium: Memory, sizeLimit: 16Mi}}
  - {name: host, hostPath: {path: $T/hostdir, type: Directory}}
  - {name: info, downwardAPI: {items: [{path: name, fieldRef: {fieldPath: metadata.name}}, {path: labels, fieldRef: {fieldPath: metadata.labels}}]}}
Y
tro apply -f "$T/objs.yaml" >/dev/null || fail "apply objects"
tro apply -f "$T/pod.yaml" >/dev/null || fail "apply pod"
up() { [ "$(tro get pod vols -o json | jq '[.status.containerStatuses[]? | select(.state.running)] | length')" = 2 ]; }
wait_for 90 up || fail "pod not running: $(tro get pod vols -o json | jq -c .status)"
UID_=$(tro get pod vols -o json | jq -r .metadata.uid); UIDS=$UID_; IP=$(tro get pod vols -o json | jq -r .status.podIP)
x() { tro exec vols -c main -- "$@"; }

[ "$(x cat /etc/conf/greeting)" = hello ] || fail "configMap file: '$(x cat /etc/conf/greeting)'"
x sh -c 'readlink /etc/conf/greeting' | grep -qx '..data/greeting' || fail "configMap key is not the AtomicWriter's symlink: $(x ls -la /etc/conf)"
[ "$(x cat /etc/sec/password)" = s3cret ] || fail "secret file: '$(x cat /etc/sec/password)'"
[ "$(x stat -L -c %a /etc/sec/password)" = 400 ] || fail "secret mode $(x stat -L -c %a /etc/sec/password), 400 expected"
[ "$(x stat -L -c %a /etc/conf/greeting)" = 644 ] || fail "configMap default mode $(x stat -L -c %a /etc/conf/greeting)"
x sh -c 'echo x > /etc/conf/new' 2>/dev/null && fail "a configMap volume is writable"
pass "configMap files (AtomicWriter symlinks, 0644, read-only), secret file with defaultMode 0400"

sidefile() { [ "$(x cat /shared/from-side)" = hi-from-side ]; }
wait_for 20 sidefile || fail "emptyDir not shared: '$(x cat /shared/from-side 2>&1)'"
x mount | grep -q ' /ram tmpfs ' || x mount | grep ' /ram ' | grep -q tmpfs || fail "Memory emptyDir is not a tmpfs: $(x mount | grep /ram)"
[ "$(x cat /host/f)" = "from-host-$MARK" ] || fail "hostPath: '$(x cat /host/f)'"
x sh -c 'echo y > /host/g' 2>/dev/null && fail "a readOnly hostPath mount is writable"
x sh -c 'echo in-sub > /sub/file' || fail "subPath not writable"
[ "$(tro exec vols -c side -- cat /shared/sub/dir/file)" = in-sub ] || fail "subPath is not the volume's sub/dir"
[ -f "$DATA/pods/$UID_/volumes/kubernetes.io~empty-dir/shared/sub/dir/file" ] || fail "emptyDir not under DATA/pods/<uid>/volumes"
[ "$(x cat /info/name)" = vols ] || fail "downwardAPI name: '$(x cat /info/name)'"
[ "$(x cat /info/labels)" = 'app="vols"' ] || fail "downwardAPI labels: '$(x cat /info/labels)'"
pass "emptyDir shared by two containers, Memory emptyDir is tmpfs, hostPath Directory (read-only), subPath, downwardAPI"

ENV=$(x sh -c 'echo "$MODE|$PASS|$IP|$CFG_mode|$CFG_greeting|${MISSING_OK-unset}"')
[ "$ENV" = "fast|s3cret|$IP|fast|hello|unset" ] || fail "env: '$ENV', want 'fast|s3cret|$IP|fast|hello|unset'"
pass "env from configMapKeyRef, secretKeyRef, fieldRef status.podIP ($IP), envFrom with prefix, optional left out"

sed -i 's/greeting: hello/greeting: updated/' "$T/objs.yaml"
tro apply -f "$T/objs.yaml" >/dev/null || fail "apply updated ConfigMap"
upd() { [ "$(x cat /etc/conf/greeting)" = updated ]; }
S0=$SECONDS
wait_for 10 upd || fail "the configMap file did not change within 10 s: '$(x cat /etc/conf/greeting)'"
GENS=$(ls -a "$DATA/pods/$UID_/volumes/kubernetes.io~configmap/conf" | grep -c '^\.\.2')
[ "$GENS" = 1 ] || fail "$GENS timestamped generations left in the configMap volume"
pass "an applied ConfigMap reaches the file in $((SECONDS - S0)) s (one generation left)"

cat >"$T/bad.yaml" <<Y
apiVersion: v1
kind: Pod
metadata: {name: nocm}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: $IMG
    command: ["/bin/sh", "-c", "cat /cm/k; sleep 3600 # $MARK"]
    env: [{name: K, valueFrom: {configMapKeyRef: {name: later, key: k}}}]
    volumeMounts: [{name: cm, mountPath: /cm}]
  volumes: [{name: cm, configMap: {name: later}}]
Y
tro apply -f "$T/bad.yaml" >/dev/null || fail "apply nocm"
waiting() { tro get pod nocm -o json | jq -e '.status.containerStatuses[0].state.waiting | .reason == "CreateContainerConfigError" and .message == "configmap \"later\" not found"' >/dev/null; }
wait_for 60 waiting || fail "missing ConfigMap: $(tro get pod nocm -o json | jq -c .status.containerStatuses)"
tro get events -o json 2>/dev/null | jq -e '[.items[] | select(.involvedObject.name=="nocm" and .reason=="Failed")] | length > 0' >/dev/null ||
  fail "no Failed event for the missing ConfigMap"
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: later}\ndata: {k: now-here}\n' | tro apply -f - >/dev/null || fail "apply later"
started() { [ "$(tro get pod nocm -o json | jq -r '.status.containerStatuses[0].state.running != null')" = true ]; }
UIDS="$UIDS $(tro get pod nocm -o json | jq -r .metadata.uid)"
wait_for 60 started || fail "nocm did not start once its ConfigMap existed: $(tro get pod nocm -o json | jq -c .status.containerStatuses)"
pass "a missing ConfigMap: CreateContainerConfigError 'configmap \"later\" not found', then started when it exists"

cat >"$T/fsg.yaml" <<Y
apiVersion: v1
kind: Pod
metadata: {name: fsg}
spec:
  terminationGracePeriodSeconds: 1
  securityContext: {runAsUser: 1000, fsGroup: 2000, fsGroupChangePolicy: OnRootMismatch}
  containers:
  - name: c
    image: $IMG
    command: ["/bin/sh", "-c", "sleep 3600 # $MARK"]
    volumeMounts:
    - {name: scratch, mountPath: /scratch}
    - {name: sec, mountPath: /sec}
  volumes:
  - {name: scratch, emptyDir: {}}
  - {name: sec, secret: {secretName: creds, defaultMode: 0400}}
Y
tro apply -f "$T/fsg.yaml" >/dev/null || fail "apply fsg"
fsgup() { [ "$(tro get pod fsg -o json | jq -r '.status.containerStatuses[0].state.running != null')" = true ]; }
wait_for 90 fsgup || fail "fsg not running: $(tro get pod fsg -o json | jq -c .status)"
UIDS="$UIDS $(tro get pod fsg -o json | jq -r .metadata.uid)"
f() { tro exec fsg -c c -- "$@"; }
[ "$(f id -u)" = 1000 ] || fail "fsg uid: $(f id -u)"
f id -G | tr ' ' '\n' | grep -qx 2000 || fail "fsGroup 2000 not among the groups: $(f id -G)"
f sh -c 'echo mine > /scratch/f' || fail "uid 1000 cannot write into the emptyDir"
[ "$(f stat -c %g /scratch/f)" = 2000 ] || fail "a file written into the emptyDir has group $(f stat -c %g /scratch/f), 2000 expected"
[ "$(f stat -c %g /scratch)" = 2000 ] || fail "the emptyDir has group $(f stat -c %g /scratch)"
[ "$(f cat /sec/password)" = s3cret ] || fail "uid 1000 cannot read the 0400 secret through fsGroup: '$(f cat /sec/password 2>&1)'"
[ "$(f stat -L -c %g:%a /sec/password)" = 2000:440 ] || fail "secret file group:mode $(f stat -L -c %g:%a /sec/password), 2000:440 expected"
pass "fsGroup 2000 with runAsUser 1000: in id -G, emptyDir files of group 2000 (setgid), a 0400 secret becomes 0440 group 2000 and readable"

# emptyDir sizeLimit eviction: the ReplicaSet's first pod (it makes the marker in a hostPath) writes
# 3 MiB into a 1Mi emptyDir; the replacement writes nothing and runs
cat >"$T/hog.yaml" <<Y
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: hog}
spec:
  replicas: 1
  selector: {matchLabels: {app: hog}}
  template:
    metadata: {labels: {app: hog}}
    spec:
      terminationGracePeriodSeconds: 30
      containers:
      - name: c
        image: $IMG
        command: ["/bin/sh", "-c", "if mkdir /host/hog-marker 2>/dev/null; then dd if=/dev/zero of=/scratch/big bs=1024 count=3072; fi; sleep 3600 # $MARK"]
        volumeMounts:
        - {name: scratch, mountPath: /scratch}
        - {name: host, mountPath: /host}
      volumes:
      - {name: scratch, emptyDir: {sizeLimit: 1Mi}}
      - {name: host, hostPath: {path: $T/hostdir, type: Directory}}
Y
tro apply -f "$T/hog.yaml" >/dev/null || fail "apply hog"
S0=$SECONDS
evicted() { tro get pods -l app=hog -o json | jq -e '[.items[] | select(.status.phase=="Failed" and .status.reason=="Evicted")] | length == 1' >/dev/null; }
wait_for 60 evicted || fail "no hog pod Failed/Evicted within 60 s: $(tro get pods -l app=hog -o json | jq -c '[.items[].status | {phase, reason, message}]')"
EV=$(tro get pods -l app=hog -o json | jq -r '.items[] | select(.status.reason=="Evicted")')
[ "$(jq -r .status.message <<<"$EV")" = 'Usage of EmptyDir volume "scratch" exceeds the limit "1Mi". ' ] || fail "eviction message: '$(jq -r .status.message <<<"$EV")'"
jq -e '[.status.containerStatuses[0].state.terminated] | length == 1' <<<"$EV" >/dev/null || fail "the evicted pod's container is not terminated: $(jq -c .status.containerStatuses <<<"$EV")"
EVNAME=$(jq -r .metadata.name <<<"$EV"); UIDS="$UIDS $(jq -r .metadata.uid <<<"$EV")"
tro get events -o json | jq -e --arg n "$EVNAME" '[.items[] | select(.involvedObject.name==$n and .reason=="Evicted")] | length > 0' >/dev/null ||
  fail "no Evicted event for $EVNAME"
T_EV=$((SECONDS - S0))
replaced() { tro get pods -l app=hog -o json | jq -e '[.items[] | select(.status.phase=="Running")] | length == 1' >/dev/null; }
wait_for 90 replaced || fail "the ReplicaSet made no running replacement: $(tro get pods -l app=hog -o json | jq -c '[.items[].status.phase]')"
for u in $(tro get pods -l app=hog -o json | jq -r '.items[].metadata.uid'); do UIDS="$UIDS $u"; done
pass "3 MiB in a 1Mi emptyDir: the pod is evicted in ${T_EV} s (Failed, Evicted, the kubelet's message, container killed, event) and the ReplicaSet replaced it"
# the evicted pod's content goes while its object stays (the kubelet's ShouldPodContentBeRemoved):
# its container (record, conmon, rootfs), its sandbox (netns pinned as sb-<uid>, veth) and its volumes
EVUID=$(jq -r .metadata.uid <<<"$EV"); EVCID=$(jq -r '.status.containerStatuses[0].containerID' <<<"$EV"); EVCID=${EVCID#*://}
[ -n "$EVCID" ] || fail "the evicted pod reports no containerID: $(jq -c .status.containerStatuses <<<"$EV")"
reclaimed() { [ ! -e "$DATA/pods/$EVUID/volumes" ] && ! grep -qE "sb-$EVUID( |$)" /proc/mounts && ! grep -q -- "$EVCID" /proc/mounts &&
  ! pgrep -f -- "conmon .*$EVCID" >/dev/null; }
wait_for 60 reclaimed || fail "the evicted pod kept its content: volumes=$(ls "$DATA/pods/$EVUID" 2>&1) mounts=$(grep -cE "sb-$EVUID|$EVCID" /proc/mounts)"
sleep 3 # nothing made again
reclaimed || fail "the evicted pod's content came back: $(ls "$DATA/pods/$EVUID" 2>&1) $(grep -E "sb-$EVUID|$EVCID" /proc/mounts)"
EV2=$(tro get pods -l app=hog -o json | jq -c --arg u "$EVUID" '.items[] | select(.metadata.uid==$u)')
[ "$(jq -r '.status.phase + "/" + .status.reason' <<<"$EV2")" = Failed/Evicted ] || fail "the evicted pod object is not kept Failed/Evicted: $(jq -c .status <<<"$EV2")"
jq -e '.status.containerStatuses[0].state.terminated' <<<"$EV2" >/dev/null || fail "the evicted pod's container status lost its terminated state: $(jq -c .status.containerStatuses <<<"$EV2")"
pass "the evicted pod's volumes, sandbox (netns) and container are removed, its object stays Failed/Evicted with the container terminated"
tro delete rs hog >/dev/null || fail "delete rs hog"

[ "$(vol_mounts)" -gt "$VBEFORE" ] || fail "no tmpfs mounted for the Memory emptyDir and the secret"
tro delete pod vols nocm fsg >/dev/null || fail "delete"
gone() { [ "$(tro get pods -o json | jq '.items | length')" = 0 ]; }
wait_for 60 gone || fail "pods not gone after delete"
vclean() { [ ! -e "$DATA/pods/$UID_/volumes" ] && [ "$(vol_mounts)" = "$VBEFORE" ]; }
wait_for 30 vclean || fail "left behind after delete: $(ls -la "$DATA/pods/$UID_" 2>&1), mounts: $(grep 'kubernetes.io~' /proc/mounts)"
pclean() { [ "$(mine)" = "mounts=0 conmon=0 netns=0" ]; }
wait_for 30 pclean || fail "left behind after delete: $(mine)"
pass "deletion removes the pod's volume directories and tmpfs mounts (and its sandbox, rootfs, conmon)"

# orphans: a pod force-deleted (gone from the store at once, never through the agent's removal)
# with the node killed -9 right after: the restarted agent removes its volumes once its containers
# are gone
tro apply -f "$T/pod.yaml" >/dev/null || fail "apply pod again"
wait_for 90 up || fail "pod not running again"
UID2=$(tro get pod vols -o json | jq -r .metadata.uid); UIDS="$UIDS $UID2"
[ -d "$DATA/pods/$UID2/volumes" ] || fail "no volumes dir for the second pod"
tro delete pod vols --force >/dev/null || fail "force delete"
kill -9 "$UP"; wait "$UP" 2>/dev/null
( cd "$T" && exec "$TROUPE" up --data "$DATA" --node-name v1 >>"$T/up.log" 2>&1 ) & UP=$!; PIDS+=($UP)
wait_for 60 ready || fail "node not Ready after the restart"
orphan() { [ ! -e "$DATA/pods/$UID2/volumes" ] && [ "$(vol_mounts)" = "$VBEFORE" ]; }
wait_for 40 orphan || fail "volumes of the force-deleted pod left after the restart: $(ls "$DATA/pods/$UID2" 2>&1) $(grep "$UID2" /proc/mounts)"
pass "a force-deleted pod's volumes are removed by the restarted agent (orphan sweep)"
kill "$UP"; wait "$UP" 2>/dev/null
clean() { [ "$(mine)" = "mounts=0 conmon=0 netns=0" ]; }
wait_for 20 clean || fail "left behind after the node stopped: $(mine)"
pass "the stopped node leaves nothing behind"
