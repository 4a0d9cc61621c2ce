#!/usr/bin/env bash
# `troupe exec [-i] [-t]` streamed (issue 7): a pod from an image built at run time (as
# containers.sh); checked: exit codes 0 and 7, stdin streamed (a line is answered before stdin
# ends), output arriving while the command runs (the first line read before the second is
# written), 10 MB of output counted, stderr apart, -t as kubectl (dropped without -i; without a
# local terminal the warning and none; under a terminal made by script(1): `tty` names
# /dev/pts/N, `stty size` shows the terminal's size — 10 runs in a row, each must, the race that
# had -t refused —, the new size after that terminal is resized (SIGWINCH), a shell driven
# through it with the exit code passed), a killed
# CLI's command ended by the node within ~60 s; nothing left behind (pid files, mounts, conmon).
. "$(dirname "$0")/lib.sh"
need_images
command -v script >/dev/null || skip "script(1) is not installed (bsdutils)"
cd "$T" || fail "no temp dir"
PORT=$((20000 + $$ % 12000)); REG=127.0.0.1:$PORT; MARK=exec-e2e-$$; IMG=$REG/e2e/busybox:1
registry_start "$T/reg" "$PORT"
image_build "$T/img" "$MARK" || fail "could not build the test image"
image_push "$T/img" "$IMG" || fail "could not push the test image"
DATA=$T/d; NODE=exec$$
( cd "$T" && exec "$TROUPE" up --data "$DATA" --node-name "$NODE" >>"$T/up.log" 2>&1 ) & UP=$!; PIDS+=($UP)
ready() { [ "$(tro get nodes "$NODE" -o json 2>/dev/null | jq -r '.status.conditions[]? | select(.type=="Ready") | .status')" = True ]; }
wait_for 60 ready || fail "node not Ready"
cat >"$T/pod.yaml" <<Y
apiVersion: v1
kind: Pod
metadata: {name: box}
spec:
  containers:
  - name: c
    image: $IMG
    command: ["/bin/sh", "-c", "echo $MARK >/dev/null; exec sleep 3600"]
Y
tro apply -f "$T/pod.yaml" >/dev/null || fail "apply"
up_() { [ "$(tro get pod box -o json | jq -r .status.phase)" = Running ]; }
wait_for 90 up_ || fail "pod not Running: $(tro get pod box -o json | jq -c .status)"

tro exec box -- true || fail "exec true: exit code $?"
tro exec box -- sh -c 'exit 7'; rc=$?; [ "$rc" = 7 ] || fail "exec exit code $rc, 7 expected"
ERR=$(tro exec box -- sh -c 'echo out; echo err >&2' 2>&1 >/dev/null); [ "$ERR" = err ] || fail "exec stderr: '$ERR'"
OUT=$(tro exec box -- sh -c 'echo out; echo err >&2' 2>/dev/null); [ "$OUT" = out ] || fail "exec stdout: '$OUT'"
OUT=$(printf 'a\nb\n' | tro exec -i box -- sh -c 'while read l; do echo got-$l; done')
[ "$OUT" = "$(printf 'got-a\ngot-b')" ] || fail "exec -i: '$OUT'"
[ "$(tro exec box -- cat </dev/null)" = "" ] || fail "exec without -i: the command's stdin is not empty"
pass "exit codes 0 and 7, stdout and stderr apart, stdin (-i) piped"

# stdin streamed: the answer to the first line comes while stdin is still open
coproc EX { exec "$TROUPE" exec -i box -- sh -c 'while read l; do echo got-$l; done; echo bye'; }
echo one >&"${EX[1]}"
read -r -t 10 L1 <&"${EX[0]}" || fail "no answer to a line while stdin stays open (stdin not streamed)"
[ "$L1" = got-one ] || fail "streamed stdin: '$L1'"
echo two >&"${EX[1]}"
read -r -t 10 L2 <&"${EX[0]}"; [ "$L2" = got-two ] || fail "streamed stdin, second line: '$L2'"
exec {EX[1]}>&-
read -r -t 10 L3 <&"${EX[0]}"; [ "$L3" = bye ] || fail "stdin's end not passed on: '$L3'"
wait "$EX_PID" || fail "exec -i streamed: exit code $?"
# output streamed: the first line is read before the command ends
T0=$(date +%s%3N)
tro exec box -- sh -c 'echo first; sleep 3; echo second' | while read -r l; do echo "$(( $(date +%s%3N) - T0 )) $l"; done >"$T/times"
F=$(awk '$2=="first"{print $1}' "$T/times"); S=$(awk '$2=="second"{print $1}' "$T/times")
[ -n "$F" ] && [ -n "$S" ] || fail "streamed output: $(cat "$T/times")"
[ "$F" -lt 2000 ] || fail "the first line came after $F ms: output is not streamed ($(tr '\n' ' ' <"$T/times"))"
[ "$S" -ge 2500 ] || fail "the second line came after $S ms, before the command wrote it?"
# large output: 10 MB counted, every byte right
tro exec box -- sh -c "head -c 10000000 /dev/zero | tr '\\0' x" >"$T/big" || fail "10 MB of output: exit code $?"
N=$(stat -c %s "$T/big"); [ "$N" = 10000000 ] || fail "10 MB of output: got $N bytes"
BAD=$(tr -d x <"$T/big" | wc -c); [ "$BAD" = 0 ] || fail "10 MB of output: $BAD wrong bytes"
pass "stdin and output streamed (first line after $F ms of a 3 s command), 10 MB of output"

# -t as kubectl: the terminal goes with -i and a local stdin that is a terminal; -t alone is
# dropped silently, -it without a local terminal warns and runs without one
OUT=$(tro exec -t box -- sh -c 'tty || true' </dev/null 2>"$T/tty.err" | tr -d '\r')
[ "$OUT" = "not a tty" ] || fail "exec -t without -i: '$OUT' (kubectl drops the terminal)"
[ -s "$T/tty.err" ] && fail "exec -t without -i warned: $(cat "$T/tty.err")"
OUT=$(tro exec -it box -- sh -c 'tty || true' </dev/null 2>"$T/tty.err" | tr -d '\r')
[ "$OUT" = "not a tty" ] || fail "exec -it without a local terminal: '$OUT'"
grep -q "Unable to use a TTY - input is not a terminal or the right kind of file" "$T/tty.err" || fail "no warning without a local terminal: $(cat "$T/tty.err")"
tro exec box -- tty >/dev/null && fail "without -t the command has a terminal"
# under a local terminal (script): runc's pty, sized from consoleSize before the command runs
# (script passes the end of its stdin as two EOF characters: NULs in raw mode, echoed ^@ remotely)
OUT=$(script -qec "$TROUPE exec -it box -- tty" /dev/null </dev/null 2>&1 | tr -d '\r')
grep -qE "/dev/pts/[0-9]+$" <<<"$OUT" || fail "exec -it tty under a terminal: '$OUT'"
# the race that had -t refused (runc sized the pty only after the command started: a quick
# `stty size` saw 0x0, "stty: standard input"): every one of 10 in a row must see the size, no retry
BAD=0
for i in $(seq 1 10); do
  OUT=$(script -qec "stty rows $((20 + i)) cols $((60 + i)); $TROUPE exec -it box -- stty size" /dev/null </dev/null 2>&1 | tr -d '\r')
  grep -q "$((20 + i)) $((60 + i))$" <<<"$OUT" || { BAD=$((BAD + 1)); echo "exec -it stty size, run $i: '$OUT'"; }
done
[ "$BAD" = 0 ] || fail "exec -it stty size wrong in $BAD of 10 runs"
# the local terminal resized while the command runs (SIGWINCH): the command sees the new size
# (an asynchronous command's stdin is /dev/null unless redirected: </dev/tty keeps the terminal)
OUT=$(script -qec "stty rows 20 cols 70; $TROUPE exec -it box -- sh -c 'stty size; sleep 3; stty size' </dev/tty & sleep 1.5; stty rows 40 cols 90; wait" /dev/null </dev/null 2>&1 | tr -d '\r')
[ "$(grep -oE '[0-9]+ [0-9]+$' <<<"$OUT" | tr '\n' ' ')" = "20 70 40 90 " ] || fail "exec -it after a resize of the local terminal: '$OUT'"
OUT=$( (sleep 2; printf 'echo hi-$((40+2))\n'; sleep 1; printf 'exit 5\n'; sleep 2) | script -qec "$TROUPE exec -it box -- sh" /dev/null 2>&1); rc=$?
grep -q "hi-42" <<<"$OUT" || fail "interactive shell through -it: '$OUT'"
[ "$rc" = 5 ] || fail "interactive shell's exit code $rc, 5 expected"
pass "-t as kubectl (dropped without -i or a local terminal, with the warning), /dev/pts and the local terminal's size (10 of 10 in a row), resized on SIGWINCH, an interactive shell with its exit code"

# the one-shot form past the usual 15-20 s request timeouts (CLI, broker): --timeout sets them;
# it runs while the next check waits for the node
tro exec --timeout abc box -- true 2>"$T/tmo.err" && fail "exec --timeout abc accepted"
grep -q -- '--timeout "abc": must be a whole number of seconds' "$T/tmo.err" || fail "exec --timeout abc: $(cat "$T/tmo.err")"
( tro exec --timeout 40 box -- sh -c 'sleep 25; echo slow-done' >"$T/slow.out" 2>&1; echo "rc=$?" >>"$T/slow.out" ) & SLOW=$!
# a CLI killed mid-command: the node ends the command when the session goes silent (~60 s)
"$TROUPE" exec box -- sh -c 'exec sleep 4242' & CLI=$!
sleeping() { tro exec box -- ps -o args | grep -q "^sleep 4242"; }
wait_for 20 sleeping || fail "the exec'd command did not start"
kill -9 "$CLI"; wait "$CLI" 2>/dev/null
sleep 5; sleeping || fail "the command ended at once (it should outlive a silent client a while)"
wait_for 80 sh -c "! '$TROUPE' exec box -- ps -o args | grep -q '^sleep 4242'" || fail "the command of a killed CLI still runs after 80 s"
node_paths "$DATA"
wait_for 10 sh -c "[ -z \"\$(ls '$RUN' | grep '^exec-')\" ]" || fail "exec pid files left: $(ls "$RUN")"
pass "a killed CLI's command is ended by the node"
wait "$SLOW"
[ "$(tr '\n' ' ' <"$T/slow.out")" = "slow-done rc=0 " ] || fail "exec --timeout 40 of a 25 s command: $(cat "$T/slow.out")"
pass "exec --timeout: a 25 s command answered (past the usual request timeouts), a bad value refused"

tro delete -f "$T/pod.yaml" >/dev/null || fail "delete"
NONE="overlay=0 conmon=0 netns=0 veth=0"
pclean() { [ "$(pod_residue "$DATA")" = "$NONE" ]; }
wait_for 60 pclean || fail "left behind after delete: $(pod_residue "$DATA")"
kill "$UP"; wait "$UP" 2>/dev/null
clean() { [ "$(node_residue "$DATA")" = "$NONE bridge=0 masq=0 rundir=0 mounts=0" ]; }
wait_for 20 clean || fail "left behind after the node stopped: $(node_residue "$DATA")"
pass "nothing left behind"
