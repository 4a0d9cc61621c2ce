#!/usr/bin/env bash
# Container log rotation (issue 7), as the kubelet's container log manager: a container writing a
# counter fast, on a node with --container-log-max-size 2Ki, containerLogMaxFiles: 3 (config
# file) and --container-log-monitor-interval 3s. Checked: bad values (flags and config keys) stop
# `up` with a clear error; after a few checks at most 3 files exist for the log (the live one, the
# newest rotated one, older ones .gz); the counter is continuous across the rotated files and the
# live one (no line lost at a rotation: conmon is not given a --log-size-max that would truncate);
# `troupe logs` shows the live file, `-f` continues across two rotations with no line lost or
# repeated, `--previous` shows the previous instance's whole log after a restart and after the
# current one rotated; the pod's logs go with the pod and nothing is left behind.
. "$(dirname "$0")/lib.sh"
need_images
command -v zcat >/dev/null || skip "zcat is not installed (gzip)"
cd "$T" || fail "no temp dir"
PORT=$((20000 + $$ % 12000)); REG=127.0.0.1:$PORT; MARK=logrot-e2e-$$; IMG=$REG/e2e/busybox:1
for bad in "--container-log-max-files 1|containerLogMaxFiles (1) must be between 2" \
           "--container-log-max-files x|must be an integer of at least 2" \
           "--container-log-max-size 0|containerLogMaxSize \"0\": must be a positive quantity" \
           "--container-log-max-size lots|containerLogMaxSize \"lots\"" \
           "--container-log-monitor-interval 1s|must be a duration of at least 3s"; do
  flag=${bad%%|*}; want=${bad#*|}
  # shellcheck disable=SC2086
  OUT=$(timeout 10 "$TROUPE" up --data "$T/bad" $flag 2>&1) && fail "troupe up $flag started"
  grep -qF -- "$want" <<<"$OUT" || fail "troupe up $flag: unclear error: $OUT"
done
printf 'containerLogMaxFiles: 1\n' >"$T/badlog.yaml"
OUT=$(timeout 10 "$TROUPE" up --data "$T/bad" --config "$T/badlog.yaml" 2>&1) && fail "troupe up with containerLogMaxFiles: 1 started"
grep -qF "containerLogMaxFiles (1) must be between 2" <<<"$OUT" || fail "config containerLogMaxFiles: 1: unclear error: $OUT"
printf 'containerLogMonitorInterval: 500ms\n' >"$T/badlog.yaml"
OUT=$(timeout 10 "$TROUPE" up --data "$T/bad" --config "$T/badlog.yaml" 2>&1) && fail "troupe up with containerLogMonitorInterval: 500ms started"
grep -qF "at least 3s" <<<"$OUT" || fail "config containerLogMonitorInterval: 500ms: unclear error: $OUT"
pass "bad rotation settings (flags and config keys) stop up with the setting named"
registry_start "$T/reg" "$PORT"
image_build "$T/img" "$MARK" || fail "could not build the test image"
image_push "$T/img" "$IMG" || fail "could not push the test image"
DATA=$T/d; NODE=lr$$
# max files from the node config file, the others as flags
printf 'containerLogMaxFiles: 3\n' >"$T/node.yaml"
( cd "$T" && exec "$TROUPE" up --data "$DATA" --node-name "$NODE" --config "$T/node.yaml" --container-log-max-size 2Ki \
    --container-log-monitor-interval 3s >>"$T/up.log" 2>&1 ) & UP=$!; PIDS+=("$UP")
ready() { [ "$(tro get nodes "$NODE" -o json 2>/dev/null | jq -r '.status.conditions[]? | select(.type=="Ready") | .status')" = True ]; }
wait_for 60 ready || fail "node not Ready"
# ~1000 lines a second, each with its number; /tmp/die ends this instance (exit 3: restarted)
cat >"$T/w.yaml" <<Y
apiVersion: v1
kind: Pod
metadata: {name: writer}
spec:
  containers:
  - name: w
    image: $IMG
    command: ["/bin/sh", "-c", "i=0; while :; do echo n=\$i; i=\$((i+1)); if [ \$((i % 100)) = 0 ]; then [ -f /tmp/die ] && { echo last=\$i; exit 3; }; sleep 0.1; fi; done # $MARK"]
Y
tro apply -f "$T/w.yaml" >/dev/null || fail "apply"
phase() { tro get pod writer -o json | jq -r .status.phase; }
wait_for 90 sh -c "[ \"\$('$TROUPE' get pod writer -o json | jq -r .status.phase)\" = Running ]" || fail "writer not Running: $(tro get pod writer -o json | jq -c .status)"
UID1=$(tro get pod writer -o json | jq -r .metadata.uid)
LD=$DATA/pods/$UID1/w
[ -f "$LD/0.log" ] || fail "no log at $LD/0.log: $(ls -la "$LD" 2>&1)"

# The files of attempt $1's log, oldest first: its rotated ones by name (the timestamp), then the live one.
files() { (cd "$LD" && for f in "$1.log".*; do [ -e "$f" ] && [ "${f%.tmp}" = "$f" ] && echo "$f"; done | sort; [ -f "$1.log" ] && echo "$1.log"); }
# The numbers of the whole lines of those files, in order (.gz ones decompressed).
numbers() {
  local f
  for f in $(files "$1"); do
    case $f in *.gz) zcat "$LD/$f" ;; *) cat "$LD/$f" ;; esac | grep -E '^[^ ]+ stdout [PF] n=[0-9]+$' | sed 's/.* n=//'
  done
}
# consecutive: every number is the one before plus 1 (prints the first broken pair)
consecutive() { awk 'NR > 1 && $1 != prev + 1 { print "gap after " prev ": " $1; bad = 1; exit } { prev = $1 } END { exit bad }'; }
# a consistent snapshot: the same file names before and after the read (a rotation in between: again)
snapshot() {
  local a b
  for _ in 1 2 3 4 5 6; do
    a=$(files "$1"); numbers "$1" >"$T/nums"; b=$(files "$1")
    [ "$a" = "$b" ] && return 0
  done
  return 1
}
# rotated three times at least: the file first rotated has been removed (the oldest kept starts past 0)
rotated_thrice() { snapshot 0 && [ "$(files 0 | wc -l)" = 3 ] && [ "$(head -1 "$T/nums")" -gt 0 ]; }
wait_for 60 rotated_thrice || fail "not rotated three times in 60 s: $(ls -la "$LD")"
for round in 1 2 3 4; do
  snapshot 0 || fail "the log files kept changing"
  F=$(files 0)
  [ "$(wc -l <<<"$F")" -le 3 ] || fail "round $round: more than 3 files: $F"
  # all rotated files but the newest are compressed; the newest rotated one and the live one are not
  [ "$(tail -1 <<<"$F")" = 0.log ] || fail "round $round: no live log: $F"
  OLD=$(head -n -2 <<<"$F")
  [ -z "$OLD" ] || ! grep -qv '\.gz$' <<<"$OLD" || fail "round $round: an older rotated file is not compressed: $F"
  [ "$(tail -2 <<<"$F" | grep -c '\.gz$')" = 0 ] || fail "round $round: the newest rotated file or the live one is compressed: $F"
  GAP=$(consecutive <"$T/nums") || fail "round $round: lines lost across the rotated files: $GAP (files $F)"
  [ "$(wc -l <"$T/nums")" -gt 100 ] || fail "round $round: too few lines: $(wc -l <"$T/nums")"
  sleep 2.5
done
FIRST=$(head -1 "$T/nums"); LAST=$(tail -1 "$T/nums")
pass "rotated: at most 3 files (older ones .gz), numbers $FIRST..$LAST continuous across them"
ls "$LD"/*.gz.tmp >/dev/null 2>&1 && fail "a compression's temporary file is left: $(ls "$LD")"

# `troupe logs` reads the live file: its lines are the live file's, consecutive, and recent
L=$(tro logs writer) || fail "troupe logs"
grep -E '^n=[0-9]+$' <<<"$L" | sed 's/n=//' | consecutive >/dev/null || fail "troupe logs: not consecutive: $(head -3 <<<"$L")"
LOGS_FIRST=$(head -1 <<<"$L" | sed 's/n=//')
[ "$LOGS_FIRST" -gt "$FIRST" ] || fail "troupe logs starts at $LOGS_FIRST, not past the oldest rotated file's $FIRST (live file expected)"
[ "$(tail -1 <<<"$L" | sed 's/n=//')" -ge "$LAST" ] || fail "troupe logs ends at $(tail -1 <<<"$L"), before $LAST"
tro logs writer --timestamps | head -1 | grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+[-+Z0-9:]* n=[0-9]+$' || fail "logs --timestamps: $(tro logs writer --timestamps | head -2)"
pass "troupe logs shows the live file ($LOGS_FIRST.. after rotation)"

# -f across rotations: the rest of the file it was reading, then the new live file from its start
INO0=$(stat -c %i "$LD/0.log")
tro logs writer -f >"$T/follow.out" 2>"$T/follow.err" & FOL=$!; PIDS+=("$FOL")
moved() { [ "$(stat -c %i "$LD/0.log")" != "$INO0" ]; }
wait_for 30 moved || fail "no rotation while following"
INO1=$(stat -c %i "$LD/0.log")
moved2() { [ "$(stat -c %i "$LD/0.log")" != "$INO1" ]; }
wait_for 30 moved2 || fail "no second rotation while following"
sleep 1
kill "$FOL"; wait "$FOL" 2>/dev/null
N=$(grep -cE '^n=[0-9]+$' "$T/follow.out")
GAP=$(grep -E '^n=[0-9]+$' "$T/follow.out" | sed 's/n=//' | consecutive) || fail "logs -f across rotations: $GAP ($N lines)"
[ "$N" -gt 1000 ] || fail "logs -f: only $N lines: $(tail -3 "$T/follow.out") $(cat "$T/follow.err")"
pass "logs -f across two rotations: $N lines, none lost or repeated"

# a restart: the previous instance's log (attempt 0) is kept whole for --previous
tro exec writer -- touch /tmp/die || fail "exec touch"
restarted() { [ "$(tro get pod writer -o json | jq -r '.status.containerStatuses[0].restartCount')" -ge 1 ] && [ "$(phase)" = Running ] && [ -f "$LD/1.log" ]; }
wait_for 60 restarted || fail "not restarted: $(tro get pod writer -o json | jq -c .status.containerStatuses)"
tro exec writer -- rm -f /tmp/die
P=$(tro logs writer --previous) || fail "logs --previous"
PLAST=$(grep -E '^last=' <<<"$P" | sed 's/last=//')
[ -n "$PLAST" ] || fail "logs --previous: no last line of the previous instance: $(tail -3 <<<"$P")"
grep -E '^n=[0-9]+$' <<<"$P" | sed 's/n=//' | consecutive >/dev/null || fail "logs --previous not consecutive"
[ "$(grep -E '^n=' <<<"$P" | tail -1 | sed 's/n=//')" = $((PLAST - 1)) ] || fail "logs --previous: the last number is not $((PLAST - 1)): $(tail -2 <<<"$P")"
# and still there, unchanged, once the current instance's log has rotated
rot1() { [ -n "$(ls "$LD"/1.log.* 2>/dev/null)" ]; }
wait_for 30 rot1 || fail "the new instance's log did not rotate: $(ls -la "$LD")"
[ "$(tro logs writer --previous)" = "$P" ] || fail "logs --previous changed after the current log rotated"
snapshot 0 || fail "attempt 0's files kept changing"
GAP=$(consecutive <"$T/nums") || fail "attempt 0's files after the restart: $GAP"
pass "--previous after a restart: the previous instance's log to its last line ($PLAST), unchanged by the new one's rotation"

tro delete pod writer >/dev/null || fail "delete"
gone() { [ "$(tro get pods -o json | jq '.items | length')" = 0 ]; }
wait_for 60 gone || fail "pod not gone after delete"
nolog() { [ ! -e "$DATA/pods/$UID1" ]; }
wait_for 30 nolog || fail "the pod's logs are left: $(ls -R "$DATA/pods/$UID1" 2>&1 | head)"
NONE="overlay=0 conmon=0 netns=0 veth=0"
pclean() { [ "$(pod_residue "$DATA")" = "$NONE" ]; }
wait_for 30 pclean || fail "left behind after delete: $(pod_residue "$DATA")"
kill "$UP"; wait "$UP" 2>/dev/null
node_paths "$DATA"
clean() { [ "$(node_residue "$DATA")" = "$NONE bridge=0 masq=0 rundir=0 mounts=0" ]; }
wait_for 20 clean || fail "left behind after the node stopped: $(node_residue "$DATA")"
pass "the pod's logs go with it; nothing left behind"
