#!/usr/bin/env bash
# Probes, init containers, lifecycle hooks, termination messages (issue 7) on the oci runtime,
# with the image of containers.sh. Checked: an exec readinessProbe keeps a Running pod not Ready
# until the file it tests exists (then Ready, ContainersReady); a postStart hook ran; an httpGet
# livenessProbe on httpd that starts answering 404 restarts the container (restartCount 1, events
# Unhealthy "Liveness probe failed" and Killing "failed liveness probe" in describe) after its
# preStop hook ran (its output in the previous attempt's log); init containers ran in order, to
# completion, before the app (their timestamps, Initialized); a failing init container under
# restartPolicy Never fails the pod and the app never starts; terminationMessagePath's content is
# lastState.terminated.message; FallbackToLogsOnError takes the log; a TERM-ignoring container goes
# after terminationGracePeriodSeconds; nothing is left behind.
. "$(dirname "$0")/lib.sh"
need_images
cd "$T" || fail "no temp dir"
PORT=$((20000 + $$ % 12000)); REG=127.0.0.1:$PORT; MARK=probe-e2e-$$; IMG=$REG/e2e/busybox:1
BEFORE=$(node_residue); PBEFORE=$(pod_residue)
registry_start "$T/reg" "$PORT"
image_build "$T/img" "$MARK" || fail "could not build the test image"
image_push "$T/img" "$IMG" || fail "could not push the test image"
DATA=$T/d
( cd "$T" && exec "$TROUPE" up --data "$DATA" --node-name p1 >>"$T/up.log" 2>&1 ) & UP=$!; PIDS+=($UP)
ready() { [ "$(tro get nodes p1 -o json 2>/dev/null | jq -r '.status.conditions[]? | select(.type=="Ready") | .status')" = True ]; }
wait_for 60 ready || fail "node not Ready"
cat >"$T/pods.yaml" <<Y
apiVersion: v1
kind: Pod
metadata: {name: rdy}
spec:
  containers:
  - name: c
    image: $IMG
    command: ["/bin/sh", "-c", "exec sleep 3600"]
    readinessProbe:
      exec: {command: [test, -f, /tmp/ready]}
      periodSeconds: 1
    lifecycle:
      postStart:
        exec: {command: [sh, -c, "echo hooked > /tmp/poststart"]}
---
apiVersion: v1
kind: Pod
metadata: {name: live}
spec:
  terminationGracePeriodSeconds: 5
  containers:
  - name: web
    image: $IMG
    command: ["/bin/sh", "-c", "echo up > /www/index.html; exec httpd -f -p 8080 -h /www"]
    ports: [{name: http, containerPort: 8080}]
    livenessProbe:
      httpGet: {path: /index.html, port: http}
      periodSeconds: 1
      failureThreshold: 2
    lifecycle:
      preStop:
        exec: {command: [sh, -c, "echo bye-$MARK > /proc/1/fd/1"]}
---
apiVersion: v1
kind: Pod
metadata: {name: init}
spec:
  initContainers:
  - name: first
    image: $IMG
    command: ["/bin/sh", "-c", "echo one; sleep 1"]
  - name: second
    image: $IMG
    command: ["/bin/sh", "-c", "echo two; sleep 1"]
  containers:
  - name: app
    image: $IMG
    command: ["/bin/sh", "-c", "exec sleep 3600"]
---
apiVersion: v1
kind: Pod
metadata: {name: initfail}
spec:
  restartPolicy: Never
  initContainers:
  - name: bad
    image: $IMG
    command: ["/bin/sh", "-c", "exit 3"]
  containers:
  - name: app
    image: $IMG
    command: ["/bin/sh", "-c", "exec sleep 3600"]
---
apiVersion: v1
kind: Pod
metadata: {name: msg}
spec:
  restartPolicy: OnFailure
  containers:
  - name: c
    image: $IMG
    command: ["/bin/sh", "-c", "echo the-end-$MARK > /tmp/term; sleep 1; exit 2"]
    terminationMessagePath: /tmp/term
  - name: logs
    image: $IMG
    command: ["/bin/sh", "-c", "echo from-the-log-$MARK; sleep 1; exit 4"]
    terminationMessagePolicy: FallbackToLogsOnError
Y
tro apply -f "$T/pods.yaml" >/dev/null || fail "apply"
pj() { tro get pod "$1" -o json; }
cond() { pj "$1" | jq -r --arg t "$2" '.status.conditions[]? | select(.type==$t) | .status'; }

# readiness
running() { [ "$(pj "$1" | jq -r .status.phase)" = Running ]; }
wait_for 90 running rdy || fail "rdy not Running: $(pj rdy | jq -c .status)"
sleep 3
[ "$(cond rdy Ready)" = False ] || fail "rdy Ready before /tmp/ready exists: $(pj rdy | jq -c .status.conditions)"
pj rdy | jq -e '.status.containerStatuses[0] | .ready == false and .started == true' >/dev/null || fail "rdy container: $(pj rdy | jq -c .status.containerStatuses[0])"
[ "$(tro exec rdy -- cat /tmp/poststart)" = hooked ] || fail "the postStart hook did not run"
tro exec rdy -- touch /tmp/ready || fail "exec touch"
isready() { [ "$(cond rdy Ready)" = True ] && [ "$(cond rdy ContainersReady)" = True ]; }
wait_for 15 isready || fail "rdy not Ready after /tmp/ready: $(pj rdy | jq -c .status.conditions)"
pj rdy | jq -e '.status.containerStatuses[0].ready == true' >/dev/null || fail "container not ready"
tro exec rdy -- rm /tmp/ready
notready() { [ "$(cond rdy Ready)" = False ]; }
wait_for 15 notready || fail "rdy still Ready after rm /tmp/ready (failureThreshold 3 × 1 s)"
pass "exec readinessProbe: Running, not Ready → Ready after touch → not Ready after rm; postStart ran"

# liveness + preStop
wait_for 60 running live || fail "live not Running: $(pj live | jq -c .status)"
sleep 3
[ "$(pj live | jq .status.containerStatuses[0].restartCount)" = 0 ] || fail "live restarted while healthy: $(pj live | jq -c .status.containerStatuses[0])"
tro exec live -- rm /www/index.html || fail "exec rm"
restarted() { [ "$(pj live | jq .status.containerStatuses[0].restartCount)" = 1 ] && running live; }
wait_for 40 restarted || fail "live not restarted after its page went 404: $(pj live | jq -c .status.containerStatuses[0])"
D=$(tro describe pod live)
grep -q "Unhealthy.*Liveness probe failed: HTTP probe failed with statuscode: 404" <<<"$D" || fail "no Unhealthy event: $D"
grep -q "Killing.*Container web failed liveness probe, will be restarted" <<<"$D" || fail "no Killing event: $D"
tro logs live --previous | grep -qx "bye-$MARK" || fail "the preStop hook's output is not in the previous log: $(tro logs live --previous)"
sleep 4
[ "$(pj live | jq .status.containerStatuses[0].restartCount)" = 1 ] || fail "live restarted again though healthy: $(pj live | jq -c .status.containerStatuses[0])"
pass "httpGet livenessProbe (named port): 404 → preStop ran, container restarted once, Unhealthy and Killing events"

# init containers
initdone() { running init && [ "$(cond init Initialized)" = True ]; }
wait_for 60 initdone || fail "init pod not Running/Initialized: $(pj init | jq -c .status)"
S=$(pj init | jq -c .status)
jq -e '[.initContainerStatuses[] | .state.terminated.reason == "Completed" and .state.terminated.exitCode == 0 and .ready] | all' <<<"$S" >/dev/null ||
  fail "init statuses: $S"
F1=$(jq -r '.initContainerStatuses[0].state.terminated.finishedAt' <<<"$S"); S2=$(jq -r '.initContainerStatuses[1].state.terminated.startedAt' <<<"$S")
F2=$(jq -r '.initContainerStatuses[1].state.terminated.finishedAt' <<<"$S"); SA=$(jq -r '.containerStatuses[0].state.running.startedAt' <<<"$S")
[[ ! "$S2" < "$F1" ]] && [[ ! "$SA" < "$F2" ]] || fail "not in order: first finished $F1, second started $S2 finished $F2, app started $SA"
[ "$(tro logs init -c first)" = one ] && [ "$(tro logs init -c second)" = two ] || fail "init logs: $(tro logs init -c first) $(tro logs init -c second)"
failed() { [ "$(pj initfail | jq -r .status.phase)" = Failed ]; }
wait_for 60 failed || fail "initfail not Failed: $(pj initfail | jq -c .status)"
pj initfail | jq -e '.status.initContainerStatuses[0].state.terminated.exitCode == 3 and .status.containerStatuses[0].state.waiting.reason == "PodInitializing"' >/dev/null ||
  fail "initfail statuses: $(pj initfail | jq -c .status)"
[ "$(cond initfail Initialized)" = False ] || fail "initfail Initialized"
pass "init containers in order before the app (timestamps, logs, Initialized); a failed one under Never fails the pod"

# termination messages
msgs() { pj msg | jq -e --arg m "$MARK" '[.status.containerStatuses[] | .lastState.terminated.message // ""] as $x |
  ($x[0] | startswith("the-end-" + $m)) and ($x[1] | contains("from-the-log-" + $m))' >/dev/null; }
wait_for 60 msgs || fail "termination messages: $(pj msg | jq -c '[.status.containerStatuses[] | {name, lastState, state}]')"
pass "terminationMessagePath content and FallbackToLogsOnError's log tail in lastState.terminated.message"

# terminationGracePeriodSeconds on the oci runtime: a container that ignores SIGTERM is killed
# after the grace period, not before, not much later
cat >"$T/grace.yaml" <<Y
apiVersion: v1
kind: Pod
metadata: {name: grace}
spec:
  terminationGracePeriodSeconds: 3
  containers:
  - name: c
    image: $IMG
    command: ["/bin/sh", "-c", "trap '' TERM; while true; do sleep 1; done"]
Y
tro apply -f "$T/grace.yaml" >/dev/null || fail "apply grace"
wait_for 60 running grace || fail "grace not Running"
t0=$SECONDS
tro delete pod grace >/dev/null || fail "delete grace"
gone1() { ! tro get pod grace >/dev/null 2>&1; }
wait_for 30 gone1 || fail "grace pod not gone 30 s after its deletion"
el=$((SECONDS - t0))
[ "$el" -ge 3 ] && [ "$el" -le 12 ] || fail "a TERM-ignoring container with a 3 s grace period took ${el}s to go"
pass "terminationGracePeriodSeconds 3 honoured on the oci runtime (gone after ${el}s)"

tro delete -f "$T/pods.yaml" >/dev/null || fail "delete"
gone() { [ "$(tro get pods -A -o json | jq '.items | length')" = 0 ]; }
wait_for 60 gone || fail "pods not gone after delete"
pclean() { [ "$(pod_residue)" = "$PBEFORE" ]; }
wait_for 30 pclean || fail "left behind after delete: $(pod_residue), before: $PBEFORE"
kill "$UP"; wait "$UP" 2>/dev/null
clean() { [ "$(node_residue)" = "$BEFORE" ]; }
wait_for 20 clean || fail "left behind after the node stopped: $(node_residue), before: $BEFORE"
pass "deletion and node stop leave nothing behind"
