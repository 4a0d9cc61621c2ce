#!/usr/bin/env bash
# Secrets encrypted at rest on a replicated control plane (two servers): the key `troupe init`
# made reaches the joining server; a Secret's value is found in no LMDB file, no Raft log
# segment, no libraft snapshot (lz4 decompressed) and no `store snapshot save` backup, while a
# ConfigMap's is (the scan works); both servers read it back in plaintext. Key rotation as
# Kubernetes' EncryptionConfiguration: add a key (reads only) → it reaches the other server →
# make it write → rewrite every Secret → remove the old key → restart both: every Secret reads.
. "$(dirname "$0")/lib.sh"
BASE=$((20000 + $$ % 12000)) # below the ephemeral ports (32768+)
api() { echo "tcp://127.0.0.1:$((BASE + $1))"; }
peer() { echo "tcp://127.0.0.1:$((BASE + 10 + $1))"; }
sock() { echo "ipc://$T/s$1/run/troupe.sock"; }
declare -A SPID
start() {
  local n=$1; shift
  "$TROUPE" server --data "$T/s$n" --name "s$n" --listen "$(api "$n")" --peer-listen "$(peer "$n")" \
    --snapshot-threshold 32 --snapshot-trailing 8 "$@" >>"$T/s$n.log" 2>&1 &
  SPID[$n]=$!; PIDS+=($!)
}
stop() { kill "${SPID[$1]}"; for _ in $(seq 1 50); do kill -0 "${SPID[$1]}" 2>/dev/null || return 0; sleep 0.2; done; kill -9 "${SPID[$1]}"; }
on() { local n=$1; shift; "$TROUPE" --server "$(sock "$n")" "$@"; }
CFG=pki/secrets-encryption.yaml

tro init --cluster sec --data "$T/s1" >"$T/init.out" 2>&1 || fail "init"
TOKEN=$(sed -n 's/^join token=//p' "$T/init.out")
[ "$(stat -c %a "$T/s1/$CFG")" = 600 ] || fail "init: $CFG is not 0600"
grep -q "secretbox" "$T/s1/$CFG" || fail "init made no secretbox key"
start 1
wait_for 20 on 1 store status || fail "s1 not serving"
start 2 --join "$(peer 1)" --token "$TOKEN"
wait_for 30 on 2 store status || fail "s2 did not join"
wait_for 10 cmp -s "$T/s1/$CFG" "$T/s2/$CFG" || fail "the joining server does not have the cluster's encryption key"
pass "init made the key; the joining server has the same"

SM="sv-$$-secret-marker"; CM="cv-$$-configmap-marker"
# a Secret's values are stored and served base64 (stringData → data, as Kubernetes): the scans and
# reads look for that form too, or a plaintext store could never be caught
b64() { printf %s "$1" | base64 -w0; }
on 1 create secret db --from-literal "password=$SM" >/dev/null || fail "create secret"
on 1 create configmap plain --from-literal "v=$CM" >/dev/null || fail "create configmap"
# enough writes for libraft to take a snapshot (threshold 32)
for i in $(seq 1 40); do on 1 create configmap "f$i" --from-literal "v=$i" >/dev/null || fail "filler $i"; done
for n in 1 2; do
  wait_for 10 sh -c "'$TROUPE' --server '$(sock $n)' get secret db -o json | grep -q '$(b64 "$SM")'" || fail "s$n does not read the Secret back in plaintext"
done
on 1 store snapshot save "$T/backup.db" >/dev/null || fail "snapshot save"
wait_for 20 sh -c "ls '$T/s2/raft' | grep -q '^snapshot-'" || fail "libraft took no snapshot on s2"
sleep 1
scan() { # scan MARKER FILE...: 0 if any file holds the marker (libraft snapshots decompressed)
  local m=$1; shift
  for f in "$@"; do
    case "$(basename "$f")" in
      snapshot-*[0-9]) lz4cat "$f" 2>/dev/null | grep -qaF "$m" && return 0; grep -qaF "$m" "$f" && return 0 ;;
      *) grep -qaF "$m" "$f" && return 0 ;;
    esac
  done
  return 1
}
FILES=("$T/backup.db")
for n in 1 2; do FILES+=("$T/s$n/store/data.mdb"); for f in "$T/s$n/raft"/*; do [ -f "$f" ] && FILES+=("$f"); done; done
scan "$CM" "$T/backup.db" || fail "the scan does not find the ConfigMap in the backup"
scan "$CM" "$T"/s1/raft/* || fail "the scan does not find the ConfigMap in s1's Raft log"
scan "$CM" "$T/s2/store/data.mdb" || fail "the scan does not find the ConfigMap in s2's LMDB"
ls "$T/s2/raft" | grep -q '^snapshot-.*[0-9]$' && { scan "$CM" "$T"/s2/raft/snapshot-*[0-9] || fail "the scan does not find the ConfigMap in a libraft snapshot"; }
scan "$SM" "${FILES[@]}" && fail "the Secret's value is stored in plaintext: $(grep -laF "$SM" "${FILES[@]}")"
scan "$(b64 "$SM")" "${FILES[@]}" && fail "the Secret's value is stored in plaintext (base64): $(grep -laF "$(b64 "$SM")" "${FILES[@]}")"
scan "k8s:enc:secretbox:v1:key1:" "$T/s2/store/data.mdb" || fail "no sealed value in s2's LMDB"
pass "the Secret is in no LMDB file, Raft log, libraft snapshot or backup (${#FILES[@]} files); the ConfigMap is"

# rotation, the safe order for several servers
tro secrets add-key --data "$T/s1" >"$T/rot.out" 2>&1 || fail "add-key: $(cat "$T/rot.out")"
grep -q "^key2 " "$T/rot.out" || fail "add-key: $(cat "$T/rot.out")"
wait_for 20 grep -q "name: key2" "$T/s2/$CFG" || fail "the new key did not reach s2"
tro secrets use-key key2 --data "$T/s1" >/dev/null || fail "use-key"
wait_for 20 cmp -s "$T/s1/$CFG" "$T/s2/$CFG" || fail "use-key did not reach s2"
sleep 1.5 # each broker re-reads its file within a second
SM2="sv2-$$-second-marker"
on 2 create secret db2 --from-literal "password=$SM2" >/dev/null || fail "create db2 on s2"
wait_for 10 scan "k8s:enc:secretbox:v1:key2:" "$T/s1/store/data.mdb" || fail "db2 not sealed with key2"
OUT=$(tro --server "$(sock 1)" secrets rewrite) || fail "rewrite: $OUT"
echo "$OUT" | grep -q "^2 secrets rewritten" || fail "rewrite: $OUT"
tro secrets remove-key key1 --data "$T/s1" >/dev/null || fail "remove-key"
tro secrets remove-key key2 --data "$T/s1" >/dev/null 2>&1 && fail "the writing key was removed"
wait_for 20 cmp -s "$T/s1/$CFG" "$T/s2/$CFG" || fail "remove-key did not reach s2"
grep -q "name: key1" "$T/s2/$CFG" && fail "key1 still on s2"
stop 1; stop 2
start 1; start 2
wait_for 30 on 2 get secret db -o name || fail "servers not back"
for n in 1 2; do
  on $n get secret db -o json | grep -q "$(b64 "$SM")" || fail "s$n: db unreadable after the rotation"
  on $n get secret db2 -o json | grep -q "$(b64 "$SM2")" || fail "s$n: db2 unreadable after the rotation"
done
scan "$SM2" "$T/s1/store/data.mdb" "$T/s2/store/data.mdb" "$T"/s1/raft/* && fail "db2 stored in plaintext"
scan "$(b64 "$SM2")" "$T/s1/store/data.mdb" "$T/s2/store/data.mdb" "$T"/s1/raft/* && fail "db2 stored in plaintext (base64)"
pass "rotation: key2 added, made the writer, secrets rewritten, key1 removed; both servers read every Secret after a restart"
