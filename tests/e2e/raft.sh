#!/usr/bin/env bash
# Replicated store: three servers on loopback (bootstrap, join with the token, join through a
# follower redirected to the leader); a wrong token cannot join; garbage on the peer port is
# rejected; kill -9 of the leader under a steady write load (and a recorded CAS-register history,
# checked for linearizability) → a new leader within 10 s and every
# acknowledged write present on every server; the old leader, restarted, catches up by snapshot;
# a follower stopped for a few writes catches up by log; all servers restarted → nothing lost.
. "$(dirname "$0")/lib.sh"
BASE=$((20000 + $$ % 12000)) # below the ephemeral ports (32768+): no clash with a connection
peer() { echo "tcp://127.0.0.1:$((BASE + 10 + $1))"; }
sock() { echo "ipc://$T/s$1/run/troupe.sock"; }
declare -A SPID
start() { # start N [extra args…]
  local n=$1; shift
  "$TROUPE" server --data "$T/s$n" --peer-listen "$(peer "$n")" --snapshot-threshold 16 --snapshot-trailing 4 \
    "$@" >>"$T/s$n.log" 2>&1 &
  SPID[$n]=$!; PIDS+=($!)
}
status() { tro --server "$(sock "$1")" store status -o json; }
leader_of() { status "$1" 2>/dev/null | jq -r '.leaderAddress // ""'; }
applied_of() { status "$1" 2>/dev/null | jq -r '.appliedIndex // 0'; }

tro init --cluster e2e --data "$T/s1" >"$T/init.out" 2>&1 || fail "init"
TOKEN=$(sed -n 's/^join token=//p' "$T/init.out")
[ -n "$TOKEN" ] || fail "init printed no join token"
start 1
wait_for 20 sh -c "[ \"\$('$TROUPE' --server '$(sock 1)' store status -o json | jq -r .state)\" = leader ]" || fail "s1 did not become leader"
start 2 --join "$(peer 1)" --token "$TOKEN"
wait_for 30 status 2 || fail "s2 did not join"
start 3 --join "$(peer 2)" --token "$TOKEN" # through a follower: redirected to the leader
wait_for 30 status 3 || fail "s3 did not join through a follower"
[ "$(status 1 | jq '[.members[] | select(.role=="voter")] | length')" = 3 ] || fail "not 3 voters: $(status 1)"
pass "3 voters: bootstrap, join, join through a follower"
# controllers and scheduler run beside the leader only
sleep 1
[ "$(grep -l "starting the controllers" "$T"/s[123].log | wc -l)" = 1 ] || fail "controllers started on $(grep -l "starting the controllers" "$T"/s[123].log | wc -l) servers"
grep -q "starting the controllers" "$T/s1.log" || fail "controllers not started beside the leader s1"

# a token of another cluster cannot authenticate to the peers: the join fails, the server exits
tro init --cluster other --data "$T/other" >"$T/other.out" 2>&1 || fail "init other"
BAD=$(sed -n 's/^join token=//p' "$T/other.out")
if timeout 30 "$TROUPE" server --data "$T/s9" --peer-listen "$(peer 9)" --join "$(peer 1)" --token "$BAD" \
     --join-timeout 4 >"$T/s9.log" 2>&1; then fail "a server with a wrong token joined"; fi
grep -q "could not join" "$T/s9.log" || fail "no clear join error: $(tail -3 "$T/s9.log")"
OUT=$(timeout 10 "$TROUPE" server --data "$T/s8" --peer-listen "$(peer 8)" --join "$(peer 1)" --token T1zz 2>&1) && fail "malformed token accepted"
echo "$OUT" | grep -q "token" || fail "malformed token: unclear error: $OUT"
[ "$(status 1 | jq '.members | length')" = 3 ] || fail "membership changed by a refused join"
grep -q "rejected a peer connection: not authenticated with the cluster key" "$T/s1.log" || fail "s1 did not log the refused peer"
pass "wrong token refused, membership unchanged"

# garbage on a peer port: rejected, the cluster keeps serving
python3 - "$((BASE + 11))" <<'PY' || fail "could not reach the peer port"
import os, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
try:  # the server may reset the connection before all of it is sent: that is the rejection
    s.sendall(os.urandom(4096)); s.sendall(b"\xff" + b"\x00" * 8 + b"\x7fZMTP garbage" * 100)
except (ConnectionResetError, BrokenPipeError):
    pass
s.close()
PY
wait_for 5 grep -q "rejected a peer connection: malformed handshake" "$T/s1.log" || fail "garbage on the peer port not logged"
tro --server "$(sock 2)" create configmap after-garbage --from-literal k=v >/dev/null || fail "no write after garbage on the peer port"
pass "garbage on the peer port rejected, writes go on"

# linearizable reads: a write acknowledged by one follower is read at once on the other
LEADER=$(leader_of 1)
FOL=(); for n in 1 2 3; do [ "$(peer $n)" != "$LEADER" ] && FOL+=($n); done
for i in $(seq 1 15); do
  tro --server "$(sock ${FOL[0]})" create configmap "lin-$i" --from-literal k=v >/dev/null || fail "write lin-$i"
  tro --server "$(sock ${FOL[1]})" get configmap "lin-$i" >/dev/null 2>&1 || fail "lin-$i written on s${FOL[0]} not read at once on s${FOL[1]}"
done
tro --server "$(sock ${FOL[1]})" get configmaps -o json | jq -e '.items | length > 0' | grep -qx true || fail "list"
pass "reads are linearizable across followers (15 write-then-read pairs)"

# steady writes through all three servers while the leader is killed
ACK=$T/acked
: >"$ACK"
writer() { # writer ID: create cm w<ID>-<i> round robin over servers, record the acknowledged ones
  local id=$1 i=0 end=$((SECONDS + 14))
  while [ $SECONDS -lt $end ]; do
    local n=$(( (i + id) % 3 + 1 ))
    if timeout 8 "$TROUPE" --server "$(sock $n)" create configmap "w$id-$i" --from-literal "i=$i" >/dev/null 2>&1; then
      echo "w$id-$i" >>"$ACK"
    fi
    i=$((i + 1))
  done
}
writer 1 & W1=$!; PIDS+=($W1)
writer 2 & W2=$!; PIDS+=($W2)
# and three clients recording a read/write/compare-and-swap history across the kill
PY=/usr/bin/python3; REC=""
if $PY -c 'import zmq, msgpack' 2>/dev/null; then
  $PY "$(dirname "$0")/../lincheck.py" record "$T/history.json" 14 "$(sock 1),$(sock 2),$(sock 3)" 3 >"$T/record.out" 2>&1 & REC=$!; PIDS+=($REC)
else
  echo "history not recorded: python3-zmq and python3-msgpack are needed (scripts/deps.sh test); the rest runs"
fi
sleep 3
LEADER=$(leader_of 2)
case "$LEADER" in "$(peer 1)") OLD=1 ;; "$(peer 2)") OLD=2 ;; "$(peer 3)") OLD=3 ;; *) fail "no leader known: $LEADER" ;; esac
kill -9 "${SPID[$OLD]}"
KILLED_AT=$SECONDS
SURV=$(( OLD % 3 + 1 ))
wait_for 10 sh -c "L=\$('$TROUPE' --server '$(sock $SURV)' store status -o json | jq -r .leaderAddress); [ -n \"\$L\" ] && [ \"\$L\" != '$(peer $OLD)' ]" ||
  fail "no new leader within 10 s of killing s$OLD"
echo "new leader $(leader_of $SURV) after $((SECONDS - KILLED_AT)) s (bound 10 s)"
NEWL=$(leader_of $SURV); for n in 1 2 3; do [ "$(peer $n)" = "$NEWL" ] && NL=$n; done
wait_for 5 grep -q "starting the controllers" "$T/s$NL.log" || fail "controllers did not move to the new leader s$NL"
wait "$W1" "$W2"
NACK=$(wc -l <"$ACK")
[ "$NACK" -gt 20 ] || fail "too few acknowledged writes ($NACK)"
pass "leader s$OLD killed under load: new leader, $NACK writes acknowledged"
if [ -n "$REC" ]; then
  wait "$REC" || fail "recorder: $(cat "$T/record.out")"
  $PY "$(dirname "$0")/../lincheck.py" check "$T/history.json" || fail "the history recorded across the leader's kill is not linearizable"
  pass "history across the leader's kill linearizable ($(cat "$T/record.out" | tail -1))"
fi

# the old leader comes back, far behind (more than threshold+trailing entries): snapshot
for i in $(seq 1 40); do tro --server "$(sock $SURV)" create configmap "b-$i" --from-literal k=v >/dev/null && echo "b-$i" >>"$ACK"; done
# as if the machine had crashed (another boot id): its unsynced LMDB is set aside and rebuilt
[ -f "$T/s$OLD/store/unsynced" ] || fail "no unsynced marker while s$OLD ran"
echo "boot-before-a-crash" >"$T/s$OLD/store/unsynced"
start "$OLD"
TARGET=$(applied_of $SURV)
wait_for 30 sh -c "[ \"\$('$TROUPE' --server '$(sock $OLD)' store status -o json | jq .appliedIndex)\" -ge $TARGET ]" ||
  fail "s$OLD did not catch up (applied $(applied_of $OLD) < $TARGET)"
grep -q "restored snapshot" "$T/s$OLD.log" || fail "s$OLD caught up without a snapshot: $(grep -c . "$T/s$OLD.log") log lines"
grep -q "machine restarted while the store ran unsynced" "$T/s$OLD.log" || fail "s$OLD did not rebuild after a simulated machine crash"
pass "restarted s$OLD (simulated machine crash) rebuilt its store and caught up by snapshot"

check_all() { # every acknowledged write is on every server
  for n in 1 2 3; do
    tro --server "$(sock $n)" get configmaps -o json >"$T/list.$n" || fail "list on s$n: $(grep -v 'snapshot taken' "$T/s$n.log" | tail -5)"
    jq -r '.items[].metadata.name' "$T/list.$n" | sort >"$T/have.$n" || fail "list on s$n is not a List"
    MISSING=$(sort "$ACK" | comm -23 - "$T/have.$n" | head -5)
    [ -z "$MISSING" ] || fail "s$n lacks acknowledged writes: $MISSING"
  done
}
# followers apply after the leader: wait until all applied indexes agree, then compare
wait_for 20 sh -c "[ \"\$('$TROUPE' --server '$(sock 1)' store status -o json | jq .appliedIndex)\" = \"\$('$TROUPE' --server '$(sock 2)' store status -o json | jq .appliedIndex)\" ] && [ \"\$('$TROUPE' --server '$(sock 2)' store status -o json | jq .appliedIndex)\" = \"\$('$TROUPE' --server '$(sock 3)' store status -o json | jq .appliedIndex)\" ]" || fail "applied indexes differ"
check_all
REVS=$(for n in 1 2 3; do status $n | jq .revision; done | sort -u | wc -l)
[ "$REVS" = 1 ] || fail "revisions differ across servers"
pass "all $NACK acknowledged writes on all 3 servers, same revision"

# a follower misses a few writes (fewer than the trailing entries): catches up by log
LEADER=$(leader_of 1)
for n in 1 2 3; do [ "$(peer $n)" != "$LEADER" ] && F=$n; done
kill "${SPID[$F]}"; wait "${SPID[$F]}" 2>/dev/null
for i in 1 2 3; do
  for n in 1 2 3; do [ $n != $F ] && tro --server "$(sock $n)" create configmap "f-$i" --from-literal k=v >/dev/null && echo "f-$i" >>"$ACK" && break; done
done
BEFORE=$(grep -c "restored snapshot" "$T/s$F.log")
start "$F"
TARGET=$(applied_of $(( F % 3 + 1 )))
wait_for 30 sh -c "[ \"\$('$TROUPE' --server '$(sock $F)' store status -o json | jq .appliedIndex)\" -ge $TARGET ]" || fail "s$F did not catch up by log"
[ "$(grep -c "restored snapshot" "$T/s$F.log")" = "$BEFORE" ] || fail "s$F used a snapshot for 3 entries"
pass "follower s$F caught up by log"

# every server stopped and started again: nothing lost
for n in 1 2 3; do kill "${SPID[$n]}"; done
for n in 1 2 3; do wait "${SPID[$n]}" 2>/dev/null; done
for n in 1 2 3; do start $n; done
wait_for 30 sh -c "[ -n \"\$('$TROUPE' --server '$(sock 1)' store status -o json | jq -r .leaderAddress)\" ]" || fail "no leader after a full restart"
wait_for 20 sh -c "[ \"\$('$TROUPE' --server '$(sock 3)' store status -o json | jq .appliedIndex)\" -ge $(applied_of 1) ]" || fail "s3 behind after restart"
check_all
tro --server "$(sock 3)" create configmap after-restart --from-literal k=v >/dev/null || fail "no write after a full restart"
pass "full restart: every acknowledged write kept, writes go on"

# backup and restore (like etcdctl snapshot save/restore): a new one-server cluster with the data
tro --server "$(sock 2)" store snapshot save "$T/backup.db" >/dev/null || fail "snapshot save"
tro store snapshot restore "$T/backup.db" --data "$T/r1" >/dev/null || fail "snapshot restore"
tro store snapshot restore "$T/backup.db" --data "$T/r1" >/dev/null 2>&1 && fail "restore over an existing store"
cp "$T/backup.db" "$T/bad.db"; printf 'x' | dd of="$T/bad.db" bs=1 seek=200 conv=notrunc 2>/dev/null
OUT=$(tro store snapshot restore "$T/bad.db" --data "$T/r2" 2>&1) && fail "a damaged backup was restored"
echo "$OUT" | grep -q "checksum" || fail "damaged backup: unclear error: $OUT"
"$TROUPE" server --data "$T/r1" --peer-listen "$(peer 7)" >>"$T/r1.log" 2>&1 & R1=$!; PIDS+=($R1)
wait_for 20 tro --server "ipc://$T/r1/run/troupe.sock" get configmap after-restart || fail "restored cluster lacks data"
tro --server "ipc://$T/r1/run/troupe.sock" create configmap on-restored --from-literal k=v >/dev/null || fail "restored cluster does not take writes"
kill "$R1"; wait "$R1" 2>/dev/null
pass "snapshot save, verified restore into a new cluster"

# one membership change: remove a follower through another follower
LEADER=$(leader_of 1)
FOL=(); for n in 1 2 3; do [ "$(peer $n)" != "$LEADER" ] && FOL+=($n); done
tro --server "$(sock ${FOL[0]})" store member remove "$(peer ${FOL[1]})" >/dev/null || fail "member remove"
[ "$(status 1 | jq '.members | length')" = 2 ] || fail "still 3 members after remove"
tro --server "$(sock ${FOL[0]})" store member remove nosuch >/dev/null 2>&1 && fail "removing an unknown member succeeded"
tro --server "$(sock ${FOL[0]})" create configmap after-remove --from-literal k=v >/dev/null || fail "no write with 2 members"
pass "member s${FOL[1]} removed, 2 voters keep writing"

# clean shutdown of every server; under ASan/UBSan their logs must hold no report
for n in 1 2 3; do kill "${SPID[$n]}"; done
for n in 1 2 3; do wait "${SPID[$n]}" 2>/dev/null; done
! grep -l "Sanitizer\|runtime error" "$T"/*.log || fail "sanitizer report in a server log"
for n in 1 2 3; do [ -f "$T/s$n/store/unsynced" ] && fail "s$n left its unsynced marker after a clean stop"; done
pass "servers stopped cleanly"
# the linearizability check is part of this test: without it the run is reported skipped, not passed
[ -n "$REC" ] || skip "everything else passed, but the linearizability history was not recorded (python3-zmq, python3-msgpack missing)"
